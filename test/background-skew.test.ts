import { describe, expect, it } from 'vitest';
import { backgroundSkew, cameraKindFromSkew } from '../lib/estimate/background-skew.js';
import { simulateStack, type SimulationOptions } from '../lib/simulate/index.js';

function framesOf(stack: { data: ArrayLike<number>; frames: number; width: number; height: number }): Float64Array[] {
  const n = stack.width * stack.height;
  return Array.from({ length: stack.frames }, (_, f) => Float64Array.from(Array.prototype.slice.call(stack.data, f * n, (f + 1) * n) as number[]));
}

const SCMOS: SimulationOptions['camera'] = { emGain: 1, electronsPerAdu: 0.5, baselineAdu: 400, readNoiseAdu: 3 };
const EMCCD: SimulationOptions['camera'] = { emGain: 100, electronsPerAdu: 50, baselineAdu: 100 };

describe('backgroundSkew: the third cumulant of the pixel-frames no emitter reaches', () => {
  // Without emitters every pixel-frame is dark: the ratio is the camera's own, 1 - r^2/var without EM gain
  // (20 photons x 2 ADU, read noise 3 ADU: var 80 + 9, so 0.90) and 1.5 with it.
  it('reads ~1 (less read noise) for a Poisson camera and ~1.5 for EM gain, from frames without emitters', () => {
    const scmos = framesOf(simulateStack({ frames: 100, seed: 5, densityPerUm2: 0, backgroundPhotons: 20, camera: SCMOS }).stack);
    const emccd = framesOf(simulateStack({ frames: 100, seed: 5, densityPerUm2: 0, backgroundPhotons: 20, camera: EMCCD }).stack);
    const a = backgroundSkew(scmos, 64, 64, { slope: 2, intercept: -2 * 400 + 9 }, 1.1)!;
    const b = backgroundSkew(emccd, 64, 64, { slope: 4, intercept: -4 * 100 }, 1.1)!;
    expect(a.samples).toBeGreaterThan(0.98 * 100 * 64 * 64);
    expect(a.ratio).toBeGreaterThan(0.9 - 4 * a.standardError);
    expect(a.ratio).toBeLessThan(0.9 + 4 * a.standardError);
    expect(b.ratio).toBeGreaterThan(1.5 - 4 * b.standardError);
    expect(b.ratio).toBeLessThan(1.5 + 4 * b.standardError);
    expect(a.standardError).toBeLessThan(0.05);
    expect(cameraKindFromSkew(a, 0.02)).toBe('scmos');
    expect(cameraKindFromSkew(b, 0.02)).toBe('emccd');
  });

  it("leaves out the emitters' light: EMCCD filaments at 0.5/um^2 read like EM gain, not like their spots", () => {
    // 20 background photons, bright emitters on filaments: the spots' residuals read this stack's skew as 1.44 for
    // the sCMOS camera below (an EMCCD's), the dark pixel-frames as a Poisson camera's.
    const base = {
      frames: 200,
      seed: 2,
      pixelSizeNm: 107,
      densityPerUm2: 0.5,
      sigmaNm: [115, 135] as [number, number],
      photons: { kind: 'uniform' as const, min: 1500, max: 3500 },
      backgroundPhotons: 20,
    };
    const scmos = backgroundSkew(framesOf(simulateStack({ ...base, camera: SCMOS }).stack), 64, 64, { slope: 2, intercept: -2 * 400 + 9 }, 1.17)!;
    const emccd = backgroundSkew(framesOf(simulateStack({ ...base, camera: EMCCD }).stack), 64, 64, { slope: 4, intercept: -4 * 100 }, 1.17)!;
    expect(scmos.samples).toBeGreaterThan(0.2 * 200 * 64 * 64);
    expect(scmos.ratio).toBeGreaterThan(0.7);
    expect(scmos.ratio).toBeLessThan(1);
    expect(emccd.ratio).toBeGreaterThan(1.35);
    expect(emccd.ratio).toBeLessThan(1.6);
    expect(cameraKindFromSkew(scmos, 0.05)).toBe('scmos');
    expect(cameraKindFromSkew(emccd, 0.05)).toBe('emccd');
  });

  it('says so where nothing is dark, or too little to tell', () => {
    const carpet = framesOf(simulateStack({ frames: 30, seed: 1, densityPerUm2: 8, structure: { kind: 'uniform' }, camera: SCMOS }).stack);
    const skew = backgroundSkew(carpet, 64, 64, { slope: 2, intercept: -800 }, 1.1);
    if (skew) expect(cameraKindFromSkew(skew, 0.05)).toBeUndefined();
    expect(backgroundSkew(carpet.slice(0, 5), 64, 64, { slope: 2, intercept: -800 }, 1.1)).toBeUndefined();
    expect(backgroundSkew(carpet, 64, 64, { slope: 0, intercept: 0 }, 1.1)).toBeUndefined();
  });

  it('decides only where one camera kind is ruled out, and by the threshold where both are', () => {
    const skew = (ratio: number, standardError: number) => ({ ratio, standardError, samples: 1000 });
    expect(cameraKindFromSkew(skew(1.16, 0.28), 0)).toBeUndefined();
    expect(cameraKindFromSkew(skew(0.44, 0.25), 0)).toBe('scmos');
    expect(cameraKindFromSkew(skew(1.42, 0.02), 0)).toBe('emccd');
    // Both ruled out (a tiny error between them): the nearer side of 1.25.
    expect(cameraKindFromSkew(skew(1.2, 0.01), 0)).toBe('scmos');
    expect(cameraKindFromSkew(skew(1.3, 0.01), 0)).toBe('emccd');
    // The slope's error counts: 1.42 +- 15 % no longer rules out a Poisson camera.
    expect(cameraKindFromSkew(skew(1.42, 0.02), 0.15)).toBeUndefined();
  });
});
