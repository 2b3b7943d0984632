/** Weighted least-squares line y = slope * x + intercept. */
export function fitLine(x: ArrayLike<number>, y: ArrayLike<number>, w: ArrayLike<number>): { slope: number; intercept: number } {
  let sw = 0;
  let sx = 0;
  let sy = 0;
  let sxx = 0;
  let sxy = 0;
  for (let i = 0; i < x.length; i++) {
    sw += w[i];
    sx += w[i] * x[i];
    sy += w[i] * y[i];
    sxx += w[i] * x[i] * x[i];
    sxy += w[i] * x[i] * y[i];
  }
  const det = sw * sxx - sx * sx;
  const slope = (sw * sxy - sx * sy) / det;
  return { slope, intercept: (sy - slope * sx) / sw };
}

/**
 * fitLine with the slope's standard error: from the weights (inverse variances), scaled up by the points' scatter
 * about the line where that exceeds what the weights allow (reduced chi^2 above 1). NaN with fewer than 3 points or
 * no spread in x.
 */
export function fitLineWithError(x: ArrayLike<number>, y: ArrayLike<number>, w: ArrayLike<number>): { slope: number; intercept: number; slopeError: number } {
  const { slope, intercept } = fitLine(x, y, w);
  let sw = 0;
  let swx = 0;
  for (let i = 0; i < x.length; i++) {
    sw += w[i];
    swx += w[i] * x[i];
  }
  const xBar = swx / sw;
  let sxx = 0;
  let chi = 0;
  for (let i = 0; i < x.length; i++) {
    sxx += w[i] * (x[i] - xBar) ** 2;
    chi += w[i] * (y[i] - slope * x[i] - intercept) ** 2;
  }
  const slopeError = x.length > 2 && sxx > 0 ? Math.sqrt(Math.max(1, chi / (x.length - 2)) / sxx) : NaN;
  return { slope, intercept, slopeError };
}

/** The median of a copy of `values` (NaN when empty). */
export function median(values: ArrayLike<number>): number {
  if (values.length === 0) return NaN;
  const s = Float64Array.from(values).sort();
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : 0.5 * (s[m - 1] + s[m]);
}
