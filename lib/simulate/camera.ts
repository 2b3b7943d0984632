import type { Random } from './random.js';

/**
 * Camera model (ThunderSTORM's): photons -> Poisson shot noise -> optional EM multiplication (gamma distribution
 * with shape = photo-electrons, scale = EM gain) -> electrons / (electrons per ADU) -> + baseline -> + Gaussian read
 * noise -> rounded, clamped to uint16. Quantum efficiency is folded into the photon counts.
 */
export interface CameraOptions {
  /** EM gain; 0 or 1 means no EM stage (no excess noise). Default 100. */
  emGain?: number;
  /** Electrons per ADU count (A/D conversion). Default 50, i.e. 2 ADU per photon at EM gain 100. */
  electronsPerAdu?: number;
  /** Offset added to every pixel, ADU. Default 100. */
  baselineAdu?: number;
  /** Standard deviation of Gaussian read noise, ADU. Default 0. */
  readNoiseAdu?: number;
  /**
   * sCMOS pixel-to-pixel variation (each pixel its own amplifier): drawn once per stack from a generator of its own,
   * so a stack without it is bit for bit what it was before this option existed. Absent = every pixel alike.
   */
  pixelVariation?: PixelVariation;
}

/** Spreads of the per-pixel camera maps (standard deviations across pixels). */
export interface PixelVariation {
  /** Offset map: baseline + N(0, offsetSdAdu) per pixel, ADU. Default 0. */
  offsetSdAdu?: number;
  /** Gain map: gain x (1 + N(0, gainSdRelative)) per pixel. Default 0. */
  gainSdRelative?: number;
  /** Read-noise map: readNoiseAdu x lognormal spread with this relative sd per pixel (sCMOS's "salt" pixels). Default 0. */
  readNoiseSdRelative?: number;
  /** Seed of the maps' generator. Default 7. */
  seed?: number;
}

/** A camera whose every field is set. */
export interface ResolvedCamera {
  emGain: number;
  electronsPerAdu: number;
  baselineAdu: number;
  readNoiseAdu: number;
  pixelVariation?: PixelVariation;
}

/** Per-pixel offset (ADU), gain factor and read noise (ADU) of one frame size: what an sCMOS calibration measures. */
export interface PixelMaps {
  offsetAdu: Float64Array;
  gainFactor: Float64Array;
  readNoiseAdu: Float64Array;
}

export const BENCHMARK_CAMERA: ResolvedCamera = { emGain: 100, electronsPerAdu: 50, baselineAdu: 100, readNoiseAdu: 0 };

/** Mean ADU per detected photon. */
export function aduPerPhoton(camera: ResolvedCamera): number {
  return (camera.emGain > 1 ? camera.emGain : 1) / camera.electronsPerAdu;
}

/** Draws the per-pixel maps of `pixels` pixels, or undefined when the camera has no pixel variation. */
export function drawPixelMaps(camera: ResolvedCamera, pixels: number, makeRandom: (seed: number) => Random): PixelMaps | undefined {
  const v = camera.pixelVariation;
  if (!v) return undefined;
  const rng = makeRandom(v.seed ?? 7);
  const offsetAdu = new Float64Array(pixels);
  const gainFactor = new Float64Array(pixels);
  const readNoiseAdu = new Float64Array(pixels);
  const spread = v.readNoiseSdRelative ?? 0;
  // Lognormal read noise with median readNoiseAdu: a long upper tail, as measured sCMOS noise maps have.
  const sigmaLog = Math.sqrt(Math.log(1 + spread * spread));
  for (let i = 0; i < pixels; i++) {
    offsetAdu[i] = camera.baselineAdu + (v.offsetSdAdu ?? 0) * rng.normal();
    gainFactor[i] = Math.max(0.05, 1 + (v.gainSdRelative ?? 0) * rng.normal());
    readNoiseAdu[i] = camera.readNoiseAdu * Math.exp(sigmaLog * rng.normal());
  }
  return { offsetAdu, gainFactor, readNoiseAdu };
}

/** Turns one frame of expected photons per pixel into noisy uint16 ADU values (per-pixel maps: sCMOS). */
export function exposeFrame(rng: Random, expected: Float64Array, camera: ResolvedCamera, out: Uint16Array, outOffset: number, maps?: PixelMaps): void {
  const em = camera.emGain > 1;
  for (let i = 0; i < expected.length; i++) {
    const photons = rng.poisson(expected[i]);
    const electrons = em ? (photons > 0 ? rng.gamma(photons, camera.emGain) : 0) : photons;
    let adu = maps ? (electrons * maps.gainFactor[i]) / camera.electronsPerAdu + maps.offsetAdu[i] : electrons / camera.electronsPerAdu + camera.baselineAdu;
    const readNoise = maps ? maps.readNoiseAdu[i] : camera.readNoiseAdu;
    if (readNoise > 0) adu += readNoise * rng.normal();
    out[outOffset + i] = Math.min(65535, Math.max(0, Math.round(adu)));
  }
}
