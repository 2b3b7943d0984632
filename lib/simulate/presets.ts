/**
 * Microscopes that the estimator's tests and `npm run bench:estimate` draw with this simulator, named once so that the
 * copies cannot drift apart.
 */
import type { CameraOptions } from './camera.js';
import type { SimulationOptions } from './simulate.js';

/**
 * An sCMOS chip of 2 ADU per photon around 400 ADU, 3 ADU (1.5 e-) median read noise, with per-pixel maps: offsets
 * 2 ADU rms, gains 3 % and read noise 30 % apart.
 */
export const SCMOS_CHIP: CameraOptions = {
  emGain: 1,
  electronsPerAdu: 0.5,
  baselineAdu: 400,
  readNoiseAdu: 3,
  pixelVariation: { offsetSdAdu: 2, gainSdRelative: 0.03, readNoiseSdRelative: 0.3 },
};

/**
 * The sCMOS microscope (107 nm pixels, PSF sigma ~125 nm, 2000-3000 photons, 40 background photons) with a
 * Gaussian PSF, at 3 emitters per um^2 on filaments.
 */
export const SCMOS_107NM_GAUSSIAN: SimulationOptions = {
  pixelSizeNm: 107,
  densityPerUm2: 3,
  sigmaNm: [120, 130],
  photons: { kind: 'uniform', min: 2000, max: 3000 },
  backgroundPhotons: 40,
  camera: SCMOS_CHIP,
};

/**
 * The objective (PSF sigma ~125 nm) behind a 160 nm sCMOS camera, sigma ~0.78 px: the Gaussian-PSF twin of
 * the fit demo's 160 nm microscope (scripts/make-fit-demo.ts), on 48x48 px frames at 2.5 emitters per um^2 on
 * filaments, 1500-3500 photons, 40 background photons.
 */
export const SCMOS_160NM_GAUSSIAN: SimulationOptions = {
  pixelSizeNm: 160,
  width: 48,
  height: 48,
  densityPerUm2: 2.5,
  sigmaNm: [115, 135],
  photons: { kind: 'uniform', min: 1500, max: 3500 },
  backgroundPhotons: 40,
  camera: SCMOS_CHIP,
};
