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
 * baseline B = -c / s2 reads low by readNoise^2 / s2 (1-2 % of a typical sCMOS baseline; estimate.ts corrects it for
 * a given or typical read noise, since the data here cannot tell the two apart).
 *
 * An sCMOS chip's pixel gains differ by a few %: the emitters' light that changes from frame to frame then reaches the
 * high-pass output as white "noise" of variance (gain spread)^2 x (that change)^2, which the fixed-pattern
 * subtraction cannot remove; the variance line is fitted with that term (fitWithSignalTerm). Without it the
 * independent simulator's 107 nm sCMOS (3 % gain spread) read its gain 11-14 % high on dense stacks, and right with
 * the spread set to 0; with it, -0.2 and +1.3 % (4.5 and 2 emitters/um^2), the fitted spread 3.3 and 2.9 %.
 *
 * Tiles of two sizes: 8 px tiles give the slope, 2 px tiles the line's value at the bottom of the data
 * (pinnedAtFineBottom): in a crowded field every 8 px tile holds several emitters in every frame, so that their line
 * reached the background only by extrapolation, while 2 px tiles fall between the emitters too.
 *
 * Limits (measured on 200-frame stacks): an undersampled PSF puts light near 0.5 cycles/px; estimate.ts uses a
 * narrower band (order 14) below sigma 0.9 px: at 160 nm pixels and sigma ~0.78 px the gain read +6.6 % (independent
 * simulator, Airy PSF, and lib/simulate, Gaussian; at order 12 +5.8 and +10.9 %, the Gaussian's baseline then 1 %
 * higher) before estimate.ts takes the leaked light off (measured by band-leak.ts, withoutLeak), and below sigma 0.72 px
 * estimate.ts refuses (at 0.66 px the gain read +45 % at order 12, +32 % at 14). The third-moment ratio is right without
 * emitters (0.97 on an emitter-free sCMOS stack) but the emitters' residual light dominates the third moment (1.2 to
 * 5 on dense stacks of either camera kind, more with the narrow band), so the camera kind is not decided from it.
 */
import type { DarkLine } from './dark-pixels.js';
import { fitLineWithError } from './line-fit.js';
import { solveInPlace } from './linear-solve.js';

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
  /**
   * The line's slope and intercept (co)variances, scaled so that the slope's matches slopeRelativeError: what the line
   * says at a level x is known to sqrt(varianceAt(covariance, x)).
   */
  covariance: LineCovariance;
  /** Tiles (of all frames) the line was fitted to. */
  tiles: number;
  /** The high-pass filter's order per axis. */
  order: number;
  /** kappa of the fit: the (relative gain spread)^2 of the pixels, ~0 for an EMCCD. */
  gainSpreadSquared: number;
  /**
   * The same tiles' line without the gain-spread term (kappa 0), for a camera without pixel gain spread (EM gain):
   * there the free term only takes noise (withoutGainSpreadTerm says how much).
   */
  plainLine: { slope: number; intercept: number; slopeRelativeError: number; covariance: LineCovariance };
  /** The slope of the plain variance line (without the R term), for comparison. */
  binnedSlope: number;
  /** The share of the slope taken off as the emitters' leaked light (withoutLeak; negative: added); 0 when not corrected. */
  leakCorrection: number;
  /** The dark pixel-frames' line's weight in the slope (withDarkLine); 0 where it had none. */
  darkLineWeight: number;
  /** The dark pixel-frames' variance's weight in the line's value at their level (withDarkLevel); 0 where not used. */
  darkLevelWeight: number;
  /** Where the fine tiles set the line's value (pinnedAtFineBottom), ADU; absent where they did not. */
  pinnedLevelAdu?: number;
  /** Fine tiles (of all frames) that set it. */
  fineTiles?: number;
}

/** Variances of a line's slope and intercept, and their covariance. */
export interface LineCovariance {
  slope: number;
  intercept: number;
  both: number;
}

/** The variance of a line's value at `level`. */
export function varianceAt(c: LineCovariance, level: number): number {
  return c.slope * level * level + 2 * c.both * level + c.intercept;
}

/** The covariance scaled (the same shape) so that the slope's standard error is `slopeError`. */
function scaledTo(c: LineCovariance, slopeError: number): LineCovariance {
  const f = c.slope > 0 ? (slopeError * slopeError) / c.slope : 1;
  return { slope: c.slope * f, intercept: c.intercept * f, both: c.both * f };
}

/** The 1-D high-pass (1 - z^-1)^order: response |2 sin(pi f)|^order. */
function highpass(order: number): number[] {
  let h = [1];
  for (let k = 0; k < order; k++) h = [...h, 0].map((v, i) => v - (i > 0 ? h[i - 1] : 0));
  return h;
}
/**
 * Order 6: 64 at 0.5 cycles/px, 1 at 1/6, 0.02 at 0.1 (order 4 lets more of a PSF of sigma ~1 px through). Higher
 * orders keep a narrower band around 0.5 cycles/px, for undersampled PSFs, at the price of fewer tiles and noisier ones.
 */
export const DEFAULT_HIGHPASS_ORDER = 6;
/** Tile sides, filtered px: the slope's tiles, and the tiles that give the line's level at the background (pinnedAtFineBottom). */
const COARSE_TILE = 8;
const FINE_TILE = 2;
const BINS = 20;

function quantileSorted(s: ArrayLike<number>, q: number): number {
  return s[Math.min(s.length - 1, Math.max(0, Math.round(q * (s.length - 1))))];
}

/** x with a x = b (a and b kept), or undefined when singular. */
function solveLinear(a: Float64Array, b: Float64Array): Float64Array | undefined {
  const x = Float64Array.from(b);
  return solveInPlace(Float64Array.from(a), x) ? x : undefined;
}

/**
 * Tile variance = s2 mu + c + kappa R, weighted least squares over the tiles (weights from the predicted variance,
 * three rounds). R, the tile's mean squared change of the pixels from their temporal means, stands for the emitters'
 * light that changes from frame to frame: an sCMOS chip's pixel-to-pixel gain differences (a few %) turn it into
 * white, high-frequency "noise" of variance (gain spread)^2 x R, which the fixed-pattern subtraction cannot remove
 * (measured: without this term the gain of the independent simulator's sCMOS read 11-14 % high on dense stacks, and
 * right with its gain spread set to 0). R holds the noise too ((1 - 1/T) (s2 mu + c) more), which the returned s2 and
 * c account for. `kappa` a number holds the term there instead of fitting it: 0 gives the plain line, for a camera
 * without pixel gain spread; a data sheet's spread s gives s^2.
 */
function fitWithSignalTerm(
  mu: Float32Array,
  v: Float32Array,
  r: Float32Array,
  lo: number,
  hi: number,
  start: { slope: number; intercept: number },
  nT: number,
  kappa: number | 'fitted' = 'fitted',
): { slope: number; intercept: number; kappa: number; slopeError: number; covariance: LineCovariance } | undefined {
  const P = kappa === 'fitted' ? 3 : 2;
  // With kappa held, its term moves to the left-hand side.
  const held = kappa === 'fitted' ? 0 : kappa;
  let p = [start.slope, start.intercept, held];
  let inverse: LineCovariance = { slope: NaN, intercept: NaN, both: NaN };
  let chi = 0;
  let used = 0;
  for (let round = 0; round < 3; round++) {
    const a = new Float64Array(P * P);
    const b = new Float64Array(P);
    for (let i = 0; i < mu.length; i++) {
      if (mu[i] < lo || mu[i] > hi) continue;
      const x = [mu[i], 1, r[i]];
      const pred = Math.max(p[0] * x[0] + p[1] + p[2] * x[2], 1e-9);
      // (x[2] enters the sums only with the signal term: j, k < P.)
      const w = 1 / (pred * pred);
      for (let j = 0; j < P; j++) {
        b[j] += w * x[j] * (v[i] - held * r[i]);
        for (let k = 0; k < P; k++) a[j * P + k] += w * x[j] * x[k];
      }
    }
    const next = solveLinear(a, b);
    if (!next) return undefined;
    p = [next[0], next[1], kappa === 'fitted' ? next[2] : held];
    // The slope's and the intercept's columns of the inverse normal matrix (the third parameter marginalised).
    const slopeUnit = new Float64Array(P);
    slopeUnit[0] = 1;
    const interceptUnit = new Float64Array(P);
    interceptUnit[1] = 1;
    const slopeColumn = solveLinear(a, slopeUnit);
    const interceptColumn = solveLinear(a, interceptUnit);
    inverse = { slope: slopeColumn?.[0] ?? NaN, intercept: interceptColumn?.[1] ?? NaN, both: slopeColumn?.[1] ?? NaN };
    chi = 0;
    used = 0;
    for (let i = 0; i < mu.length; i++) {
      if (mu[i] < lo || mu[i] > hi) continue;
      const pred = Math.max(p[0] * mu[i] + p[1] + p[2] * r[i], 1e-9);
      chi += ((v[i] - pred) / pred) ** 2;
      used++;
    }
  }
  const keep = 1 - p[2] * (1 - 1 / nT);
  if (!(keep > 0)) return undefined;
  // The fit's covariance, scaled by the scatter about it (and by keep, as slope and intercept are).
  const scale = chi / Math.max(1, used - P) / (keep * keep);
  const covariance = { slope: inverse.slope * scale, intercept: inverse.intercept * scale, both: inverse.both * scale };
  const slopeError = Math.sqrt(Math.max(0, covariance.slope));
  return { slope: p[0] / keep, intercept: p[1] / keep, kappa: p[2], slopeError, covariance };
}

/**
 * The noise model from the line without the gain-spread term (plainLine), for an EMCCD: its pixels share one gain
 * (its EM register), and the free term only took the noise that R and the tiles' variance share, heavy-tailed with
 * EM gain. Measured with the free term: lib/simulate's EMCCD at 65 nm (EM gain 300, 10 ADU per photon) kappa 22-58e-4,
 * gain -4 to -9 % and baseline -4.5 to -9.4 %; with kappa 0 gain -0.2 to +2.3 %, baseline -0.7 to +2.2 % (3 seeds);
 * the independent simulator's EMCCD at 5.5/um^2 gain -2.7 to +2.8 % against -0.8 to +0.2 % (4 seeds).
 */
export function withoutGainSpreadTerm(hp: HighpassNoise): HighpassNoise {
  const { slope, intercept, slopeRelativeError, covariance } = hp.plainLine;
  return {
    ...hp,
    variance: { slope, intercept },
    covariance,
    baselineAdu: -intercept / slope,
    aduPerPhoton: slope / hp.excessNoiseFactor,
    slopeRelativeError,
    gainSpreadSquared: 0,
  };
}

/**
 * The variance line without the emitters' light that leaked into the filter's band (measured by band-leak.ts):
 * `excessSlope` ADU^2 per ADU of light above the background level `backgroundAdu`, so slope - excess and intercept +
 * excess x background. (Taking it off each tile's variance before the fit, in proportion to the tile's light, gives
 * the same line: the fit is linear in the level.) Left as it is when the excess is not a plausible share of the slope
 * (at most half of it, either way).
 */
export function withoutLeak(hp: HighpassNoise, excessSlope: number, backgroundAdu: number): HighpassNoise {
  if (!(Math.abs(excessSlope) < 0.5 * hp.variance.slope)) return hp;
  const slope = hp.variance.slope - excessSlope;
  const intercept = hp.variance.intercept + excessSlope * backgroundAdu;
  return {
    ...hp,
    variance: { slope, intercept },
    baselineAdu: -intercept / slope,
    aduPerPhoton: slope / hp.excessNoiseFactor,
    leakCorrection: excessSlope / hp.variance.slope,
  };
}

/**
 * The line with the dark pixel-frames' own (dark-pixels.ts, blockLine), where the background's level varies enough
 * over the field to give one: the two lines' slopes, and their values at the background level `backgroundAdu`,
 * weighted by the slopes' standard errors. The dark pixel-frames hold no emitter's light, so their line carries
 * neither what leaks into the filter's band nor the noise an sCMOS chip's gain spread makes of the emitters' changing
 * light, which for undersampled PSFs on small fields leave this line's slope off by up to +-10 % per field, and more
 * frames of the field do not remove it (docs/estimate.md). Weighing in only the slope, the fine line's value at the
 * background kept, seed 11 of the independent simulator's 160 nm sCMOS read its baseline -2.2 % and its background
 * +15.2 %; with both, -1.5 and +10.0 %.
 */
export function withDarkLine(hp: HighpassNoise, dark: DarkLine | undefined, backgroundAdu: number): HighpassNoise {
  const fineError = hp.slopeRelativeError * hp.variance.slope;
  if (!dark || !(fineError > 0) || !(dark.slopeError > 0)) return hp;
  const wFine = 1 / (fineError * fineError);
  const wDark = 1 / (dark.slopeError * dark.slopeError);
  const slope = (wFine * hp.variance.slope + wDark * dark.slope) / (wFine + wDark);
  const fineAt = hp.variance.slope * backgroundAdu + hp.variance.intercept;
  const darkAt = dark.slope * backgroundAdu + dark.intercept;
  const intercept = (wFine * fineAt + wDark * darkAt) / (wFine + wDark) - slope * backgroundAdu;
  return {
    ...hp,
    variance: { slope, intercept },
    baselineAdu: -intercept / slope,
    aduPerPhoton: slope / hp.excessNoiseFactor,
    slopeRelativeError: 1 / Math.sqrt(wFine + wDark) / slope,
    covariance: scaledTo(hp.covariance, 1 / Math.sqrt(wFine + wDark)),
    darkLineWeight: wDark / (wFine + wDark),
  };
}

/** The camera's variance at one level, ADU^2, and its standard error: the dark pixel-frames' (dark-pixels.ts). */
export interface VarianceAtLevel {
  levelAdu: number;
  varianceAdu2: number;
  error: number;
}

/**
 * The line's value at the dark pixel-frames' level weighed against their own variance there (dark-pixels.ts), by the
 * two's errors; the slope stays. For a flat background, which gives the dark pixel-frames no line of their own
 * (withDarkLine). The baseline comes from where the line says the variance would be the read noise's alone, and on a
 * dense stack the tiles' levels lie far above the background, so that the line's value there is an extrapolation:
 * lib/simulate's uniformly placed emitters at 2.5/um^2 on 64 px of 160 nm, where the tiles' mean level was ~400 ADU
 * above the background, read the line's value at the background to +-17 % (stated) and the baseline -4.4 to +7.0 %;
 * the dark pixel-frames' variance was within 1.5 % of the truth there (on 10,000 samples), and with it the baseline
 * read -1.7 to +1.5 %. Where the tiles reach down to the background (sparse stacks, structures) the line's own value
 * is known to a few %, the dark pixel-frames' to a fraction of one: they take 89-97 % of the weight on lib/simulate's
 * sparse test stacks too.
 */
export function withDarkLevel(hp: HighpassNoise, dark: VarianceAtLevel | undefined): HighpassNoise {
  const x = dark?.levelAdu ?? NaN;
  const lineVariance = varianceAt(hp.covariance, x);
  if (!dark || !(dark.error > 0) || !(lineVariance > 0)) return hp;
  const { slope } = hp.variance;
  const wLine = 1 / lineVariance;
  const wDark = 1 / (dark.error * dark.error);
  const at = (wLine * (slope * x + hp.variance.intercept) + wDark * dark.varianceAdu2) / (wLine + wDark);
  const intercept = at - slope * x;
  // Its covariance: the new value at x is the old one's share, so its covariance with the slope shrinks by that share.
  const c = hp.covariance;
  const atWithSlope = (wLine / (wLine + wDark)) * (c.slope * x + c.both);
  const covariance = { slope: c.slope, both: atWithSlope - x * c.slope, intercept: 1 / (wLine + wDark) + x * x * c.slope - 2 * x * atWithSlope };
  return { ...hp, variance: { slope, intercept }, baselineAdu: -intercept / slope, covariance, darkLevelWeight: wDark / (wLine + wDark) };
}

/**
 * The line at two tile sizes: the slope from COARSE_TILE px tiles, its level at the bottom of the data from FINE_TILE
 * px tiles (pinnedAtFineBottom). Frames: float64 ADU, row-major, all width x height. `gainSpreadSquared`: the chip's
 * (relative pixel gain spread)^2 where known (a data sheet's), held instead of fitted. Undefined when the stack is too
 * small or the line fails.
 */
export function highpassNoiseModel(frames: Float64Array[], width: number, height: number, order = DEFAULT_HIGHPASS_ORDER, gainSpreadSquared?: number): HighpassNoise | undefined {
  const stack = filteredStack(frames, width, height, order);
  if (!stack) return undefined;
  const coarse = tileNoiseModel(stack, COARSE_TILE, gainSpreadSquared);
  if (!coarse) return undefined;
  const fine = tileNoiseModel(stack, FINE_TILE, gainSpreadSquared);
  return fine ? pinnedAtFineBottom(coarse, fine) : coarse;
}

/**
 * Tiles of COARSE_TILE px (their R shares little of their own noise, see below) give the slope; tiles of FINE_TILE
 * px reach down between the emitters to the background, where coarse tiles of a crowded field never are, and give
 * the line's value at the bottom of their data. On a dense stack the coarse tiles' levels lie far above the
 * background and the line's value there is an extrapolation: the naive simulator's 160 nm sCMOS at 3 emitters/um^2
 * (lib/naive-simulator.ts, 64 px, 200 frames) read it 134-195 ADU^2 (truth 169, stated +-21), the fine tiles' line
 * 157-176 (+-6), and the baseline, -3.7 to +6.4 % before, read -1.0 to +2.3 % (5 seeds). The fine tiles' own slope
 * is not used: the pixels' squared change R, in the gain-spread term, then shares a tile's own noise, which pulls
 * kappa up and the slope down (the naive 107 nm sCMOS at 1/um^2, no gain spread: gains -0.7 to -8.4 % from 2 px
 * tiles against -5.3 to +3.8 % from 8 px).
 * The level is pinned where the fine line is best known (its covariance's minimum); the error of the value there and
 * that of the coarse slope are taken as independent.
 */
function pinnedAtFineBottom(coarse: HighpassNoise, fine: HighpassNoise): HighpassNoise {
  const pin = (slope: number, slopeVariance: number, fineLine: { slope: number; intercept: number }, fineCovariance: LineCovariance) => {
    const x = fineCovariance.slope > 0 ? -fineCovariance.both / fineCovariance.slope : NaN;
    const at = fineLine.slope * x + fineLine.intercept;
    const atVariance = varianceAt(fineCovariance, x);
    if (!Number.isFinite(at) || !(atVariance > 0)) return undefined;
    const covariance = { slope: slopeVariance, both: -x * slopeVariance, intercept: atVariance + x * x * slopeVariance };
    return { line: { slope, intercept: at - slope * x }, covariance, levelAdu: x };
  };
  const line = pin(coarse.variance.slope, coarse.covariance.slope, fine.variance, fine.covariance);
  const plain = pin(coarse.plainLine.slope, coarse.plainLine.covariance.slope, fine.plainLine, fine.plainLine.covariance);
  if (!line || !plain) return coarse;
  return {
    ...coarse,
    variance: line.line,
    covariance: line.covariance,
    baselineAdu: -line.line.intercept / line.line.slope,
    plainLine: { ...coarse.plainLine, intercept: plain.line.intercept, covariance: plain.covariance },
    pinnedLevelAdu: line.levelAdu,
    fineTiles: fine.tiles,
  };
}

/** The frames high-pass filtered (valid region only) with each pixel's temporal mean (the fixed pattern) removed. */
interface FilteredStack {
  frames: Float64Array[];
  width: number;
  height: number;
  order: number;
  /** The 1-D filter. */
  taps: number[];
  /** Filtered width and height (the frames less the filter's half-length on every side). */
  fw: number;
  fh: number;
  /** nT x fw x fh, the fixed pattern removed. */
  deviations: Float64Array;
  /** Each raw pixel's temporal mean. */
  rawMean: Float64Array;
  /** What the filter gives a pixel's variance and third cumulant (2-D sums of h^2 and h^3, less the temporal mean's share). */
  gain2: number;
  gain3: number;
}

function filteredStack(frames: Float64Array[], width: number, height: number, order: number): FilteredStack | undefined {
  const H = highpass(order);
  const nT = frames.length;
  const half = (H.length - 1) / 2;
  const fw = width - 2 * half;
  const fh = height - 2 * half;
  if (nT < 3 || fw < COARSE_TILE || fh < COARSE_TILE) return undefined;
  const nf = fw * fh;
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
  for (let t = 0; t < nT; t++) for (let i = 0; i < nf; i++) filtered[t * nf + i] -= pattern[i];
  let h2 = 0;
  let h3 = 0;
  for (const a of H) {
    h2 += a * a;
    h3 += a * a * a;
  }
  const rawMean = new Float64Array(width * height);
  for (const f of frames) for (let i = 0; i < rawMean.length; i++) rawMean[i] += f[i] / nT;
  // Removing the temporal mean keeps (T - 1) / T of the variance and (T-1)(T-2)/T^2 of k3.
  return {
    frames,
    width,
    height,
    order,
    taps: H,
    fw,
    fh,
    deviations: filtered,
    rawMean,
    gain2: h2 * h2 * ((nT - 1) / nT),
    gain3: h3 * h3 * (((nT - 1) * (nT - 2)) / (nT * nT)),
  };
}

/** The line over tiles of `tile` x `tile` filtered pixels of every frame. */
function tileNoiseModel(stack: FilteredStack, tile: number, gainSpreadSquared: number | undefined): HighpassNoise | undefined {
  const { frames, width, height, order, taps: H, fw, fh, deviations, rawMean, gain2, gain3 } = stack;
  const nT = frames.length;
  const half = (H.length - 1) / 2;
  const tilesX = Math.floor(fw / tile);
  const tilesY = Math.floor(fh / tile);
  const nf = fw * fh;
  // reach[k]: how much of the variance of the k-th pixel of a tile's extended span (tile + 2 half) reaches the tile.
  const span = tile + 2 * half;
  const reach = new Float64Array(span);
  for (let k = 0; k < span; k++) for (let i = 0; i < tile; i++) if (k - i >= 0 && k - i < H.length) reach[k] += H[k - i] * H[k - i];
  let reachSum = 0;
  for (const v of reach) reachSum += v;
  const reachTotal = reachSum * reachSum;
  const n = nT * tilesY * tilesX;
  const tileMean = new Float32Array(n);
  const tileVar = new Float32Array(n);
  const tileK3 = new Float32Array(n);
  const tileR = new Float32Array(n);
  // The reach-weighted sums are separable: along each row first (at every tile's column), then down the columns.
  const rowSums = new Float64Array(height * tilesX);
  const rowSquares = new Float64Array(height * tilesX);
  const count = tile * tile;
  for (let t = 0; t < nT; t++) {
    const f = frames[t];
    for (let y = 0; y < height; y++) {
      for (let tx = 0; tx < tilesX; tx++) {
        const row = y * width + tx * tile;
        let sum = 0;
        let squares = 0;
        for (let b = 0; b < span; b++) {
          sum += reach[b] * f[row + b];
          const d = f[row + b] - rawMean[row + b];
          squares += reach[b] * d * d;
        }
        rowSums[y * tilesX + tx] = sum;
        rowSquares[y * tilesX + tx] = squares;
      }
    }
    for (let ty = 0; ty < tilesY; ty++) {
      for (let tx = 0; tx < tilesX; tx++) {
        let s2 = 0;
        let s3 = 0;
        for (let r = ty * tile; r < (ty + 1) * tile; r++) {
          for (let c = tx * tile; c < (tx + 1) * tile; c++) {
            const d = deviations[t * nf + r * fw + c];
            s2 += d * d;
            s3 += d * d * d;
          }
        }
        // The level the tile's filtered variance stands for: the frame's mean over the filters' reach, each pixel
        // weighted by how much of its variance reaches the tile (sum over the tile of h^2 at its offset); and R, the
        // same weighting of the pixels' squared change from their temporal means.
        let m = 0;
        let q = 0;
        for (let a = 0; a < span; a++) {
          const k = (ty * tile + a) * tilesX + tx;
          m += reach[a] * rowSums[k];
          q += reach[a] * rowSquares[k];
        }
        const i = (t * tilesY + ty) * tilesX + tx;
        tileMean[i] = m / reachTotal;
        tileR[i] = q / reachTotal;
        tileVar[i] = s2 / count / gain2;
        tileK3[i] = s3 / count / gain3;
      }
    }
  }
  if (n < BINS * 10) return undefined;
  const sortedMeans = Float32Array.from(tileMean).sort();
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
  const binned = fitLineWithError(xs, ys, ws);
  if (!(binned.slope > 0)) return undefined;
  const plain = fitWithSignalTerm(tileMean, tileVar, tileR, lo, hi, binned, nT, 0);
  // A spread of 0 held is the plain line itself.
  const fit = gainSpreadSquared === 0 ? plain : fitWithSignalTerm(tileMean, tileVar, tileR, lo, hi, binned, nT, gainSpreadSquared ?? 'fitted');
  if (!fit || !plain || !(plain.slope > 0)) return undefined;
  const line = { slope: fit.slope, intercept: fit.intercept };
  const s2 = line.slope;
  if (!(s2 > 0)) return undefined;
  const baselineAdu = -line.intercept / s2;
  // Two checks of how well the slope is known: the fit's own standard error, and (as before the gain-spread term)
  // the scatter of the binned tiles about the plain line, which catches levels that follow no one line (20 frames of
  // a crowded stack did: the fit's own error said 3 %, the baseline read 11 % low).
  const binnedError = binned.slopeError / binned.slope;
  const slopeRelativeError = Math.max(fit.slopeError / s2, binnedError);
  const plainRelativeError = Math.max(plain.slopeError / plain.slope, binnedError);
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
  return {
    camera: emccd ? 'emccd' : 'scmos',
    excessNoiseFactor,
    skewRatio,
    baselineAdu,
    aduPerPhoton: s2 / excessNoiseFactor,
    variance: line,
    slopeRelativeError,
    covariance: scaledTo(fit.covariance, slopeRelativeError * s2),
    tiles: n,
    order,
    gainSpreadSquared: fit.kappa,
    plainLine: {
      slope: plain.slope,
      intercept: plain.intercept,
      slopeRelativeError: plainRelativeError,
      covariance: scaledTo(plain.covariance, plainRelativeError * plain.slope),
    },
    binnedSlope: binned.slope,
    leakCorrection: 0,
    darkLineWeight: 0,
    darkLevelWeight: 0,
  };
}
