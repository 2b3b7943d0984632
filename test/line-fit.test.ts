import { describe, expect, it } from 'vitest';
import { fitLineWithError } from '../lib/estimate/line-fit.js';

describe('fitLineWithError', () => {
  it("gives the weights' error where the points lie on the line, and more where they scatter beyond the weights", () => {
    const x = [0, 1, 2, 3];
    // On the line y = 2x + 1, weights 1: sxx = 5, slope error sqrt(1 / 5).
    const exact = fitLineWithError(x, [1, 3, 5, 7], [1, 1, 1, 1]);
    expect([exact.slope, exact.intercept]).toEqual([2, 1]);
    expect(exact.slopeError).toBeCloseTo(Math.sqrt(1 / 5), 12);
    // Points further off the line than weights 1 allow (chi^2 / (n - 2) > 1): the error grows by its root.
    const scattered = fitLineWithError(x, [2, 2, 4, 8], [1, 1, 1, 1]);
    const residuals = [2, 2, 4, 8].map((y, i) => y - scattered.slope * x[i] - scattered.intercept);
    const chi = residuals.reduce((a, r) => a + r * r, 0);
    expect(chi / 2).toBeGreaterThan(1);
    expect(scattered.slopeError).toBeCloseTo(Math.sqrt(chi / 2 / 5), 12);
    expect(scattered.slopeError).toBeGreaterThan(exact.slopeError);
  });

  it('NaN for fewer than three points or no spread in x', () => {
    expect(fitLineWithError([0, 1], [0, 1], [1, 1]).slopeError).toBeNaN();
    expect(fitLineWithError([2, 2, 2], [0, 1, 2], [1, 1, 1]).slopeError).toBeNaN();
  });
});
