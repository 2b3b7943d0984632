// The addon's plan reader (native/addon/PlanFromJs.cpp) accepts the compiler's localization-head op and refuses
// out-of-range render settings with E_MODEL_INVALID. Runs wherever the addon is built, GPU or not: the plan is read
// before any device work, so without a GPU a good plan fails later, with a GPU error instead.
import { describe, expect, it } from 'vitest';
import { compileModel } from '../lib/engine/compile.js';
import type { LocalizationHeadOp, Plan } from '../lib/engine/plan.js';
import { loadAddon } from '../lib/native/binding.js';
import { loadedModelFromBytes, makeUNetModel } from '../benchmarks/random-models.js';

const loaded = loadAddon();

async function outcome(plan: Plan): Promise<string> {
  if (!loaded.ok) throw new Error(loaded.reason);
  try {
    const engine = await loaded.addon.createCudaEngine(plan, { device: 0, maxBatch: 2, fp16: true, cacheDir: '' });
    engine.close();
    return 'created';
  } catch (err) {
    return `${(err as { code?: string }).code}: ${(err as Error).message}`;
  }
}

describe.skipIf(!loaded.ok)('the addon reads localization-head plans', () => {
  const plan = compileModel(loadedModelFromBytes(makeUNetModel({ base: 8, seed: 61, localization: { maxOffset: 1, sigma: 1.5, radius: 4, minProbability: 0.01 } })));
  const withHead = (change: Partial<LocalizationHeadOp>): Plan => ({ ...plan, ops: [...plan.ops.slice(0, -1), { ...(plan.ops.at(-1) as LocalizationHeadOp), ...change }] });

  it('accepts the compiled plan (E_MODEL_INVALID would mean the reader refused it)', async () => {
    const result = await outcome(plan);
    console.log(`[localization-plan-native] good plan: ${result}`);
    expect(result).not.toMatch(/^E_MODEL_INVALID/);
  });

  it('refuses render settings outside the metadata ranges and a head that is not last', async () => {
    expect(await outcome(withHead({ renderRadius: 9 }))).toMatch(/^E_MODEL_INVALID: .*renderRadius/);
    expect(await outcome(withHead({ renderSigma: -1 }))).toMatch(/^E_MODEL_INVALID: .*renderSigma/);
    expect(await outcome(withHead({ maxOffset: 0 }))).toMatch(/^E_MODEL_INVALID: .*maxOffset/);
    expect(await outcome(withHead({ minProbability: 1 }))).toMatch(/^E_MODEL_INVALID: .*minProbability/);
    expect(await outcome(withHead({ upsampling: 4 }))).toMatch(/^E_MODEL_INVALID: .*upsampling/);
    expect(await outcome(withHead({ weightOffset: plan.weights.length }))).toMatch(/^E_MODEL_INVALID: .*outside/);
    const notLast = { ...plan, ops: [...plan.ops.slice(0, -2), plan.ops.at(-1)!, plan.ops.at(-2)!] };
    expect(await outcome(notLast)).toMatch(/^E_MODEL_INVALID: .*must be the last op/);
  });

  it('reads the grid: accepts a compiled grid-2 plan, refuses other grids and rows past the weights', async () => {
    const grid2 = compileModel(loadedModelFromBytes(makeUNetModel({ base: 8, seed: 62, localization: { maxOffset: 1, sigma: 1, radius: 4, minProbability: 0.01, grid: 2 } })));
    expect(await outcome(grid2)).not.toMatch(/^E_MODEL_INVALID/);
    for (const grid of [3, 16, 0]) expect(await outcome(withHead({ grid }))).toMatch(/^E_MODEL_INVALID: .*grid/);
    // Grid 8 wants 192 rows of weights where the g = 1 plan packed 3: the reader sees they run past the weights.
    expect(await outcome(withHead({ grid: 8 }))).toMatch(/^E_MODEL_INVALID: .*outside/);
  });

  it('reads predicted widths: accepts a compiled "predicted" plan, refuses bad modes and ranges', async () => {
    const predicted = compileModel(
      loadedModelFromBytes(makeUNetModel({ base: 8, seed: 63, localization: { maxOffset: 1, sigma: 'predicted', sigmaRange: [0.5, 3], radius: 4, minProbability: 0.01, grid: 2 } })),
    );
    expect(await outcome(predicted)).not.toMatch(/^E_MODEL_INVALID/);
    expect(await outcome(withHead({ sigmaMode: 'learned' as never }))).toMatch(/^E_MODEL_INVALID: .*sigmaMode/);
    expect(await outcome(withHead({ sigmaRange: [0.5, 3] }))).toMatch(/^E_MODEL_INVALID: .*sigmaRange is only allowed/);
    for (const sigmaRange of [undefined, [0, 1], [2, 1], [1, 5], [1]] as [number, number][]) {
      expect(await outcome(withHead({ sigmaMode: 'predicted', sigmaRange }))).toMatch(/^E_MODEL_INVALID: .*sigmaRange/);
    }
  });
});
