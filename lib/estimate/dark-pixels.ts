/**
 * The pixel-frames no emitter reaches: their mean level is the background, and the third cumulant of their noise
 * tells EM gain from none.
 *
 * Which they are: each frame is smoothed over 3x3 pixels; where that rises more than DETECTION_SD of its noise above
 * the background (each pixel's 10th percentile over time, moved up to the mean by the noise at that level, then its
 * lowest value within 3 PSF sigma: a pixel on a structure is lit in most frames), an emitter is taken to shine, and
 * everything within 3.5 sigma + 1 px of it is left out (2.5 sigma where that leaves too few: TIGHT_EXCLUSION_SIGMAS).
 * The pixel-frames left are centred on their pixel's mean (an sCMOS chip's offsets and the background's gradient go),
 * and their unbiased second and third cumulants are pooled over pixels.
 *
 * The camera kind: a pixel's third cumulant over its variance slope and its variance, k3 / (s2 var), is 1 for a
 * Poisson camera (sCMOS, CCD without EM gain) and 1.5 for EM multiplication (noise-model.ts gives the cumulants), less
 * the share of the variance that is read noise (which has no third cumulant): 1 - r^2 / var and 1.5 (1 - r^2 / var).
 * It needs only the variance line's slope s2 (= F g, whichever F), not the baseline. Measured where only camera noise
 * and background are, because the spots' residuals carry the light of unfitted neighbours and the fits' own misfit,
 * which swamp the third moment: on the sparse stacks of 20 background photons in `npm run bench:estimate` the spots'
 * ratio read 0.98-1.43 for sCMOS chips and 0.80-1.33 for EMCCDs, the wrong kind in 8 of 12 (its log before this
 * module, benchmarks/results/estimate-2026-12-04-before-dark-pixels.txt). Here, on 6
 * seeds each of lib/simulate's filaments at 0.5 and 5 emitters/um^2 (20 background photons): sCMOS 0.82-0.92, EMCCD
 * 1.43-1.60; without emitters 0.87-0.92 (0.90 expected) and 1.47-1.50. On uniformly placed emitters at 5/um^2 (64x64
 * px) little or nothing dark is left, and the standard error says so.
 *
 * The background: the level of those pixel-frames, free of the emitters' light that the fitted backgrounds of spots
 * (their neighbours' tails) and the low temporal levels of dense stacks (the wings of emitters nearby) carry, as the
 * field's mean of a plane through their pixels' means (fieldLevelAdu: they lie on the field's emptier side).
 * Measured against the true mean level (200 frames): within 0.25 ADU on lib/simulate's flat background and Gaussian
 * PSF (4 seeds each of 107 nm at 0.5 and 3/um^2, 160 nm at 2.5/um^2); -3.8 to +5.6 ADU on the independent simulator's
 * (gradient, haze, Airy wings; 7 seeds each of sCMOS 107 nm at 40 and 8 background photons, 160 nm at 25, EMCCD 100 nm
 * at 20). What is left of the background photons' error is mostly the baseline's and the gain's.
 *
 * The camera's own line: where the background's level varies over the field, their variance against their level over
 * blocks of the field is the camera's variance line, free of the emitters' light (blockLine; estimate.ts weighs it
 * against the fine detail's).
 */
import { fitLineWithError } from './line-fit.js';
import { solveInPlace } from './linear-solve.js';

export interface DarkPixels {
  /** Pixel-frames no emitter reaches. */
  samples: number;
  /** Pixels with at least MIN_DARK_FRAMES of them, or MIN_ANY_DARK_FRAMES where few have that many (the others are left out). */
  pixels: number;
  /** Their mean level, ADU: the background (plus baseline) where they are. */
  levelAdu: number;
  /**
   * The background's mean over the whole field (plus baseline), ADU: a plane fitted to the dark pixels' mean levels,
   * averaged over every pixel. Dark pixels lie away from the sample's structures, and where the background varies over
   * the field (uneven illumination, out-of-focus haze) their own mean is that of the field's emptier side: on the
   * independent simulator's stacks (gradient 30 %, haze 25 %) it read the level up to 17 ADU (8.5 photons) high, the
   * plane -3.8 to +5.6 ADU (28 stacks; a quadratic surface -1.3 to +6.3, extrapolating further).
   */
  fieldLevelAdu: number;
  /** Their noise's variance, pooled over pixels about each pixel's mean, ADU^2. */
  varianceAdu2: number;
  /**
   * The same less each frame's common mode (the illumination's flicker, which is not the camera's noise), ADU^2, and
   * its standard error: the camera's variance at their own level (levelAdu), which estimate.ts weighs against the fine
   * detail's line there (highpass-noise.ts, withDarkLevel).
   */
  cameraVarianceAdu2: number;
  cameraVarianceError: number;
  /**
   * The camera's variance line from them alone (blockLine), where the background's level varies enough over the
   * field to give one; undefined elsewhere.
   */
  line?: DarkLine;
  /** Their noise's third cumulant over its variance (k3 / var), ADU, and that ratio's standard error. */
  thirdOverSecondAdu: number;
  thirdOverSecondError: number;
}

/** A variance line (ADU^2 against the level, ADU) with its slope's standard error. */
export interface DarkLine {
  slope: number;
  intercept: number;
  slopeError: number;
  /** Blocks it was fitted to. */
  blocks: number;
}

/** The noise's skew ratio k3 / (s2 var) for a variance slope s2, with its standard error from the pixels' scatter. */
export interface SkewRatio {
  ratio: number;
  standardError: number;
}

/**
 * Where each camera kind's ratio lies (read noise lowers both): at most 1 without EM gain (0.79-1.08 measured over the
 * 24 sCMOS stacks of `npm run bench:estimate`), about 1.4 or more with it (1.44-1.56 over its 12 EMCCD stacks at EM
 * gain 100-300, 1.43-1.60 on the filaments above): a kind is ruled out when the ratio is more than RULE_OUT_SE
 * standard errors beyond its value, and where the error is so small that both are, the nearer side of
 * EM_SKEW_THRESHOLD decides. The EM value assumes what EM gain is for: read noise a small share of the background's
 * noise. An EMCCD at low EM gain behind a faint background does not fit it (the bench's EM gain 30, 50 e- read noise,
 * 2 background photons: 0.88-0.89, decided sCMOS); the `camera` option is for such cameras.
 */
const POISSON_RATIO = 1;
const EM_RATIO = 1.4;
/**
 * EM multiplication gives at most 1.5 (read noise only lowers it; 1.60 the highest measured), and neither kind less
 * than 0. A ratio beyond this, or clearly below 0, is neither kind's: the "dark" pixel-frames hold emitters' light
 * (uniformly placed emitters at 5/um^2, where every pixel is lit in most frames and the least lit carry the wings of
 * several: on 16 such stacks of the independent simulator's 107 nm sCMOS, 2.8, 3.6 and 4.1 decided EMCCD and read the
 * gain half, -1.4 to -7.5 on four more decided sCMOS), and they decide nothing.
 */
const MAX_CAMERA_RATIO = 2;
const EM_SKEW_THRESHOLD = 1.25;
const RULE_OUT_SE = 2.5;
/** How far above the background a 3x3 mean must rise to count as an emitter, in standard deviations of that mean. */
const DETECTION_SD = 5;
/** A pixel's mean needs this many dark frames to centre them. */
const MIN_DARK_FRAMES = 10;
/**
 * Where fewer than FEW_DARK_PIXELS pixels keep MIN_DARK_FRAMES, pixels with at least MIN_ANY_DARK_FRAMES (the fewest
 * an unbiased third cumulant takes) are used: emitters placed uniformly over the whole field at 3/um^2 (a simple
 * simulator's, 107 nm, sigma 1.17 px) leave each pixel 2-5 dark frames of 200, so only 7-16 pixels kept 10, and the
 * background came from the pixels' low levels, up to +26 %, while those few pixels' own level was within 1 ADU.
 */
const FEW_DARK_PIXELS = 50;
const MIN_ANY_DARK_FRAMES = 3;
/**
 * How far around a pixel where an emitter shines the pixel-frames are left out: this many PSF sigma, plus 1 px.
 * Generous, for the wide wings and rings of an optical PSF; estimate.ts asks for TIGHT_EXCLUSION_SIGMAS where this
 * leaves too few to give the background.
 */
const EXCLUSION_SIGMAS = 3.5;
/**
 * Beyond 2.5 sigma + 1 px of the nearest pixel where an emitter was detected (which lies ~2.5 sigma from a bright
 * emitter's centre), a Gaussian PSF leaves a hundredth of a photon. Emitters placed over the whole field at 5/um^2
 * (107 nm, sigma 1.17 px) left 13-37 dark pixel-frames at 3.5 sigma (6 px) and the background came from the lifted low
 * levels (+18.6 to +26.5 %, 3 of 8 stacks); at 2.5 sigma (4 px) from the dark pixel-frames, -3.6 to +4.5 %.
 * Not the default: on the independent simulator's Airy PSF at 5/um^2 the rings' light then lifted the dark level of
 * some stacks (backgrounds out 5 -> 7 of 16, with it everywhere).
 */
export const TIGHT_EXCLUSION_SIGMAS = 2.5;
const LOW_QUANTILE = 0.1;
/** The standard normal's 90th percentile: the 10th percentile lies this many sd below the mean. */
const Z_LOW_QUANTILE = 1.2816;

/** The fewest dark frames a pixel needs to be used: MIN_DARK_FRAMES, unless too few pixels have that many. */
function fewestDarkFrames(darkFrames: Float64Array): number {
  let pixels = 0;
  for (const d of darkFrames) if (d >= MIN_DARK_FRAMES) pixels++;
  return pixels >= FEW_DARK_PIXELS ? MIN_DARK_FRAMES : MIN_ANY_DARK_FRAMES;
}

/** The 3x3 box mean of a frame (fewer pixels at the edges) and how many pixels each mean averages. */
function boxMean(frame: Float64Array, width: number, height: number, out: Float64Array, count: Float64Array): void {
  for (let r = 0; r < height; r++) {
    for (let c = 0; c < width; c++) {
      let sum = 0;
      let n = 0;
      for (let rr = Math.max(0, r - 1); rr <= Math.min(height - 1, r + 1); rr++) {
        for (let cc = Math.max(0, c - 1); cc <= Math.min(width - 1, c + 1); cc++) {
          sum += frame[rr * width + cc];
          n++;
        }
      }
      out[r * width + c] = sum / n;
      count[r * width + c] = n;
    }
  }
}

/**
 * The pixel-frames no emitter reaches, and their noise's cumulants. `variance`: the camera's variance line (ADU^2
 * against the mean level, ADU) from the spots or the fine detail, which sets how far above the background a rise is
 * an emitter. Undefined where no pixel keeps enough dark frames or the pooled variance is not positive.
 */
export function darkPixels(
  frames: Float64Array[],
  width: number,
  height: number,
  variance: { slope: number; intercept: number },
  psfSigmaPx: number,
  exclusionSigmas = EXCLUSION_SIGMAS,
): DarkPixels | undefined {
  const nT = frames.length;
  const n = width * height;
  if (nT < MIN_DARK_FRAMES || !(variance.slope > 0) || !(psfSigmaPx > 0)) return undefined;
  const noiseOf = (level: number): number => Math.max(variance.slope * level + variance.intercept, 1e-9);

  // The background under each pixel, as its smoothed frames see it.
  const smoothed = new Float32Array(nT * n);
  const count = new Float64Array(n);
  const frame = new Float64Array(n);
  for (let t = 0; t < nT; t++) {
    boxMean(frames[t], width, height, frame, count);
    smoothed.set(frame, t * n);
  }
  const low = new Float64Array(n);
  const series = new Float64Array(nT);
  for (let i = 0; i < n; i++) {
    for (let t = 0; t < nT; t++) series[t] = smoothed[t * n + i];
    series.sort();
    const q = series[Math.floor(LOW_QUANTILE * (nT - 1))];
    low[i] = q + Z_LOW_QUANTILE * Math.sqrt(noiseOf(q) / count[i]);
  }
  const reach = Math.max(2, Math.ceil(3 * psfSigmaPx));
  const background = new Float64Array(n);
  for (let r = 0; r < height; r++) {
    for (let c = 0; c < width; c++) {
      let m = Infinity;
      for (let rr = Math.max(0, r - reach); rr <= Math.min(height - 1, r + reach); rr++) {
        for (let cc = Math.max(0, c - reach); cc <= Math.min(width - 1, c + reach); cc++) m = Math.min(m, low[rr * width + cc]);
      }
      background[r * width + c] = m;
    }
  }
  const threshold = new Float64Array(n);
  for (let i = 0; i < n; i++) threshold[i] = background[i] + DETECTION_SD * Math.sqrt(noiseOf(background[i]) / count[i]);

  // Pixel-frames within reach of a detected emitter are lit.
  const radius = Math.ceil(exclusionSigmas * psfSigmaPx) + 1;
  const disc: number[] = [];
  for (let dr = -radius; dr <= radius; dr++) for (let dc = -radius; dc <= radius; dc++) if (dr * dr + dc * dc <= radius * radius) disc.push(dr, dc);
  const lit = new Uint8Array(nT * n);
  for (let t = 0; t < nT; t++) {
    const base = t * n;
    for (let r = 0; r < height; r++) {
      for (let c = 0; c < width; c++) {
        if (!(smoothed[base + r * width + c] > threshold[r * width + c])) continue;
        for (let k = 0; k < disc.length; k += 2) {
          const rr = r + disc[k];
          const cc = c + disc[k + 1];
          if (rr >= 0 && cc >= 0 && rr < height && cc < width) lit[base + rr * width + cc] = 1;
        }
      }
    }
  }

  // Unbiased k-statistics of each pixel's dark frames about their mean, pooled with weights = dark frames.
  const k2s: number[] = [];
  const k3s: number[] = [];
  const weights: number[] = [];
  const pixelMeans: number[] = [];
  const pixelIndex: number[] = [];
  // Every used pixel's dark frames (0 for the others) and their mean (NaN for the others), for blockLine.
  const darkFrames = new Float64Array(n);
  const darkMean = new Float64Array(n).fill(NaN);
  for (let i = 0; i < n; i++) for (let t = 0; t < nT; t++) if (!lit[t * n + i]) darkFrames[i]++;
  const minFrames = fewestDarkFrames(darkFrames);
  let level = 0;
  for (let i = 0; i < n; i++) {
    const dark = darkFrames[i];
    if (dark < minFrames) {
      darkFrames[i] = 0;
      continue;
    }
    let sum = 0;
    for (let t = 0; t < nT; t++) if (!lit[t * n + i]) sum += frames[t][i];
    const mean = sum / dark;
    darkMean[i] = mean;
    let m2 = 0;
    let m3 = 0;
    for (let t = 0; t < nT; t++) {
      if (lit[t * n + i]) continue;
      const d = frames[t][i] - mean;
      m2 += d * d;
      m3 += d * d * d;
    }
    k2s.push(m2 / (dark - 1));
    k3s.push((dark * m3) / ((dark - 1) * (dark - 2)));
    weights.push(dark);
    pixelMeans.push(mean);
    pixelIndex.push(i);
    level += sum;
  }
  let w = 0;
  let k2 = 0;
  let k3 = 0;
  for (let j = 0; j < weights.length; j++) {
    w += weights[j];
    k2 += weights[j] * k2s[j];
    k3 += weights[j] * k3s[j];
  }
  if (!(k2 > 0)) return undefined;
  const q = k3 / k2;
  // Delta method over pixels (independent): the ratio's error from each pixel's departure from it.
  let scatter = 0;
  for (let j = 0; j < weights.length; j++) scatter += (weights[j] * (k3s[j] - q * k2s[j])) ** 2;
  const levelAdu = level / w;
  const fieldLevelAdu = fieldMean(pixelMeans, pixelIndex, weights, width, height) ?? levelAdu;
  const squares = cameraSquares(frames, lit, darkFrames, darkMean, commonMode(frames, lit, darkFrames, darkMean));
  let camera = 0;
  for (let i = 0; i < n; i++) if (darkFrames[i] > 0) camera += squares[i];
  camera /= w;
  const line = blockLine(squares, darkFrames, darkMean, width, height);
  return {
    samples: w,
    pixels: weights.length,
    levelAdu,
    fieldLevelAdu,
    varianceAdu2: k2 / w,
    cameraVarianceAdu2: camera,
    // A sample variance of near-Gaussian values has variance 2 var^2 / dof; each pixel's own mean takes one of its
    // dark frames (with 3-5 dark frames a pixel, as in crowded fields, a quarter of them or more).
    cameraVarianceError: camera * Math.sqrt(2 / Math.max(1, w - weights.length)),
    line,
    thirdOverSecondAdu: q,
    thirdOverSecondError: Math.sqrt(scatter) / k2,
  };
}

/** Each frame's common mode over the dark pixel-frames, and what taking it off leaves of the noise. */
interface CommonMode {
  shift: Float64Array;
  keep: Float64Array;
}

/**
 * Each frame's common mode: the mean departure of its dark pixel-frames from their pixels' means, the illumination's
 * flicker, which moves every pixel's background together; taking it off keeps (N - 1) / N of the variance of N pixels.
 * Frames with fewer than MIN_COMMON_PIXELS dark pixels keep theirs (their own noise would be taken off instead).
 */
function commonMode(frames: Float64Array[], lit: Uint8Array, dark: Float64Array, mean: Float64Array): CommonMode {
  const nT = frames.length;
  const n = dark.length;
  const shift = new Float64Array(nT);
  const keep = new Float64Array(nT).fill(1);
  for (let t = 0; t < nT; t++) {
    let sum = 0;
    let count = 0;
    for (let i = 0; i < n; i++) {
      if (lit[t * n + i] || !(dark[i] > 0)) continue;
      sum += frames[t][i] - mean[i];
      count++;
    }
    if (count < MIN_COMMON_PIXELS) continue;
    shift[t] = sum / count;
    keep[t] = (count - 1) / count;
  }
  return { shift, keep };
}

/**
 * Each pixel's dark pixel-frames' sum of squares about its mean, less the common modes, scaled to be `dark` times their
 * unbiased variance (about its own mean: dark - 1 of dark; less the common modes: keep of each), so that sums over
 * pixels divided by their dark frames pool the variance; NaN for pixels not used (no dark frames counted).
 */
function cameraSquares(frames: Float64Array[], lit: Uint8Array, dark: Float64Array, mean: Float64Array, common: CommonMode): Float64Array {
  const n = dark.length;
  const out = new Float64Array(n).fill(NaN);
  for (let i = 0; i < n; i++) {
    if (!(dark[i] > 0)) continue;
    let squares = 0;
    let kept = 0;
    for (let t = 0; t < frames.length; t++) {
      if (lit[t * n + i]) continue;
      squares += (frames[t][i] - mean[i] - common.shift[t]) ** 2;
      kept += common.keep[t];
    }
    out[i] = (squares * dark[i]) / (kept - kept / dark[i]);
  }
  return out;
}

/** Side of the blocks of blockLine, px, the dark samples each needs, and the fewest blocks for a line. */
const LINE_BLOCK = 8;
const MIN_BLOCK_SAMPLES = 500;
const MIN_LINE_BLOCKS = 6;
/**
 * A line whose slope is less certain than this (relative) tells nothing: a flat background's (lib/simulate's, 27-50 %
 * on 64-96 px frames), against 3-11 % where the independent simulator's background varies by 30 %.
 */
const MAX_LINE_ERROR = 0.25;
/** Fewest dark pixels in a frame for its common mode to be taken off (fewer: their own noise would be). */
const MIN_COMMON_PIXELS = 50;

/**
 * The camera's variance line from the dark pixel-frames alone (`squares`: each pixel's, cameraSquares; `dark` and
 * `mean`: each pixel's dark frames and their mean): each LINE_BLOCK x LINE_BLOCK block's variance (about each pixel's
 * mean, less the frame's common mode) against its level, where the background's level differs over the
 * field (uneven illumination, haze), weighted least squares. It holds no emitter's light, so neither the light that
 * leaks into the fine-detail filter's band nor the noise an sCMOS chip's pixel gain spread makes of the emitters'
 * changing light, which limit that filter's line for undersampled PSFs on small fields (withDarkLine combines the two).
 * Each frame's common mode is the illumination's flicker, which moves every pixel's background together: its variance
 * grows as the level squared and would tilt the line (the independent simulator's 3 % flicker: +3 to +6 % on the
 * slope). Undefined where fewer than MIN_LINE_BLOCKS blocks hold enough dark samples or the levels spread too little
 * for a slope known to MAX_LINE_ERROR.
 */
function blockLine(squares: Float64Array, dark: Float64Array, mean: Float64Array, width: number, height: number): DarkLine | undefined {
  const xs: number[] = [];
  const ys: number[] = [];
  const ns: number[] = [];
  for (let by = 0; by + LINE_BLOCK <= height; by += LINE_BLOCK) {
    for (let bx = 0; bx + LINE_BLOCK <= width; bx += LINE_BLOCK) {
      let level = 0;
      let variance = 0;
      let samples = 0;
      for (let r = by; r < by + LINE_BLOCK; r++) {
        for (let c = bx; c < bx + LINE_BLOCK; c++) {
          const i = r * width + c;
          if (!(dark[i] > 0)) continue;
          variance += squares[i];
          level += mean[i] * dark[i];
          samples += dark[i];
        }
      }
      if (samples < MIN_BLOCK_SAMPLES) continue;
      xs.push(level / samples);
      ys.push(variance / samples);
      ns.push(samples);
    }
  }
  if (xs.length < MIN_LINE_BLOCKS) return undefined;
  // A sample variance of n values has variance ~2 var^2 / n (the noise is near Gaussian at these levels).
  const ws = xs.map((_, j) => ns[j] / (2 * ys[j] * ys[j]));
  const fit = fitLineWithError(xs, ys, ws);
  if (!(fit.slope > 0) || !(fit.slopeError < MAX_LINE_ERROR * fit.slope)) return undefined;
  return { slope: fit.slope, intercept: fit.intercept, slopeError: fit.slopeError, blocks: xs.length };
}

/** Fewest dark pixels the background's plane is fitted to. */
const MIN_SURFACE_PIXELS = 50;

/**
 * The field's mean of a plane fitted (weighted least squares) to per-pixel values, kept within the values' own range;
 * undefined where too few pixels or the fit is singular.
 */
function fieldMean(values: number[], index: number[], weights: number[], width: number, height: number): number | undefined {
  if (values.length < MIN_SURFACE_PIXELS) return undefined;
  const basis = (i: number): number[] => {
    const x = (2 * ((i % width) + 0.5)) / width - 1;
    const y = (2 * (Math.floor(i / width) + 0.5)) / height - 1;
    return [1, x, y];
  };
  const P = 3;
  const a = new Float64Array(P * P);
  const b = new Float64Array(P);
  let lo = Infinity;
  let hi = -Infinity;
  for (let j = 0; j < values.length; j++) {
    const f = basis(index[j]);
    for (let u = 0; u < P; u++) {
      b[u] += weights[j] * f[u] * values[j];
      for (let v = 0; v < P; v++) a[u * P + v] += weights[j] * f[u] * f[v];
    }
    lo = Math.min(lo, values[j]);
    hi = Math.max(hi, values[j]);
  }
  if (!solveInPlace(a, b)) return undefined;
  let sum = 0;
  for (let i = 0; i < width * height; i++) {
    const f = basis(i);
    let s = 0;
    for (let u = 0; u < P; u++) s += b[u] * f[u];
    sum += s;
  }
  return Math.min(hi, Math.max(lo, sum / (width * height)));
}

/** k3 / (s2 var) of the dark pixel-frames for the variance slope `slope` (s2 = F g). */
export function skewRatio(dark: DarkPixels, slope: number): SkewRatio {
  return { ratio: dark.thirdOverSecondAdu / slope, standardError: dark.thirdOverSecondError / slope };
}

/**
 * The camera kind the dark pixel-frames' skew decides, or undefined where both kinds stay plausible. `slopeRelativeError`:
 * how well the variance line's slope (which the ratio divides by) is known.
 */
export function cameraKindFromSkew(skew: SkewRatio, slopeRelativeError: number): 'emccd' | 'scmos' | undefined {
  const error = Math.hypot(skew.standardError, skew.ratio * slopeRelativeError);
  if (!(skew.ratio <= MAX_CAMERA_RATIO && skew.ratio > -RULE_OUT_SE * error)) return undefined;
  const poisson = skew.ratio < POISSON_RATIO + RULE_OUT_SE * error;
  const em = skew.ratio > EM_RATIO - RULE_OUT_SE * error;
  if (poisson && em) return undefined;
  if (poisson !== em) return em ? 'emccd' : 'scmos';
  return skew.ratio > EM_SKEW_THRESHOLD ? 'emccd' : 'scmos';
}
