import { describe, expect, it } from 'vitest';
import { compileModel } from '../lib/engine/compile.js';
import { isNearestReplicate } from '../lib/engine/passes/resize-semantics.js';
import { runPlanReference } from '../lib/engine/reference.js';
import { isSmlmError, type SmlmError } from '../lib/errors.js';
import { attr, OnnxModelBuilder, type ResizeNearestOptions } from '../lib/model/onnx-builder.js';
import { loadedModelFromBytes, makeDeepStormModel, seededRandom, testMetadata } from '../benchmarks/random-models.js';

function randomArray(rand: () => number, n: number, scale = 0.5): Float32Array {
  return Float32Array.from({ length: n }, () => (rand() * 2 - 1) * scale);
}

/**
 * frames -> Conv3x3(1->4)+Relu -> [middle] -> Resize x2 (nearest) -> Conv3x3(4->4)+Relu -> Conv1x1(4->4) -> DepthToSpace(2)
 * i.e. output grid 4x the frame. `middle` may insert nodes between the first conv and the Resize.
 */
function tinyModel(options: { resize?: ResizeNearestOptions; resizeScale?: number; middle?: (b: OnnxModelBuilder, x: string) => string; upsamplingMeta?: number } = {}): Uint8Array {
  const rand = seededRandom(99);
  const b = new OnnxModelBuilder();
  let x = b.addInput('frames', ['N', 1, 'H', 'W']);
  x = b.relu(b.conv(x, { weight: randomArray(rand, 4 * 9), weightDims: [4, 1, 3, 3], bias: randomArray(rand, 4) }));
  if (options.middle) x = options.middle(b, x);
  x = b.resizeNearest(x, options.resizeScale ?? 2, options.resize);
  x = b.relu(b.conv(x, { weight: randomArray(rand, 4 * 4 * 9), weightDims: [4, 4, 3, 3], bias: randomArray(rand, 4) }));
  x = b.conv(x, { weight: randomArray(rand, 16), weightDims: [4, 4, 1, 1], bias: randomArray(rand, 4), pads: [0, 0, 0, 0] });
  x = b.depthToSpace(x, 2, 'CRD');
  b.addOutput('maps', ['N', 1, 'OH', 'OW'], x);
  return b.build({ metadata: testMetadata({ upsampling: options.upsamplingMeta ?? 4, outputPixelNm: 25 }) });
}

function compileError(bytes: Uint8Array): SmlmError {
  try {
    compileModel(loadedModelFromBytes(bytes));
  } catch (err) {
    if (isSmlmError(err, 'E_MODEL_INVALID')) return err;
    throw err;
  }
  throw new Error('compileModel accepted the model');
}

describe('refusals name the operator and node', () => {
  it('an unsupported operator', () => {
    const err = compileError(tinyModel({ middle: (b, x) => b.node('LeakyRelu', [x], { alpha: attr.float(0.1) }, { name: 'my_leaky_relu' })[0] }));
    expect(err.message).toContain('LeakyRelu');
    expect(err.message).toContain('my_leaky_relu');
    expect(err.details).toMatchObject({ operator: 'LeakyRelu', node: 'my_leaky_relu' });
  });

  it('a Resize with a non-integer scale', () => {
    const err = compileError(tinyModel({ resizeScale: 1.5 }));
    expect(err.message).toContain('Resize');
    expect(err.message).toContain('non-integer');
  });

  it('a Resize with different height and width factors', () => {
    expect(compileError(tinyModel({ resize: { scales: [1, 1, 2, 4] } })).message).toContain('Resize');
  });

  it('a linear Resize', () => {
    const bytes = (() => {
      const b = new OnnxModelBuilder();
      const x = b.addInput('frames', ['N', 1, 'H', 'W']);
      const scales = b.addFloatInitializer('scales', [4], [1, 1, 2, 2]);
      const y = b.node('Resize', [x, '', scales], { mode: attr.string('linear') }, { name: 'bilinear_up' })[0];
      const z = b.conv(y, { weight: new Float32Array(4), weightDims: [4, 1, 1, 1], pads: [0, 0, 0, 0] });
      b.addOutput('maps', ['N', 1, 'OH', 'OW'], b.depthToSpace(z, 2));
      return b.build({ metadata: testMetadata({ upsampling: 4 }) });
    })();
    const err = compileError(bytes);
    expect(err.message).toContain('bilinear_up');
    expect(err.message).toContain('linear');
  });

  it('nearest modes that are not pixel replication', () => {
    for (const resize of [
      { coordinateTransformationMode: 'align_corners', nearestMode: 'round_prefer_floor' },
      { coordinateTransformationMode: 'half_pixel', nearestMode: 'floor' },
      { coordinateTransformationMode: 'asymmetric', nearestMode: 'ceil' },
    ]) {
      expect(compileError(tinyModel({ resize })).message).toContain(resize.coordinateTransformationMode);
    }
  });

  it('a ConvTranspose whose kernel differs from its stride', () => {
    const err = compileError(
      tinyModel({
        middle: (b, x) => b.convTranspose(x, { weight: new Float32Array(4 * 4 * 9), weightDims: [4, 4, 3, 3], strides: [1, 1], pads: [1, 1, 1, 1] }),
      }),
    );
    expect(err.message).toContain('ConvTranspose');
  });

  it('a strided convolution', () => {
    const err = compileError(
      tinyModel({ middle: (b, x) => b.conv(x, { weight: new Float32Array(4 * 4 * 9), weightDims: [4, 4, 3, 3], strides: [2, 2] }) }),
    );
    expect(err.message).toContain('strided');
  });

  it('a Clip that is not a ReLU', () => {
    expect(compileError(tinyModel({ middle: (b, x) => b.clip(x, 0, 6) })).message).toContain('Clip');
  });

  it('metadata whose upsampling disagrees with the graph', () => {
    expect(compileError(tinyModel({ upsamplingMeta: 8 })).message).toContain('upsampling 8');
  });

  it('a MaxPool other than 2x2 / stride 2', () => {
    expect(compileError(tinyModel({ middle: (b, x) => b.maxPool(x, 3, 1) })).message).toContain('MaxPool');
  });
});

describe('nearest Resize semantics', () => {
  it('accepts exactly the coordinate/rounding modes that replicate pixels', () => {
    for (const u of [2, 3, 8]) {
      expect(isNearestReplicate('asymmetric', 'floor', u)).toBe(true);
      expect(isNearestReplicate('half_pixel', 'round_prefer_floor', u)).toBe(true);
      expect(isNearestReplicate('pytorch_half_pixel', 'round_prefer_ceil', u)).toBe(true);
      expect(isNearestReplicate('tf_half_pixel_for_nn', 'floor', u)).toBe(true);
      expect(isNearestReplicate('half_pixel', 'floor', u)).toBe(false);
      expect(isNearestReplicate('align_corners', 'round_prefer_floor', u)).toBe(false);
      expect(isNearestReplicate('asymmetric', 'ceil', u)).toBe(false);
    }
    expect(isNearestReplicate('asymmetric', 'round_prefer_floor', 8)).toBe(false);
    expect(isNearestReplicate('no_such_mode', 'floor', 2)).toBe(false);
  });

  it('every accepted mode compiles to a plan that matches onnxruntime', async () => {
    const ort = await import('onnxruntime-node');
    const rand = seededRandom(4);
    const [h, w] = [8, 12];
    const input = Float32Array.from({ length: h * w }, () => rand() * 2 - 1);
    for (const [ct, nm] of [
      ['asymmetric', 'floor'],
      ['half_pixel', 'round_prefer_floor'],
      ['pytorch_half_pixel', 'round_prefer_ceil'],
      ['tf_half_pixel_for_nn', 'floor'],
    ]) {
      const bytes = tinyModel({ resize: { coordinateTransformationMode: ct, nearestMode: nm } });
      const plan = compileModel(loadedModelFromBytes(bytes));
      // Feed the plan frames that normalize to exactly `input`: normalization is affine per frame, so choose a
      // frame whose min/max map [min(input), max(input)] onto itself is not needed - use a float frame and undo it.
      const { mean, std } = plan.normalization;
      const lo = Math.min(...input);
      const hi = Math.max(...input);
      const normalized = Float32Array.from(input, (v) => ((v - lo) / (hi - lo) - mean) / std);
      const session = await ort.InferenceSession.create(bytes);
      const expected = (await session.run({ frames: new ort.Tensor('float32', normalized, [1, 1, h, w]) })).maps.data as Float32Array;
      await session.release();
      const { maps } = runPlanReference(plan, { data: input, frames: 1, height: h, width: w }, { rawMaps: true });
      let err = 0;
      let ref = 0;
      for (let i = 0; i < expected.length; i++) {
        err += (maps[i] - expected[i]) ** 2;
        ref += expected[i] ** 2;
      }
      expect(Math.sqrt(err / ref), `${ct} + ${nm}`).toBeLessThan(1e-5);
    }
  });
});

describe('PyTorch export patterns', () => {
  it('Resize given by `sizes` computed from Shape (recompute_scale_factor exports) is fused like `scales`', () => {
    const rand = seededRandom(5);
    const b = new OnnxModelBuilder();
    const x = b.addInput('frames', ['N', 1, 'H', 'W']);
    const c1 = b.relu(b.conv(x, { weight: randomArray(rand, 4 * 9), weightDims: [4, 1, 3, 3], bias: randomArray(rand, 4) }));
    // sizes = concat(shape[:2], floor(float(shape[2:]) * 2)) as int64
    const shape = b.node('Shape', [c1])[0];
    const starts = (v: number) => b.addInt64Initializer('idx', [1], [v]);
    const head = b.node('Slice', [shape, starts(0), starts(2)])[0];
    const spatial = b.node('Slice', [shape, starts(2), starts(4)])[0];
    const asFloat = b.node('Cast', [spatial], { to: attr.int(1) })[0];
    const scaled = b.node('Mul', [asFloat, b.addFloatInitializer('two', [1], [2])])[0];
    const floored = b.node('Floor', [scaled])[0];
    const back = b.node('Cast', [floored], { to: attr.int(7) })[0];
    const sizes = b.concat([head, back], 0);
    const up = b.node('Resize', [c1, '', '', sizes], { mode: attr.string('nearest'), coordinate_transformation_mode: attr.string('asymmetric'), nearest_mode: attr.string('floor') })[0];
    const c2 = b.conv(up, { weight: randomArray(rand, 4 * 4 * 9), weightDims: [4, 4, 3, 3], bias: randomArray(rand, 4) });
    const out = b.depthToSpace(b.conv(c2, { weight: randomArray(rand, 16), weightDims: [4, 4, 1, 1], pads: [0, 0, 0, 0] }), 2);
    b.addOutput('maps', ['N', 1, 'OH', 'OW'], out);
    const plan = compileModel(loadedModelFromBytes(b.build({ metadata: testMetadata({ upsampling: 4 }) })));
    const convs = plan.ops.filter((op) => op.op === 'conv');
    expect(convs.map((op) => op.upsample)).toEqual([1, 2]);
  });

  it('Identity, Dropout and Constant nodes are looked through', () => {
    const bytes = makeDeepStormModel({ seed: 3, resize: { scalesSource: 'constant' } }); // ends with Identity -> maps
    const plan = compileModel(loadedModelFromBytes(bytes));
    expect(plan.ops.filter((op) => op.op === 'conv')).toHaveLength(7);
  });
});
