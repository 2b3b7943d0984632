/**
 * PSF width and emitter brightness from the spatial correlation of the frames' fluctuations, for stacks where no spot
 * stands alone.
 *
 * Emitters switch on independently from frame to frame, at positions that are random or drawn from a structure with
 * small probability. Around each pixel's temporal mean, the light of emitters then has the spatial autocovariance of
 * a (nearly) Poisson process blurred by the PSF: C(d) = rho E[n^2] R(d), with R the autocorrelation of the
 * pixel-integrated PSF (about a Gaussian of variance 2 (sigma^2 + 1/12) px^2 per axis), rho emitters per pixel per
 * frame and n their photons; the camera's noise is white and adds to the zero lag only, and an sCMOS chip's fixed
 * pattern is in the temporal mean. So log C(d) against |d|^2 (d != 0) is a line whose slope gives sigma and whose
 * intercept, over the mean emitter light per pixel rho E[n], gives E[n^2] / E[n] (photons).
 */
import { fitLine } from './line-fit.js';

export interface Fluctuation {
  /** PSF sigma, camera px. */
  sigmaPx: number;
  /** E[n^2] / E[n] of emitters' photons, ADU (divide by ADU per photon). */
  secondOverFirstAdu: number;
}

/** `signalAdu`: mean emitter light per pixel per frame, ADU (above baseline and background). */
export function fluctuationPsf(frames: Float64Array[], width: number, height: number, signalAdu: number): Fluctuation | undefined {
  const nT = frames.length;
  const n = width * height;
  if (nT < 10 || !(signalAdu > 0)) return undefined;
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
  const xs: number[] = [];
  const ys: number[] = [];
  const ws: number[] = [];
  for (const [d2, [s, c]] of byD2) {
    const cov = (s / c) * (nT / (nT - 1));
    if (!(cov > 0)) continue;
    xs.push(d2);
    ys.push(Math.log(cov));
    ws.push(cov * cov);
  }
  if (xs.length < 3) return undefined;
  const line = fitLine(xs, ys, ws);
  if (!(line.slope < 0)) return undefined;
  // log C = b - d^2 / (4 s'^2), s'^2 = sigma^2 + 1/12.
  const s2 = -1 / (4 * line.slope);
  const sigma2 = s2 - 1 / 12;
  if (!(sigma2 > 0.04)) return undefined;
  // C(0) of the signal = rho E[n^2] / (4 pi s'^2), and rho E[n] = signal per pixel.
  const secondOverFirstAdu = (Math.exp(line.intercept) * 4 * Math.PI * s2) / signalAdu;
  return { sigmaPx: Math.sqrt(sigma2), secondOverFirstAdu };
}
