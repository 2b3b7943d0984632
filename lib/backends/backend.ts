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
