/**
 * The camera's noise model from fitted spots. Every pixel of a fitted window has an expected value mu (the fit) and
 * a residual r = value - mu. For a camera with baseline B, gain g (ADU per photon) and excess noise factor F, the
 * cumulants of a pixel's value over the photon statistics are, per photon mean lambda = (mu - B) / g:
 *
 *   Poisson (sCMOS, CCD without EM):   var = g (mu - B) + readNoise^2,    third cumulant = g^2 (mu - B)
 *   EM multiplication (EMCCD):          var = 2 g (mu - B) + readNoise^2,  third cumulant = 6 g^2 (mu - B)
 *
 * (EM multiplication of each photo-electron is exponential: cumulants k! g^k per photon.) So the slope s2 of var
 * against mu is F g, the slope s3 of the third cumulant is g^2 (F = 1) or 6 g^2 (F = 2), and
 *
 *   s3 / s2^2 = 1 for a Poisson camera and 1.5 for an EMCCD,
 *
 * whatever the baseline, gain and read noise, in principle; then g = s2 / F. In practice the spots' residuals carry
 * their unfitted neighbours' light and their fits' misfit, which swamp the third moment: on the sparse stacks of 20
 * background photons in `npm run bench:estimate` it read 0.98-1.43 for sCMOS cameras and 0.80-1.33 for EMCCDs, the
 * wrong kind in 8 of 12. So the
 * camera kind is decided from the pixel-frames no emitter reaches (dark-pixels.ts); this ratio is reported only
 * where those cannot decide. Gaussian read noise and sCMOS offset spread add a constant to the variance and nothing
 * to the third cumulant; the baseline is where the variance line would fall to zero, B = -intercept / s2, which reads low by
 * readNoise^2 / s2 (a fraction of an ADU for typical EMCCDs, ~1-3 ADU for typical sCMOS cameras).
 */
import { fitLine } from './line-fit.js';

export interface NoiseModel {
  camera: 'emccd' | 'scmos';
  /** F in var = F g (mu - B). */
  excessNoiseFactor: 1 | 2;
  /** s3 / s2^2 (1 Poisson, 1.5 EM). */
  skewRatio: number;
  baselineAdu: number;
  aduPerPhoton: number;
  /** Residual pixels the lines were fitted to. */
  pixels: number;
  /** The variance line itself (var = slope * mu + intercept), ADU^2: the weights of the next round of fits. */
  variance: { slope: number; intercept: number };
}

/**
 * Bins of pixels by expected value, of equal width from the lowest to the 99.5th percentile: most pixels of a window
 * are background, and equal-count bins would pile up there, where tiny differences of fitted background (a faint
 * unfitted neighbour raises both) would set the slope instead of the spread from background to peaks.
 */
const BINS = 24;

/**
 * Fits the noise model to pixels' expected values `mu`, residuals (divided by sqrt(1 - leverage), spot-fit.ts, which
 * undoes the share of each pixel's noise its fit absorbed) and cubed residuals (divided by (1 - leverage)^3).
 */
export function fitNoiseModel(mu: Float64Array, residual: Float64Array, cube: Float64Array): NoiseModel | undefined {
  const n = mu.length;
  if (n < BINS * 50) return undefined;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => mu[a] - mu[b]);
  let keep = new Uint8Array(n).fill(1);
  let line = { slope: 0, intercept: 0 };
  let s3 = 0;
  // Twice: the second pass drops residuals beyond 6 sd of the first pass's variance line (unfitted neighbours,
  // cosmic rays), which would dominate the third moment.
  for (let pass = 0; pass < 2; pass++) {
    const bx: number[] = [];
    const b2: number[] = [];
    const b3: number[] = [];
    const w2: number[] = [];
    const w3: number[] = [];
    const muLo = mu[order[0]];
    const muHi = mu[order[Math.floor(0.995 * (n - 1))]];
    let k0 = 0;
    for (let b = 0; b < BINS; b++) {
      const limit = muLo + ((b + 1) * (muHi - muLo)) / BINS;
      const lo = k0;
      while (k0 < n && (mu[order[k0]] <= limit || b === BINS - 1)) k0++;
      const hi = k0;
      let count = 0;
      let m1 = 0;
      let m2 = 0;
      let m3 = 0;
      for (let k = lo; k < hi; k++) {
        const i = order[k];
        if (!keep[i]) continue;
        const r = residual[i];
        count++;
        m1 += mu[i];
        m2 += r * r;
        m3 += cube[i];
      }
      if (count < 20) continue;
      m1 /= count;
      m2 /= count;
      m3 /= count;
      bx.push(m1);
      b2.push(m2);
      b3.push(m3);
      // Sampling variance of a mean of r^2 ~ 2 var^2 / count; of r^3 ~ 15 var^3 / count (Gaussian approximation).
      w2.push(count / (m2 * m2));
      w3.push(count / (m2 * m2 * m2));
    }
    if (bx.length < 4) return undefined;
    line = fitLine(bx, b2, w2);
    s3 = fitLine(bx, b3, w3).slope;
    if (pass === 0) {
      const next = new Uint8Array(n);
      for (let i = 0; i < n; i++) {
        const v = Math.max(line.slope * mu[i] + line.intercept, 1e-9);
        next[i] = residual[i] * residual[i] <= 36 * v ? 1 : 0;
      }
      keep = next;
    }
  }
  const s2 = line.slope;
  if (!(s2 > 0)) return undefined;
  const skewRatio = s3 / (s2 * s2);
  const emccd = skewRatio > 1.25;
  const excessNoiseFactor = emccd ? 2 : 1;
  let pixels = 0;
  for (let i = 0; i < n; i++) pixels += keep[i];
  return { camera: emccd ? 'emccd' : 'scmos', excessNoiseFactor, skewRatio, baselineAdu: -line.intercept / s2, aduPerPhoton: s2 / excessNoiseFactor, pixels, variance: line };
}
