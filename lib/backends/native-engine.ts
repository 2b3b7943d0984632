/**
 * What the `cuda` and `tensorrt` backends share: turning a native engine (lib/native/binding.ts) into an
 * InferenceBackend, checking inputs before they reach C++, wiring AbortSignal to engine.cancel(), and mapping the
 * engine's error codes onto SmlmError. Sessions (openSession) keep the image on the device from the first chunk to
 * finish() (native/engine/pipeline.h); calls into one engine are queued here, one at a time.
 */
import { mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { SmlmError, type SmlmErrorCode } from '../errors.js';
import type { BackendRunOptions, BackendRunTimings, BackendSession, InferenceBackend, SessionGeometry } from './backend.js';
import type { LoadedModel } from '../model/onnx.js';
import { checkBatchSize, checkDevice, checkPrecision, DEFAULT_BATCH } from '../options.js';
import type { BackendName, Precision, Progress, Stack } from '../types.js';
import type { NativeEngine, NativeError, NativeRunStats, NativeSession, NativeSessionGeometry } from '../native/binding.js';

/** Options of createCudaBackend / createTensorRtBackend. */
export interface GpuBackendOptions {
  /** Largest batch the engine allocates device memory for (default 64); runs with a larger batch are capped to it. */
  batchSize?: number;
  /** CUDA device ordinal (default 0). */
  device?: number;
  /** Default 'fp16' (tensor cores); 'fp32' where the engine supports it. */
  precision?: Precision;
}

/** Codes the native engines raise on purpose (engine.h's EngineError); anything else is reported as E_GPU. */
const PASSED_THROUGH: ReadonlySet<string> = new Set<SmlmErrorCode>([
  'E_GPU',
  'E_GPU_OUT_OF_MEMORY',
  'E_ABORTED',
  'E_FRAME_SIZE_UNSUPPORTED',
  'E_BAD_OPTIONS',
  'E_MODEL_INVALID',
  'E_BACKEND_UNAVAILABLE',
  'E_CLOSED',
  'E_EMPTY_STACK',
]);

/** Wraps anything the addon threw into an SmlmError, keeping the engine's code and the CUDA/TensorRT message. */
export function toSmlmError(err: unknown, backend: BackendName): SmlmError {
  if (err instanceof SmlmError) return err;
  const nativeError = err as NativeError;
  const code = typeof nativeError?.code === 'string' && PASSED_THROUGH.has(nativeError.code) ? (nativeError.code as SmlmErrorCode) : 'E_GPU';
  const message = nativeError instanceof Error ? nativeError.message : String(err);
  return new SmlmError(code, `${backend}: ${message}`, { backend }, { cause: err });
}

/** Validates the options shared by the GPU backends; returns them with defaults filled in. */
export function resolveGpuOptions(options: GpuBackendOptions, deviceCount: number): Required<GpuBackendOptions> {
  const batchSize = checkBatchSize(options.batchSize) ?? DEFAULT_BATCH.cuda;
  const device = checkDevice(options.device) ?? 0;
  if (device >= deviceCount) {
    throw new SmlmError('E_BAD_OPTIONS', `CUDA device ${device} does not exist: ${deviceCount} device(s) visible`, { device, deviceCount });
  }
  const precision = checkPrecision(options.precision) ?? 'fp16';
  return { batchSize, device, precision };
}

/**
 * Where engines cache tuned kernel choices and serialized TensorRT engines: $SMLM_RT_CACHE_DIR, else
 * $XDG_CACHE_HOME/smlm-rt, else ~/.cache/smlm-rt. Returns '' (no cache) when the folder cannot be created: a cache
 * is an optimisation, never a reason to fail.
 */
export function engineCacheDir(): string {
  const dir = process.env.SMLM_RT_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'smlm-rt');
  try {
    mkdirSync(dir, { recursive: true });
    return dir;
  } catch {
    return '';
  }
}

/** Refuses stacks the engine must never see: wrong data length, a frame size the model cannot take, a wrong image size. */
function checkRun(stack: Stack, image: Float32Array, options: BackendRunOptions, model: LoadedModel): void {
  const { frames, height, width } = stack;
  if (stack.data.length !== frames * height * width) {
    throw new SmlmError('E_BAD_OPTIONS', `stack data holds ${stack.data.length} pixels, expected ${frames}x${height}x${width}`, { frames, height, width });
  }
  const { sizeMultiple, minSize, upsampling } = model.metadata;
  if (height < minSize || width < minSize || height % sizeMultiple !== 0 || width % sizeMultiple !== 0) {
    throw new SmlmError(
      'E_FRAME_SIZE_UNSUPPORTED',
      `model "${model.name}" takes frames of at least ${minSize}x${minSize} px whose sides are multiples of ${sizeMultiple}; got ${width}x${height}`,
      { height, width, sizeMultiple, minSize },
    );
  }
  const outPixels = height * upsampling * width * upsampling;
  if (image.length !== outPixels) {
    throw new SmlmError('E_BAD_OPTIONS', `image holds ${image.length} values, expected ${height * upsampling}x${width * upsampling}`, {});
  }
  if (options.frameMaps && options.frameMaps.length !== frames * outPixels) {
    throw new SmlmError('E_BAD_OPTIONS', `frameMaps holds ${options.frameMaps.length} values, expected ${frames}x${outPixels}`, {});
  }
}

/** Refuses a frame size the model cannot take (before it reaches C++). */
function checkFrameSize(height: number, width: number, model: LoadedModel): void {
  const { sizeMultiple, minSize } = model.metadata;
  if (!Number.isSafeInteger(height) || !Number.isSafeInteger(width) || height < minSize || width < minSize || height % sizeMultiple !== 0 || width % sizeMultiple !== 0) {
    throw new SmlmError(
      'E_FRAME_SIZE_UNSUPPORTED',
      `model "${model.name}" takes frames of at least ${minSize}x${minSize} px whose sides are multiples of ${sizeMultiple}; got ${width}x${height}`,
      { height, width, sizeMultiple, minSize },
    );
  }
}

/** Calls into one engine, one at a time (the engine refuses overlapping calls). */
class CallQueue {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(call: () => Promise<T>): Promise<T> {
    const result = this.tail.then(call, call);
    this.tail = result.catch(() => undefined);
    return result;
  }
}

/**
 * A BackendSession over a NativeSession: the image stays on the device; snapshot() and finish() read it once, scaled
 * on the device (frame maps, when asked for, are scaled there too before they come back). With geometry.preparation (resampling and/or padding), push() takes the source frames and the
 * device prepares them (preparesFrames).
 */
class NativeBackendSession implements BackendSession {
  private native: NativeSession | undefined;

  constructor(
    private readonly backend: BackendName,
    native: NativeSession,
    private readonly engine: NativeEngine,
    private readonly queue: CallQueue,
    readonly preparesFrames: boolean,
    private readonly sourceHeight: number,
    private readonly sourceWidth: number,
    private readonly outPixels: number,
  ) {
    this.native = native;
  }

  /** Statistics of the last push (tests and benchmarks read the batch and tiles used). */
  lastStats: NativeRunStats | undefined;

  private live(): NativeSession {
    if (!this.native) throw new SmlmError('E_CLOSED', `the ${this.backend} session was closed or finished`);
    return this.native;
  }

  push(
    chunk: Stack,
    options: { signal?: AbortSignal; onProgress?: (p: Progress) => void; frameMaps?: Float32Array; onDetections?: BackendRunOptions['onDetections'] },
  ): Promise<BackendRunTimings> {
    return this.queue.run(async () => {
      const native = this.live();
      const { frames, height, width } = chunk;
      if (height !== this.sourceHeight || width !== this.sourceWidth) {
        throw new SmlmError('E_BAD_OPTIONS', `chunk of ${width}x${height} px pushed into a session of ${this.sourceWidth}x${this.sourceHeight} px frames`, {
          height,
          width,
        });
      }
      if (chunk.data.length !== frames * height * width) {
        throw new SmlmError('E_BAD_OPTIONS', `stack data holds ${chunk.data.length} pixels, expected ${frames}x${height}x${width}`, { frames, height, width });
      }
      if (options.frameMaps && options.frameMaps.length !== frames * this.outPixels) {
        throw new SmlmError('E_BAD_OPTIONS', `frameMaps holds ${options.frameMaps.length} values, expected ${frames}x${this.outPixels}`, {});
      }
      const { signal, onProgress } = options;
      if (signal?.aborted) throw new SmlmError('E_ABORTED', 'reconstruction aborted before the chunk started');
      const engine = this.engine;
      const onAbort = () => engine.cancel();
      signal?.addEventListener('abort', onAbort, { once: true });
      try {
        const stats = await native.push({
          frames: chunk.data,
          frameCount: frames,
          height,
          width,
          frameMaps: options.frameMaps,
          batchSize: 0,
          onProgress: onProgress && ((framesDone, framesTotal) => onProgress({ framesDone, framesTotal })),
        });
        this.lastStats = stats;
        return { inferenceMs: stats.deviceMs, preprocessMs: Math.max(0, stats.totalMs - stats.deviceMs) };
      } catch (err) {
        const error = toSmlmError(err, this.backend);
        if (error.code === 'E_ABORTED' && signal?.aborted) throw new SmlmError('E_ABORTED', 'reconstruction aborted', {}, { cause: err });
        throw error;
      } finally {
        signal?.removeEventListener('abort', onAbort);
      }
    });
  }

  snapshot(): Promise<Float32Array> {
    return this.queue.run(async () => {
      try {
        return await this.live().snapshot();
      } catch (err) {
        throw toSmlmError(err, this.backend);
      }
    });
  }

  finish(): Promise<Float32Array> {
    return this.queue.run(async () => {
      const native = this.live();
      this.native = undefined;
      try {
        return await native.finish();
      } catch (err) {
        throw toSmlmError(err, this.backend);
      }
    });
  }

  close(): void {
    const native = this.native;
    this.native = undefined;
    try {
      native?.close();
    } catch {
      // close never throws
    }
  }
}

/** An InferenceBackend over one native engine. */
export class NativeEngineBackend implements InferenceBackend {
  private engine: NativeEngine | undefined;
  private readonly queue = new CallQueue();
  /** The engine's statistics of the last successful run (benchmarks read the batch size actually used). */
  lastStats: NativeRunStats | undefined;

  constructor(
    readonly name: BackendName,
    engine: NativeEngine,
    private readonly model: LoadedModel,
    private readonly maxBatch: number,
  ) {
    this.engine = engine;
  }

  /** The engine's own description (backend, device, chosen kernels), for `smlm-rt info` and benchmarks. */
  describe(): string {
    return this.engine ? this.engine.describe() : `${this.name} (closed)`;
  }

  /**
   * Opens a session whose image stays on the device (contract: lib/backends/backend.ts). With
   * geometry.preparation resampling or padding frames, the device does it: push() then takes source frames
   * (preparesFrames) and the plan's `resampled.where` is set to 'device'.
   */
  async openSession(geometry: SessionGeometry): Promise<BackendSession> {
    const engine = this.engine;
    if (!engine) throw new SmlmError('E_CLOSED', `the ${this.name} backend was closed`);
    const { height, width, scale } = geometry;
    checkFrameSize(height, width, this.model);
    if (!Number.isFinite(scale) || scale < 0) throw new SmlmError('E_BAD_OPTIONS', `session scale must be a finite number >= 0, got ${scale}`, { scale });
    const prep = geometry.preparation;
    const preparesFrames = !!(prep && (prep.resampled || prep.padded));
    let preparation: NativeSessionGeometry['preparation'];
    let source = { height, width };
    if (preparesFrames && prep) {
      const { resampled, padded } = prep;
      preparation = {
        ...(resampled ? { resampled: { fromNm: resampled.fromNm, toNm: resampled.toNm, from: resampled.from, to: resampled.to } } : {}),
        ...(padded ? { padded: { from: padded.from, to: padded.to, mode: padded.mode } } : {}),
      };
      source = resampled ? resampled.from : padded!.from;
    }
    const batchSize = Math.min(Math.max(1, Math.floor(geometry.batchSize || this.maxBatch)), this.maxBatch);
    const u = this.model.metadata.upsampling;
    let native: NativeSession;
    try {
      native = engine.openSession({ height, width, scale, batchSize, ...(preparation ? { preparation } : {}) });
    } catch (err) {
      throw toSmlmError(err, this.name);
    }
    if (prep?.resampled && preparesFrames) prep.resampled.where = 'device';
    return new NativeBackendSession(this.name, native, engine, this.queue, preparesFrames, source.height, source.width, height * u * width * u);
  }

  async run(stack: Stack, image: Float32Array, options: BackendRunOptions): Promise<BackendRunTimings> {
    return this.queue.run(() => this.runNow(stack, image, options));
  }

  private async runNow(stack: Stack, image: Float32Array, options: BackendRunOptions): Promise<BackendRunTimings> {
    const engine = this.engine;
    if (!engine) throw new SmlmError('E_CLOSED', `the ${this.name} backend was closed`);
    checkRun(stack, image, options, this.model);
    const { signal, onProgress } = options;
    if (signal?.aborted) throw new SmlmError('E_ABORTED', 'reconstruction aborted before it started');
    // The engine checks its cancel flag between batches; the listener only raises that flag.
    const onAbort = () => engine.cancel();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const stats = await engine.run({
        frames: stack.data,
        frameCount: stack.frames,
        height: stack.height,
        width: stack.width,
        image,
        frameMaps: options.frameMaps,
        batchSize: Math.min(Math.max(1, Math.floor(options.batchSize)), this.maxBatch),
        onProgress: onProgress && ((framesDone, framesTotal) => onProgress({ framesDone, framesTotal })),
      });
      this.lastStats = stats;
      // Upload, staging and synchronisation overlap the kernels; what is not kernel time is reported as preprocessing.
      return { inferenceMs: stats.deviceMs, preprocessMs: Math.max(0, stats.totalMs - stats.deviceMs) };
    } catch (err) {
      const error = toSmlmError(err, this.name);
      if (error.code === 'E_ABORTED' && signal?.aborted) throw new SmlmError('E_ABORTED', 'reconstruction aborted', {}, { cause: err });
      throw error;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  async close(): Promise<void> {
    const engine = this.engine;
    this.engine = undefined;
    engine?.close();
  }
}
