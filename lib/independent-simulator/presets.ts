/**
 * Imaging conditions for the independent simulator's evaluation stacks (benchmarks/evaluation-data.ts adds seeds and
 * frame counts). Chosen to match the figures users quote for their data, not the main simulator's parameters.
 */
import { gaussianEquivalentSigmaNm } from './airy-psf.js';
import { aduPerPhotonOf } from './cameras.js';
import type { IndependentSimulationOptions } from './simulate.js';

export type IndependentConditions = Omit<IndependentSimulationOptions, 'seed' | 'frames'>;

/**
 * The benchmark's conditions (../shared/data/README.md) rendered differently: 64x64 px of 100 nm, ~5.5 emitters per
 * um^2 on bundles of 2-4 filaments (10 % scattered), Airy PSF of lambda 670 nm at NA 1.3 (Gaussian-equivalent sigma
 * 108 nm in focus, ~110 nm with the 0-30 nm broadening), log-normal photons of median 1450 (95 % within ~990-2120),
 * background 20 photons/px on average (gradient and haze), EMCCD at EM gain 100 and 2 ADU per photon, baseline 100.
 */
export const BENCHMARK_LIKE_EMCCD: IndependentConditions = {
  width: 64,
  height: 64,
  pixelSizeNm: 100,
  optics: { wavelengthNm: 670, numericalAperture: 1.3 },
  broadeningNm: [0, 30],
  structure: {
    filaments: {
      bundles: [4, 7],
      membersPerBundle: [2, 4],
      spacingNm: [20, 60],
      persistenceNm: [3000, 15000],
      lengthNm: [5000, 12000],
      tubeRadiusNm: 15,
      labelsPerUm: 80,
    },
    labelJitterNm: 5,
  },
  densityPerUm2: 5.5,
  freeEmitterFraction: 0.1,
  photons: { median: 1450, logSigma: 0.2 },
  background: { meanPhotons: 20, gradient: 0.25, haze: 0.2, flicker: 0.03 },
  camera: { kind: 'emccd', emGain: 100, electronsPerAdu: 50, baselineAdu: 100, readNoiseElectrons: 20 },
};

/**
 * An sCMOS microscope: 64x64 px of 107 nm, Airy PSF of lambda 680 nm at NA 1.2 broadened by 0-60 nm (Gaussian-
 * equivalent sigma ~125 nm), log-normal photons of median 2500, background 40 photons/px, 4.5 emitters per um^2 on
 * filament bundles, rings and clusters (15 % scattered), a chip with offsets around 400 ADU, 2 ADU per electron
 * (+-3 %) and a median read noise of 1.5 electrons.
 */
export const SCMOS_107NM: IndependentConditions = {
  width: 64,
  height: 64,
  pixelSizeNm: 107,
  optics: { wavelengthNm: 680, numericalAperture: 1.2 },
  broadeningNm: [0, 60],
  structure: {
    filaments: {
      bundles: [3, 6],
      membersPerBundle: [2, 4],
      spacingNm: [20, 60],
      persistenceNm: [2000, 10000],
      lengthNm: [4000, 10000],
      tubeRadiusNm: 15,
      labelsPerUm: 80,
    },
    rings: { count: 6, radiusNm: 55, corners: 8, labelsPerCorner: 4 },
    clusters: { count: 4, sigmaNm: 40, labelsPerCluster: 60 },
    labelJitterNm: 5,
  },
  densityPerUm2: 4.5,
  freeEmitterFraction: 0.15,
  photons: { median: 2500, logSigma: 0.3 },
  background: { meanPhotons: 40, gradient: 0.3, haze: 0.25, flicker: 0.03 },
  camera: {
    kind: 'scmos',
    chipSeed: 7001,
    baselineAdu: 400,
    offsetSpreadAdu: 3,
    gainAduPerElectron: 2,
    gainSpread: 0.03,
    readNoiseMedianElectrons: 1.5,
    readNoiseLogSpread: 0.35,
  },
};

/** The mean Gaussian-equivalent PSF sigma of a set of conditions (broadening uniform over its range), nm. */
export function meanGaussianEquivalentSigmaNm(c: Pick<IndependentConditions, 'optics' | 'broadeningNm'>): number {
  const [b0, b1] = c.broadeningNm;
  // E[b^2] for b uniform in [b0, b1].
  const meanSquare = (b0 * b0 + b0 * b1 + b1 * b1) / 3;
  return gaussianEquivalentSigmaNm(c.optics, Math.sqrt(meanSquare));
}

/**
 * The conditions in `estimate`'s terms (the first keys of its JSON): what its figures on these stacks are checked
 * against.
 */
export function settingsInEstimateTerms(c: IndependentConditions) {
  return {
    baselineAdu: c.camera.baselineAdu,
    aduPerPhoton: aduPerPhotonOf(c.camera),
    backgroundPhotons: c.background.meanPhotons,
    photonsMedian: c.photons.median,
    psfSigmaNm: meanGaussianEquivalentSigmaNm(c),
    densityPerUm2: c.densityPerUm2,
    pixelSizeNm: c.pixelSizeNm,
    camera: c.camera.kind,
  };
}
