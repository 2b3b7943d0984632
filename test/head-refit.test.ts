import ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { decodeTensor } from '../lib/model/onnx-values.js';
import { isSmlmError } from '../lib/errors.js';
import { findHead, HeadLeastSquares, withHeadFeaturesOutput } from '../lib/model/head-refit.js';
import { decodeOnnx } from '../lib/model/onnx.js';
import { OnnxModelBuilder } from '../lib/model/onnx-builder.js';
import { withInitializerValues } from '../lib/model/rewrite-initializers.js';
import { fitStacks } from '../scripts/refit-head.js';
import { makeDeepStormModel, makeUNetModel, seededRandom, testMetadata } from '../benchmarks/random-models.js';

function initializer(bytes: Uint8Array, name: string): Float64Array {
  const t = decodeOnnx(bytes, 'test').graph!.initializer!.find((i) => i.name === name)!;
  return decodeTensor(t)!.values;
}

function randomValues(count: number, seed: number): Float32Array {
  const rand = seededRandom(seed);
  return Float32Array.from({ length: count }, () => rand() - 0.5);
}

function expectCode(fn: () => unknown, code: string): void {
  try {
    fn();
  } catch (err) {
    expect(isSmlmError(err) && err.code).toBe(code);
    return;
  }
  throw new Error(`expected ${code}`);
}

describe('withInitializerValues', () => {
  it('writes new values over the old bytes of the named initializers and changes no other byte', () => {
    const bytes = makeUNetModel({ seed: 5, base: 8 });
    const head = findHead(decodeOnnx(bytes, 'test'));
    const weight = randomValues(head.weight.length, 1);
    const bias = randomValues(64, 2);
    const out = withInitializerValues(bytes, { [head.weightName]: weight, [head.biasName!]: bias });
    expect(out.length).toBe(bytes.length);
    expect(Array.from(initializer(out, head.weightName))).toEqual(Array.from(weight));
    expect(Array.from(initializer(out, head.biasName!))).toEqual(Array.from(bias));
    let changed = 0;
    for (let i = 0; i < bytes.length; i++) if (bytes[i] !== out[i]) changed++;
    // Only raw_data payloads may differ: at most 4 bytes per replaced value.
    expect(changed).toBeGreaterThan(0);
    expect(changed).toBeLessThanOrEqual(4 * (weight.length + bias.length));
    const untouched = findHead(decodeOnnx(out, 'test'));
    expect(untouched.featureTensor).toBe(head.featureTensor);
  });

  it('refuses unknown names, wrong lengths and non-finite values with typed errors', () => {
    const bytes = makeUNetModel({ seed: 5, base: 8 });
    const head = findHead(decodeOnnx(bytes, 'test'));
    expectCode(() => withInitializerValues(bytes, { nope: new Float32Array(1) }), 'E_MODEL_INVALID');
    expectCode(() => withInitializerValues(bytes, { [head.weightName]: new Float32Array(3) }), 'E_BAD_OPTIONS');
    const bad = randomValues(head.weight.length, 3);
    bad[7] = NaN;
    expectCode(() => withInitializerValues(bytes, { [head.weightName]: bad }), 'E_BAD_OPTIONS');
    expectCode(() => withInitializerValues(new Uint8Array([1, 2, 3]), {}), 'E_MODEL_INVALID');
  });
});

describe('findHead', () => {
  it('finds the 1x1 conv before DepthToSpace (U-Net) and the last 1x1 conv at the output grid (Deep-STORM)', () => {
    const unet = findHead(decodeOnnx(makeUNetModel({ seed: 5, base: 8 }), 'unet'));
    expect([unet.inChannels, unet.shuffle, unet.weight.length, unet.bias?.length]).toEqual([8, 8, 64 * 8, 64]);
    const relu = findHead(decodeOnnx(makeUNetModel({ seed: 6, base: 8, finalRelu: true, depthToSpaceMode: 'DCR' }), 'unet-relu'));
    expect(relu.shuffle).toBe(8);
    const deepstorm = findHead(decodeOnnx(makeDeepStormModel({ seed: 7 }), 'deepstorm'));
    expect([deepstorm.inChannels, deepstorm.shuffle]).toEqual([4, 1]);
  });

  it('refuses a head it cannot refit (a hand-written pixel shuffle; a 3x3 last conv)', () => {
    expectCode(() => findHead(decodeOnnx(makeUNetModel({ seed: 5, base: 8, pixelShuffleAsTranspose: true }), 'm')), 'E_MODEL_INVALID');
    const b = new OnnxModelBuilder();
    const x = b.addInput('frames', ['N', 1, 'H', 'W']);
    const y = b.conv(x, { weight: randomValues(9, 4), weightDims: [1, 1, 3, 3] });
    b.addOutput('maps', ['N', 1, 'H', 'W'], y);
    expectCode(() => findHead(decodeOnnx(b.build({ metadata: testMetadata(), graphName: 'g' }), 'm')), 'E_MODEL_INVALID');
  });
});

describe('HeadLeastSquares', () => {
  it('recovers, from features and maps computed by onnxruntime, the head that made the maps', async () => {
    // Model B differs from model A only in its head: fitting A's head to B's summed maps must give B's head.
    const a = makeUNetModel({ seed: 9, base: 8 });
    const head = findHead(decodeOnnx(a, 'a'));
    const wanted = { weight: randomValues(head.weight.length, 10), bias: randomValues(64, 11) };
    const b = withInitializerValues(a, { [head.weightName]: wanted.weight, [head.biasName!]: wanted.bias });
    const features = await ort.InferenceSession.create(withHeadFeaturesOutput(a, head));
    const maps = await ort.InferenceSession.create(b);
    const lsq = new HeadLeastSquares(head.inChannels, head.shuffle, true);
    const [frames, h, w] = [3, 8, 12];
    for (let stack = 0; stack < 4; stack++) {
      const input = new ort.Tensor('float32', randomValues(frames * h * w, 20 + stack).map((v) => 3 * v), [frames, 1, h, w]);
      const f = (await features.run({ frames: input }, [head.featureTensor]))[head.featureTensor].data as Float32Array;
      const m = (await maps.run({ frames: input })).maps.data as Float32Array;
      const summedF = new Float64Array(f.length / frames);
      for (let i = 0; i < f.length; i++) summedF[i % summedF.length] += f[i];
      const summedM = new Float64Array(m.length / frames);
      for (let i = 0; i < m.length; i++) summedM[i % summedM.length] += m[i];
      lsq.addStack(summedF, h, w, frames, summedM, 1 + stack);
    }
    const fit = lsq.solve(0);
    const err = (got: Float64Array, want: Float32Array) => Math.max(...Array.from(got, (v, i) => Math.abs(v - want[i])));
    expect(err(fit.weight, wanted.weight)).toBeLessThan(1e-4);
    expect(err(fit.bias!, wanted.bias)).toBeLessThan(1e-4);
  });

  it('fits a head without bias at shuffle 1 (Deep-STORM form) and refuses empty or mismatched input', () => {
    const [channels, h, w] = [5, 6, 7];
    const truth = randomValues(channels, 30);
    const lsq = new HeadLeastSquares(channels, 1, false);
    for (let stack = 0; stack < 3; stack++) {
      const features = Float64Array.from(randomValues(channels * h * w, 40 + stack));
      const target = new Float64Array(h * w);
      for (let k = 0; k < channels; k++) for (let i = 0; i < h * w; i++) target[i] += truth[k] * features[k * h * w + i];
      lsq.addStack(features, h, w, 2, target, 1);
    }
    const fit = lsq.solve(0);
    expect(fit.bias).toBeUndefined();
    fit.weight.forEach((v, k) => expect(v).toBeCloseTo(truth[k], 9));
    expectCode(() => new HeadLeastSquares(2, 1, false).solve(), 'E_BAD_OPTIONS');
    expectCode(() => lsq.addStack(new Float64Array(3), h, w, 1, new Float64Array(h * w), 1), 'E_BAD_OPTIONS');
  });
});

describe('refit-head fit stacks', () => {
  it('are reproducible per seed and vary the imaging conditions between stacks', () => {
    const first = fitStacks(3000, 3, 2);
    const again = fitStacks(3000, 3, 2);
    expect(first.map((s) => s.stack.data)).toEqual(again.map((s) => s.stack.data));
    expect(new Set(first.map((s) => s.emitters.length)).size).toBeGreaterThan(1);
    expect(first.every((s) => s.stack.frames === 2 && s.stack.width === 64)).toBe(true);
  });
});
