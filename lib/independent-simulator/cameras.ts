/**
 * Camera models of the independent simulator, written apart from lib/simulate/camera.ts:
 *
 * - sCMOS: every pixel has its own offset (ADU), gain (ADU per electron) and read noise (electrons, log-normal across
 *   the chip: a few noisy pixels, as real sCMOS sensors have). The maps are drawn once per camera from the camera's
 *   own seed, so several stacks can share one chip. ADU = offset + gain * (Poisson(photons) + read * N(0,1)), so
 *   mean = offset + gain * photons and variance = gain^2 * photons + (gain * read)^2.
 * - EMCCD: Poisson photo-electrons, then the electron-multiplying register as a gamma distribution of shape n and
 *   scale = EM gain (its output for n input electrons; excess noise factor F^2 -> 2 at high gain), then read noise
 *   (electrons after gain), then ADU = baseline + electrons / electronsPerAdu.
 *
 * Both round to the nearest integer ADU and clip to [0, 65535] (uint16).
 */
import { SmlmError } from '../errors.js';
import { IndependentRng } from './rng.js';

export interface ScmosCamera {
  kind: 'scmos';
  /** Seed of the per-pixel maps (the chip), independent of the stack's seed. */
  chipSeed: number;
  /** Mean pixel offset, ADU. */
  baselineAdu: number;
  /** Standard deviation of the pixel offsets around the baseline, ADU. */
  offsetSpreadAdu: number;
  /** Mean gain, ADU per electron. */
  gainAduPerElectron: number;
  /** Relative standard deviation of the pixel gains (e.g. 0.03). */
  gainSpread: number;
  /** Median read noise, electrons rms. */
  readNoiseMedianElectrons: number;
  /** Log-space sigma of the read noise across pixels (0.3 gives a tail of pixels at 2-3x the median). */
  readNoiseLogSpread: number;
}

export interface EmccdCamera {
  kind: 'emccd';
  emGain: number;
  /** Electrons (after EM gain) per ADU. ADU per photon = emGain / electronsPerAdu. */
  electronsPerAdu: number;
  baselineAdu: number;
  /** Read noise after the EM register, electrons rms. */
  readNoiseElectrons: number;
}

export type IndependentCamera = ScmosCamera | EmccdCamera;

/** The per-pixel maps of one sCMOS chip (row-major, height x width). */
export interface ScmosMaps {
  offsetAdu: Float64Array;
  gainAduPerElectron: Float64Array;
  readNoiseElectrons: Float64Array;
}

function bad(message: string): SmlmError {
  return new SmlmError('E_BAD_OPTIONS', `independent simulator camera: ${message}`);
}

export function checkCamera(c: IndependentCamera): void {
  const nonNegative = (v: number, name: string) => {
    if (!(Number.isFinite(v) && v >= 0)) throw bad(`${name} must be a finite number >= 0, got ${v}`);
  };
  if (c.kind === 'scmos') {
    nonNegative(c.baselineAdu, 'baselineAdu');
    nonNegative(c.offsetSpreadAdu, 'offsetSpreadAdu');
    if (!(c.gainAduPerElectron > 0)) throw bad(`gainAduPerElectron must be > 0, got ${c.gainAduPerElectron}`);
    if (!(c.gainSpread >= 0 && c.gainSpread < 0.3)) throw bad(`gainSpread must be in [0, 0.3), got ${c.gainSpread}`);
    nonNegative(c.readNoiseMedianElectrons, 'readNoiseMedianElectrons');
    nonNegative(c.readNoiseLogSpread, 'readNoiseLogSpread');
  } else if (c.kind === 'emccd') {
    if (!(c.emGain >= 1)) throw bad(`emGain must be >= 1, got ${c.emGain}`);
    if (!(c.electronsPerAdu > 0)) throw bad(`electronsPerAdu must be > 0, got ${c.electronsPerAdu}`);
    nonNegative(c.baselineAdu, 'baselineAdu');
    nonNegative(c.readNoiseElectrons, 'readNoiseElectrons');
  } else {
    throw bad(`unknown camera kind ${JSON.stringify((c as { kind: unknown }).kind)}`);
  }
}

/** Mean ADU per detected photon (for converting photon figures into ADU, e.g. in reports). */
export function aduPerPhotonOf(c: IndependentCamera): number {
  return c.kind === 'scmos' ? c.gainAduPerElectron : c.emGain / c.electronsPerAdu;
}

/** Draws the chip's maps from its own seed (equal seed and size give equal maps). */
export function drawScmosMaps(c: ScmosCamera, width: number, height: number): ScmosMaps {
  const rng = new IndependentRng(c.chipSeed);
  const n = width * height;
  const maps: ScmosMaps = { offsetAdu: new Float64Array(n), gainAduPerElectron: new Float64Array(n), readNoiseElectrons: new Float64Array(n) };
  for (let i = 0; i < n; i++) {
    maps.offsetAdu[i] = c.baselineAdu + c.offsetSpreadAdu * rng.gaussian();
    // Gains stay positive: the spread is limited to < 0.3 and the draw is clipped at 4 sigma.
    maps.gainAduPerElectron[i] = c.gainAduPerElectron * (1 + c.gainSpread * Math.max(-4, Math.min(4, rng.gaussian())));
    maps.readNoiseElectrons[i] = rng.logNormal(c.readNoiseMedianElectrons, c.readNoiseLogSpread);
  }
  return maps;
}

function toUint16(adu: number): number {
  const v = Math.round(adu);
  return v < 0 ? 0 : v > 65535 ? 65535 : v;
}

/** One frame of expected photons per pixel -> uint16 ADU through an sCMOS chip. */
export function exposeScmos(rng: IndependentRng, photons: Float64Array, maps: ScmosMaps, out: Uint16Array, at: number): void {
  for (let i = 0; i < photons.length; i++) {
    const electrons = rng.poisson(photons[i]) + maps.readNoiseElectrons[i] * rng.gaussian();
    out[at + i] = toUint16(maps.offsetAdu[i] + maps.gainAduPerElectron[i] * electrons);
  }
}

/** One frame of expected photons per pixel -> uint16 ADU through an EMCCD. */
export function exposeEmccd(rng: IndependentRng, photons: Float64Array, c: EmccdCamera, out: Uint16Array, at: number): void {
  for (let i = 0; i < photons.length; i++) {
    const n = rng.poisson(photons[i]);
    let electrons = n > 0 ? (c.emGain > 1 ? rng.gammaVariate(n, c.emGain) : n) : 0;
    if (c.readNoiseElectrons > 0) electrons += c.readNoiseElectrons * rng.gaussian();
    out[at + i] = toUint16(c.baselineAdu + electrons / c.electronsPerAdu);
  }
}
