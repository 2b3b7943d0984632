/**
 * A third simulator for judging `estimate`, deliberately as plain as one a user checking smlm-rt might write in an
 * afternoon, and sharing no code with lib/simulate or lib/independent-simulator: every frame draws its own emitters
 * (a Poisson number, placed uniformly over the whole field, edges included), each a Gaussian PSF (integrated over
 * the pixel, or sampled at its centre) of one width and photons drawn uniformly from a range, on a flat background;
 * exact Poisson photon counts; a camera with one gain, one baseline and Gaussian read noise (no per-pixel maps, no
 * gain spread), and optionally an EM register (each photoelectron count n multiplied into a gamma of shape n).
 *
 * Why a third: the two others share habits this one lacks. lib/simulate leaves a margin of ~5 px without emitters
 * and both give the chip a 3 % pixel gain spread, where data sheets give < 1 %; stacks like these found what they hid
 * (docs/estimate.md, "A third simulator").
 */
import type { MicroscopeConditions } from './simulate/conditions.js';
import type { Stack } from './types.js';

export interface NaiveConditions {
  sizePx: number;
  pixelSizeNm: number;
  sigmaNm: number;
  /** Photons per emitter, uniform in [min, max]. */
  photons: { min: number; max: number };
  backgroundPhotons: number;
  /** Emitters per um^2 per frame (the mean of each frame's Poisson number). */
  densityPerUm2: number;
  baselineAdu: number;
  aduPerPhoton: number;
  /** Read noise in photoelectrons at the input (an EMCCD's: its read noise over its EM gain). */
  readNoiseElectrons: number;
  /** 'integrated' over each pixel's square, or 'sampled' at its centre. */
  psf: 'integrated' | 'sampled';
  /** EM gain of an EMCCD's register; absent: none (sCMOS / CCD). aduPerPhoton includes it. */
  emGain?: number;
}

/** One emitter as drawn: frame (1-based), position (camera pixel i covers [i, i + 1) x pixelSizeNm), photons. */
export interface NaiveEmitter {
  frame: number;
  xNm: number;
  yNm: number;
  photons: number;
}

/** What `estimate` should read from such a stack, in its own terms. */
export function naiveTruth(c: NaiveConditions): Required<Omit<MicroscopeConditions, 'readNoiseAdu'>> {
  return {
    baselineAdu: c.baselineAdu,
    aduPerPhoton: c.aduPerPhoton,
    backgroundPhotons: c.backgroundPhotons,
    photonsMedian: (c.photons.min + c.photons.max) / 2,
    psfSigmaNm: c.sigmaNm,
    densityPerUm2: c.densityPerUm2,
    pixelSizeNm: c.pixelSizeNm,
    camera: c.emGain ? 'emccd' : 'scmos',
  };
}

/** xorshift32: small, fast, and unlike the other simulators' generators. */
function xorshift(seed: number): () => number {
  let s = (seed * 2654435761 + 1) >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return (s + 0.5) / 4294967296;
  };
}

/** Exact Poisson draws: Knuth's product of uniforms, in pieces of mean at most 30 (a sum of Poissons is Poisson). */
function poisson(uniform: () => number, mean: number): number {
  let count = 0;
  for (let left = mean; left > 0; left -= 30) {
    const limit = Math.exp(-Math.min(left, 30));
    let product = uniform();
    while (product > limit) {
      count++;
      product *= uniform();
    }
  }
  return count;
}

function gaussian(uniform: () => number): number {
  return Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
}

/** Gamma(shape, 1) for shape >= 1 (Marsaglia and Tsang's squeeze). */
function gamma(uniform: () => number, shape: number): number {
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    const x = gaussian(uniform);
    const v = (1 + c * x) ** 3;
    if (v <= 0) continue;
    const u = uniform();
    if (Math.log(u) < 0.5 * x * x + d - d * v + d * Math.log(v)) return d * v;
  }
}

/** erf to ~1e-7 (Abramowitz and Stegun 7.1.26). */
function erf(x: number): number {
  const t = 1 / (1 + 0.3275911 * Math.abs(x));
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-x * x);
  return x >= 0 ? y : -y;
}

export function simulateNaiveStack(c: NaiveConditions, seed: number, frames: number): Stack {
  return simulateNaive(c, seed, frames).stack;
}

/** The stack and the emitters drawn in it. */
export function simulateNaive(c: NaiveConditions, seed: number, frames: number): { stack: Stack; emitters: NaiveEmitter[] } {
  const uniform = xorshift(seed);
  const size = c.sizePx;
  const sigma = c.sigmaNm / c.pixelSizeNm;
  const reach = Math.ceil(4 * sigma);
  const meanEmitters = c.densityPerUm2 * ((size * c.pixelSizeNm) / 1000) ** 2;
  const data = new Uint16Array(frames * size * size);
  const light = new Float64Array(size * size);
  const drawn: NaiveEmitter[] = [];
  // Share of a PSF at x0 (px) that falls on the pixel [a, a + 1) along one axis, or its centre's density.
  const share = (a: number, x0: number): number =>
    c.psf === 'integrated'
      ? 0.5 * (erf((a + 1 - x0) / (Math.SQRT2 * sigma)) - erf((a - x0) / (Math.SQRT2 * sigma)))
      : Math.exp(-((a + 0.5 - x0) ** 2) / (2 * sigma * sigma)) / (Math.sqrt(2 * Math.PI) * sigma);
  for (let t = 0; t < frames; t++) {
    light.fill(c.backgroundPhotons);
    const emitters = poisson(uniform, meanEmitters);
    for (let k = 0; k < emitters; k++) {
      const x = uniform() * size;
      const y = uniform() * size;
      const photons = c.photons.min + uniform() * (c.photons.max - c.photons.min);
      drawn.push({ frame: t + 1, xNm: x * c.pixelSizeNm, yNm: y * c.pixelSizeNm, photons });
      for (let r = Math.max(0, Math.floor(y) - reach); r <= Math.min(size - 1, Math.floor(y) + reach); r++) {
        const sy = share(r, y);
        for (let col = Math.max(0, Math.floor(x) - reach); col <= Math.min(size - 1, Math.floor(x) + reach); col++) {
          light[r * size + col] += photons * sy * share(col, x);
        }
      }
    }
    for (let i = 0; i < size * size; i++) {
      const photoelectrons = poisson(uniform, light[i]);
      // An EM register's output over its gain: given n, mean n and variance n; with the count's own Poisson variance,
      // twice the shot noise (the excess noise factor 2).
      const amplified = c.emGain && photoelectrons > 0 ? gamma(uniform, photoelectrons) : photoelectrons;
      const electrons = amplified + c.readNoiseElectrons * gaussian(uniform);
      data[t * size * size + i] = Math.max(0, Math.min(65535, Math.round(c.baselineAdu + c.aduPerPhoton * electrons)));
    }
  }
  return { stack: { data, frames, width: size, height: size, pixelSizeNm: c.pixelSizeNm }, emitters: drawn };
}

/** The microscope (107 nm, sigma 125 nm, 2500 photons, 40 background photons, baseline 400 ADU) on 64 px. */
export const NAIVE_107NM: NaiveConditions = {
  sizePx: 64,
  pixelSizeNm: 107,
  sigmaNm: 125,
  photons: { min: 2000, max: 3000 },
  backgroundPhotons: 40,
  densityPerUm2: 1,
  baselineAdu: 400,
  aduPerPhoton: 2,
  readNoiseElectrons: 1.5,
  psf: 'integrated',
};
