/**
 * What `reconstruct`/`reconstructSource` (lib/reconstructor.ts) and the live API (lib/live.ts) share: checking a
 * call's options, planning a call (frame preparation, the backend session's geometry, the batch that fits memory,
 * the read chunk size) and putting its result together. Both run as one backend session (lib/backends/backend.ts).
 */
import { checkArrayFits, framesWithin } from './allocation.js';
import type { BackendRunTimings, BackendSession, InferenceBackend, SessionGeometry } from './backends/backend.js';
import { batchWithinMemory, type GraphFootprint } from './engine/graph-footprint.js';
import { SmlmError } from './errors.js';
import { cropImages } from './frames/pad.js';
import { planPreparation, RESAMPLE_MODES, type PreparationOptions, type PreparationPlan } from './frames/prepare.js';
import { checkFrameRange } from './io/frame-range.js';
import { checkPixelSizeNm } from './io/pixel-size.js';
import type { LoadedModel } from './model/onnx.js';
import type { DetectionFrames, ReconstructCallOptions, ReconstructionResult, Stack, Timings } from './types.js';

/** Frames read from a streamed source at a time (independent of the backend's batch size)... */
const STREAM_CHUNK_FRAMES = 256;
/** ...unless that many frames would take more than this (at 4 bytes per pixel): big frames are read fewer at a time. */
const STREAM_CHUNK_MAX_BYTES = 256 * 1024 * 1024;

/** Frames per chunk read from a source: 256, or a whole batch if larger, cut to STREAM_CHUNK_MAX_BYTES; at least 1. */
export function streamChunkFrames(pixelsPerFrame: number, batchSize: number): number {
  return framesWithin(4 * pixelsPerFrame, STREAM_CHUNK_MAX_BYTES, Math.max(STREAM_CHUNK_FRAMES, batchSize));
}

/** Whether `v` can serve as an AbortSignal: as Node's own APIs accept signals, anything with `aborted` and listeners. */
export function isSignal(v: unknown): v is AbortSignal {
  return typeof v === 'object' && v !== null && typeof (v as AbortSignal).aborted === 'boolean' && typeof (v as AbortSignal).addEventListener === 'function';
}

/** E_BAD_OPTIONS unless the per-call options are an object whose signal, onProgress and keepFrameMaps have their types. */
export function checkCallOptions(options: ReconstructCallOptions): void {
  if (options === null || typeof options !== 'object') throw new SmlmError('E_BAD_OPTIONS', `reconstruct options must be an object, got ${String(options)}`);
  const { signal, onProgress, keepFrameMaps, onDetections } = options;
  if (signal !== undefined && !isSignal(signal)) throw new SmlmError('E_BAD_OPTIONS', 'signal must be an AbortSignal (e.g. new AbortController().signal)');
  if (onProgress !== undefined && typeof onProgress !== 'function') throw new SmlmError('E_BAD_OPTIONS', `onProgress must be a function, got ${typeof onProgress}`);
  if (keepFrameMaps !== undefined && typeof keepFrameMaps !== 'boolean') throw new SmlmError('E_BAD_OPTIONS', `keepFrameMaps must be true or false, got ${String(keepFrameMaps)}`);
  if (onDetections !== undefined && typeof onDetections !== 'function') throw new SmlmError('E_BAD_OPTIONS', `onDetections must be a function, got ${typeof onDetections}`);
  const { frames, pixelSizeNm, resample, padFrames } = options;
  if (frames !== undefined) checkFrameRange(frames);
  if (pixelSizeNm !== undefined) checkPixelSizeNm(pixelSizeNm, 'pixelSizeNm');
  if (resample !== undefined && !RESAMPLE_MODES.includes(resample)) throw new SmlmError('E_BAD_OPTIONS', `resample must be "auto", "always" or "never", got ${JSON.stringify(resample)}`);
  if (padFrames !== undefined && typeof padFrames !== 'boolean') throw new SmlmError('E_BAD_OPTIONS', `padFrames must be true or false, got ${String(padFrames)}`);
}

export function abortedError(): SmlmError {
  return new SmlmError('E_ABORTED', 'reconstruction aborted by the caller');
}

/** The model and backend a call runs on (a Reconstructor's). */
export interface CallContext {
  loaded: LoadedModel;
  footprint: GraphFootprint;
  backend: InferenceBackend;
  /** The batch size asked for (before capping to memory). */
  batchSize: number;
}

/** One call planned: how frames are prepared, the session's geometry, and how its output is cropped back. */
export interface CallPlan {
  plan: PreparationPlan;
  geometry: SessionGeometry;
  /** The session's image size (the run frames, upsampled) and the result's (cropped back to the unpadded frames). */
  runH: number;
  runW: number;
  outH: number;
  outW: number;
  cropped: boolean;
  /** Frames per chunk read from a source or pushed into the session at once. */
  chunkFrames: number;
  /** Where a batch's detections lie (onDetections). */
  detectionFrames: DetectionFrames;
}

/**
 * Plans a call on frames of `shape` (height, width, the pixel size the stack or file states). The output image's
 * size is checked here (E_FRAME_SIZE_UNSUPPORTED, saying the bytes, before any frame is read); `beforeBatch` runs
 * after that check and before the batch is fitted to memory (the frame maps' allocation, whose refusal says more
 * plainly what is too big).
 */
export function planCall(
  context: CallContext,
  shape: { height: number; width: number; pixelSizeNm?: number },
  options: PreparationOptions,
  beforeBatch?: (outH: number, outW: number) => void,
): CallPlan {
  const meta = context.loaded.metadata;
  const plan = planPreparation(shape, meta, context.loaded.name, options);
  const u = meta.upsampling;
  const runH = plan.runHeight * u;
  const runW = plan.runWidth * u;
  const outH = plan.outHeight;
  const outW = plan.outWidth;
  checkArrayFits(Float32Array, runH * runW, 'E_FRAME_SIZE_UNSUPPORTED', `the ${runW} x ${runH} px output image of ${plan.runWidth} x ${plan.runHeight} px frames at ${u}x upsampling`);
  beforeBatch?.(outH, outW);
  const batchSize = batchWithinMemory(context.footprint, plan.runHeight, plan.runWidth, context.batchSize, context.loaded.name);
  return {
    plan,
    // Raw network units -> expected emitters per output pixel; frame maps get the same scale so they sum to the image.
    geometry: { height: plan.runHeight, width: plan.runWidth, scale: 1 / meta.outputScale, batchSize, preparation: plan },
    runH,
    runW,
    outH,
    outW,
    cropped: runH !== outH || runW !== outW,
    chunkFrames: streamChunkFrames(Math.max(shape.height * shape.width, plan.runHeight * plan.runWidth), batchSize),
    detectionFrames: {
      height: plan.runHeight,
      width: plan.runWidth,
      cameraPixelNm: plan.resampled ? plan.resampled.toNm : plan.cameraPixelNm,
      fieldWidthNm: shape.width * plan.cameraPixelNm,
      fieldHeightNm: shape.height * plan.cameraPixelNm,
    },
  };
}

/**
 * Pushes one chunk (as the session takes it: prepared, or raw where it prepares frames) into the call's session.
 * Progress and detections are reported in the call's frame numbers (the chunk's first frame is `offset`); with
 * `mapsOut` (chunk.frames x outH x outW) the chunk's frame maps are written there, cropped back from padded frames.
 */
export function pushChunk(
  session: BackendSession,
  call: CallPlan,
  chunk: Stack,
  offset: number,
  options: Pick<ReconstructCallOptions, 'signal' | 'onDetections'> & { onProgress?: (framesDone: number) => void; mapsOut?: Float32Array },
): Promise<BackendRunTimings> {
  const { runH, runW, outH, outW, cropped } = call;
  const { mapsOut, onProgress, onDetections } = options;
  const runMaps = mapsOut && cropped ? new Float32Array(chunk.frames * runH * runW) : mapsOut;
  return session
    .push(chunk, {
      signal: options.signal,
      onProgress: onProgress && ((p) => onProgress(offset + p.framesDone)),
      frameMaps: runMaps,
      onDetections: onDetections && ((detections, first, count) => onDetections(detections, offset + first, count, call.detectionFrames)),
    })
    .then((timings) => {
      if (mapsOut && runMaps && cropped) cropImages(runMaps, chunk.frames, runH, runW, outH, outW, mapsOut);
      return timings;
    });
}

/** The session's image (runH x runW, scaled) cropped to the result's size; itself when nothing is cropped. */
export function cropResult(call: CallPlan, image: Float32Array): Float32Array {
  if (!call.cropped) return image;
  const result = new Float32Array(call.outH * call.outW);
  cropImages(image, 1, call.runH, call.runW, call.outH, call.outW, result);
  return result;
}

/** A call's result as reconstruct returns it, from its (cropped) image. */
export function resultOf(
  context: CallContext,
  call: CallPlan,
  image: Float32Array,
  counts: { frames: number; firstFrame: number },
  timings: Timings,
  frameMaps: Float32Array | undefined,
): ReconstructionResult {
  const { plan } = call;
  // Resampled frames are on the model's camera grid, so the output is on the model's output grid.
  const cameraPixelNm = plan.resampled ? plan.resampled.toNm : plan.cameraPixelNm;
  const { runHeight: _h, runWidth: _w, outHeight: _oh, outWidth: _ow, ...preparation } = plan;
  return {
    image,
    width: call.outW,
    height: call.outH,
    pixelSizeNm: cameraPixelNm / context.loaded.metadata.upsampling,
    frames: counts.frames,
    firstFrame: counts.firstFrame,
    preparation,
    ...(plan.resampled ? { resampled: plan.resampled } : {}),
    backend: context.backend.name,
    model: context.loaded.name,
    timings,
    ...(frameMaps ? { frameMaps } : {}),
  };
}
