/**
 * The camera's noise model from the residuals of isolated spots' fits (sparse stacks), and the fits themselves (PSF
 * sigma, photons, background), which `estimate` also takes from the spots that stand alone in dense stacks.
 */
import { fitNoiseModel, type NoiseModel } from './noise-model.js';
import { fitSpot, type VarianceLine } from './spot-fit.js';
import { isolatedSpots } from './spots.js';

/** Fits whose weighted residuals are this much larger than the noise model allows hold more than one spot. */
const MAX_REDUCED_CHI2 = 1.6;
/** Fewest single spots the noise model is fitted to. */
const MIN_SPOTS = 300;
/** Share of converged spot fits the final noise model must explain (see the check in estimateConditions). */
const MIN_KEPT_SHARE = 0.5;
/** Pixels whose fit absorbed nearly all their noise say nothing about it. */
const MAX_LEVERAGE = 0.9;

export interface Fits {
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
export function fitFrames(frames: Float64Array[], width: number, height: number, half: number, sigma0: number, variance?: VarianceLine, maxSigma = Infinity, maxChi2 = MAX_REDUCED_CHI2): Fits {
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
      if (fit.sigma > maxSigma || (variance && fit.reducedChi2 > maxChi2)) continue;
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

/**
 * The camera from isolated spots' residuals (sparse stacks): unweighted fits give a first noise model; fits weighted
 * by it (maximum likelihood for shot noise, and leverages that hold at every brightness) give the final one. Two
 * weighted rounds: the first round's model is biased. Two emitters closer than the PSF's width pass for one wider
 * spot: the first round keeps the narrower half of the fits (a single emitter's width is the narrowest there is),
 * later rounds whatever is at most 25 % wider than that. Returns why not where the spots cannot tell.
 */
export function spotCamera(frames: Float64Array[], width: number, height: number, half: number, sigma0: number): { noise: NoiseModel; fits: Fits } | { reason: string } {
  let fits = fitFrames(frames, width, height, half, sigma0, undefined, sigma0);
  let noise: NoiseModel | undefined;
  for (let round = 0; round < 3; round++) {
    if (fits.sigma.length < MIN_SPOTS)
      return { reason: `only ${fits.sigma.length} isolated spots could be fitted in ${frames.length} frames (at least ${MIN_SPOTS} are needed to model the camera from them)` };
    noise = fitNoiseModel(Float64Array.from(fits.mu), Float64Array.from(fits.residual), Float64Array.from(fits.cube));
    if (!noise) return { reason: `the camera's noise could not be modelled from ${fits.sigma.length} spots` };
    if (round < 2) fits = fitFrames(frames, width, height, half, sigma0, noise.variance, 1.25 * sigma0);
  }
  const spots = fits.sigma.length;
  // Where emitters crowd, most "isolated" spots hide a neighbour: the noise model then fits few of them, and what it
  // says is not the camera. (Measured: >= 56 % of converged fits kept on stacks it gets right, 23 % on filaments at
  // 2 emitters/um^2, whose estimates were off by a factor 3; 45 % on the independent simulator's EMCCD at 3/um^2, gain
  // +40 %: such stacks go to the dense path.)
  if (spots < MIN_KEPT_SHARE * fits.converged) {
    return {
      reason: `emitters overlap too much to model the camera from spots: only ${spots} of ${fits.converged} fitted spots are single spots the noise model explains (at least ${100 * MIN_KEPT_SHARE} % are needed)`,
    };
  }
  return { noise: noise!, fits };
}
