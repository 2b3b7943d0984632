import { allocateArray } from '../allocation.js';
import { SmlmError } from '../errors.js';
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

/** The shape of a backend session: what its chunks look like and how its image is read. */
export interface SessionGeometry {
  /** Frame size of the pushed chunks (after host preparation, unless the session `preparesFrames`). */
  height: number;
  width: number;
  /** Multiplies the summed image when it is read (snapshot/finish), and the frame maps: 1 / model outputScale. */
  scale: number;
  /** Frames per inference batch. */
  batchSize: number;
  /** Frame preparation the session may apply itself (device-side resampling/padding); see `preparesFrames`. */
  preparation?: PreparationPlan;
}

/** Options of one BackendSession.push. */
export interface SessionPushOptions {
  signal?: AbortSignal;
  /** Progress within this chunk (framesTotal = the chunk's frames). */
  onProgress?: (progress: Progress) => void;
  /** When given (chunk frames x outH x outW), every frame's clamped map times `scale` is written here. */
  frameMaps?: Float32Array;
  /** As BackendRunOptions.onDetections; `firstFrame` counts within the chunk. */
  onDetections?: BackendRunOptions['onDetections'];
}

/**
 * One reconstruction on a backend: chunks of frames are pushed into it, their clamped maps summed into one image
 * (host memory for hostSession, device memory for a native session), read with snapshot() and finish(). Every call
 * of smlm-rt (reconstruct, reconstructSource, live) runs as one session. A session never runs beside another call on
 * its backend: Reconstructor queues them.
 */
export interface BackendSession {
  /** True when push() takes raw source chunks and applies geometry.preparation itself (GPU: on the device). */
  readonly preparesFrames: boolean;
  /**
   * Runs the chunk and adds its clamped maps into the session's image. Resolves when the chunk's frames are done;
   * rejects with SmlmError (E_ABORTED on signal, E_CLOSED after finish/close, E_BAD_OPTIONS for a chunk of another
   * frame size). Pushes made before the previous one resolved run after it.
   */
  push(chunk: Stack, options: SessionPushOptions): Promise<BackendRunTimings>;
  /** The image so far, times scale (height*u x width*u of the run frames), without ending the session. */
  snapshot(): Promise<Float32Array>;
  /** The final image, times scale; the session ends (its memory is released). */
  finish(): Promise<Float32Array>;
  /** Ends the session without a result (errors, aborts). Idempotent, never throws. */
  close(): void;
}

/**
 * What every backend does: run the model over all frames of a stack in batches, clamp each frame's map at zero and
 * add it into `image` (outH x outW, fp32, raw network units: the caller divides by the model's outputScale).
 * A backend never sees two calls at once: Reconstructor queues them.
 */
export interface InferenceBackend {
  readonly name: BackendName;
  run(stack: Stack, image: Float32Array, options: BackendRunOptions): Promise<BackendRunTimings>;
  /** Opens a session (hostSession, or one that keeps the image on the device). */
  openSession(geometry: SessionGeometry): Promise<BackendSession>;
  close(): Promise<void>;
}

/** A session's geometry with the model's upsampling (which a backend knows from its model): the image's size. */
export interface HostSessionGeometry extends SessionGeometry {
  /** Output pixels per frame pixel along each axis (model metadata `upsampling`). */
  upsampling: number;
}

/**
 * A session over `backend.run()` that keeps the image in host memory: each push runs the chunk with run() into the
 * image (raw network units); snapshot() returns a scaled copy, finish() scales the image itself once. The cpu
 * backend uses it; the native backends use it until their device-resident session lands. The image is allocated
 * here (E_FRAME_SIZE_UNSUPPORTED, saying the bytes, when it cannot be).
 */
export function hostSession(backend: InferenceBackend, geometry: HostSessionGeometry): BackendSession {
  const { height, width, scale, batchSize, upsampling: u } = geometry;
  const outH = height * u;
  const outW = width * u;
  let image: Float32Array | undefined = allocateArray(
    Float32Array,
    outH * outW,
    'E_FRAME_SIZE_UNSUPPORTED',
    `the ${outW} x ${outH} px output image of ${width} x ${height} px frames at ${u}x upsampling`,
  );
  // Calls run one after the other, in the order they were made.
  let chain: Promise<unknown> = Promise.resolve();
  const closed = () => new SmlmError('E_CLOSED', `this ${backend.name} session has ended`);
  const ordered = <T>(work: () => Promise<T>): Promise<T> => {
    const result = chain.then(work, work);
    chain = result.catch(() => undefined);
    return result;
  };
  return {
    preparesFrames: false,
    push(chunk, pushOptions) {
      if (!image) return Promise.reject(closed());
      if (chunk.height !== height || chunk.width !== width) {
        return Promise.reject(new SmlmError('E_BAD_OPTIONS', `a chunk of ${chunk.width} x ${chunk.height} px frames was pushed into a session of ${width} x ${height} px frames`));
      }
      return ordered(async () => {
        const into = image;
        if (!into) throw closed();
        const { frameMaps } = pushOptions;
        const timings = await backend.run(chunk, into, { batchSize, signal: pushOptions.signal, onProgress: pushOptions.onProgress, frameMaps, onDetections: pushOptions.onDetections });
        // Raw network units -> expected emitters per output pixel, as the image gets at snapshot/finish.
        if (frameMaps) for (let i = 0; i < frameMaps.length; i++) frameMaps[i] *= scale;
        return timings;
      });
    },
    snapshot() {
      return ordered(async () => {
        if (!image) throw closed();
        const copy = new Float32Array(image.length);
        for (let i = 0; i < copy.length; i++) copy[i] = image[i] * scale;
        return copy;
      });
    },
    finish() {
      return ordered(async () => {
        const result = image;
        if (!result) throw closed();
        image = undefined;
        for (let i = 0; i < result.length; i++) result[i] *= scale;
        return result;
      });
    },
    close() {
      image = undefined;
    },
  };
}
