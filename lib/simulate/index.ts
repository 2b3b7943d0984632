/** The simulator: ThunderSTORM-equivalent SMLM camera stacks with ground truth. */
export { Random } from './random.js';
export { erf, gaussianMass, addIntegratedGaussian } from './psf.js';
export { drawStructure, StructureSampler, type Structure, type StructureOptions, type FilamentOptions, type UniformOptions } from './structures.js';
export { aduPerPhoton, exposeFrame, drawPixelMaps, BENCHMARK_CAMERA, type CameraOptions, type ResolvedCamera, type PixelVariation, type PixelMaps } from './camera.js';
export { simulateStack, BENCHMARK_CONDITIONS, type SimulationOptions, type SimulatedStack, type PhotonDistribution } from './simulate.js';
export {
  formatThunderstormCsv,
  parseThunderstormCsv,
  readThunderstormCsv,
  writeThunderstormCsv,
  THUNDERSTORM_COLUMNS,
  type Emitter,
} from './csv.js';
export { makeTrainingSet, drawTrainingConditions, encodeTrainingSet, decodeTrainingSet, TRAINING_MAGIC, type TrainingSet, type TrainingSetOptions } from './training-set.js';
export { SCMOS_CHIP, SCMOS_107NM_GAUSSIAN, SCMOS_160NM_GAUSSIAN } from './presets.js';
export { checkConditions, readConditionsFile, simulatedConditions, simulationOptionsFor, CONDITION_KEYS, type MicroscopeConditions } from './conditions.js';
