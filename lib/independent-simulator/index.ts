/** The independent simulator (issue #10): see simulate.ts. Shares no code with lib/simulate. */
export { airyDensity, airyEncircledEnergy, airyFirstZeroNm, gaussianEquivalentSigmaNm, psfProfile, renderEmitter, RadialProfile, type Optics } from './airy-psf.js';
export { drawBackgroundMap, type BackgroundOptions } from './background.js';
export { besselJ0, besselJ1 } from './bessel.js';
export { aduPerPhotonOf, drawScmosMaps, exposeEmccd, exposeScmos, type EmccdCamera, type IndependentCamera, type ScmosCamera, type ScmosMaps } from './cameras.js';
export { BENCHMARK_LIKE_EMCCD, meanGaussianEquivalentSigmaNm, SCMOS_107NM, settingsInEstimateTerms, type IndependentConditions } from './presets.js';
export { IndependentRng, lnGamma } from './rng.js';
export { simulateIndependentStack, type IndependentSimulation, type IndependentSimulationOptions, type PhotonOptions } from './simulate.js';
export { drawStructure, type DrawnBundle, type DrawnStructure, type StructureSpec } from './structures.js';
export { formatTruthCsv, writeTruthCsv, type TruthRow } from './truth-csv.js';
