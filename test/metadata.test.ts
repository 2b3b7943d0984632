import { describe, expect, it } from 'vitest';
import { SmlmError } from '../lib/errors.js';
import { METADATA_KEYS, parseModelMetadata, serializeModelMetadata } from '../lib/model/metadata.js';
import { decodeOnnx, loadOnnxModel, metadataProps } from '../lib/model/onnx.js';
import { KNOWN_METADATA, makeKnownModel, writeTempModel } from './helpers/known-model.js';

function invalidReason(props: Record<string, string>): string {
  try {
    parseModelMetadata(props, 'test.onnx');
  } catch (err) {
    expect(err).toBeInstanceOf(SmlmError);
    expect((err as SmlmError).code).toBe('E_MODEL_INVALID');
    return (err as SmlmError).message;
  }
  return 'accepted';
}

describe('model metadata (ONNX metadata_props)', () => {
  const good = serializeModelMetadata(KNOWN_METADATA);

  it('round-trips through serialize/parse and through an ONNX file', async () => {
    expect(parseModelMetadata(good, 'x')).toEqual(KNOWN_METADATA);
    const model = await loadOnnxModel(writeTempModel(makeKnownModel()));
    expect(model.metadata).toEqual(KNOWN_METADATA);
    expect(metadataProps(decodeOnnx(model.bytes, 'x'))).toEqual(good);
    expect(model.hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('refuses a model without the smlm-rt format key, saying it is not an smlm-rt model', () => {
    const { [METADATA_KEYS.format]: _, ...rest } = good;
    expect(invalidReason(rest)).toMatch(/not an smlm-rt model/);
  });

  it('names the missing or malformed key', () => {
    for (const key of [METADATA_KEYS.upsampling, METADATA_KEYS.cameraPixelNm, METADATA_KEYS.outputScale, METADATA_KEYS.normalization, METADATA_KEYS.sizeMultiple]) {
      const { [key]: _, ...rest } = good;
      expect(invalidReason(rest)).toContain(key);
    }
    expect(invalidReason({ ...good, [METADATA_KEYS.upsampling]: '2.5' })).toContain(METADATA_KEYS.upsampling);
    expect(invalidReason({ ...good, [METADATA_KEYS.outputScale]: '-1' })).toContain(METADATA_KEYS.outputScale);
    expect(invalidReason({ ...good, [METADATA_KEYS.normalization]: '{"kind":"minmax-zscore","mean":0.2,"std":0}' })).toContain(METADATA_KEYS.normalization);
    expect(invalidReason({ ...good, [METADATA_KEYS.normalization]: 'not json' })).toContain(METADATA_KEYS.normalization);
    expect(invalidReason({ ...good, [METADATA_KEYS.format]: '99' })).toMatch(/format "99"/);
  });

  it('training provenance is optional', () => {
    const { [METADATA_KEYS.training]: _, ...rest } = good;
    expect(parseModelMetadata(rest, 'x').training).toEqual({});
  });
});
