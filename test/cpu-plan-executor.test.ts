// The addon's CPU executor of compiled plans (native/cpu/, SMLM_RT_CPU_RUNTIME=plan): its raw output against the plan's
// reference executor (lib/engine/reference.ts) on random plans, with the AVX2 and the portable micro-kernel; the cpu
// backend on it against onnxruntime-node and onnxruntime-web on both bundled models (maps, detections with sx/sy, image);
// auto's choice and fallbacks; typed errors for bad requests and plans. Needs the built addon: skips, saying why, without.
import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { createCpuBackend } from '../lib/backends/cpu.js';
import { loadCpuRuntime, requestedRuntime } from '../lib/backends/onnx-runtime.js';
import { compileModel } from '../lib/engine/compile.js';
import { localizationHeadRows, type Plan } from '../lib/engine/plan.js';
import { normalizeFrameReference, runPlanReference } from '../lib/engine/reference.js';
import { readTiffStack } from '../lib/io/tiff-read.js';
import { attr, OnnxModelBuilder } from '../lib/model/onnx-builder.js';
import type { LoadedModel } from '../lib/model/onnx.js';
import { resolveModel } from '../lib/model/registry.js';
import { cpuExecutorOf, loadAddon, type NativeCpuExecutor } from '../lib/native/binding.js';
import type { Stack } from '../lib/types.js';
import { loadedModelFromBytes, makeDeepStormModel, makeUNetModel, seededRandom, testMetadata } from '../benchmarks/random-models.js';
import { cameraLikeStack } from './helpers/camera-stack.js';
import { REPO_ROOT } from './helpers/paths.js';

const loaded = loadAddon();
const cpu = loaded.ok ? cpuExecutorOf(loaded.addon) : undefined;
const reason = !loaded.ok ? loaded.reason : cpu ? undefined : `the addon at ${loaded.path} has no createCpuExecutor (rebuild it: npm run build:native)`;
if (reason) console.warn(`test/cpu-plan-executor.test.ts skipped: ${reason}`);

function relativeL2(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < expected.length; i++) {
    diff += (actual[i] - expected[i]) ** 2;
    norm += expected[i] ** 2;
  }
  expect(norm).toBeGreaterThan(0);
  return Math.sqrt(diff / norm);
}

function normalized(plan: Plan, stack: Stack): Float32Array {
  const n = stack.height * stack.width;
  const input = new Float32Array(stack.frames * n);
  for (let f = 0; f < stack.frames; f++) input.set(normalizeFrameReference(stack, f, plan.normalization), f * n);
  return input;
}

async function executorFor(plan: Plan, threads?: number): Promise<NativeCpuExecutor> {
  const head = plan.ops.at(-1)!;
  return cpu!.createCpuExecutor(plan, { ...(threads ? { threads } : {}), ...(head.op === 'localization-head' ? { localizationRows: localizationHeadRows(head) } : {}) });
}

async function runExecutor(executor: NativeCpuExecutor, plan: Plan, stack: Stack): Promise<Float32Array> {
  const output = new Float32Array(stack.frames * executor.outputValuesPerFrame(stack.height, stack.width));
  await executor.run({ input: normalized(plan, stack), frameCount: stack.frames, height: stack.height, width: stack.width, output });
  return output;
}

/** Random-weight models of the real architectures' shapes, with channel counts that are no multiple of 16. */
const RANDOM_MODELS: Array<{ label: string; bytes: () => Uint8Array; size: number }> = [
  { label: 'Deep-STORM width 3 with BatchNorm (x8 phases, pooled loads)', bytes: () => makeDeepStormModel({ width: 3, seed: 5 }), size: 12 },
  { label: 'U-Net base 5, depth-to-space head', bytes: () => makeUNetModel({ base: 5, seed: 7 }), size: 16 },
  { label: 'U-Net base 6, super-resolving stage and hidden head', bytes: () => makeUNetModel({ base: 6, seed: 8, srStages: 1, headHidden: 7 }), size: 12 },
  {
    label: 'U-Net base 4, localization head (2x2 cells, fixed width)',
    bytes: () => makeUNetModel({ base: 4, seed: 9, localization: { maxOffset: 1, sigma: 1.2, radius: 3, minProbability: 0.05, grid: 2 } }),
    size: 16,
  },
  {
    label: 'U-Net base 4, localization head (predicted widths)',
    bytes: () => makeUNetModel({ base: 4, seed: 10, localization: { maxOffset: 0.8, sigma: 'predicted', sigmaRange: [0.3, 4], radius: 4, minProbability: 0.01 } }),
    size: 20,
  },
];

describe.skipIf(reason !== undefined)("the addon's CPU plan executor", () => {
  afterEach(() => {
    delete process.env.SMLM_RT_CPU_KERNEL;
    delete process.env.SMLM_RT_CPU_RUNTIME;
  });

  for (const kernel of ['avx2+fma', 'portable']) {
    it.each(RANDOM_MODELS)(`computes the plan's raw output as the reference executor does ($label; ${kernel} kernel)`, async ({ bytes, size }) => {
      if (kernel === 'portable') process.env.SMLM_RT_CPU_KERNEL = 'portable';
      else if (cpu!.cpuKernel !== 'avx2+fma') return; // this CPU has no AVX2: the portable case covers it
      const plan = compileModel(loadedModelFromBytes(bytes()), { localizationRows: 'all' });
      const stack = cameraLikeStack(3, size, size + 4, 11);
      const executor = await executorFor(plan, 2);
      try {
        expect(executor.kernel).toBe(kernel);
        const actual = await runExecutor(executor, plan, stack);
        const reference = runPlanReference(plan, stack, { rawMaps: true });
        const expected = reference.detections ?? reference.maps;
        expect(actual.length).toBe(expected.length);
        expect(relativeL2(actual, expected)).toBeLessThan(2e-6);
        // A second run of another batch size on the same executor (buffers resized) gives the first frame unchanged.
        const one = await runExecutor(executor, plan, { ...stack, frames: 1 });
        expect(relativeL2(one, expected.subarray(0, one.length))).toBeLessThan(2e-6);
      } finally {
        executor.close();
      }
    });
  }

  it('keeps the sx, sy rows of a fixed-width localization head: detections match onnxruntime-node row for row', async () => {
    const bytes = makeUNetModel({ base: 4, seed: 12, localization: { maxOffset: 1, sigma: 1, radius: 2, minProbability: 0.05, grid: 2 } });
    const model = loadedModelFromBytes(bytes);
    const plan = compileModel(model, { localizationRows: 'all' });
    const stack = cameraLikeStack(2, 16, 16, 3);
    const executor = await executorFor(plan);
    let actual: Float32Array;
    try {
      actual = await runExecutor(executor, plan, stack);
    } finally {
      executor.close();
    }
    const ort = await import('onnxruntime-node');
    const session = await ort.InferenceSession.create(bytes);
    try {
      const out = await session.run({ frames: new ort.Tensor('float32', normalized(plan, stack), [2, 1, 16, 16]) });
      const expected = out.detections.data as Float32Array;
      // Rows 12..19 are sx, sy of the 4 cells: not rendered with a fixed width, but localize reads them.
      const plane = 16 * 16;
      expect(relativeL2(actual.subarray(12 * plane, 20 * plane), expected.subarray(12 * plane, 20 * plane))).toBeLessThan(1e-5);
      expect(relativeL2(actual, expected)).toBeLessThan(1e-5);
    } finally {
      await session.release();
    }
  });

  describe('the cpu backend on plan, onnxruntime-node and onnxruntime-web: same raw outputs on the bundled models', () => {
    const cases = [
      { model: 'unet', size: 64, frames: 3 },
      { model: 'deepstorm', size: 32, frames: 2 },
    ];
    it.each(cases)(
      '$model',
      async ({ model: name, size, frames }) => {
        const model = await resolveModel(name);
        const full = await readTiffStack(join(REPO_ROOT, 'examples', 'microtubules.tif'));
        // The top-left size x size crop of the first frames.
        const data = new Uint16Array(frames * size * size);
        for (let f = 0; f < frames; f++) for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) data[(f * size + y) * size + x] = full.data[(f * full.height + y) * full.width + x];
        const stack: Stack = { data, frames, height: size, width: size, pixelSizeNm: full.pixelSizeNm };
        const u = model.metadata.upsampling;
        const results: Record<string, { image: Float32Array; maps: Float32Array; detections: Float32Array[] }> = {};
        for (const runtime of ['plan', 'onnxruntime-node', 'onnxruntime-web']) {
          process.env.SMLM_RT_CPU_RUNTIME = runtime;
          const backend = await createCpuBackend(model, { batchSize: 2 });
          try {
            const image = new Float32Array(size * size * u * u);
            const maps = new Float32Array(frames * image.length);
            const detections: Float32Array[] = [];
            await backend.run(stack, image, { batchSize: 2, frameMaps: maps, onDetections: (d) => detections.push(d.slice()) });
            results[runtime] = { image, maps, detections };
            expect((backend as unknown as { runtime: { name: string } }).runtime.name).toBe(runtime);
          } finally {
            await backend.close();
          }
        }
        const plan = results.plan;
        for (const other of ['onnxruntime-node', 'onnxruntime-web']) {
          expect(relativeL2(plan.image, results[other].image), other).toBeLessThan(1e-4);
          expect(relativeL2(plan.maps, results[other].maps), other).toBeLessThan(1e-4);
          expect(plan.detections.length).toBe(results[other].detections.length);
          plan.detections.forEach((d, i) => expect(relativeL2(d, results[other].detections[i]), other).toBeLessThan(1e-4));
        }
        if (model.metadata.head) expect(plan.detections.length).toBeGreaterThan(0);
      },
      120_000,
    );
  });

  describe('runtime choice', () => {
    it('SMLM_RT_CPU_RUNTIME=plan is accepted; auto takes the plan executor where the addon has it', async () => {
      expect(requestedRuntime({ SMLM_RT_CPU_RUNTIME: 'plan' })).toBe('plan');
      const auto = await loadCpuRuntime('auto');
      expect(auto.name).toBe('plan');
      expect(auto).toMatchObject({ kernel: cpu!.cpuKernel, addonPath: loaded.ok ? loaded.path : '' });
      const backend = await createCpuBackend(await resolveModel('unet'));
      try {
        expect((backend as unknown as { runtime: { name: string } }).runtime.name).toBe('plan');
      } finally {
        await backend.close();
      }
    });

    /** A model onnxruntime runs but the plan compiler refuses (LeakyRelu). */
    function leakyModel(): LoadedModel {
      const rand = seededRandom(3);
      const w = (n: number) => Float32Array.from({ length: n }, () => rand() - 0.5);
      const b = new OnnxModelBuilder();
      let x = b.addInput('frames', ['N', 1, 'H', 'W']);
      x = b.node('LeakyRelu', [b.conv(x, { weight: w(4 * 9), weightDims: [4, 1, 3, 3], bias: w(4) })], { alpha: attr.float(0.1) }, { name: 'leaky' })[0];
      x = b.depthToSpace(b.conv(x, { weight: w(16), weightDims: [4, 4, 1, 1], bias: w(4), pads: [0, 0, 0, 0] }), 2, 'CRD');
      b.addOutput('maps', ['N', 1, 'OH', 'OW'], x);
      return loadedModelFromBytes(b.build({ metadata: testMetadata({ upsampling: 2, outputPixelNm: 50 }) }), 'leaky.onnx');
    }

    it('auto runs a model that does not compile to a plan on onnxruntime and says why; plan refuses it (E_MODEL_INVALID)', async () => {
      const model = leakyModel();
      const backend = await createCpuBackend(model);
      try {
        const runtime = (backend as unknown as { runtime: { name: string; planUnavailable?: string } }).runtime;
        expect(runtime.name).toBe('onnxruntime-node');
        expect(runtime.planUnavailable).toContain('LeakyRelu');
        const stack = cameraLikeStack(2, 8, 8, 1);
        const image = new Float32Array(16 * 16);
        await backend.run(stack, image, { batchSize: 2 });
        expect(image.some((v) => v > 0)).toBe(true);
      } finally {
        await backend.close();
      }
      process.env.SMLM_RT_CPU_RUNTIME = 'plan';
      await expect(createCpuBackend(model)).rejects.toMatchObject({ code: 'E_MODEL_INVALID' });
    });
  });

  describe('errors are typed and nothing crashes', () => {
    let plan: Plan;
    let executor: NativeCpuExecutor;
    const fresh = async () => {
      plan = compileModel(loadedModelFromBytes(makeUNetModel({ base: 4, seed: 2 })));
      executor = await executorFor(plan, 2);
    };

    it('refuses malformed run requests with E_BAD_OPTIONS and unsupported frame sizes with E_FRAME_SIZE_UNSUPPORTED', async () => {
      await fresh();
      const ok = { input: new Float32Array(2 * 16 * 16), frameCount: 2, height: 16, width: 16, output: new Float32Array(2 * executor.outputValuesPerFrame(16, 16)) };
      await executor.run(ok);
      const bad: Array<[string, unknown]> = [
        ['no request', undefined],
        ['input not Float32Array', { ...ok, input: new Uint16Array(512) }],
        ['output missing', { ...ok, output: undefined }],
        ['input too short', { ...ok, input: new Float32Array(100) }],
        ['output too short', { ...ok, output: new Float32Array(10) }],
        ['fractional frameCount', { ...ok, frameCount: 1.5 }],
        ['zero height', { ...ok, height: 0 }],
        ['NaN width', { ...ok, width: Number.NaN }],
      ];
      for (const [label, request] of bad) {
        let caught: unknown;
        try {
          await (executor.run as (r: unknown) => Promise<unknown>)(request);
        } catch (err) {
          caught = err;
        }
        expect((caught as { code?: string })?.code, label).toBe('E_BAD_OPTIONS');
      }
      // 18 is no multiple of the U-Net's 4.
      const odd = { input: new Float32Array(18 * 18), frameCount: 1, height: 18, width: 18, output: new Float32Array(executor.outputValuesPerFrame(18, 18)) };
      await expect(executor.run(odd)).rejects.toMatchObject({ code: 'E_FRAME_SIZE_UNSUPPORTED' });
      expect(() => executor.outputValuesPerFrame(-1, 4)).toThrow(expect.objectContaining({ code: 'E_BAD_OPTIONS' }));
      await executor.run(ok); // still usable
      executor.close();
      expect(() => executor.run(ok)).toThrow(expect.objectContaining({ code: 'E_CLOSED' }));
      expect(executor.describe()).toBe('closed');
    });

    it('serializes concurrent runs; close() during a run lets it finish', async () => {
      await fresh();
      const stack = cameraLikeStack(2, 16, 16, 4);
      const expected = await runExecutor(executor, plan, stack);
      const [a, b] = await Promise.all([runExecutor(executor, plan, stack), runExecutor(executor, plan, stack)]);
      expect(a).toEqual(expected);
      expect(b).toEqual(expected);
      const pending = runExecutor(executor, plan, stack);
      executor.close();
      expect(await pending).toEqual(expected);
    });

    it('refuses bad plans and options with E_MODEL_INVALID / E_BAD_OPTIONS', async () => {
      await fresh();
      executor.close();
      const conv = plan.ops.find((op) => op.op === 'conv')!;
      const broken: Array<[string, unknown, string]> = [
        ['not a plan', null, 'E_BAD_OPTIONS'],
        ['weights outside', { ...plan, ops: plan.ops.map((op) => (op === conv ? { ...op, biasOffset: plan.weights.length } : op)) }, 'E_MODEL_INVALID'],
        ['no ops', { ...plan, ops: [] }, 'E_MODEL_INVALID'],
        ['version 2', { ...plan, version: 2 }, 'E_MODEL_INVALID'],
        ['weights not float32', { ...plan, weights: Array.from(plan.weights) }, 'E_MODEL_INVALID'],
      ];
      for (const [label, candidate, code] of broken) {
        let caught: unknown;
        try {
          await cpu!.createCpuExecutor(candidate as Plan);
        } catch (err) {
          caught = err;
        }
        expect((caught as { code?: string })?.code, label).toBe(code);
      }
      for (const options of [{ threads: 0 }, { threads: 1.5 }, { localizationRows: -3 }, 'two']) {
        let caught: unknown;
        try {
          await cpu!.createCpuExecutor(plan, options as never);
        } catch (err) {
          caught = err;
        }
        expect((caught as { code?: string })?.code, JSON.stringify(options)).toBe('E_BAD_OPTIONS');
      }
      // A maps plan given localization rows, or a localization plan given too few, is refused rather than misread.
      const loc = compileModel(loadedModelFromBytes(makeUNetModel({ base: 4, localization: { maxOffset: 1, sigma: 'predicted', sigmaRange: [0.3, 4], radius: 2, minProbability: 0.05 } })));
      await expect(cpu!.createCpuExecutor(loc, { localizationRows: 3 })).rejects.toMatchObject({ code: 'E_MODEL_INVALID' });
    });
  });
});
