/**
 * The camera's noise model from the frames' highest spatial frequencies, for stacks of any density.
 *
 * A microscope passes no spatial frequency above 2 NA / lambda (~0.4 cycles per pixel at the usual pixel sizes) and
 * the PSF's spectrum has fallen by orders of magnitude well before; the camera's noise is white (pixels independent).
 * So a high-pass filter that keeps only frequencies near (0.5, 0.5) cycles/px in both axes passes the noise and
 * (almost) none of the emitters' or the background's light, however much they overlap: in a tile of pixels, the mean
 * square of the filtered frame over sum(h^2) is the tile's mean pixel variance, and the mean cube over sum(h^3) its
 * mean third cumulant. Against the tile's mean level (all light counts: an expected value is an expected value,
 * whether background or emitters) this gives the variance line var = s2 mu + c with s2 = F g (F = 2 with EM gain, 1
 * without), and the third cumulant k3 = F' g^2 (mu - B) with k3 / (s2^2 (mu - B)) = 1 for a Poisson camera and 1.5
 * for EM multiplication (noise-model.ts explains the cumulants). Tiles of dense and sparse parts of the field and of
 * different frames spread mu widely, which the background alone would not.
 *
 * Fixed-pattern noise (an sCMOS chip's per-pixel offsets) is high-frequency too but constant in time: each pixel's
 * temporal mean of the filtered frames is subtracted first. Read noise adds a constant to the variance, so the
 * baseline B = -c / s2 reads low by readNoise^2 / s2 (~1 % of a typical sCMOS baseline).
 *
 * Limits (measured on independent-simulator stacks, 200 frames): the slope reads 0-14 % high on PSFs of sigma >= 1.1
 * px (107 nm sCMOS at 2-4.5 emitters/um^2: +11-14 %; 100 nm EMCCD at 3-5/um^2: +0.2-0.3 %), the baseline within
 * 1.6 %; but an undersampled PSF (sigma ~0.7 px, 160 nm pixels) puts so much light near the Nyquist frequency that
 * the slope read +78 %: estimate.ts does not use it below sigma 0.9 px. The third-moment ratio is right without
 * emitters (0.97 on an emitter-free sCMOS stack) but the emitters' residual light dominates the third moment (1.2 to 5
 * on dense stacks of either camera kind), so the camera kind is not decided from it.
 */
import { fitLine } from './line-fit.js';

export interface HighpassNoise {
  camera: 'emccd' | 'scmos';
  excessNoiseFactor: 1 | 2;
  /** k3 / (s2^2 (mu - B)) pooled over the tiles: ~1 Poisson, ~1.5 EM. */
  skewRatio: number;
  baselineAdu: number;
  aduPerPhoton: number;
  variance: { slope: number; intercept: number };
  /** Standard error of the slope over the slope (scatter of the binned points about the line). */
  slopeRelativeError: number;
  /** Tiles (of all frames) the line was fitted to. */
  tiles: number;
}

/** The 1-D high-pass (1 - z^-1)^order: response |2 sin(pi f)|^order. */
function highpass(order: number): number[] {
  let h = [1];
  for (let k = 0; k < order; k++) h = [...h, 0].map((v, i) => v - (i > 0 ? h[i - 1] : 0));
  return h;
}
/** Order 6: 64 at 0.5 cycles/px, 1 at 1/6, 0.02 at 0.1 (order 4 lets more of a PSF of sigma ~1 px through). */
const H = highpass(6);
const TILE = 8;
const BINS = 20;

function quantileSorted(s: ArrayLike<number>, q: number): number {
  return s[Math.min(s.length - 1, Math.max(0, Math.round(q * (s.length - 1))))];
}

/** Frames: float64 ADU, row-major, all width x height. Undefined when the stack is too small or the line fails. */
export function highpassNoiseModel(frames: Float64Array[], width: number, height: number): HighpassNoise | undefined {
  const nT = frames.length;
  const half = (H.length - 1) / 2;
  const fw = width - 2 * half;
  const fh = height - 2 * half;
  if (nT < 3 || fw < TILE || fh < TILE) return undefined;
  const tilesX = Math.floor(fw / TILE);
  const tilesY = Math.floor(fh / TILE);
  const nf = fw * fh;
  // Filtered frames (valid region only), then their per-pixel temporal mean (the fixed pattern) removed.
  const filtered = new Float64Array(nT * nf);
  const tmp = new Float64Array(width * fh);
  for (let t = 0; t < nT; t++) {
    const f = frames[t];
    for (let r = 0; r < fh; r++) {
      for (let c = 0; c < width; c++) {
        let s = 0;
        for (let k = 0; k < H.length; k++) s += H[k] * f[(r + k) * width + c];
        tmp[r * width + c] = s;
      }
    }
    const out = filtered.subarray(t * nf, (t + 1) * nf);
    for (let r = 0; r < fh; r++) {
      for (let c = 0; c < fw; c++) {
        let s = 0;
        for (let k = 0; k < H.length; k++) s += H[k] * tmp[r * width + c + k];
        out[r * fw + c] = s;
      }
    }
  }
  const pattern = new Float64Array(nf);
  for (let t = 0; t < nT; t++) for (let i = 0; i < nf; i++) pattern[i] += filtered[t * nf + i] / nT;
  let h2 = 0;
  let h3 = 0;
  for (const a of H) {
    h2 += a * a;
    h3 += a * a * a;
  }
  // 2-D sums of h^2 and h^3; removing the temporal mean keeps (T - 1) / T of the variance and (T-1)(T-2)/T^2 of k3.
  const gain2 = h2 * h2 * ((nT - 1) / nT);
  const gain3 = h3 * h3 * (((nT - 1) * (nT - 2)) / (nT * nT));
  // reach[k]: how much of the variance of the k-th pixel of a tile's extended span (TILE + 2 half) reaches the tile.
  const span = TILE + 2 * half;
  const reach = new Float64Array(span);
  for (let k = 0; k < span; k++) for (let i = 0; i < TILE; i++) if (k - i >= 0 && k - i < H.length) reach[k] += H[k - i] * H[k - i];
  let reachSum = 0;
  for (const v of reach) reachSum += v;
  const reachTotal = reachSum * reachSum;
  const tileMean: number[] = [];
  const tileVar: number[] = [];
  const tileK3: number[] = [];
  for (let t = 0; t < nT; t++) {
    const f = frames[t];
    for (let ty = 0; ty < tilesY; ty++) {
      for (let tx = 0; tx < tilesX; tx++) {
        let m = 0;
        let s2 = 0;
        let s3 = 0;
        for (let r = ty * TILE; r < (ty + 1) * TILE; r++) {
          for (let c = tx * TILE; c < (tx + 1) * TILE; c++) {
            const d = filtered[t * nf + r * fw + c] - pattern[r * fw + c];
            s2 += d * d;
            s3 += d * d * d;
          }
        }
        // The level the tile's filtered variance stands for: the frame's mean over the filters' reach, each pixel
        // weighted by how much of its variance reaches the tile (sum over the tile of h^2 at its offset).
        for (let a = 0; a < span; a++) {
          const row = (ty * TILE + a) * width + tx * TILE;
          let rowSum = 0;
          for (let b = 0; b < span; b++) rowSum += reach[b] * f[row + b];
          m += reach[a] * rowSum;
        }
        const count = TILE * TILE;
        tileMean.push(m / reachTotal);
        tileVar.push(s2 / count / gain2);
        tileK3.push(s3 / count / gain3);
      }
    }
  }
  const n = tileMean.length;
  if (n < BINS * 10) return undefined;
  const sortedMeans = Float64Array.from(tileMean).sort();
  const lo = quantileSorted(sortedMeans, 0.005);
  const hi = quantileSorted(sortedMeans, 0.995);
  if (!(hi > lo)) return undefined;
  const bx = new Float64Array(BINS);
  const by = new Float64Array(BINS);
  const b3 = new Float64Array(BINS);
  const bn = new Float64Array(BINS);
  for (let i = 0; i < n; i++) {
    if (tileMean[i] < lo || tileMean[i] > hi) continue;
    const b = Math.min(BINS - 1, Math.floor(((tileMean[i] - lo) / (hi - lo)) * BINS));
    bx[b] += tileMean[i];
    by[b] += tileVar[i];
    b3[b] += tileK3[i];
    bn[b]++;
  }
  const xs: number[] = [];
  const ys: number[] = [];
  const ws: number[] = [];
  const k3s: number[] = [];
  const ns: number[] = [];
  for (let b = 0; b < BINS; b++) {
    if (bn[b] < 10) continue;
    const x = bx[b] / bn[b];
    const y = by[b] / bn[b];
    xs.push(x);
    ys.push(y);
    k3s.push(b3[b] / bn[b]);
    ns.push(bn[b]);
    ws.push(bn[b] / (y * y));
  }
  if (xs.length < 4) return undefined;
  const line = fitLine(xs, ys, ws);
  const s2 = line.slope;
  if (!(s2 > 0)) return undefined;
  const baselineAdu = -line.intercept / s2;
  let sw = 0;
  let swx = 0;
  for (let b = 0; b < xs.length; b++) {
    sw += ws[b];
    swx += ws[b] * xs[b];
  }
  const xBar = swx / sw;
  let sxx = 0;
  let chi = 0;
  for (let b = 0; b < xs.length; b++) {
    sxx += ws[b] * (xs[b] - xBar) ** 2;
    chi += ws[b] * (ys[b] - line.slope * xs[b] - line.intercept) ** 2;
  }
  const slopeRelativeError = Math.sqrt(Math.max(1, chi / (xs.length - 2)) / sxx) / s2;
  // Pooled over the bins (weighted by tiles): sum k3 / (s2^2 sum (mu - B)).
  let k3Sum = 0;
  let levelSum = 0;
  for (let b = 0; b < xs.length; b++) {
    k3Sum += ns[b] * k3s[b];
    levelSum += ns[b] * (xs[b] - baselineAdu);
  }
  const skewRatio = k3Sum / (s2 * s2 * levelSum);
  const emccd = skewRatio > 1.25;
  const excessNoiseFactor = emccd ? 2 : 1;
  return { camera: emccd ? 'emccd' : 'scmos', excessNoiseFactor, skewRatio, baselineAdu, aduPerPhoton: s2 / excessNoiseFactor, variance: line, slopeRelativeError, tiles: n };
}
