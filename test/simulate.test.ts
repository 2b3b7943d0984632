import { describe, expect, it } from 'vitest';
import { isSmlmError } from '../lib/errors.js';
import {
  addIntegratedGaussian,
  erf,
  formatThunderstormCsv,
  parseThunderstormCsv,
  Random,
  simulateStack,
} from '../lib/simulate/index.js';

function moments(draw: () => number, n: number): { mean: number; variance: number } {
  let s = 0;
  let s2 = 0;
  for (let i = 0; i < n; i++) {
    const v = draw();
    s += v;
    s2 += v * v;
  }
  const mean = s / n;
  return { mean, variance: s2 / n - mean * mean };
}

describe('Random', () => {
  it('is reproducible per seed and differs between seeds', () => {
    const a = new Random(42);
    const b = new Random(42);
    const c = new Random(43);
    const xa = Array.from({ length: 5 }, () => a.uniform());
    expect(Array.from({ length: 5 }, () => b.uniform())).toEqual(xa);
    expect(Array.from({ length: 5 }, () => c.uniform())).not.toEqual(xa);
    expect(xa.every((v) => v >= 0 && v < 1)).toBe(true);
  });

  it.each([0.5, 4, 25, 2500])('Poisson(%d) has mean and variance lambda', (lambda) => {
    const rng = new Random(1);
    const { mean, variance } = moments(() => rng.poisson(lambda), 40000);
    expect(Math.abs(mean / lambda - 1)).toBeLessThan(0.02);
    expect(Math.abs(variance / lambda - 1)).toBeLessThan(0.05);
  });

  it('gamma(k, theta) has mean k*theta and variance k*theta^2', () => {
    const rng = new Random(2);
    const { mean, variance } = moments(() => rng.gamma(3, 100), 40000);
    expect(Math.abs(mean / 300 - 1)).toBeLessThan(0.02);
    expect(Math.abs(variance / 30000 - 1)).toBeLessThan(0.05);
  });

  it('normal is standard', () => {
    const rng = new Random(3);
    const { mean, variance } = moments(() => rng.normal(), 40000);
    expect(Math.abs(mean)).toBeLessThan(0.02);
    expect(Math.abs(variance - 1)).toBeLessThan(0.03);
  });
});

describe('integrated Gaussian PSF', () => {
  it('erf matches tabulated values', () => {
    expect(erf(0)).toBeCloseTo(0, 6);
    expect(erf(0.5)).toBeCloseTo(0.5204999, 6);
    expect(erf(1)).toBeCloseTo(0.8427008, 6);
    expect(erf(-2)).toBeCloseTo(-0.9953223, 6);
  });

  it('conserves photons and centres the spot on the emitter', () => {
    const img = new Float64Array(32 * 32);
    addIntegratedGaussian(img, 32, 32, 100, 1234, 1777, 110, 1000);
    let total = 0;
    let cx = 0;
    let cy = 0;
    img.forEach((v, i) => {
      total += v;
      cx += v * ((i % 32) + 0.5) * 100;
      cy += v * (Math.floor(i / 32) + 0.5) * 100;
    });
    expect(total).toBeCloseTo(1000, 2);
    expect(cx / total).toBeCloseTo(1234, 0);
    expect(cy / total).toBeCloseTo(1777, 0);
    // Pixel (12,17) holds the centre: its share is the product of the per-axis integrals.
    const px = 0.5 * (erf((1300 - 1234) / (Math.SQRT2 * 110)) - erf((1200 - 1234) / (Math.SQRT2 * 110)));
    const py = 0.5 * (erf((1800 - 1777) / (Math.SQRT2 * 110)) - erf((1700 - 1777) / (Math.SQRT2 * 110)));
    expect(img[17 * 32 + 12]).toBeCloseTo(1000 * px * py, 6);
  });
});

describe('simulateStack', () => {
  it('is deterministic per seed', () => {
    const a = simulateStack({ seed: 5, frames: 3 });
    const b = simulateStack({ seed: 5, frames: 3 });
    const c = simulateStack({ seed: 6, frames: 3 });
    expect(a.stack.data).toEqual(b.stack.data);
    expect(a.emitters).toEqual(b.emitters);
    expect(c.stack.data).not.toEqual(a.stack.data);
  });

  it('defaults reproduce the benchmark conditions (density, margins, background ADU)', () => {
    const { stack, emitters } = simulateStack({ seed: 11, frames: 40 });
    expect(stack.width).toBe(64);
    expect(stack.height).toBe(64);
    const perFrame = emitters.length / 40;
    expect(perFrame).toBeGreaterThan(200);
    expect(perFrame).toBeLessThan(250);
    for (const e of emitters) {
      expect(e.xNm).toBeGreaterThan(550);
      expect(e.xNm).toBeLessThan(6400 - 550);
      expect(e.photons).toBeGreaterThanOrEqual(1000);
      expect(e.photons).toBeLessThanOrEqual(2000);
      expect(e.offsetPhotons).toBeCloseTo(50, 6); // 100 ADU baseline at 2 ADU/photon
    }
    // Median pixel of the benchmark is ~164 ADU and its minimum ~102 (data/README.md).
    const sorted = Float64Array.from(stack.data).sort();
    expect(sorted[sorted.length >> 1]).toBeGreaterThan(140);
    expect(sorted[sorted.length >> 1]).toBeLessThan(200);
    expect(sorted[0]).toBeGreaterThanOrEqual(100);
  });

  it('renders given emitters exactly where they are and rejects bad options', () => {
    const { stack } = simulateStack({ seed: 1, frames: 1, width: 16, height: 16, backgroundPhotons: 0, camera: { emGain: 0, electronsPerAdu: 1, baselineAdu: 0 }, emitters: [{ frame: 1, xNm: 850, yNm: 350, sigmaNm: 100, photons: 50000 }] });
    let best = 0;
    for (let i = 1; i < stack.data.length; i++) if (stack.data[i] > stack.data[best]) best = i;
    expect(best).toBe(3 * 16 + 8);
    for (const bad of [{ frames: 0 }, { densityPerUm2: -1 }, { sigmaNm: [0, 1] as [number, number] }, { marginNm: 5000 }]) {
      try {
        simulateStack(bad);
        expect.unreachable();
      } catch (err) {
        expect(isSmlmError(err, 'E_BAD_OPTIONS')).toBe(true);
      }
    }
  });
});

describe('ThunderSTORM CSV', () => {
  it('round-trips emitters and reads quoted headers', () => {
    const { emitters } = simulateStack({ seed: 3, frames: 2 });
    const back = parseThunderstormCsv(formatThunderstormCsv(emitters));
    expect(back.length).toBe(emitters.length);
    expect(back[7].xNm).toBeCloseTo(emitters[7].xNm, 4);
    expect(back[7].frame).toBe(emitters[7].frame);
    expect(() => parseThunderstormCsv('"a","b"\n1,2\n')).toThrow(/frame/);
  });

  it('reads quoted numeric cells', () => {
    const [e] = parseThunderstormCsv('"frame","x [nm]","y [nm]"\n"3", "12.5" ,"7"\n');
    expect([e.frame, e.xNm, e.yNm]).toEqual([3, 12.5, 7]);
  });

  it('E_BAD_OPTIONS naming the line and column for a blank, missing or non-numeric cell (not a silent 0)', () => {
    const header = '"id","frame","x [nm]","y [nm]"';
    const cases: Array<[string, number, number, RegExp]> = [
      [`${header}\n1,1,10,20\n2,2,,20\n`, 3, 3, /line 3, column 3 \("x \[nm\]"\): empty/],
      [`${header}\n\n1,1,10,""\n`, 3, 4, /line 3, column 4 \("y \[nm\]"\): empty/], // blank lines still count
      [`${header}\n1,1,10\n`, 2, 4, /line 2, column 4 .*missing/],
      [`${header}\n1, ,10,20\n`, 2, 2, /column 2 \("frame"\): empty/],
      [`${header}\n1,1,ten,20\n`, 2, 3, /"ten" is not a number/],
    ];
    for (const [text, line, column, message] of cases) {
      try {
        parseThunderstormCsv(text, 'gt.csv');
        expect.unreachable();
      } catch (err) {
        expect(isSmlmError(err, 'E_BAD_OPTIONS')).toBe(true);
        expect((err as Error).message).toMatch(message);
        expect((err as { details: unknown }).details).toEqual({ source: 'gt.csv', line, column });
      }
    }
  });
});
