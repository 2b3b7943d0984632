import { describe, expect, it } from 'vitest';
import { cameraKindFromSkew, darkPixels, skewRatio } from '../lib/estimate/dark-pixels.js';
import { SCMOS_107NM, simulateIndependentStack } from '../lib/independent-simulator/index.js';
import { simulateStack, type SimulationOptions } from '../lib/simulate/index.js';
import { floatFrames } from './helpers/float-frames.js';

const SCMOS: SimulationOptions['camera'] = { emGain: 1, electronsPerAdu: 0.5, baselineAdu: 400, readNoiseAdu: 3 };
const EMCCD: SimulationOptions['camera'] = { emGain: 100, electronsPerAdu: 50, baselineAdu: 100 };

describe('darkPixels: the pixel-frames no emitter reaches, their level and their noise', () => {
  // Without emitters every pixel-frame is dark: the ratio is the camera's own, 1 - r^2/var without EM gain
  // (20 photons x 2 ADU, read noise 3 ADU: var 80 + 9, so 0.90) and 1.5 with it.
  it('reads ~1 (less read noise) for a Poisson camera and ~1.5 for EM gain, from frames without emitters', () => {
    const scmos = floatFrames(simulateStack({ frames: 100, seed: 5, densityPerUm2: 0, backgroundPhotons: 20, camera: SCMOS }).stack);
    const emccd = floatFrames(simulateStack({ frames: 100, seed: 5, densityPerUm2: 0, backgroundPhotons: 20, camera: EMCCD }).stack);
    const darkA = darkPixels(scmos, 64, 64, { slope: 2, intercept: -2 * 400 + 9 }, 1.1)!;
    const darkB = darkPixels(emccd, 64, 64, { slope: 4, intercept: -4 * 100 }, 1.1)!;
    expect(darkA.samples).toBeGreaterThan(0.98 * 100 * 64 * 64);
    // The background's level and variance: 400 + 40 ADU, 89 ADU^2; 100 + 40 ADU, 160 ADU^2.
    expect(darkA.levelAdu).toBeCloseTo(440, 0);
    expect(darkA.varianceAdu2 / 89).toBeCloseTo(1, 1);
    expect(darkB.levelAdu).toBeCloseTo(140, 0);
    expect(darkB.varianceAdu2 / 160).toBeCloseTo(1, 1);
    const a = skewRatio(darkA, 2);
    const b = skewRatio(darkB, 4);
    expect(a.ratio).toBeGreaterThan(0.9 - 4 * a.standardError);
    expect(a.ratio).toBeLessThan(0.9 + 4 * a.standardError);
    expect(b.ratio).toBeGreaterThan(1.5 - 4 * b.standardError);
    expect(b.ratio).toBeLessThan(1.5 + 4 * b.standardError);
    expect(a.standardError).toBeLessThan(0.05);
    expect(cameraKindFromSkew(a, 0.02)).toBe('scmos');
    expect(cameraKindFromSkew(b, 0.02)).toBe('emccd');
  });

  it("leaves out the emitters' light: EMCCD filaments at 0.5/um^2 read like EM gain, not like their spots", () => {
    // 20 background photons, bright emitters on filaments: stacks like these read the wrong kind from the spots'
    // residuals in 8 of 12 such stacks (lib/estimate/dark-pixels.ts); the dark pixel-frames read each camera's own.
    const base = {
      frames: 200,
      seed: 2,
      pixelSizeNm: 107,
      densityPerUm2: 0.5,
      sigmaNm: [115, 135] as [number, number],
      photons: { kind: 'uniform' as const, min: 1500, max: 3500 },
      backgroundPhotons: 20,
    };
    const darkScmos = darkPixels(floatFrames(simulateStack({ ...base, camera: SCMOS }).stack), 64, 64, { slope: 2, intercept: -2 * 400 + 9 }, 1.17)!;
    const darkEmccd = darkPixels(floatFrames(simulateStack({ ...base, camera: EMCCD }).stack), 64, 64, { slope: 4, intercept: -4 * 100 }, 1.17)!;
    expect(darkScmos.samples).toBeGreaterThan(0.2 * 200 * 64 * 64);
    // Their level is the background's (20 photons at 2 ADU above the baseline), not lifted by the emitters' light.
    expect(darkScmos.levelAdu).toBeGreaterThan(439);
    expect(darkScmos.levelAdu).toBeLessThan(441);
    expect(darkEmccd.levelAdu).toBeGreaterThan(139);
    expect(darkEmccd.levelAdu).toBeLessThan(141);
    const scmos = skewRatio(darkScmos, 2);
    const emccd = skewRatio(darkEmccd, 4);
    expect(scmos.ratio).toBeGreaterThan(0.7);
    expect(scmos.ratio).toBeLessThan(1);
    expect(emccd.ratio).toBeGreaterThan(1.35);
    expect(emccd.ratio).toBeLessThan(1.6);
    expect(cameraKindFromSkew(scmos, 0.05)).toBe('scmos');
    expect(cameraKindFromSkew(emccd, 0.05)).toBe('emccd');
  });

  it("gives the field's background where it varies: a plane through the dark pixels, which lie on the emptier side", () => {
    // The independent simulator's 107 nm sCMOS: background 40 photons on average over the field (2 ADU each, baseline
    // 400: 480 ADU) with a 30 % gradient and 25 % haze; the structures keep its fuller side lit.
    const { stack } = simulateIndependentStack({ ...SCMOS_107NM, seed: 43, frames: 200 });
    const dark = darkPixels(floatFrames(stack), stack.width, stack.height, { slope: 2, intercept: -2 * 400 + 9 }, 1.17)!;
    expect(dark.levelAdu - 480).toBeGreaterThan(15);
    expect(Math.abs(dark.fieldLevelAdu - 480)).toBeLessThan(3);
    // A flat background: both the same.
    const flat = floatFrames(simulateStack({ frames: 100, seed: 5, densityPerUm2: 0.5, backgroundPhotons: 20, camera: SCMOS }).stack);
    const even = darkPixels(flat, 64, 64, { slope: 2, intercept: -2 * 400 + 9 }, 1.1)!;
    expect(even.fieldLevelAdu).toBeCloseTo(440, 0);
    expect(even.levelAdu).toBeCloseTo(440, 0);
  });

  it('says so where nothing is dark, or too little to tell', () => {
    const carpet = floatFrames(simulateStack({ frames: 30, seed: 1, densityPerUm2: 8, structure: { kind: 'uniform' }, camera: SCMOS }).stack);
    const dark = darkPixels(carpet, 64, 64, { slope: 2, intercept: -800 }, 1.1);
    if (dark) expect(cameraKindFromSkew(skewRatio(dark, 2), 0.05)).toBeUndefined();
    expect(darkPixels(carpet.slice(0, 5), 64, 64, { slope: 2, intercept: -800 }, 1.1)).toBeUndefined();
    expect(darkPixels(carpet, 64, 64, { slope: 0, intercept: 0 }, 1.1)).toBeUndefined();
  });

  it('decides only where one camera kind is ruled out, and by the threshold where both are', () => {
    const skew = (ratio: number, standardError: number) => ({ ratio, standardError });
    expect(cameraKindFromSkew(skew(1.16, 0.28), 0)).toBeUndefined();
    expect(cameraKindFromSkew(skew(0.44, 0.25), 0)).toBe('scmos');
    expect(cameraKindFromSkew(skew(1.42, 0.02), 0)).toBe('emccd');
    // Both ruled out (a tiny error between them): the nearer side of 1.25.
    expect(cameraKindFromSkew(skew(1.2, 0.01), 0)).toBe('scmos');
    expect(cameraKindFromSkew(skew(1.3, 0.01), 0)).toBe('emccd');
    // The slope's error counts: 1.42 +- 15 % no longer rules out a Poisson camera.
    expect(cameraKindFromSkew(skew(1.42, 0.02), 0.15)).toBeUndefined();
    // Beyond either kind (emitters' light in the "dark" pixel-frames): nothing decided, however small the error.
    expect(cameraKindFromSkew(skew(4.05, 0.3), 0.02)).toBeUndefined();
    expect(cameraKindFromSkew(skew(-7.5, 1), 0.02)).toBeUndefined();
    // Read noise can take a Poisson camera's ratio near 0, and its error below.
    expect(cameraKindFromSkew(skew(-0.1, 0.1), 0.02)).toBe('scmos');
    expect(cameraKindFromSkew(skew(1.6, 0.03), 0.02)).toBe('emccd');
  });
});
