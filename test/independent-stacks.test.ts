import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HELDOUT_SEED, INDEPENDENT_HELDOUT_STACKS, INDEPENDENT_VALIDATION_STACKS, VALIDATION_STACKS } from '../scripts/evaluation-data.js';
import { loadIndependentStack, type IndependentStackSpec } from '../scripts/independent-stacks.js';
import { BENCHMARK_LIKE_EMCCD, SCMOS_107NM } from '../lib/independent-simulator/index.js';

const dir = mkdtempSync(join(tmpdir(), 'smlm-indep-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('independent evaluation stacks', () => {
  it('keep validation and held-out seeds apart from each other and from the main simulator', () => {
    const seeds = [...INDEPENDENT_VALIDATION_STACKS, ...INDEPENDENT_HELDOUT_STACKS].map((s) => s.seed);
    const main = [HELDOUT_SEED, ...VALIDATION_STACKS.map((s) => s.options.seed)];
    expect(new Set([...seeds, ...main]).size).toBe(seeds.length + main.length);
    // Validation names are what scripts/select_unet.py selects on; held-out ones must not look like them.
    for (const s of INDEPENDENT_VALIDATION_STACKS) expect(s.name.startsWith('validation-')).toBe(true);
    for (const s of INDEPENDENT_HELDOUT_STACKS) expect(s.name.startsWith('validation-')).toBe(false);
    // One stack at the benchmark's conditions and one sCMOS stack in each set; held-out sCMOS on another chip.
    for (const set of [INDEPENDENT_VALIDATION_STACKS, INDEPENDENT_HELDOUT_STACKS]) {
      expect(set.some((s) => s.conditions === BENCHMARK_LIKE_EMCCD)).toBe(true);
      expect(set.some((s) => s.conditions.camera.kind === 'scmos' && s.conditions.pixelSizeNm === 107)).toBe(true);
    }
    const chip = (s: IndependentStackSpec) => (s.conditions.camera.kind === 'scmos' ? s.conditions.camera.chipSeed : -1);
    expect(chip(INDEPENDENT_HELDOUT_STACKS.find((s) => s.conditions.camera.kind === 'scmos')!)).not.toBe(chip(INDEPENDENT_VALIDATION_STACKS.find((s) => s.conditions.camera.kind === 'scmos')!));
  });

  it('caches a stack on disk and reads back exactly what it simulated', () => {
    const spec: IndependentStackSpec = { name: 'cache-test', conditions: { ...SCMOS_107NM, width: 24, height: 20 }, seed: 5, frames: 3 };
    const fresh = loadIndependentStack(spec, null);
    const first = loadIndependentStack(spec, dir);
    expect(readdirSync(dir).sort()).toEqual(
      readdirSync(dir)
        .filter((f) => f.startsWith('cache-test-'))
        .sort(),
    );
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    const cached = loadIndependentStack(spec, dir);
    for (const s of [first, cached]) {
      expect(s.stack.data).toEqual(fresh.stack.data);
      expect(s.truth).toEqual(fresh.truth);
      expect(s.stack.pixelSizeNm).toBe(107);
      expect([s.stack.frames, s.stack.height, s.stack.width]).toEqual([3, 20, 24]);
    }
    // Other options are another entry, never the cached one.
    const other = loadIndependentStack({ ...spec, seed: 6 }, dir);
    expect(other.stack.data).not.toEqual(fresh.stack.data);
    expect(readdirSync(dir).length).toBe(4);
  });
});
