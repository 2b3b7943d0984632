/**
 * The background level of a dense stack from the pixels' low levels over time, where too few pixel-frames stay dark
 * to give it (dark-pixels.ts).
 */
import type { HighpassNoise } from './highpass-noise.js';

/** Inverse standard normal CDF (Acklam's rational approximation, relative error < 1.2e-9). */
function normalQuantile(p: number): number {
  const a = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  if (p < 0.02425) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  if (p > 1 - 0.02425) return -normalQuantile(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q) / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

/**
 * The background level of a dense stack, ADU: per pixel, the 5th percentile of its values over time (frames where
 * little emitter light reaches it), moved up to the background's mean by the noise the camera model gives at that
 * level; then the 5th percentile over pixels, not the median: pixels on or near structures are lit in nearly every
 * frame, and the faint tails of emitters (an Airy PSF's wings reach far) lift most pixels' low levels, while a
 * background gradient pulls the other way. Chosen on independent-simulator stacks (sCMOS 107 nm at 2 and 4.5/um^2
 * and 160 nm at 2.5/um^2, EMCCD 100 nm at 3 and 5/um^2): -10 to +7 % there once the sCMOS gain was right (the 15th
 * percentile, chosen while the sCMOS gain read 11-14 % high, then read +9 to +27 %; the median +20 to +60 %; a smooth
 * surface fitted from below +26 to +67 %: the wings' light is everywhere, not only near structures).
 */
export function denseBackgroundAdu(frames: Float64Array[], width: number, height: number, hp: HighpassNoise): number {
  const n = frames[0].length;
  const series = new Float64Array(frames.length);
  const levels = new Float64Array(n);
  const q = 0.05;
  const z = -normalQuantile(q);
  for (let i = 0; i < n; i++) {
    for (let t = 0; t < frames.length; t++) series[t] = frames[t][i];
    series.sort();
    const low = series[Math.round(q * (series.length - 1))];
    // Solve level = low + z sqrt(slope level + intercept) by iteration.
    let level = low;
    for (let k = 0; k < 5; k++) level = low + z * Math.sqrt(Math.max(hp.variance.slope * level + hp.variance.intercept, 0));
    levels[i] = level;
  }
  // Each pixel's level is one noisy quantile (its sampling error, ~0.15 of the pixel's noise at 200 frames, would
  // drag the field's low percentile down with it): averaged over 3x3 pixels first, which the smooth background
  // (gradient, haze) does not notice. Measured on the independent simulator's dense stacks: the largest error of the
  // background over 9 stacks (given the true baseline) went from 15 to 10.5 %.
  const smoothed: number[] = [];
  for (let r = 1; r + 1 < height; r++) {
    for (let c = 1; c + 1 < width; c++) {
      let sum = 0;
      for (let dr = -1; dr <= 1; dr++) for (let dc = -1; dc <= 1; dc++) sum += levels[(r + dr) * width + c + dc];
      smoothed.push(sum / 9);
    }
  }
  const pool = smoothed.length > 0 ? smoothed : Array.from(levels);
  return pool.sort((a, b) => a - b)[Math.round(0.05 * (pool.length - 1))];
}
