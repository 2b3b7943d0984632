/**
 * PSF width and emitter brightness from the spatial correlation of the frames' fluctuations, for stacks where no spot
 * stands alone.
 *
 * Emitters switch on independently from frame to frame, at positions that are random or drawn from a structure with
 * small probability. Around each pixel's temporal mean, the light of emitters then has the spatial autocovariance of
 * a (nearly) Poisson process blurred by the PSF: C(d) = rho E[n^2] R(d), with R the autocorrelation of the
 * pixel-integrated PSF (about a Gaussian of variance 2 (sigma^2 + 1/12) px^2 per axis), rho emitters per pixel per
 * frame and n their photons; the camera's noise is white and adds to the zero lag only, and an sCMOS chip's fixed
 * pattern is in the temporal mean. R is exact for a pixel-integrated Gaussian PSF at uniformly random positions:
 * R(dx, dy) = A(dx) A(dy), A the autocorrelation of one axis's pixel box (a triangle on [-1, 1]) blurred by a Gaussian
 * of variance 2 sigma^2 (erf differences), which matters for undersampled PSFs (sigma < 1 px), where the Gaussian
 * approximation of variance 2 (sigma^2 + 1/12) does not hold. sigma is fitted to log C(d) at the lags 0 < |d| <= 3
 * (one free level); that level, rho E[n^2], over the mean emitter light per pixel rho E[n], gives E[n^2] / E[n].
 */
import { erf } from '../simulate/psf.js';

export interface Fluctuation {
  /** PSF sigma, camera px. */
  sigmaPx: number;
  /** rho E[n^2], ADU^2: the covariance's level. Over the mean emitter light per pixel it gives E[n^2] / E[n]. */
  secondMomentAdu2: number;
}

/**
 * E[n^2] / E[n] of the emitters' photons, ADU (divide by ADU per photon), for a mean emitter light per pixel per
 * frame of `signalAdu` (above baseline and background); undefined where there is none.
 */
export function secondOverFirstAdu(fluctuation: Fluctuation, signalAdu: number): number | undefined {
  return signalAdu > 0 ? fluctuation.secondMomentAdu2 / signalAdu : undefined;
}

/** The fluctuations' PSF width and level; undefined for fewer than 10 frames or where the data do not decide them. */
export function fluctuationPsf(frames: Float64Array[], width: number, height: number): Fluctuation | undefined {
  const nT = frames.length;
  const n = width * height;
  if (nT < 10) return undefined;
  const mean = new Float64Array(n);
  for (const f of frames) for (let i = 0; i < n; i++) mean[i] += f[i] / nT;
  const L = 3;
  // Covariance sums by lag (dx, dy), dx in 0..L, dy in -L..L.
  const sums = new Float64Array((L + 1) * (2 * L + 1));
  const counts = new Float64Array(sums.length);
  const dev = new Float64Array(n);
  for (const f of frames) {
    for (let i = 0; i < n; i++) dev[i] = f[i] - mean[i];
    for (let dx = 0; dx <= L; dx++) {
      for (let dy = -L; dy <= L; dy++) {
        if (dx === 0 && dy <= 0) continue;
        const k = dx * (2 * L + 1) + dy + L;
        let s = 0;
        let c = 0;
        for (let r = Math.max(0, -dy); r < Math.min(height, height - dy); r++) {
          for (let col = 0; col < width - dx; col++) {
            s += dev[r * width + col] * dev[(r + dy) * width + col + dx];
            c++;
          }
        }
        sums[k] += s;
        counts[k] += c;
      }
    }
  }
  // Mean covariance per |d|^2 (temporal mean removed: times T / (T - 1)).
  const byD2 = new Map<number, [number, number]>();
  for (let dx = 0; dx <= L; dx++) {
    for (let dy = -L; dy <= L; dy++) {
      if (dx === 0 && dy <= 0) continue;
      const d2 = dx * dx + dy * dy;
      if (d2 > 9) continue;
      const k = dx * (2 * L + 1) + dy + L;
      const [s, c] = byD2.get(d2) ?? [0, 0];
      byD2.set(d2, [s + sums[k], c + counts[k]]);
    }
  }
  const lags: [number, number][] = [];
  const ys: number[] = [];
  const ws: number[] = [];
  for (const [d2, [s, c]] of byD2) {
    const cov = (s / c) * (nT / (nT - 1));
    if (!(cov > 0)) continue;
    lags.push(LAG_OF[d2]);
    ys.push(Math.log(cov));
    ws.push(cov * cov);
  }
  if (lags.length < 3) return undefined;
  // For a given sigma the best level is the weighted mean of log C - log R; sigma by golden-section search.
  const misfit = (sigma: number): { cost: number; level: number } => {
    const logR = lags.map(([dx, dy]) => Math.log(boxAutocorrelation(dx, sigma) * boxAutocorrelation(dy, sigma)));
    let sw = 0;
    let swy = 0;
    for (let i = 0; i < lags.length; i++) {
      sw += ws[i];
      swy += ws[i] * (ys[i] - logR[i]);
    }
    const level = swy / sw;
    let cost = 0;
    for (let i = 0; i < lags.length; i++) cost += ws[i] * (ys[i] - logR[i] - level) ** 2;
    return { cost, level };
  };
  let [a, b] = [0.2, 6];
  const g = (Math.sqrt(5) - 1) / 2;
  let c1 = b - g * (b - a);
  let c2 = a + g * (b - a);
  let f1 = misfit(c1).cost;
  let f2 = misfit(c2).cost;
  for (let k = 0; k < 60; k++) {
    if (f1 < f2) {
      [b, c2, f2] = [c2, c1, f1];
      c1 = b - g * (b - a);
      f1 = misfit(c1).cost;
    } else {
      [a, c1, f1] = [c1, c2, f2];
      c2 = a + g * (b - a);
      f2 = misfit(c2).cost;
    }
  }
  const sigma = (a + b) / 2;
  // At the search's ends the data did not decide it (a flat or rising covariance).
  if (!(sigma > 0.25 && sigma < 5.9)) return undefined;
  // The level is rho E[n^2] (R(0) = A(0)^2 is what one emitter's pixels hold of n^2).
  return { sigmaPx: sigma, secondMomentAdu2: Math.exp(misfit(sigma).level) };
}

/** A representative lag (dx, dy) for each |d|^2 used (every lag of one |d|^2 <= 9 has the same A(dx) A(dy)). */
const LAG_OF: Record<number, [number, number]> = { 1: [1, 0], 2: [1, 1], 4: [2, 0], 5: [2, 1], 8: [2, 2], 9: [3, 0] };

/**
 * A(d): the autocorrelation at lag d (px) of one axis of a pixel-integrated Gaussian, averaged over the emitter's
 * position: the triangle 1 - |u| on [-1, 1] (a pixel box with itself) blurred by a Gaussian of sd sqrt(2) sigma.
 * Closed form: with s = sqrt(2) sigma, Phi and phi the normal CDF and density,
 * A(d) = sum over u0 in {d-1, d, d+1} of weight(u0) x [u0 Phi(u0/s) + s phi(u0/s)], weights 1, -2, 1 (the second
 * difference of the ramp integral), which is exact.
 */
export function boxAutocorrelation(d: number, sigma: number): number {
  const s = Math.SQRT2 * sigma;
  const ramp = (u: number) => u * 0.5 * (1 + erf(u / s / Math.SQRT2)) + (s * Math.exp((-0.5 * u * u) / (s * s))) / Math.sqrt(2 * Math.PI);
  return ramp(d + 1) - 2 * ramp(d) + ramp(d - 1);
}
