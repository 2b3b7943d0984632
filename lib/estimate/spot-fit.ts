/**
 * Least-squares fit of one spot: an integrated Gaussian (the PSF model lib/simulate and ThunderSTORM use) plus a
 * constant background, over a square window of camera pixels. Levenberg-Marquardt with analytic derivatives; the
 * window is small (at most ~21 x 21 px) so the 5 x 5 normal equations are solved directly.
 */

import { erf } from '../simulate/psf.js';
import { solveInPlace } from './linear-solve.js';

/** The 5x5 normal equations count as singular below this pivot. */
const MIN_PIVOT = 1e-300;

export interface SpotFit {
  /** Centre, camera pixels, in the window's frame (pixel c covers [c, c+1)). */
  x: number;
  y: number;
  /** Integrated signal above background, ADU. */
  signal: number;
  /** PSF sigma, camera pixels. */
  sigma: number;
  /** Background, ADU per pixel. */
  background: number;
  /** Model value of every window pixel (row-major), for the residual statistics of the gain estimate. */
  model: Float64Array;
  /**
   * Leverage h of every window pixel (the diagonal of the fit's hat matrix): a fit absorbs a fraction h of a pixel's
   * noise, so a residual's variance is (1 - h) times the pixel's. Peak pixels, which set the spot's parameters, have
   * h ~ 0.3-0.6: without this correction the variance at bright pixels reads about half of what it is.
   */
  leverage: Float64Array;
  /** Weighted sum of squared residuals / (pixels - 5): ~1 when the one-spot model and the variance line fit. */
  reducedChi2: number;
}

const INV_SQRT2 = Math.SQRT1_2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

const cdf = (a: number) => 0.5 * (1 + erf(a * INV_SQRT2));
const pdf = (a: number) => INV_SQRT_2PI * Math.exp(-0.5 * a * a);

/** Per-axis pixel masses E[i] and their derivatives by the centre (dMu) and by sigma (dS), for n pixels. */
function axis(n: number, mu: number, s: number, e: Float64Array, dMu: Float64Array, dS: Float64Array): void {
  let a0 = (0 - mu) / s;
  let c0 = cdf(a0);
  let p0 = pdf(a0);
  for (let i = 0; i < n; i++) {
    const a1 = (i + 1 - mu) / s;
    const c1 = cdf(a1);
    const p1 = pdf(a1);
    e[i] = c1 - c0;
    dMu[i] = -(p1 - p0) / s;
    dS[i] = -(a1 * p1 - a0 * p0) / s;
    a0 = a1;
    c0 = c1;
    p0 = p1;
  }
}

/**
 * A pixel's variance as a line in its expected value (var = slope * mu + intercept): with it the fit is weighted by
 * 1 / var (the maximum-likelihood fit for shot noise), and the leverages are those of the weighted fit, so that
 * E[r^2] = (1 - h) var holds at every brightness. Default: unweighted.
 */
export interface VarianceLine {
  slope: number;
  intercept: number;
}

/**
 * The model's derivatives at pixel (r, c) with respect to (x, y, amplitude, sigma, background), into `g`, from the
 * per-axis factors and their derivatives that `axis` left for the current parameters.
 */
function jacobianRow(g: Float64Array, amplitude: number, ex: Float64Array, ey: Float64Array, dxE: Float64Array, dyE: Float64Array, dsx: Float64Array, dsy: Float64Array, r: number, c: number): void {
  g[0] = amplitude * dxE[c] * ey[r];
  g[1] = amplitude * ex[c] * dyE[r];
  g[2] = ex[c] * ey[r];
  g[3] = amplitude * (dsx[c] * ey[r] + ex[c] * dsy[r]);
  g[4] = 1;
}

/** The hat matrix diagonal g_i^T (J^T J)^-1 g_i at the fitted parameters (per-axis factors as evaluate left them). */
function leverages(
  p: number[],
  size: number,
  ex: Float64Array,
  ey: Float64Array,
  dxE: Float64Array,
  dyE: Float64Array,
  dsx: Float64Array,
  dsy: Float64Array,
  weights: Float64Array,
): Float64Array | undefined {
  const n = size * size;
  const jac = new Float64Array(n * 5);
  const jtj = new Float64Array(25);
  for (let r = 0; r < size; r++) {
    for (let c = 0; c < size; c++) {
      const g = jac.subarray((r * size + c) * 5, (r * size + c) * 5 + 5);
      jacobianRow(g, p[2], ex, ey, dxE, dyE, dsx, dsy, r, c);
      const w = weights[r * size + c];
      for (let i = 0; i < 5; i++) for (let j = 0; j < 5; j++) jtj[i * 5 + j] += w * g[i] * g[j];
    }
  }
  const inverse = new Float64Array(25);
  for (let k = 0; k < 5; k++) {
    const col = new Float64Array(5);
    col[k] = 1;
    if (!solveInPlace(Float64Array.from(jtj), col, MIN_PIVOT)) return undefined;
    for (let i = 0; i < 5; i++) inverse[i * 5 + k] = col[i];
  }
  const h = new Float64Array(n);
  for (let q = 0; q < n; q++) {
    const g = jac.subarray(q * 5, q * 5 + 5);
    let sum = 0;
    for (let i = 0; i < 5; i++) for (let j = 0; j < 5; j++) sum += g[i] * inverse[i * 5 + j] * g[j];
    h[q] = weights[q] * sum;
  }
  return h;
}

/**
 * Fits the window (size x size values, row-major) starting from sigma0 (px). Returns undefined when the fit does not
 * converge to a plausible spot (centre outside the window's middle, sigma outside 0.3..size/2, signal <= 0).
 */
export function fitSpot(window: ArrayLike<number>, size: number, sigma0: number, noise: VarianceLine = { slope: 0, intercept: 1 }): SpotFit | undefined {
  const n = size * size;
  // Start: background from the window's border median-ish (its minimum row mean is robust enough), signal = excess.
  let border = 0;
  let borderCount = 0;
  for (let i = 0; i < size; i++) {
    for (const j of [0, size - 1]) {
      border += window[i * size + j] + window[j * size + i];
      borderCount += 2;
    }
  }
  let b = border / borderCount;
  let total = 0;
  for (let i = 0; i < n; i++) total += window[i] - b;
  const p = [size / 2, size / 2, Math.max(total, 1), sigma0, b];
  const ex = new Float64Array(size);
  const ey = new Float64Array(size);
  const dxE = new Float64Array(size);
  const dyE = new Float64Array(size);
  const dsx = new Float64Array(size);
  const dsy = new Float64Array(size);
  const model = new Float64Array(n);
  const weights = new Float64Array(n).fill(1);
  // Weights from the model at the start of each iteration (fixed while its steps are tried, so chi^2 values compare).
  const floorVar = Math.max(1e-6, 0.05 * (noise.slope * b + noise.intercept));
  const setWeights = () => {
    for (let i = 0; i < n; i++) weights[i] = 1 / Math.max(noise.slope * model[i] + noise.intercept, floorVar);
  };
  const evaluate = (q: number[]): number => {
    axis(size, q[0], q[3], ex, dxE, dsx);
    axis(size, q[1], q[3], ey, dyE, dsy);
    let chi = 0;
    for (let r = 0; r < size; r++) {
      for (let c = 0; c < size; c++) {
        const m = q[2] * ex[c] * ey[r] + q[4];
        model[r * size + c] = m;
        const d = window[r * size + c] - m;
        chi += weights[r * size + c] * d * d;
      }
    }
    return chi;
  };
  let chi = evaluate(p);
  let lambda = 1e-3;
  const jtj = new Float64Array(25);
  const jtr = new Float64Array(5);
  const g = new Float64Array(5);
  for (let iter = 0; iter < 60; iter++) {
    // Derivatives at p (evaluate(p) left ex/ey and their derivatives for p).
    setWeights();
    chi = evaluate(p);
    jtj.fill(0);
    jtr.fill(0);
    for (let r = 0; r < size; r++) {
      for (let c = 0; c < size; c++) {
        jacobianRow(g, p[2], ex, ey, dxE, dyE, dsx, dsy, r, c);
        const w = weights[r * size + c];
        const d = window[r * size + c] - model[r * size + c];
        for (let i = 0; i < 5; i++) {
          jtr[i] += w * g[i] * d;
          for (let j = 0; j <= i; j++) jtj[i * 5 + j] += w * g[i] * g[j];
        }
      }
    }
    for (let i = 0; i < 5; i++) for (let j = 0; j < i; j++) jtj[j * 5 + i] = jtj[i * 5 + j];
    let improved = false;
    for (let attempt = 0; attempt < 8 && !improved; attempt++) {
      const a = Float64Array.from(jtj);
      for (let i = 0; i < 5; i++) a[i * 5 + i] *= 1 + lambda;
      const step = Float64Array.from(jtr);
      if (!solveInPlace(a, step, MIN_PIVOT)) return undefined;
      const q = p.map((v, i) => v + step[i]);
      q[3] = Math.min(Math.max(q[3], 0.2), size);
      const chiNew = evaluate(q);
      if (chiNew < chi) {
        const rel = (chi - chiNew) / chi;
        for (let i = 0; i < 5; i++) p[i] = q[i];
        chi = chiNew;
        lambda = Math.max(lambda / 10, 1e-7);
        improved = true;
        if (rel < 1e-7) iter = Infinity;
      } else {
        lambda *= 10;
      }
    }
    if (!improved) {
      evaluate(p);
      break;
    }
  }
  const finalChi = evaluate(p);
  const leverage = leverages(p, size, ex, ey, dxE, dyE, dsx, dsy, weights);
  if (!leverage) return undefined;
  const [x, y, signal, sigma, background] = p;
  const margin = size / 2 - 1;
  if (!(signal > 0) || !(sigma >= 0.3 && sigma <= size / 2) || Math.abs(x - size / 2) > margin / 2 || Math.abs(y - size / 2) > margin / 2) return undefined;
  b = background;
  return { x, y, signal, sigma, background: b, model: Float64Array.from(model), leverage, reducedChi2: finalChi / (n - 5) };
}
