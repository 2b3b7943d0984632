import { SmlmError } from '../errors.js';
import { parseModelHead, type ModelHead } from './head.js';

/**
 * The contract between a trained model and smlm-rt. Everything model-specific travels inside the ONNX file as
 * metadata_props (string key -> string value); nothing here is guessed from the graph.
 *
 * Graph contract: one input named `frames`, float32 [N, 1, H, W] holding *normalized* frames (see `normalization`);
 * one output named `maps`, float32 [N, 1, H*upsampling, W*upsampling], the raw network output. smlm-rt clamps
 * negatives to zero, sums the frames and divides by `outputScale`. A model with a localization head (`smlm.head`,
 * lib/model/head.ts) instead has one output named `detections`, float32 [N, 5*g*g, H, W] (g = the head's grid), rendered by smlm-rt.
 */
export const METADATA_KEYS = {
  format: 'smlm.format',
  architecture: 'smlm.architecture',
  upsampling: 'smlm.upsampling',
  cameraPixelNm: 'smlm.camera_pixel_nm',
  outputPixelNm: 'smlm.output_pixel_nm',
  normalization: 'smlm.normalization',
  outputScale: 'smlm.output_scale',
  sizeMultiple: 'smlm.size_multiple',
  minSize: 'smlm.min_size',
  training: 'smlm.training',
  head: 'smlm.head',
} as const;

export const METADATA_FORMAT_VERSION = '1';

/** Deep-STORM's normalization: each frame min-max scaled to [0,1], then z-scored with dataset constants. */
export interface MinMaxZScoreNormalization {
  kind: 'minmax-zscore';
  mean: number;
  std: number;
}
export type Normalization = MinMaxZScoreNormalization;

export interface ModelMetadata {
  architecture: string;
  /** Output grid is this many times finer than the camera grid, per axis. */
  upsampling: number;
  /** Camera pixel pitch the model was trained for, nm. */
  cameraPixelNm: number;
  /** Output pixel pitch, nm (cameraPixelNm / upsampling). */
  outputPixelNm: number;
  normalization: Normalization;
  /** Network output divided by this is in expected emitters per output pixel. */
  outputScale: number;
  /** Frame height and width must be multiples of this. */
  sizeMultiple: number;
  /** Smallest frame height/width the model accepts. */
  minSize: number;
  /** Free-form provenance: training data seed, epochs, validation figures, GPU, duration. */
  training: Record<string, unknown>;
  /** The output head; absent = a maps head (what every model before `smlm.head` existed is). */
  head?: ModelHead;
}

function invalid(message: string, source: string): SmlmError {
  return new SmlmError('E_MODEL_INVALID', `${source}: ${message}`, { source });
}

/**
 * What a metadata value may be. A model states its own units and scale, and a value outside these bounds is never a
 * real model's: an output scale of 5e-324 turns every image into Infinity, a camera pixel of 1e9 nm into nonsense
 * coordinates. The bounds are wide (several orders of magnitude past any trained model) so that they only catch lies.
 */
export const METADATA_LIMITS = {
  upsampling: { min: 1, max: 16 },
  pixelNm: { min: 0.01, max: 1e5 },
  outputScale: { min: 1e-6, max: 1e6 },
  normalizationMean: { min: -1e6, max: 1e6 },
  normalizationStd: { min: 1e-9, max: 1e6 },
  sizeMultiple: { min: 1, max: 1024 },
  minSize: { min: 1, max: 4096 },
} as const;

function checkRange(value: number, key: string, range: { min: number; max: number }, source: string, raw: unknown = value): number {
  if (!Number.isFinite(value) || value < range.min || value > range.max) {
    throw invalid(`metadata "${key}" must be a number from ${range.min} to ${range.max}, got "${String(raw)}"`, source);
  }
  return value;
}

function numberInRange(props: Record<string, string>, key: string, range: { min: number; max: number }, source: string): number {
  const raw = props[key];
  if (raw === undefined) throw invalid(`missing metadata "${key}"; smlm-rt models carry their parameters in ONNX metadata_props`, source);
  // Number('') is 0 and Number(' 8 ') is 8: only a plain numeral counts.
  return checkRange(raw.trim() === raw && raw !== '' ? Number(raw) : NaN, key, range, source, raw);
}

function jsonObject(props: Record<string, string>, key: string, source: string): Record<string, unknown> {
  const raw = props[key];
  if (raw === undefined) throw invalid(`missing metadata "${key}"`, source);
  try {
    const value: unknown = JSON.parse(raw);
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error('not an object');
    return value as Record<string, unknown>;
  } catch {
    throw invalid(`metadata "${key}" must be a JSON object, got "${raw.slice(0, 80)}"`, source);
  }
}

/** Validates ONNX metadata_props and returns the typed metadata; throws E_MODEL_INVALID with the reason. */
export function parseModelMetadata(props: Record<string, string>, source: string): ModelMetadata {
  const format = props[METADATA_KEYS.format];
  if (format === undefined) {
    throw invalid(`not an smlm-rt model (no "${METADATA_KEYS.format}" metadata); export it with scripts/train.py or add the metadata`, source);
  }
  if (format !== METADATA_FORMAT_VERSION) throw invalid(`metadata format "${format}" is not supported (expected "${METADATA_FORMAT_VERSION}")`, source);
  const architecture = props[METADATA_KEYS.architecture];
  if (!architecture) throw invalid(`missing metadata "${METADATA_KEYS.architecture}"`, source);
  const upsampling = numberInRange(props, METADATA_KEYS.upsampling, METADATA_LIMITS.upsampling, source);
  if (!Number.isInteger(upsampling)) throw invalid(`"${METADATA_KEYS.upsampling}" must be an integer`, source);
  const norm = jsonObject(props, METADATA_KEYS.normalization, source);
  if (norm.kind !== 'minmax-zscore' || typeof norm.mean !== 'number' || typeof norm.std !== 'number' || !(norm.std > 0)) {
    throw invalid(`"${METADATA_KEYS.normalization}" must be {"kind":"minmax-zscore","mean":number,"std":number>0}`, source);
  }
  // JSON reads 1e999 as Infinity: the constants are range-checked like every other number.
  checkRange(norm.mean, `${METADATA_KEYS.normalization}.mean`, METADATA_LIMITS.normalizationMean, source);
  checkRange(norm.std, `${METADATA_KEYS.normalization}.std`, METADATA_LIMITS.normalizationStd, source);
  const sizeMultiple = numberInRange(props, METADATA_KEYS.sizeMultiple, METADATA_LIMITS.sizeMultiple, source);
  const minSize = numberInRange(props, METADATA_KEYS.minSize, METADATA_LIMITS.minSize, source);
  if (!Number.isInteger(sizeMultiple) || !Number.isInteger(minSize)) throw invalid('size_multiple and min_size must be integers', source);
  return {
    architecture,
    upsampling,
    cameraPixelNm: numberInRange(props, METADATA_KEYS.cameraPixelNm, METADATA_LIMITS.pixelNm, source),
    outputPixelNm: numberInRange(props, METADATA_KEYS.outputPixelNm, METADATA_LIMITS.pixelNm, source),
    normalization: { kind: 'minmax-zscore', mean: norm.mean, std: norm.std },
    outputScale: numberInRange(props, METADATA_KEYS.outputScale, METADATA_LIMITS.outputScale, source),
    sizeMultiple,
    minSize,
    training: props[METADATA_KEYS.training] === undefined ? {} : jsonObject(props, METADATA_KEYS.training, source),
    ...(props[METADATA_KEYS.head] === undefined ? {} : { head: parseModelHead(jsonObject(props, METADATA_KEYS.head, source), METADATA_KEYS.head, source, upsampling) }),
  };
}

/** The inverse of parseModelMetadata, for exporters and tests. */
export function serializeModelMetadata(meta: ModelMetadata): Record<string, string> {
  return {
    [METADATA_KEYS.format]: METADATA_FORMAT_VERSION,
    [METADATA_KEYS.architecture]: meta.architecture,
    [METADATA_KEYS.upsampling]: String(meta.upsampling),
    [METADATA_KEYS.cameraPixelNm]: String(meta.cameraPixelNm),
    [METADATA_KEYS.outputPixelNm]: String(meta.outputPixelNm),
    [METADATA_KEYS.normalization]: JSON.stringify(meta.normalization),
    [METADATA_KEYS.outputScale]: String(meta.outputScale),
    [METADATA_KEYS.sizeMultiple]: String(meta.sizeMultiple),
    [METADATA_KEYS.minSize]: String(meta.minSize),
    [METADATA_KEYS.training]: JSON.stringify(meta.training),
    ...(meta.head ? { [METADATA_KEYS.head]: JSON.stringify(meta.head) } : {}),
  };
}
