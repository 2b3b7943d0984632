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
}

export interface ResolvedCamera {
  emGain: number;
  electronsPerAdu: number;
  baselineAdu: number;
  readNoiseAdu: number;
}

export const BENCHMARK_CAMERA: ResolvedCamera = { emGain: 100, electronsPerAdu: 50, baselineAdu: 100, readNoiseAdu: 0 };

/** Mean ADU per detected photon. */
export function aduPerPhoton(camera: ResolvedCamera): number {
  return (camera.emGain > 1 ? camera.emGain : 1) / camera.electronsPerAdu;
}

/** Turns one frame of expected photons per pixel into noisy uint16 ADU values. */
export function exposeFrame(rng: Random, expected: Float64Array, camera: ResolvedCamera, out: Uint16Array, outOffset: number): void {
  const em = camera.emGain > 1;
  for (let i = 0; i < expected.length; i++) {
    const photons = rng.poisson(expected[i]);
    const electrons = em ? (photons > 0 ? rng.gamma(photons, camera.emGain) : 0) : photons;
    let adu = electrons / camera.electronsPerAdu + camera.baselineAdu;
    if (camera.readNoiseAdu > 0) adu += camera.readNoiseAdu * rng.normal();
    out[outOffset + i] = Math.min(65535, Math.max(0, Math.round(adu)));
  }
}
