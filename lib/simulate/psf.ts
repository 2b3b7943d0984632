/**
 * Integrated-Gaussian PSF: the expected photons a point emitter puts into each camera pixel is the Gaussian's
 * integral over the pixel's area (what ThunderSTORM's generator and most SMLM fitters assume), not the Gaussian
 * sampled at the pixel centre. Pixel i covers [i*pixel, (i+1)*pixel) nm; x is the column.
 */

/** erf(x), Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7). */
export function erf(x: number): number {
  const sign = x < 0 ? -1 : 1;
  const ax = Math.abs(x);
  const t = 1 / (1 + 0.3275911 * ax);
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-ax * ax);
  return sign * y;
}

/** Fraction of a 1-D Gaussian (centre `mu`, width `sigma`) that falls in [a, b). */
export function gaussianMass(a: number, b: number, mu: number, sigma: number): number {
  const s = Math.SQRT2 * sigma;
  return 0.5 * (erf((b - mu) / s) - erf((a - mu) / s));
}

/** How many sigmas around the centre are rendered; beyond 5 sigma the mass is < 6e-7 per axis. */
const RENDER_RADIUS_SIGMAS = 5;

/**
 * Adds `photons` expected photons of an emitter at (xNm, yNm) with PSF width `sigmaNm` into `image`
 * (height x width, row-major, expected photons per pixel).
 */
export function addIntegratedGaussian(
  image: Float64Array,
  width: number,
  height: number,
  pixelNm: number,
  xNm: number,
  yNm: number,
  sigmaNm: number,
  photons: number,
): void {
  const reach = RENDER_RADIUS_SIGMAS * sigmaNm;
  const c0 = Math.max(0, Math.floor((xNm - reach) / pixelNm));
  const c1 = Math.min(width - 1, Math.floor((xNm + reach) / pixelNm));
  const r0 = Math.max(0, Math.floor((yNm - reach) / pixelNm));
  const r1 = Math.min(height - 1, Math.floor((yNm + reach) / pixelNm));
  if (c0 > c1 || r0 > r1) return;
  const wx = new Float64Array(c1 - c0 + 1);
  for (let c = c0; c <= c1; c++) wx[c - c0] = gaussianMass(c * pixelNm, (c + 1) * pixelNm, xNm, sigmaNm);
  for (let r = r0; r <= r1; r++) {
    const wy = photons * gaussianMass(r * pixelNm, (r + 1) * pixelNm, yNm, sigmaNm);
    const row = r * width;
    for (let c = c0; c <= c1; c++) image[row + c] += wy * wx[c - c0];
  }
}
