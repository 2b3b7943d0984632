import { describe, expect, it } from 'vitest';
import { darkPixels } from '../lib/estimate/dark-pixels.js';
import { SCMOS_107NM, simulateIndependentStack, type IndependentConditions } from '../lib/independent-simulator/index.js';
import { floatFrames } from './helpers/float-frames.js';

/** The independent simulator's 107 nm sCMOS (2 ADU per photon, 400 ADU baseline) without emitters. */
function backgroundStack(background: Partial<IndependentConditions['background']>) {
  const conditions: IndependentConditions = { ...SCMOS_107NM, width: 64, height: 64, densityPerUm2: 0, background: { ...SCMOS_107NM.background, ...background } };
  return simulateIndependentStack({ ...conditions, seed: 5, frames: 200 });
}

/** Its dark pixel-frames (all of them, as nothing shines). */
function backgroundOnly(background: Partial<IndependentConditions['background']>) {
  const { stack } = backgroundStack(background);
  // The variance line that sets the detection threshold: the true one will do (nothing shines here).
  return darkPixels(floatFrames(stack), stack.width, stack.height, { slope: 2, intercept: -800 }, 1.2);
}

describe("the dark pixel-frames' own variance line (dark-pixels.ts, blockLine)", () => {
  it("reads the camera's gain from the background's unevenness over the field", () => {
    const dark = backgroundOnly({ gradient: 0.3, haze: 0.25, flicker: 0 });
    expect(dark?.line).toBeDefined();
    const line = dark!.line!;
    expect(Math.abs(line.slope / 2 - 1)).toBeLessThan(3 * (line.slopeError / 2));
    expect(line.slopeError / 2).toBeLessThan(0.05);
  });

  it("takes each frame's common mode (the illumination's flicker) off: 10 % flicker would add 1.6 ADU^2 per ADU", () => {
    // Flicker f moves the whole background together: variance f^2 (level - baseline)^2, whose slope at 80 ADU above the
    // baseline is 2 f^2 80 = 1.6 at f = 0.1, nearly the gain itself. Taken off, the line keeps the camera's slope.
    const line = backgroundOnly({ gradient: 0.3, haze: 0.25, flicker: 0.1 })!.line!;
    expect(Math.abs(line.slope / 2 - 1)).toBeLessThan(Math.max(0.05, 3 * (line.slopeError / 2)));
  });

  it('gives no line where the background is flat (its slope would be uncertain by 27 % here)', () => {
    const flat = backgroundOnly({ gradient: 0, haze: 0, flicker: 0 });
    expect(flat?.samples).toBeGreaterThan(100_000);
    expect(flat?.line).toBeUndefined();
  });

  it("gives the camera's variance at the dark pixel-frames' level, without the flicker, to within its error", () => {
    // On the camera's line at their level: 2 ADU per photon above the 400 ADU baseline, plus the chip's read noise
    // (2 ADU per electron, its mean square). 10 % flicker adds (0.1 x 80)^2 = 64 ADU^2 to a pixel's variance over time,
    // which the common mode takes off (its brightest frames also rise above the detection threshold, so the dark
    // pixel-frames' level reads a few ADU low: the variance follows it along the line).
    for (const flicker of [0, 0.1]) {
      const sim = backgroundStack({ gradient: 0, haze: 0, flicker });
      const dark = darkPixels(floatFrames(sim.stack), 64, 64, { slope: 2, intercept: -800 }, 1.2)!;
      const readNoise = sim.scmosMaps!.readNoiseElectrons;
      const readVariance = (4 * readNoise.reduce((a, r) => a + r * r, 0)) / readNoise.length;
      const onLine = 2 * (dark.levelAdu - 400) + readVariance;
      expect(Math.abs(dark.cameraVarianceAdu2 / onLine - 1)).toBeLessThan(0.01);
      expect(dark.cameraVarianceError / dark.cameraVarianceAdu2).toBeLessThan(0.005);
      if (flicker > 0) expect(dark.varianceAdu2 - dark.cameraVarianceAdu2).toBeGreaterThan(20);
      else expect(Math.abs(dark.varianceAdu2 - dark.cameraVarianceAdu2)).toBeLessThan(1);
    }
  });
});
