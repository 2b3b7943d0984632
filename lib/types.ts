import type { FrameRange } from './io/frame-range.js';
/** Pixel data of one stack, frame-major: frames x height x width, row-major inside a frame. */
export type PixelArray = Uint8Array | Uint16Array | Float32Array;

/** A stack of camera frames. `pixelSizeNm` is the camera pixel pitch in the sample plane, when known. */
export interface Stack {
  data: PixelArray;
  frames: number;
  height: number;
  width: number;
  pixelSizeNm?: number;
}

export type BackendName = 'cpu' | 'cuda' | 'tensorrt';
export type BackendChoice = 'auto' | BackendName;
export type Precision = 'fp32' | 'fp16';

export interface ReconstructorOptions {
  /** A bundled model name (see `listModels()`) or a path to an ONNX file carrying smlm-rt metadata. Default: the bundled default. */
  model?: string;
  /** `auto` picks `cuda` where a GPU is usable, else `cpu`. */
  backend?: BackendChoice;
  /** Frames per inference batch. Default depends on the backend. */
  batchSize?: number;
  /** `fp16` is the GPU default; the CPU backend always computes in fp32. */
  precision?: Precision;
  /** CUDA device ordinal. */
  device?: number;
}

export interface Progress {
  framesDone: number;
  framesTotal: number;
}

export interface ReconstructCallOptions {
  signal?: AbortSignal;
  /** Only these frames of the stack (1-based, inclusive: { from: 100, to: 5000 }). */
  frames?: FrameRange;
  /**
   * Camera pixel size, nm (10..10000): overrides or supplies the stack's own. A stack's calibration outside
   * 10 nm..10 um is ignored (result.preparation.ignoredCalibration says so); without either, the model's is assumed.
   */
  pixelSizeNm?: number;
  /**
   * Resample frames to the model's camera pixel size when theirs differs by more than 2 %: 'auto' (default) only
   * frames with smaller pixels (area averaging; upsampling larger pixels was measured to cost precision, see
   * lib/frames/prepare.ts), 'always' both ways (bilinear to smaller pixels), 'never'.
   */
  resample?: 'auto' | 'always' | 'never';
  /** Pad frames to a size the model takes and crop the result back. Default true; false: E_FRAME_SIZE_UNSUPPORTED. */
  padFrames?: boolean;
  onProgress?: (progress: Progress) => void;
  /**
   * Also return every frame's map (frames x outHeight x outWidth). Costs 4 bytes per map pixel; needed for
   * localization. Maps needing more than half of this machine's memory (or more than one Float32Array can hold) are
   * refused with E_BAD_OPTIONS before any work: reconstruct fewer frames per call then.
   */
  keepFrameMaps?: boolean;
  /**
   * For a model with a localization head (lib/model/head.ts): called with each batch's raw `detections`
   * (count x 5g^2 x height x width at camera resolution, g = the head's grid; `firstFrame` 0-based in this call's stack) by backends that
   * have them. The `cpu` backend does; the GPU backends render on the device and do not call it (use the frame maps
   * there). The array is only valid during the call.
   */
  onDetections?: (detections: Float32Array, firstFrame: number, count: number, grid: DetectionFrames) => void;
}

export interface Timings {
  /** Wall time of the whole call, in ms. */
  totalMs: number;
  /** Time spent in inference (device time for GPU backends), in ms. */
  inferenceMs: number;
  /** Preprocessing / upload time, in ms. */
  preprocessMs: number;
}

/** What was done to the frames before inference (lib/frames/prepare.ts). */
/**
 * Where a batch of detections lies: the frames as the model ran them (after resampling to its pixels and padding at
 * the bottom and right), their camera pixel, and the extent of the frames as given, nm (detections beyond it are in
 * the padding).
 */
export interface DetectionFrames {
  height: number;
  width: number;
  cameraPixelNm: number;
  fieldWidthNm: number;
  fieldHeightNm: number;
}

export interface FramePreparation {
  /** The camera pixel size the frames were taken to have, nm, and where it came from. */
  cameraPixelNm: number;
  pixelSizeSource: 'option' | 'file' | 'model';
  /** Set when the stack's calibration was absurd and ignored: says what it was. */
  ignoredCalibration?: string;
  /** Why frames whose pixel size differs from the model's were not resampled (resample: 'auto', larger pixels). */
  notResampled?: string;
  /** Frames resampled from the camera's pixel size to the model's: on the host, or on the device by a GPU session. */
  resampled?: {
    fromNm: number;
    toNm: number;
    from: { height: number; width: number };
    to: { height: number; width: number };
    method: 'area' | 'bilinear';
    where: 'host' | 'device';
  };
  /** Frames padded (mirrored at the bottom and right) to a size the model takes; the result is cropped back. */
  padded?: { from: { height: number; width: number }; to: { height: number; width: number }; mode: 'reflect' };
}

export interface ReconstructionResult {
  /**
   * The super-resolution image, height x width, row-major, in expected localizations per output pixel (the model's
   * output scale is calibrated at its training conditions; brighter emitters read proportionally higher).
   */
  image: Float32Array;
  width: number;
  height: number;
  /** Output pixel pitch in nm. */
  pixelSizeNm: number;
  frames: number;
  /** 1-based index, in the stack, of the first frame reconstructed (1 unless a frame range was given). */
  firstFrame: number;
  /** Pixel size, resampling and padding applied to the frames. */
  preparation: FramePreparation;
  /** Same as preparation.resampled, when frames were resampled. */
  resampled?: FramePreparation['resampled'];
  backend: BackendName;
  model: string;
  timings: Timings;
  /** Present when `keepFrameMaps` was set: frames x height x width. */
  frameMaps?: Float32Array;
}
