/**
 * lib/model/rewrite-metadata.ts: rewriting metadata_props must leave the graph and the weights untouched, in bytes
 * and in what onnxruntime computes.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { isSmlmError } from '../lib/errors.js';
import { METADATA_KEYS } from '../lib/model/metadata.js';
import { decodeOnnx, metadataProps, onnx } from '../lib/model/onnx.js';
import { modelsDir } from '../lib/model/registry.js';
import { withMetadata } from '../lib/model/rewrite-metadata.js';
import { makeDeepStormModel, makeUNetModel, seededRandom } from '../benchmarks/random-models.js';

/** Every initializer as name -> (dims, data bytes), from a decoded model. */
function initializers(bytes: Uint8Array): Map<string, { dims: number[]; data: Buffer }> {
  const graph = decodeOnnx(bytes, 'test').graph!;
  return new Map(
    (graph.initializer ?? []).map((t) => [t.name!, { dims: (t.dims ?? []).map(Number), data: Buffer.from(onnx.TensorProto.encode(t).finish()) }]),
  );
}

async function runModel(bytes: Uint8Array, input: Float32Array, height: number, width: number): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(bytes);
  try {
    const out = await session.run({ frames: new ort.Tensor('float32', input, [1, 1, height, width]) });
    return out.maps.data as Float32Array;
  } finally {
    await session.release();
  }
}

describe('withMetadata', () => {
  for (const [name, bytes, size] of [
    ['deepstorm-shaped', makeDeepStormModel({ width: 2, seed: 5 }), 16],
    ['unet-shaped', makeUNetModel({ base: 4, seed: 6 }), 16],
  ] as const) {
    it(`${name}: replaces one key, adds another, keeps the rest; graph, weights and outputs identical`, async () => {
      const rewritten = withMetadata(bytes, { [METADATA_KEYS.outputScale]: '137.25', 'smlm.test_note': 'added' });
      const before = metadataProps(decodeOnnx(bytes, 'before'));
      const after = metadataProps(decodeOnnx(rewritten, 'after'));
      expect(after[METADATA_KEYS.outputScale]).toBe('137.25');
      expect(after['smlm.test_note']).toBe('added');
      expect(Object.keys(after)).toEqual([...Object.keys(before), 'smlm.test_note']);
      for (const key of Object.keys(before)) if (key !== METADATA_KEYS.outputScale) expect(after[key]).toBe(before[key]);

      // The graph field is copied byte for byte, initializers included.
      const graphBytes = (b: Uint8Array) => Buffer.from(onnx.GraphProto.encode(decodeOnnx(b, 'g').graph!).finish());
      expect(graphBytes(rewritten).equals(graphBytes(bytes))).toBe(true);
      const wBefore = initializers(bytes);
      const wAfter = initializers(rewritten);
      expect([...wAfter.keys()]).toEqual([...wBefore.keys()]);
      for (const [key, t] of wBefore) expect(wAfter.get(key)!.data.equals(t.data)).toBe(true);

      const rand = seededRandom(9);
      const input = Float32Array.from({ length: size * size }, () => rand() * 2 - 0.5);
      const outBefore = await runModel(bytes, input, size, size);
      const outAfter = await runModel(rewritten, input, size, size);
      expect(outAfter.length).toBe(outBefore.length);
      expect(Buffer.from(outAfter.buffer).equals(Buffer.from(outBefore.buffer))).toBe(true);
    });
  }

  it('with no updates returns the same bytes', () => {
    const bytes = makeUNetModel({ base: 2 });
    expect(Buffer.from(withMetadata(bytes, {})).equals(Buffer.from(bytes))).toBe(true);
  });

  it('adds metadata_props to a model that has none', () => {
    const proto = decodeOnnx(makeUNetModel({ base: 2 }), 'm');
    proto.metadataProps = [];
    const bare = onnx.ModelProto.encode(proto).finish();
    expect(metadataProps(decodeOnnx(bare, 'bare'))).toEqual({});
    expect(metadataProps(decodeOnnx(withMetadata(bare, { a: '1', b: '2' }), 'rewritten'))).toEqual({ a: '1', b: '2' });
  });

  it('refuses bytes that are not an ONNX model (E_MODEL_INVALID) and empty keys (E_BAD_OPTIONS)', () => {
    let caught: unknown;
    try {
      withMetadata(new TextEncoder().encode('this is not a model'), { a: '1' }, 'junk.onnx');
    } catch (err) {
      caught = err;
    }
    expect(isSmlmError(caught, 'E_MODEL_INVALID')).toBe(true);
    expect(() => withMetadata(makeUNetModel({ base: 2 }), { '': 'x' })).toThrow(/non-empty/);
  });

  const bundled = ['deepstorm', 'unet'].filter((n) => existsSync(join(modelsDir(), `${n}.onnx`)));
  it.runIf(bundled.length > 0)('bundled models: a rewrite keeps every byte outside metadata_props', () => {
    for (const name of bundled) {
      const bytes = readFileSync(join(modelsDir(), `${name}.onnx`));
      expect(Buffer.from(withMetadata(bytes, {})).equals(bytes)).toBe(true);
      const rewritten = withMetadata(bytes, { 'smlm.test_note': 'x'.repeat(300) });
      // Only the metadata grew: one entry of tag + length + key + value.
      const entry = onnx.StringStringEntryProto.encode({ key: 'smlm.test_note', value: 'x'.repeat(300) }).finish();
      expect(rewritten.length - bytes.length).toBe(entry.length + 3);
      const wBefore = initializers(bytes);
      const wAfter = initializers(rewritten);
      for (const [key, t] of wBefore) expect(wAfter.get(key)!.data.equals(t.data)).toBe(true);
    }
  });
});
