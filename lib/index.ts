/**
 * smlm-rt: deep-learning reconstruction of high-density SMLM stacks.
 *
 *   import { Reconstructor, readTiffStack, writeFloatTiff } from 'smlm-rt';
 *   const rec = await Reconstructor.create({ model: 'unet', backend: 'auto' });
 *   const sr = await rec.reconstruct(await readTiffStack('stack.tif'), { onProgress: console.log });
 *   await writeFloatTiff('sr.tif', sr.image, sr.width, sr.height, { pixelSizeNm: sr.pixelSizeNm });
 *   await rec.close();
 *
 * Frames arriving over time (a camera): `const live = await rec.live({ height, width })`, `await live.push(frames)`,
 * `await live.snapshot()`, `await live.finish()` (lib/live.ts).
 */
export { Reconstructor, reconstruct } from './reconstructor.js';
export type { LiveOptions, LivePushOptions, LiveSession, LiveSnapshot, LiveState } from './live.js';
export { SmlmError, isSmlmError, type SmlmErrorCode } from './errors.js';
export type {
  BackendChoice,
  BackendName,
  FramePreparation,
  DetectionFrames,
  PixelArray,
  Precision,
  Progress,
  ReconstructCallOptions,
  ReconstructionResult,
  ReconstructorOptions,
  Stack,
  Timings,
} from './types.js';
export { listModels, resolveModel, defaultModelName, modelsDir, type ModelInfo } from './model/registry.js';
export { loadOnnxModel, type LoadedModel } from './model/onnx.js';
export { parseModelMetadata, serializeModelMetadata, METADATA_KEYS, type ModelMetadata, type Normalization } from './model/metadata.js';
export { localizationHeadOf, LOCALIZATION_CHANNELS, type ModelHead, type MapsHead, type LocalizationHead, type LocalizationRender } from './model/head.js';
export { normalizeFrames } from './preprocess.js';
export { validateStack } from './io/validate-stack.js';
export { openTiffStack, readTiffStack, type TiffStackSource, type TiffSampleType } from './io/tiff-read.js';
export { stackAsSource, type FrameSource } from './io/frame-source.js';
export { encodeFloatTiff, encodeStackTiff, writeFloatTiff, writeStackTiff } from './io/tiff-write.js';
export { encodePreviewPng, renderPreview, writePngPreview, type PreviewOptions } from './io/png.js';
export { gpuUsable } from './backends/select.js';
export {
  simulateStack,
  BENCHMARK_CONDITIONS,
  Random,
  readThunderstormCsv,
  writeThunderstormCsv,
  parseThunderstormCsv,
  formatThunderstormCsv,
  type SimulationOptions,
  type SimulatedStack,
  type PhotonDistribution,
  type CameraOptions,
  type PixelVariation,
  type StructureOptions,
  type Emitter,
  checkConditions,
  readConditionsFile,
  simulationOptionsFor,
  type MicroscopeConditions,
} from './simulate/index.js';
export { trainModel, type TrainOptions, type TrainResult } from './train/train.js';
export { checkTrainingEnvironment, type TrainingEnvironment } from './train/environment.js';
export { estimateConditions, type ImagingConditions, type EstimateOptions } from './estimate/estimate.js';
export { parseFrameRange, selectFrames, type FrameRange } from './io/frame-range.js';
export { openStackInput, resolveStackPaths, type StackInput } from './io/stack-input.js';
export { openTiffFiles, type TiffFilesSource } from './io/tiff-files.js';
export { groundTruthImage, gaussianBlur, compareImages, type ImageComparison, type ErrorFigures, type Position } from './metrics.js';
export { localizeMaps, localizeCamera, matchLocalizations, findPeaks, type Localization, type MatchFigures, type MapLocalizeOptions } from './localize.js';
export { localizeDetections, DEFAULT_DETECTION_THRESHOLD, type DetectionLocalization, type DetectionLocalizeOptions } from './localize-detections.js';
export { renderDetections, type DetectionGrid } from './render-detections.js';
