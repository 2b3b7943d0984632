import { describe, expect, it } from 'vitest';
import { createCpuBackend } from '../lib/backends/cpu.js';
import { compileModel, describePlan } from '../lib/engine/compile.js';
import { planMacsPerFrame } from '../lib/engine/plan.js';
import { normalizeFrameReference, runPlanReference } from '../lib/engine/reference.js';
import { localizationHeadOf } from '../lib/model/head.js';
import { renderDetections, sigmoid } from '../lib/render-detections.js';
import type { Stack } from '../lib/types.js';
import { loadedModelFromBytes, makeUNetModel, seededRandom, testMetadata, type LocalizationRenderSettings } from '../benchmarks/random-models.js';
import { OnnxModelBuilder } from '../lib/model/onnx-builder.js';
import { cameraLikeStack } from './helpers/camera-stack.js';
import { expectModelInvalid } from './helpers/expect-error.js';

async function runDetections(bytes: Uint8Array, stack: Stack, mean: number, std: number, grid: number): Promise<Float32Array> {
  const ort = await import('onnxruntime-node');
  const n = stack.height * stack.width;
  const input = new Float32Array(stack.frames * n);
  for (let f = 0; f < stack.frames; f++) input.set(normalizeFrameReference(stack, f, { kind: 'minmax-zscore', mean, std }), f * n);
  const session = await ort.InferenceSession.create(bytes);
  try {
    const result = await session.run({ frames: new ort.Tensor('float32', input, [stack.frames, 1, stack.height, stack.width]) });
    expect(result.detections.dims).toEqual([stack.frames, 5 * grid * grid, stack.height, stack.width]);
    return result.detections.data as Float32Array;
  } finally {
    await session.release();
  }
}

function relativeL2(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < expected.length; i++) {
    num += (actual[i] - expected[i]) ** 2;
    den += expected[i] ** 2;
  }
  return Math.sqrt(num / den);
}

const cases: { name: string; seed: number; withBatchNorm: boolean; settings: LocalizationRenderSettings }[] = [
  { name: 'Gaussian rendering (sigma 1.5, radius 4)', seed: 31, withBatchNorm: true, settings: { maxOffset: 1, sigma: 1.5, radius: 4, minProbability: 0.5 } },
  { name: 'one fine pixel per detection (sigma 0), BN folded', seed: 32, withBatchNorm: false, settings: { maxOffset: 0.75, sigma: 0, radius: 0, minProbability: 0.45 } },
  { name: 'narrow window (sigma 3, radius 2) clipped at the image border', seed: 33, withBatchNorm: true, settings: { maxOffset: 2, sigma: 3, radius: 2, minProbability: 0.4 } },
  { name: 'grid 2 (2x2 cells per camera pixel), sigma 1, radius 4', seed: 37, withBatchNorm: true, settings: { maxOffset: 1, sigma: 1, radius: 4, minProbability: 0.45, grid: 2 } },
  { name: 'grid 4, one fine pixel per detection (sigma 0)', seed: 38, withBatchNorm: false, settings: { maxOffset: 1.5, sigma: 0, radius: 0, minProbability: 0.6, grid: 4 } },
  { name: 'grid 8 (one fine pixel per cell), sigma 0.7, radius 3', seed: 39, withBatchNorm: true, settings: { maxOffset: 1, sigma: 0.7, radius: 3, minProbability: 0.45, grid: 8 } },
  // Predicted widths: random sx, sy rows give widths around 1.5 cells, so these ranges both clamp some and keep some.
  {
    name: 'predicted widths in [0.8, 2] (grid 8), radius 3',
    seed: 40,
    withBatchNorm: true,
    settings: { maxOffset: 1, sigma: 'predicted', sigmaRange: [0.8, 2], radius: 3, minProbability: 0.45, grid: 8 },
  },
  {
    name: 'predicted widths in [1, 4] (grid 2), radius 5',
    seed: 41,
    withBatchNorm: false,
    settings: { maxOffset: 1, sigma: 'predicted', sigmaRange: [1, 4], radius: 5, minProbability: 0.6, grid: 2 },
  },
];

describe('localization head: compiled plan (reference executor) equals onnxruntime + the TS renderer', () => {
  for (const c of cases) {
    for (const [height, width] of [
      [16, 16],
      [24, 32],
    ]) {
      it(`${c.name}, ${height}x${width} frames`, async () => {
        const bytes = makeUNetModel({ seed: c.seed, base: 8, withBatchNorm: c.withBatchNorm, localization: c.settings });
        const model = loadedModelFromBytes(bytes);
        const head = localizationHeadOf(model.metadata)!;
        expect(head.render.sigma).toBe(c.settings.sigma);
        const plan = compileModel(model);
        const g = c.settings.grid ?? 1;
        const predicted = c.settings.sigma === 'predicted';
        const widths = predicted ? { sigmaMode: 'predicted', renderSigma: 0, sigmaRange: c.settings.sigmaRange } : { sigmaMode: 'fixed', renderSigma: c.settings.sigma };
        expect(plan.ops.at(-1)).toMatchObject({ op: 'localization-head', cin: 8, upsampling: 8, grid: g, ...widths, renderRadius: c.settings.radius });
        const stack = cameraLikeStack(2, height, width, height * 100 + width);
        const { mean, std } = model.metadata.normalization;
        const detections = await runDetections(bytes, stack, mean, std, g);
        // The comparison must mean something: some detections are rendered, some are skipped.
        const plane = height * width;
        const cellPlane = g * g * plane; // the p channels of all g^2 cells, the first g^2 channels of a frame
        const frameValues = 5 * cellPlane;
        let rendered = 0;
        for (let f = 0; f < stack.frames; f++) for (let i = 0; i < cellPlane; i++) if (sigmoid(detections[f * frameValues + i]) >= c.settings.minProbability) rendered++;
        expect(rendered / (stack.frames * cellPlane)).toBeGreaterThan(0.05);
        expect(rendered / (stack.frames * cellPlane)).toBeLessThan(0.95);

        const expectedImage = new Float32Array(height * 8 * width * 8);
        const expectedMaps = new Float32Array(stack.frames * expectedImage.length);
        renderDetections(detections, stack.frames, height, width, { head, upsampling: 8 }, expectedImage, expectedMaps);
        const ref = runPlanReference(plan, stack);
        expect([ref.outHeight, ref.outWidth]).toEqual([height * 8, width * 8]);
        // The raw rows the plan computes (p, dx, dy; sx, sy too when predicted) agree, and so do the image and maps.
        for (let f = 0; f < stack.frames; f++) {
          const rows = (d: Float32Array) => d.subarray(f * frameValues, f * frameValues + (predicted ? 5 : 3) * cellPlane);
          expect(relativeL2(rows(ref.detections!), rows(detections))).toBeLessThan(1e-4);
        }
        expect(relativeL2(ref.image, expectedImage)).toBeLessThan(1e-4);
        expect(relativeL2(ref.maps, expectedMaps)).toBeLessThan(1e-4);
        // Mass is conserved where nothing is clipped: the image sums to at most the rendered p.
        let pSum = 0;
        for (let f = 0; f < stack.frames; f++) {
          for (let i = 0; i < cellPlane; i++) {
            const p = sigmoid(detections[f * frameValues + i]);
            if (p >= c.settings.minProbability) pSum += p;
          }
        }
        const imageSum = ref.image.reduce((s, v) => s + v, 0);
        expect(imageSum).toBeLessThanOrEqual(pSum * (1 + 1e-5));
        expect(imageSum).toBeGreaterThan(0.8 * pSum);
      });
    }
  }
});

describe('localization head: plan and backends', () => {
  it('counts the three computed rows in the MACs and describes the head', () => {
    const bytes = makeUNetModel({ seed: 34, base: 8, localization: { maxOffset: 1, sigma: 1, radius: 3, minProbability: 0.01 } });
    const plan = compileModel(loadedModelFromBytes(bytes));
    const headless = { ...plan, ops: plan.ops.slice(0, -1) };
    expect(planMacsPerFrame(plan, 32, 32) - planMacsPerFrame(headless, 32, 32)).toBe(32 * 32 * 8 * 3);
    expect(describePlan(plan)).toContain('loc-head');
  });

  it("with grid 2, computes and counts the 12 rendered rows (p, dx, dy of 4 cells), the network's first 12 channels", () => {
    const bytes = makeUNetModel({ seed: 34, base: 8, localization: { maxOffset: 1, sigma: 1, radius: 3, minProbability: 0.01, grid: 2 } });
    const plan = compileModel(loadedModelFromBytes(bytes));
    const op = plan.ops.at(-1)!;
    expect(op).toMatchObject({ op: 'localization-head', grid: 2 });
    const headless = { ...plan, ops: plan.ops.slice(0, -1) };
    expect(planMacsPerFrame(plan, 32, 32) - planMacsPerFrame(headless, 32, 32)).toBe(32 * 32 * 8 * 12);
    expect(describePlan(plan)).toContain('8->12 (p, dx, dy of 2x2 cells)');
  });

  it('with predicted widths keeps all 5g^2 rows (sx, sy set the widths) and says so', () => {
    const bytes = makeUNetModel({ seed: 34, base: 8, localization: { maxOffset: 1, sigma: 'predicted', sigmaRange: [0.5, 3], radius: 3, minProbability: 0.01, grid: 2 } });
    const plan = compileModel(loadedModelFromBytes(bytes));
    expect(plan.ops.at(-1)).toMatchObject({ op: 'localization-head', grid: 2, sigmaMode: 'predicted', sigmaRange: [0.5, 3] });
    const headless = { ...plan, ops: plan.ops.slice(0, -1) };
    expect(planMacsPerFrame(plan, 32, 32) - planMacsPerFrame(headless, 32, 32)).toBe(32 * 32 * 8 * 20);
    expect(describePlan(plan)).toContain('8->20 (p, dx, dy, sx, sy of 2x2 cells)');
    expect(describePlan(plan)).toContain('predicted sigma in [0.5, 3]');
  });

  it.each([
    [1, 'fixed'],
    [2, 'fixed'],
    [2, 'predicted'],
  ] as const)('the cpu backend renders the detections (grid %i, %s widths); frame maps sum to the image', async (grid, widths) => {
    const sigma = widths === 'predicted' ? { sigma: 'predicted' as const, sigmaRange: [0.6, 3] as [number, number] } : { sigma: 1.2 };
    const bytes = makeUNetModel({ seed: 35, base: 8, localization: { maxOffset: 1, ...sigma, radius: 4, minProbability: 0.3, ...(grid > 1 ? { grid } : {}) } });
    const model = loadedModelFromBytes(bytes);
    const stack = cameraLikeStack(3, 16, 20, 7);
    const backend = await createCpuBackend(model);
    const image = new Float32Array(16 * 8 * 20 * 8);
    const frameMaps = new Float32Array(3 * image.length);
    try {
      await backend.run(stack, image, { batchSize: 2, frameMaps });
    } finally {
      await backend.close();
    }
    const expected = runPlanReference(compileModel(model), stack);
    expect(relativeL2(image, expected.image)).toBeLessThan(1e-4);
    expect(relativeL2(frameMaps, expected.maps)).toBeLessThan(1e-4);
    const summed = new Float32Array(image.length);
    for (let f = 0; f < 3; f++) for (let i = 0; i < image.length; i++) summed[i] += frameMaps[f * image.length + i];
    expect(relativeL2(summed, image)).toBeLessThan(1e-6);
  });

  it('refuses a localization model whose graph does not end in a raw 1x1 conv with 5g^2 channels', () => {
    const settings = { maxOffset: 1, sigma: 1, radius: 3, minProbability: 0.01 };
    const build = (channels: number, relu: boolean, grid?: number) => {
      const b = new OnnxModelBuilder();
      const rand = seededRandom(3);
      let x = b.addInput('frames', ['N', 1, 'H', 'W']);
      x = b.relu(b.conv(x, { weight: Float32Array.from({ length: 4 * 9 }, () => rand() - 0.5), weightDims: [4, 1, 3, 3], bias: new Float32Array(4) }));
      x = b.conv(x, { weight: Float32Array.from({ length: channels * 4 }, () => rand() - 0.5), weightDims: [channels, 4, 1, 1], bias: new Float32Array(channels), pads: [0, 0, 0, 0] });
      if (relu) x = b.relu(x);
      b.addOutput('detections', ['N', channels, 'H', 'W'], x);
      return b.build({
        metadata: testMetadata({
          outputScale: 1,
          head: {
            kind: 'localization',
            channels: ['p', 'dx', 'dy', 'sx', 'sy'],
            ...(grid ? { grid } : {}),
            maxOffset: 1,
            render: { sigma: settings.sigma, radius: settings.radius, minProbability: settings.minProbability },
          },
        }),
        graphName: 'bad',
      });
    };
    // Grid 2 wants 20 channels: the g = 1 head's 5 (and any other count) are refused, 20 compiles.
    expect(compileModel(loadedModelFromBytes(build(20, false, 2))).ops.at(-1)).toMatchObject({ op: 'localization-head', grid: 2 });
    expectModelInvalid(() => compileModel(loadedModelFromBytes(build(5, false, 2))), 'has 5 channels', '20 output channels');
    expectModelInvalid(() => compileModel(loadedModelFromBytes(build(20, false))), 'has 20 channels', '5 output channels');
    expect(compileModel(loadedModelFromBytes(build(5, false))).ops.at(-1)!.op).toBe('localization-head');
    expectModelInvalid(() => compileModel(loadedModelFromBytes(build(4, false))), 'has 4 channels', '5 output channels');
    expectModelInvalid(() => compileModel(loadedModelFromBytes(build(5, true))), 'ReLU');
    // A maps U-Net (depth-to-space head) declared as a localization model.
    const maps = makeUNetModel({ seed: 36 });
    const model = loadedModelFromBytes(maps);
    const relabeled = { ...model, metadata: { ...model.metadata, head: loadedModelFromBytes(makeUNetModel({ seed: 36, localization: settings })).metadata.head } };
    expectModelInvalid(() => compileModel(relabeled), 'localization-head network must end');
  });
});
