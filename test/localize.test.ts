import { describe, expect, it } from 'vitest';
import { isSmlmError } from '../lib/errors.js';
import { findPeaks, localizeCamera, localizeMaps, matchLocalizations } from '../lib/localize.js';
import { simulateStack } from '../lib/simulate/index.js';

describe('findPeaks / localizeMaps', () => {
  it('finds separated spots with weighted-centroid positions and window mass', () => {
    const w = 16;
    const h = 8;
    const maps = new Float32Array(2 * w * h);
    // Frame 1: a spot at pixel (3,2) with a neighbour (4,2) -> centroid x = (0.6*3.5 + 0.2*4.5)/0.8 = 3.75 px.
    maps[2 * w + 3] = 0.6;
    maps[2 * w + 4] = 0.2;
    // Frame 1: a weak isolated pixel below the threshold.
    maps[6 * w + 12] = 0.05;
    // Frame 2: a plateau of two equal pixels: one maximum only (the first in row-major order wins the tie).
    maps[w * h + 5 * w + 9] = 0.3;
    maps[w * h + 5 * w + 10] = 0.3;
    const locs = localizeMaps(maps, 2, w, h, { pixelNm: 12.5, threshold: 0.1, radius: 1 });
    expect(locs.length).toBe(2);
    expect(locs[0].frame).toBe(1);
    expect(locs[0].xNm).toBeCloseTo(3.75 * 12.5, 4);
    expect(locs[0].yNm).toBeCloseTo(2.5 * 12.5, 4);
    expect(locs[0].confidence).toBeCloseTo(0.8, 5);
    expect(locs[1].frame).toBe(2);
    expect(locs[1].xNm).toBeCloseTo(10 * 12.5, 4);
    expect(locs[1].confidence).toBeCloseTo(0.6, 5);
    // firstFrame offsets frame numbers for chunked processing.
    expect(localizeMaps(maps, 2, w, h, { pixelNm: 12.5, threshold: 0.1, firstFrame: 11 })[1].frame).toBe(12);
    expect(findPeaks([0, 1, 0, 1, 0], 5, 1, 0.5, 1)).toEqual([1.5, 0.5, 1, 3.5, 0.5, 1]);
  });

  it('rejects bad options', () => {
    for (const f of [() => localizeMaps(new Float32Array(4), 2, 2, 2, { pixelNm: 12.5 }), () => localizeMaps(new Float32Array(4), 1, 2, 2, { pixelNm: 0 })]) {
      try {
        f();
        expect.unreachable();
      } catch (err) {
        expect(isSmlmError(err, 'E_BAD_OPTIONS')).toBe(true);
      }
    }
  });
});

describe('matchLocalizations', () => {
  it('matches greedily by distance within the radius, per frame', () => {
    const truth = [
      { frame: 1, xNm: 0, yNm: 0 },
      { frame: 1, xNm: 100, yNm: 0 },
      { frame: 2, xNm: 0, yNm: 0 },
    ];
    const found = [
      { frame: 1, xNm: 30, yNm: 0 }, // 30 from the first, 70 from the second
      { frame: 1, xNm: 10, yNm: 0 }, // 10 from the first: takes it; the 30 one then has nothing within 50
      { frame: 2, xNm: 0, yNm: 40 }, // matches frame 2's
      { frame: 3, xNm: 0, yNm: 0 }, // no truth in frame 3
    ];
    const m = matchLocalizations(found, truth, 50);
    expect(m.truePositives).toBe(2);
    expect(m.falsePositives).toBe(2);
    expect(m.falseNegatives).toBe(1);
    expect(m.recall).toBeCloseTo(2 / 3, 12);
    expect(m.precision).toBeCloseTo(0.5, 12);
    expect(m.jaccard).toBeCloseTo(2 / 5, 12);
    expect(m.rmseNm).toBeCloseTo(Math.sqrt((100 + 1600) / 2), 12);
    expect(() => matchLocalizations(found, truth, 0)).toThrow(/radius/);
  });
});

describe('localizeCamera (classical reference)', () => {
  it('finds sparse bright emitters to within a fraction of a pixel', () => {
    const sim = simulateStack({ seed: 4, frames: 3, width: 32, height: 32, densityPerUm2: 0.3, structure: { kind: 'uniform' }, marginNm: 300, photons: { kind: 'uniform', min: 3000, max: 4000 } });
    const locs = localizeCamera(sim.stack);
    const m = matchLocalizations(locs, sim.emitters, 100);
    expect(sim.emitters.length).toBeGreaterThan(3);
    expect(m.recall).toBeGreaterThan(0.6);
    expect(m.precision).toBeGreaterThan(0.8);
    expect(m.rmseNm).toBeLessThan(40);
  });
});
