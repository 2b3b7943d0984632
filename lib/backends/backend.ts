import type { PreparationPlan } from '../frames/prepare.js';
import type { BackendName, Progress, Stack } from '../types.js';

export interface BackendRunOptions {
  batchSize: number;
  signal?: AbortSignal;
  onProgress?: (progress: Progress) => void;
  /** When given (frames x outH x outW), every frame's clamped map is written here too. */
  frameMaps?: Float32Array;
  /** Localization-head models: each batch's raw detections (count x 5g^2 x H x W, g = the head's grid), if this backend has them (cpu). */
  onDetections?: (detections: Float32Array, firstFrame: number, count: number) => void;
}

export interface BackendRunTimings {
  inferenceMs: number;
  preprocessMs: number;
}

/**
 * What every backend does: run the model over all frames of a stack in batches, clamp each frame's map at zero and
 * add it into `image` (outH x outW, fp32, raw network units: the caller divides by the model's outputScale).
 * A backend never sees two calls at once: Reconstructor queues them.
 */
export interface InferenceBackend {
  readonly name: BackendName;
  run(stack: Stack, image: Float32Array, options: BackendRunOptions): Promise<BackendRunTimings>;
  close(): Promise<void>;
}

export interface SessionGeometry {
  /** Frame size of the pushed chunks (after host preparation, unless rawFrames below). */
  height: number;
  width: number;
  /** Multiplies the summed image when it is read (snapshot/finish): 1 / model outputScale. */
  scale: number;
  batchSize: number;
  /** Frame preparation the session may apply itself (device-side resampling/padding); see `preparesFrames`. */
  preparation?: PreparationPlan;
}

export interface BackendSession {
  /** True when push() takes raw source chunks and applies geometry.preparation itself (GPU: on the device). */
  readonly preparesFrames: boolean;
  /** Runs the chunk and adds its clamped maps into the session's image (device memory for GPU backends).
   *  Resolves when the chunk's frames are done; rejects with SmlmError (E_ABORTED on signal). */
  push(
    chunk: Stack,
    options: {
      signal?: AbortSignal;
      onProgress?: (p: Progress) => void;
      frameMaps?: Float32Array;
      onDetections?: BackendRunOptions['onDetections'];
    },
  ): Promise<BackendRunTimings>;
  /** The image so far, times scale (runHeight*u x runWidth*u), without ending the session. */
  snapshot(): Promise<Float32Array>;
  /** The final image, times scale; the session ends (its memory is released). */
  finish(): Promise<Float32Array>;
  /** Ends the session without a result (errors, aborts). Idempotent, never throws. */
  close(): void;
}
