/**
 * Imaging conditions read from the frames themselves (`smlm-rt estimate`): camera baseline and gain, excess noise
 * (EMCCD or not), background, emitter brightness, PSF width and emitter density, so that a simulation (and a model
 * trained on it) can be matched to a microscope.
 *
 * How: isolated spots are fitted with an integrated Gaussian + constant (spot-fit.ts). Their residuals against the
 * fitted expectation give the camera's noise model (noise-model.ts: gain, excess noise factor, baseline) — pixels of
 * every brightness from background to spot peaks, so the mean-variance line is well spread, which the background of
 * a stack (often flat) alone could not give. Then, in photons: background = fitted backgrounds, brightness = fitted
 * signals, sigma = fitted widths; density = all light above background in a frame / mean photons per emitter (which
 * counts overlapping emitters that detection would merge).
 */
import { SmlmError } from '../errors.js';
import { stackAsSource, type FrameSource } from '../io/frame-source.js';
import { selectFrames, type FrameRange } from '../io/frame-range.js';
import { checkPixelSizeNm, plausibleFilePixelSize } from '../io/pixel-size.js';
import type { Stack } from '../types.js';
import { median } from './line-fit.js';
import { fitNoiseModel, type NoiseModel } from './noise-model.js';
import { fitSpot, type VarianceLine } from './spot-fit.js';
import { isolatedSpots } from './spots.js';

/** What `estimate --json` prints; the first eight keys are what `simulate --like` and `train --like` read. */
export interface ImagingConditions {
  baselineAdu: number;
  aduPerPhoton: number;
  backgroundPhotons: number;
  photonsMedian: number;
  psfSigmaNm: number;
  densityPerUm2: number;
  pixelSizeNm: number;
  camera: 'emccd' | 'scmos';
  /** Where pixelSizeNm came from: the --pixel-size option, the file, or assumed (100 nm) when neither says. */
  pixelSizeSource: 'option' | 'file' | 'assumed';
  /** 2 for EM gain, 1 otherwise. */
  excessNoiseFactor: number;
  /** s3 / s2^2 of the noise model (1 Poisson, 1.5 EM); how clearly the camera kind was decided. */
  skewRatio: number;
  psfSigmaPx: number;
  /** Mean photons per emitter (the density uses it). */
  photonsMean: number;
  /** Detected isolated spots per um^2 per frame: a lower bound on the density, which overlap makes undercounted. */
  isolatedSpotsPerUm2: number;
  spotsFitted: number;
  /** Isolated spots whose fit converged; spotsFitted of them were single spots the noise model explains. */
  spotsConverged: number;
  framesUsed: number;
  framesTotal: number;
}

export interface EstimateOptions {
  /** Camera pixel size, nm: overrides (or supplies) the file's. */
  pixelSizeNm?: number;
  /** Only these frames (1-based, inclusive). */
  frames?: FrameRange;
  /** At most this many frames, spread evenly over the range, are analysed. Default 300. */
  maxFrames?: number;
}

/** Pixel size assumed when neither the file nor the caller says: the benchmark's, and the bundled models'. */
const ASSUMED_PIXEL_NM = 100;
const DEFAULT_MAX_FRAMES = 300;
/** Fits whose weighted residuals are this much larger than the noise model allows hold more than one spot. */
const MAX_REDUCED_CHI2 = 1.6;
/** Fewest single spots the noise model is fitted to. */
const MIN_SPOTS = 300;
/** Share of converged spot fits the final noise model must explain (see the check in estimateConditions). */
const MIN_KEPT_SHARE = 0.4;
/** Pixels whose fit absorbed nearly all their noise say nothing about it. */
const MAX_LEVERAGE = 0.9;

function failed(message: string): SmlmError {
  return new SmlmError('E_BAD_OPTIONS', `estimate: ${message}`);
}

interface Fits {
  sigma: number[];
  signal: number[];
  background: number[];
  mu: number[];
  /** Residual / sqrt(1 - leverage): its square estimates the pixel's variance. */
  residual: number[];
  /** Residual^3 / (1 - leverage)^3: estimates the pixel's third cumulant (a fit keeps (1 - h)^3 of it). */
  cube: number[];
  /** Isolated spots whose fit converged, before the width and chi^2 filters. */
  converged: number;
}

/**
 * Fits every isolated spot of every frame. With a variance line the fits are weighted by it and fits that it does
 * not explain (reduced chi^2 > MAX_REDUCED_CHI2: an unresolved neighbour) are dropped.
 */
function fitFrames(frames: Float64Array[], width: number, height: number, half: number, sigma0: number, variance?: VarianceLine, maxSigma = Infinity): Fits {
  const size = 2 * half + 1;
  const fits: Fits = { sigma: [], signal: [], background: [], mu: [], residual: [], cube: [], converged: 0 };
  const window = new Float64Array(size * size);
  for (const frame of frames) {
    const corners = isolatedSpots(frame, width, height, half);
    for (let k = 0; k < corners.length; k += 2) {
      const [r0, c0] = [corners[k], corners[k + 1]];
      for (let r = 0; r < size; r++) for (let c = 0; c < size; c++) window[r * size + c] = frame[(r0 + r) * width + c0 + c];
      const fit = fitSpot(window, size, sigma0, variance);
      if (!fit) continue;
      fits.converged++;
      if (fit.sigma > maxSigma || (variance && fit.reducedChi2 > MAX_REDUCED_CHI2)) continue;
      fits.sigma.push(fit.sigma);
      fits.signal.push(fit.signal);
      fits.background.push(fit.background);
      for (let i = 0; i < window.length; i++) {
        if (fit.leverage[i] > MAX_LEVERAGE) continue;
        fits.mu.push(fit.model[i]);
        const r = window[i] - fit.model[i];
        const keep = 1 - fit.leverage[i];
        fits.residual.push(r / Math.sqrt(keep));
        fits.cube.push((r * r * r) / (keep * keep * keep));
      }
    }
  }
  return fits;
}

/** Reads at most `max` frames spread evenly over the source, as float64 frames. */
async function sampleFrames(source: FrameSource, max: number): Promise<Float64Array[]> {
  const stride = Math.max(1, Math.floor(source.frames / max));
  const pixels = source.height * source.width;
  const out: Float64Array[] = [];
  let index = 0;
  for await (const chunk of source.chunks(64)) {
    for (let f = 0; f < chunk.frames; f++, index++) {
      if (index % stride === 0 && out.length < max) out.push(Float64Array.from(chunk.data.subarray(f * pixels, (f + 1) * pixels)));
    }
  }
  return out;
}

function mean(values: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i];
  return s / values.length;
}

/**
 * Estimates the imaging conditions of a stack (in memory or streamed). Throws E_BAD_OPTIONS for bad options, or when
 * too few isolated spots can be fitted to tell (the message says how many).
 */
export async function estimateConditions(input: Stack | FrameSource, options: EstimateOptions = {}): Promise<ImagingConditions> {
  if (options === null || typeof options !== 'object') throw failed('options must be an object');
  if (options.pixelSizeNm !== undefined) checkPixelSizeNm(options.pixelSizeNm, 'pixelSizeNm');
  const maxFrames = options.maxFrames ?? DEFAULT_MAX_FRAMES;
  if (!(Number.isInteger(maxFrames) && maxFrames >= 1)) throw failed(`maxFrames must be a positive integer, got ${String(maxFrames)}`);
  const whole = 'chunks' in input ? input : stackAsSource(input);
  const source = options.frames ? selectFrames(whole, options.frames) : whole;
  const { width, height } = source;
  const frames = await sampleFrames(source, maxFrames);

  // A first pass at a window that suits PSFs of ~1 px finds the PSF's width; the second fits at a window of +-3 sigma.
  const first = fitFrames(frames.slice(0, 40), width, height, 3, 1.2);
  const sigma0 = first.sigma.length >= 10 ? median(first.sigma) : 1.2;
  const half = Math.min(10, Math.max(3, Math.ceil(3 * sigma0)));
  // Unweighted fits give a first noise model; fits weighted by it (maximum likelihood for shot noise, and leverages
  // that hold at every brightness) give the final one. Two weighted rounds: the first round's model is biased.
  // Two emitters closer than the PSF's width pass for one wider spot: the first round keeps the narrower half of the
  // fits (a single emitter's width is the narrowest there is), later rounds whatever is at most 25 % wider than that.
  let fits = fitFrames(frames, width, height, half, sigma0, undefined, sigma0);
  let noise: NoiseModel | undefined;
  for (let round = 0; round < 3; round++) {
    if (fits.sigma.length < MIN_SPOTS) {
      throw failed(`only ${fits.sigma.length} isolated spots could be fitted in ${frames.length} frames (at least ${MIN_SPOTS} are needed); give more frames, or a stack with separable emitters`);
    }
    noise = fitNoiseModel(Float64Array.from(fits.mu), Float64Array.from(fits.residual), Float64Array.from(fits.cube));
    if (!noise) throw failed(`the camera's noise could not be modelled from ${fits.sigma.length} spots`);
    if (round < 2) fits = fitFrames(frames, width, height, half, sigma0, noise.variance, 1.25 * sigma0);
  }
  const spots = fits.sigma.length;
  // Where emitters crowd, most "isolated" spots hide a neighbour: the noise model then fits few of them, and what it
  // says is not the camera. (Measured: >= 56 % of converged fits kept on stacks it gets right, 23 % on filaments at
  // 2 emitters/um^2, whose estimates were off by a factor 3.)
  if (spots < MIN_KEPT_SHARE * fits.converged) {
    throw failed(
      `emitters overlap too much to model the camera: only ${spots} of ${fits.converged} fitted spots are single spots the noise model explains ` +
        `(at least ${100 * MIN_KEPT_SHARE} % are needed); use a sparser part of the acquisition (--frames) or a stack with fewer emitters per frame`,
    );
  }
  const { baselineAdu, aduPerPhoton } = noise!;

  const backgroundPhotons = (median(fits.background) - baselineAdu) / aduPerPhoton;
  if (!(backgroundPhotons > -1 && baselineAdu > -5 && Number.isFinite(aduPerPhoton))) {
    throw failed(`the camera model came out implausible (baseline ${baselineAdu.toFixed(1)} ADU, background ${backgroundPhotons.toFixed(1)} photons); the stack's spots cannot be fitted one by one`);
  }
  const photons = fits.signal.map((s) => s / aduPerPhoton);
  const photonsMedian = median(photons);
  // Trimmed to the 5..95 % quantiles: a few fits of merged pairs must not inflate the mean the density divides by.
  const sortedPhotons = Float64Array.from(photons).sort();
  const photonsMean = mean(sortedPhotons.subarray(Math.floor(0.05 * spots), Math.ceil(0.95 * spots)));

  let filePixel: number | undefined;
  if (options.pixelSizeNm === undefined) filePixel = plausibleFilePixelSize(source.pixelSizeNm).pixelSizeNm;
  const pixelSizeNm = options.pixelSizeNm ?? filePixel ?? ASSUMED_PIXEL_NM;
  const pixelSizeSource = options.pixelSizeNm !== undefined ? 'option' : filePixel !== undefined ? 'file' : 'assumed';
  const areaUm2 = (width * height * pixelSizeNm * pixelSizeNm) / 1e6;

  // All light above the background in a frame, in photons, over the mean photons of one emitter.
  let excess = 0;
  for (const frame of frames) {
    let sum = 0;
    for (let i = 0; i < frame.length; i++) sum += frame[i];
    excess += (sum - frame.length * baselineAdu) / aduPerPhoton - frame.length * backgroundPhotons;
  }
  const emittersPerFrame = Math.max(0, excess / frames.length / photonsMean);

  const psfSigmaPx = median(fits.sigma);
  return {
    baselineAdu,
    aduPerPhoton,
    backgroundPhotons: Math.max(0, backgroundPhotons),
    photonsMedian,
    psfSigmaNm: psfSigmaPx * pixelSizeNm,
    densityPerUm2: emittersPerFrame / areaUm2,
    pixelSizeNm,
    camera: noise!.camera,
    pixelSizeSource,
    excessNoiseFactor: noise!.excessNoiseFactor,
    skewRatio: noise!.skewRatio,
    psfSigmaPx,
    photonsMean,
    isolatedSpotsPerUm2: spots / frames.length / areaUm2,
    spotsFitted: spots,
    spotsConverged: fits.converged,
    framesUsed: frames.length,
    framesTotal: source.frames,
  };
}
