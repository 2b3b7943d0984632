import { describe, expect, it } from 'vitest';
import { isSmlmError } from '../lib/errors.js';
import { decodeTrainingSet, encodeTrainingSet, makeTrainingSet } from '../lib/simulate/training-set.js';

describe('training set (scripts/make-training-data)', () => {
  const set = makeTrainingSet({ seed: 5, patches: 60, train: 40 });

  it('is reproducible per seed and round-trips through the SMLMTD01 file', () => {
    const bytes = encodeTrainingSet(set);
    expect(encodeTrainingSet(makeTrainingSet({ seed: 5, patches: 60, train: 40 }))).toEqual(bytes);
    expect(encodeTrainingSet(makeTrainingSet({ seed: 6, patches: 60, train: 40 }))).not.toEqual(bytes);
    const back = decodeTrainingSet(bytes);
    expect(back.header.seed).toBe(5);
    expect(back.header.train).toBe(40);
    expect(back.patches).toEqual(set.patches);
    expect(back.counts).toEqual(set.counts);
    expect(back.positions).toEqual(set.positions);
    expect(() => decodeTrainingSet(new Uint8Array(16))).toThrow(/SMLMTD01/);
  });

  it('stores emitters inside their 208x208 fine grid, on bright pixels of the patch', () => {
    expect(set.positions.length / 2).toBe(set.counts.reduce((a, b) => a + b, 0));
    let at = 0;
    let onEmitter = 0;
    let overall = 0;
    let n = 0;
    for (let p = 0; p < 60; p++) {
      const lo = set.frameMinMax[2 * p];
      const hi = set.frameMinMax[2 * p + 1];
      const px = set.patches.subarray(p * 676, (p + 1) * 676);
      for (let i = 0; i < 676; i++) {
        expect(px[i]).toBeGreaterThanOrEqual(lo);
        expect(px[i]).toBeLessThanOrEqual(hi);
      }
      overall += px.reduce((a, b) => a + b, 0) / 676 - lo;
      for (let k = 0; k < set.counts[p]; k++, at++) {
        const c = set.positions[2 * at];
        const r = set.positions[2 * at + 1];
        expect(c).toBeLessThan(208);
        expect(r).toBeLessThan(208);
        // Camera pixel of the emitter: fine pixel j lies in camera pixel floor(j / 8) (no half-pixel shift).
        onEmitter += px[Math.floor(r / 8) * 26 + Math.floor(c / 8)] - lo;
        n++;
      }
    }
    // Pixels holding an emitter are on average much brighter than the patch's mean.
    expect(onEmitter / n).toBeGreaterThan(1.5 * (overall / 60));
  });

  it('mixes both emitter layouts and both edge treatments about equally, and records the mix', () => {
    const means = makeTrainingSet({ seed: 11, patches: 400, train: 200 }).header.conditionMeans as Record<string, number>;
    // 200 frames: a fair coin lands within 0.35-0.65 with probability > 0.9999.
    for (const key of ['uniformFraction', 'toEdgeFraction']) {
      expect(means[key]).toBeGreaterThan(0.35);
      expect(means[key]).toBeLessThan(0.65);
    }
  });

  it('refuses splits that would share frames', () => {
    try {
      makeTrainingSet({ seed: 1, patches: 10, train: 5, patchesPerFrame: 2 });
      expect.unreachable();
    } catch (err) {
      expect(isSmlmError(err, 'E_BAD_OPTIONS')).toBe(true);
    }
  });
});
