/**
 * EM gain or none, from the shape of the noise where no emitter shines.
 *
 * A pixel's third cumulant over its variance slope and its variance, k3 / (s2 var), is 1 for a Poisson camera (sCMOS,
 * CCD without EM gain) and 1.5 for EM multiplication (noise-model.ts gives the cumulants), less the share of the
 * variance that is read noise (which has no third cumulant): 1 - r^2 / var and 1.5 (1 - r^2 / var). The ratio needs
 * only the variance line's slope s2 (= F g, whichever F), not the baseline.
 *
 * Measured where only camera noise and background are: the spots' residuals (noise-model.ts) carry the light of
 * unfitted neighbours and the fits' own misfit, which swamp the third moment: on lib/simulate stacks at 0.5-1 emitter
 * per um^2 and 20 background photons the spots' ratio read 0.1-1.4 for an sCMOS chip and 0.9-1.8 for an EMCCD, half
 * the stacks on the wrong side. Here each frame is smoothed over 3x3 pixels; where that rises more than DETECTION_SD
 * of its noise above the background (each pixel's 10th percentile over time, moved up to the mean by the noise at
 * that level, then its lowest value within 3 PSF sigma: a pixel on a structure is lit in most frames), an emitter is
 * taken to shine, and everything within 3.5 sigma + 1 px of it is left out. The pixel-frames left are centred on
 * their pixel's mean (an sCMOS chip's offsets and the background's gradient go), and their unbiased second and third
 * cumulants are pooled over pixels. Measured on 6 seeds each of lib/simulate's filaments at 0.5 and 5 emitters/um^2
 * (20 background photons): sCMOS 0.74-0.85, EMCCD 1.39-1.53; on uniformly placed emitters at 5/um^2 (64x64 px) nothing
 * dark is left, and the standard error says so.
 */

export interface BackgroundSkew {
  /** k3 / (s2 var) pooled over dark pixel-frames: ~1 without EM gain (less read noise's share), ~1.5 with it. */
  ratio: number;
  /** The ratio's standard error, from the scatter of the pixels' contributions. */
  standardError: number;
  /** Dark pixel-frames the ratio was measured on. */
  samples: number;
}

/**
 * Where each camera kind's ratio lies (read noise lowers both): at most 1 without EM gain (0.70-0.93 measured), about
 * 1.4 or more with it (1.37-1.57): a kind is ruled out when the ratio is more than RULE_OUT_SE standard errors beyond
 * its value, and where the error is so small that both are, the nearer side of EM_SKEW_THRESHOLD decides.
 */
const POISSON_RATIO = 1;
const EM_RATIO = 1.4;
const EM_SKEW_THRESHOLD = 1.25;
const RULE_OUT_SE = 2.5;
/** How far above the background a 3x3 mean must rise to count as an emitter, in standard deviations of that mean. */
const DETECTION_SD = 5;
/** A pixel's mean needs this many dark frames to centre them. */
const MIN_DARK_FRAMES = 10;
const LOW_QUANTILE = 0.1;
/** The standard normal's 90th percentile: the 10th percentile lies this many sd below the mean. */
const Z_LOW_QUANTILE = 1.2816;

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
 * The noise's third cumulant ratio over the pixel-frames no emitter reaches. `variance`: the camera's variance line
 * (ADU^2 against the mean level, ADU) from the spots or the fine detail. Undefined where no pixel keeps enough dark
 * frames or the pooled variance is not positive.
 */
export function backgroundSkew(frames: Float64Array[], width: number, height: number, variance: { slope: number; intercept: number }, psfSigmaPx: number): BackgroundSkew | undefined {
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
  const radius = Math.ceil(3.5 * psfSigmaPx) + 1;
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
  for (let i = 0; i < n; i++) {
    let dark = 0;
    let sum = 0;
    for (let t = 0; t < nT; t++) {
      if (lit[t * n + i]) continue;
      dark++;
      sum += frames[t][i];
    }
    if (dark < MIN_DARK_FRAMES) continue;
    const mean = sum / dark;
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
  const ratio = k3 / (variance.slope * k2);
  // Delta method over pixels (independent): the ratio's error from each pixel's departure from it.
  let scatter = 0;
  for (let j = 0; j < weights.length; j++) scatter += (weights[j] * (k3s[j] - ratio * variance.slope * k2s[j])) ** 2;
  const standardError = Math.sqrt(scatter) / (variance.slope * k2);
  return { ratio, standardError, samples: w };
}

/**
 * The camera kind the background's skew decides, or undefined where both kinds stay plausible. `slopeRelativeError`:
 * how well the variance line's slope (which the ratio divides by) is known.
 */
export function cameraKindFromSkew(skew: BackgroundSkew, slopeRelativeError: number): 'emccd' | 'scmos' | undefined {
  const error = Math.hypot(skew.standardError, skew.ratio * slopeRelativeError);
  const poisson = skew.ratio < POISSON_RATIO + RULE_OUT_SE * error;
  const em = skew.ratio > EM_RATIO - RULE_OUT_SE * error;
  if (poisson && em) return undefined;
  if (poisson !== em) return em ? 'emccd' : 'scmos';
  return skew.ratio > EM_SKEW_THRESHOLD ? 'emccd' : 'scmos';
}
