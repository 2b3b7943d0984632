/**
 * Candidate spots in one camera frame: local maxima of the frame smoothed at about the PSF's scale, well above the
 * frame's background noise, that have no other candidate close by (so that one integrated Gaussian plus a constant
 * describes their window).
 */

function quantile(sorted: Float64Array, q: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.round(q * (sorted.length - 1))));
  return sorted[i];
}

/** 1-2-1 smoothing twice per axis (a binomial kernel of sd 1 px), edges replicated. */
function smooth(frame: Float64Array, width: number, height: number): Float64Array {
  const k = [1, 4, 6, 4, 1].map((v) => v / 16);
  const tmp = new Float64Array(frame.length);
  const out = new Float64Array(frame.length);
  const clamp = (v: number, n: number) => (v < 0 ? 0 : v >= n ? n - 1 : v);
  for (let r = 0; r < height; r++) {
    for (let c = 0; c < width; c++) {
      let s = 0;
      for (let d = -2; d <= 2; d++) s += k[d + 2] * frame[r * width + clamp(c + d, width)];
      tmp[r * width + c] = s;
    }
  }
  for (let r = 0; r < height; r++) {
    for (let c = 0; c < width; c++) {
      let s = 0;
      for (let d = -2; d <= 2; d++) s += k[d + 2] * tmp[clamp(r + d, height) * width + c];
      out[r * width + c] = s;
    }
  }
  return out;
}

/**
 * Top-left corners [row, col, ...] of isolated spots' windows (size 2*half+1, wholly inside the frame).
 * Every candidate maximum above `lowSigmas` noise levels counts as a neighbour; spots need `highSigmas`.
 */
export function isolatedSpots(frame: Float64Array, width: number, height: number, half: number, highSigmas = 6, lowSigmas = 3): number[] {
  const s = smooth(frame, width, height);
  const sorted = Float64Array.from(s).sort();
  // Emitters only add signal, so the lower half of the smoothed frame is (mostly) background: its spread below the
  // median is the noise of the smoothed background.
  const median = quantile(sorted, 0.5);
  const noise = Math.max(median - quantile(sorted, 0.1587), 1e-9);
  const maxima: number[] = [];
  for (let r = 1; r < height - 1; r++) {
    for (let c = 1; c < width - 1; c++) {
      const v = s[r * width + c];
      if (v < median + lowSigmas * noise) continue;
      let isMax = true;
      for (let dr = -1; dr <= 1 && isMax; dr++) for (let dc = -1; dc <= 1; dc++) if ((dr || dc) && s[(r + dr) * width + c + dc] > v) isMax = false;
      if (isMax) maxima.push(r, c, v);
    }
  }
  const out: number[] = [];
  // A neighbour within reach of the window (its own PSF reaching in) makes the one-spot model wrong.
  const reach = half + 2;
  for (let i = 0; i < maxima.length; i += 3) {
    const [r, c, v] = [maxima[i], maxima[i + 1], maxima[i + 2]];
    if (v < median + highSigmas * noise) continue;
    if (r - half < 0 || c - half < 0 || r + half >= height || c + half >= width) continue;
    let alone = true;
    for (let j = 0; j < maxima.length && alone; j += 3) {
      if (j !== i && Math.abs(maxima[j] - r) <= reach && Math.abs(maxima[j + 1] - c) <= reach) alone = false;
    }
    if (alone) out.push(r - half, c - half);
  }
  return out;
}
