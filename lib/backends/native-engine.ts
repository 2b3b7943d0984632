/**
 * What the `cuda` and `tensorrt` backends share: turning a native engine (lib/native/binding.ts) into an
 * InferenceBackend, checking inputs before they reach C++, wiring AbortSignal to engine.cancel(), and mapping the
 * engine's error codes onto SmlmError.
 */
import { mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { SmlmError, type SmlmErrorCode } from '../errors.js';
import { hostSession, type BackendRunOptions, type BackendRunTimings, type BackendSession, type InferenceBackend, type SessionGeometry } from './backend.js';
import type { LoadedModel } from '../model/onnx.js';
import { checkBatchSize, checkDevice, checkPrecision, DEFAULT_BATCH } from '../options.js';
import type { BackendName, Precision, Stack } from '../types.js';
import type { NativeEngine, NativeError, NativeRunStats } from '../native/binding.js';

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

/** An InferenceBackend over one native engine. */
export class NativeEngineBackend implements InferenceBackend {
  private engine: NativeEngine | undefined;
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

  async run(stack: Stack, image: Float32Array, options: BackendRunOptions): Promise<BackendRunTimings> {
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

  /** For now a session over run() with the image on the host (backend.ts's hostSession). */
  async openSession(geometry: SessionGeometry): Promise<BackendSession> {
    if (!this.engine) throw new SmlmError('E_CLOSED', `the ${this.name} backend was closed`);
    return hostSession(this, { ...geometry, upsampling: this.model.metadata.upsampling });
  }

  async close(): Promise<void> {
    const engine = this.engine;
    this.engine = undefined;
    engine?.close();
  }
}
