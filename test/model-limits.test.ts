// Models cannot lie: metadata out of any sane range, non-finite weights and graphs whose tensors cannot be bounded
// are refused with E_MODEL_INVALID at load, before any backend runs (tiny crafted models, lib/model/onnx-builder.ts).
import { totalmem } from 'node:os';
import { describe, expect, it } from 'vitest';
import { SmlmError } from '../lib/errors.js';
import { batchWithinMemory, graphFootprint, MAX_ELEMENTS_PER_FRAME_PIXEL } from '../lib/engine/graph-footprint.js';
import { METADATA_KEYS, parseModelMetadata, serializeModelMetadata } from '../lib/model/metadata.js';
import { decodeOnnx, loadOnnxModel, onnx } from '../lib/model/onnx.js';
import { OnnxModelBuilder, TensorElementType } from '../lib/model/onnx-builder.js';
import { Reconstructor } from '../lib/reconstructor.js';
import { KNOWN_BIAS, KNOWN_METADATA, makeKnownModel, writeTempModel } from './helpers/known-model.js';

const good = serializeModelMetadata(KNOWN_METADATA);

function refusal(run: () => unknown): SmlmError {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(SmlmError);
    return err as SmlmError;
  }
  throw new Error('accepted');
}

async function asyncRefusal(run: () => Promise<unknown>): Promise<SmlmError> {
  try {
    await run();
  } catch (err) {
    expect(err).toBeInstanceOf(SmlmError);
    return err as SmlmError;
  }
  throw new Error('accepted');
}

/** The known model with one more initializer (unused by the graph: onnxruntime would ignore it, smlm-rt must not). */
function withInitializer(tensor: InstanceType<typeof onnx.TensorProto>): Uint8Array {
  const proto = decodeOnnx(makeKnownModel(), 'known');
  proto.graph!.initializer!.push(tensor);
  return onnx.ModelProto.encode(proto).finish();
}

describe('metadata values are range-checked', () => {
  const cases: [string, string][] = [
    [METADATA_KEYS.outputScale, '5e-324'],
    [METADATA_KEYS.outputScale, '1e7'],
    [METADATA_KEYS.outputScale, 'Infinity'],
    [METADATA_KEYS.upsampling, '32'],
    [METADATA_KEYS.upsampling, '0'],
    [METADATA_KEYS.cameraPixelNm, '1e9'],
    [METADATA_KEYS.outputPixelNm, '0.0001'],
    [METADATA_KEYS.sizeMultiple, '4096'],
    [METADATA_KEYS.minSize, ''],
  ];
  for (const [key, value] of cases) {
    it(`refuses ${key} = "${value}", naming the key and the range`, () => {
      const err = refusal(() => parseModelMetadata({ ...good, [key]: value }, 'lie.onnx'));
      expect(err.code).toBe('E_MODEL_INVALID');
      expect(err.message).toContain(`"${key}" must be a number from`);
    });
  }

  it('refuses normalization constants that are not finite or whose std is (nearly) zero', () => {
    for (const json of ['{"kind":"minmax-zscore","mean":1e999,"std":0.2}', '{"kind":"minmax-zscore","mean":0.1,"std":1e-300}', '{"kind":"minmax-zscore","mean":0.1,"std":1e999}']) {
      const err = refusal(() => parseModelMetadata({ ...good, [METADATA_KEYS.normalization]: json }, 'lie.onnx'));
      expect(err.code).toBe('E_MODEL_INVALID');
      expect(err.message).toMatch(/smlm\.normalization\.(mean|std)/);
    }
  });

  it("accepts the bundled models' kind of values", () => {
    expect(parseModelMetadata({ ...good, [METADATA_KEYS.outputScale]: '59.5897', [METADATA_KEYS.upsampling]: '8', [METADATA_KEYS.outputPixelNm]: '12.5' }, 'x').outputScale).toBe(59.5897);
  });
});

describe('non-finite weights are refused at load', () => {
  it('float32: names the initializer (a weight of the graph)', async () => {
    const b = new OnnxModelBuilder();
    const x = b.addInput('frames', ['N', 1, 'H', 'W']);
    const y = b.conv(x, { weight: Float32Array.of(1, Infinity, 2, 0.5), weightDims: [4, 1, 1, 1], bias: Float32Array.from(KNOWN_BIAS), pads: [0, 0, 0, 0] });
    b.addOutput('maps', ['N', 1, 'OH', 'OW'], b.depthToSpace(y, 2));
    const err = await asyncRefusal(() => loadOnnxModel(writeTempModel(b.build({ metadata: good }))));
    expect(err.code).toBe('E_MODEL_INVALID');
    expect(err.message).toMatch(/initializer "conv_w\S*" holds a non-finite weight \(Infinity at index 1\)/);
    expect(err.details.index).toBe(1);
  });

  it('float16 and double initializers too', async () => {
    const half = onnx.TensorProto.create({ name: 'half_nan', dims: [2], dataType: TensorElementType.FLOAT16, rawData: Uint8Array.of(0x00, 0x3c, 0x00, 0x7e) });
    const double = onnx.TensorProto.create({ name: 'double_inf', dims: [1], dataType: onnx.TensorProto.DataType.DOUBLE, doubleData: [-Infinity] });
    const halfErr = await asyncRefusal(() => loadOnnxModel(writeTempModel(withInitializer(half))));
    expect(halfErr.message).toMatch(/initializer "half_nan" holds a non-finite weight \(NaN at index 1\)/);
    const doubleErr = await asyncRefusal(() => loadOnnxModel(writeTempModel(withInitializer(double))));
    expect(doubleErr.message).toMatch(/initializer "double_inf" holds a non-finite weight \(-Infinity at index 0\)/);
  });

  it('a finite model loads (integer initializers are not checked as weights)', async () => {
    const ints = onnx.TensorProto.create({ name: 'shape', dims: [1], dataType: TensorElementType.INT64, int64Data: [4] });
    await expect(loadOnnxModel(writeTempModel(withInitializer(ints)))).resolves.toBeDefined();
  });
});

/** frames -> Resize(scales) -> Conv 1x1 to `channels` -> Conv 1x1 to 1 = maps. */
function resizeModel(scales: [number, number, number, number], channels = 1): Uint8Array {
  const b = new OnnxModelBuilder();
  const x = b.addInput('frames', ['N', 1, 'H', 'W']);
  const up = b.resizeNearest(x, 0, { scales });
  const wide = b.conv(up, { weight: new Float32Array(channels).fill(0.5), weightDims: [channels, 1, 1, 1], pads: [0, 0, 0, 0] });
  const out = b.conv(wide, { weight: new Float32Array(channels).fill(0.5), weightDims: [1, channels, 1, 1], pads: [0, 0, 0, 0] });
  b.addOutput('maps', ['N', 1, 'OH', 'OW'], out);
  return b.build({ metadata: serializeModelMetadata({ ...KNOWN_METADATA, upsampling: 8, outputPixelNm: 12.5, sizeMultiple: 1, minSize: 1 }) });
}

describe('graph shapes are bounded before any backend runs', () => {
  it('refuses the 2 KB model whose Resize scales are [10000, 1, 8, 8] at once, on the cpu backend', async () => {
    const bytes = resizeModel([10000, 1, 8, 8]);
    expect(bytes.length).toBeLessThan(2048);
    const started = performance.now();
    const err = await asyncRefusal(() => Reconstructor.create({ model: writeTempModel(bytes), backend: 'cpu' }));
    expect(err.code).toBe('E_MODEL_INVALID');
    expect(err.message).toMatch(/Resize.*batch or channel axis/);
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it('refuses a graph whose widest tensor holds too many values per frame pixel, naming it', async () => {
    // 64x64 upsampling of 32 channels: 131072 values per frame pixel.
    const model = await loadOnnxModel(writeTempModel(resizeModel([1, 1, 64, 64], 32)));
    const err = refusal(() => graphFootprint(model));
    expect(err.code).toBe('E_MODEL_INVALID');
    expect(err.message).toMatch(/tensor "\S+" of shape \[N, 32, 64\*H, 64\*W\] holds 131072 values per frame pixel \(at most 65536/);
    await expect(Reconstructor.create({ model: model.path, backend: 'cpu' })).rejects.toMatchObject({ code: 'E_MODEL_INVALID' });
  });

  it('measures a sane graph and cuts the batch to memory, refusing a frame that cannot fit at all', async () => {
    const model = await loadOnnxModel(writeTempModel(resizeModel([1, 1, 8, 8], 16)));
    const footprint = graphFootprint(model);
    expect(footprint.elementsPerFramePixel).toBe(16 * 64);
    expect(footprint.elementsPerFramePixel).toBeLessThanOrEqual(MAX_ELEMENTS_PER_FRAME_PIXEL);
    expect(batchWithinMemory(footprint, 64, 64, 8, 'm')).toBe(8);
    // 16 * 64 values per pixel of a 65536 x 65536 frame: 16 TiB for one frame.
    const err = refusal(() => batchWithinMemory(footprint, 65536, 65536, 8, 'm'));
    expect(err.code).toBe('E_FRAME_SIZE_UNSUPPORTED');
    expect(err.message).toMatch(/needs 16\.0 TiB .* one 65536 x 65536 px frame/);
    // A frame of 1/4 of the budget: a batch of at most 4 frames.
    const huge = batchWithinMemory({ ...footprint, elementsPerFramePixel: 1 }, 1, Math.floor(totalmem() / 32), 4096, 'm');
    expect(huge).toBeLessThanOrEqual(4);
  });
});
