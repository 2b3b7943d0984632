import { describe, expect, it } from 'vitest';
import { darkPixels } from '../lib/estimate/dark-pixels.js';
import { SCMOS_107NM, simulateIndependentStack, type IndependentConditions } from '../lib/independent-simulator/index.js';

function framesOf(stack: { data: ArrayLike<number>; frames: number; width: number; height: number }): Float64Array[] {
  const n = stack.width * stack.height;
  return Array.from({ length: stack.frames }, (_, f) => Float64Array.from(Array.prototype.slice.call(stack.data, f * n, (f + 1) * n) as number[]));
}

/** The independent simulator's 107 nm sCMOS (2 ADU per photon, 400 ADU baseline) without emitters. */
function backgroundOnly(background: Partial<IndependentConditions['background']>) {
  const conditions: IndependentConditions = { ...SCMOS_107NM, width: 64, height: 64, densityPerUm2: 0, background: { ...SCMOS_107NM.background, ...background } };
  const stack = simulateIndependentStack({ ...conditions, seed: 5, frames: 200 }).stack;
  // The variance line that sets the detection threshold: the true one will do (nothing shines here).
  return darkPixels(framesOf(stack), stack.width, stack.height, { slope: 2, intercept: -800 }, 1.2);
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
});
