import { describe, expect, it } from 'vitest';
import { darkPixels } from '../lib/estimate/dark-pixels.js';
import { highpassNoiseModel, varianceAt, withDarkLevel } from '../lib/estimate/highpass-noise.js';
import { SCMOS_160NM_GAUSSIAN, simulateStack } from '../lib/simulate/index.js';
import { floatFrames } from './helpers/float-frames.js';

describe("the fine-detail line pinned at the background by the dark pixel-frames' variance (withDarkLevel)", () => {
  // Uniformly placed emitters at 2.5/um^2 on 64 px of 160 nm (2 ADU per photon, baseline 400, 40 background photons):
  // the tiles' levels lie far above the background, where the line's value is an extrapolation.
  const sim = simulateStack({ ...SCMOS_160NM_GAUSSIAN, width: 64, height: 64, densityPerUm2: 2.5, structure: { kind: 'uniform' }, frames: 200, seed: 3 });
  const frames = floatFrames(sim.stack);
  const line = highpassNoiseModel(frames, 64, 64, 14)!;
  const dark = darkPixels(frames, 64, 64, line.variance, 0.78)!;
  const at = (hp: typeof line, x: number) => hp.variance.slope * x + hp.variance.intercept;

  it('knows the variance at the background far better than the line does, and takes it there', () => {
    const x = dark.levelAdu;
    // The camera's truth there: 2 ADU per photon above the baseline, plus read noise (3 ADU, 30 % apart per pixel).
    const truth = 2 * (x - 400) + 9 * (1 + 0.3 * 0.3);
    expect(Math.abs(dark.cameraVarianceAdu2 / truth - 1)).toBeLessThan(3 * (dark.cameraVarianceError / truth) + 0.01);
    expect(Math.sqrt(varianceAt(line.covariance, x))).toBeGreaterThan(5 * dark.cameraVarianceError);
    const pinned = withDarkLevel(line, { levelAdu: x, varianceAdu2: dark.cameraVarianceAdu2, error: dark.cameraVarianceError });
    expect(pinned.darkLevelWeight).toBeGreaterThan(0.95);
    expect(pinned.variance.slope).toBe(line.variance.slope);
    expect(Math.abs(at(pinned, x) - dark.cameraVarianceAdu2)).toBeLessThan(2 * dark.cameraVarianceError);
    // What is left of its value's error there is the two's combined.
    expect(Math.sqrt(varianceAt(pinned.covariance, x))).toBeLessThan(dark.cameraVarianceError);
    expect(pinned.baselineAdu).toBeCloseTo(-pinned.variance.intercept / pinned.variance.slope, 9);
  });

  it('weighs the two by their errors: a far less certain dark variance leaves the line as it was', () => {
    const x = dark.levelAdu;
    const vague = withDarkLevel(line, { levelAdu: x, varianceAdu2: 2 * dark.cameraVarianceAdu2, error: 1e6 });
    expect(vague.darkLevelWeight).toBeLessThan(1e-6);
    expect(at(vague, x)).toBeCloseTo(at(line, x), 3);
    const equal = withDarkLevel(line, { levelAdu: x, varianceAdu2: at(line, x) + 10, error: Math.sqrt(varianceAt(line.covariance, x)) });
    expect(equal.darkLevelWeight).toBeCloseTo(0.5, 9);
    expect(at(equal, x)).toBeCloseTo(at(line, x) + 5, 9);
    expect(withDarkLevel(line, undefined)).toBe(line);
  });
});
