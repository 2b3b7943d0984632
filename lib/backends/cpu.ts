/**
 * The `cpu` backend: the ONNX model run by onnxruntime (onnxruntime-node where the project installed it, else the
 * WebAssembly build smlm-rt ships: onnx-runtime.ts), batch by batch, with the clamp-and-sum done here in Float32 (or,
 * for a localization head, the detections rendered here: lib/render-detections.ts). The runtime is imported on first
 * use only, so programs that never use the CPU backend (or only list models) never load it.
 */
import { SmlmError } from '../errors.js';
import { cellsPerPixel, localizationHeadOf } from '../model/head.js';
import type { LoadedModel } from '../model/onnx.js';
import { DEFAULT_BATCH } from '../options.js';
import { normalizeFrames } from '../preprocess.js';
import { renderDetections, type DetectionGrid } from '../render-detections.js';
import type { Stack } from '../types.js';
import { hostSession, type BackendRunOptions, type BackendRunTimings, type BackendSession, type InferenceBackend, type SessionGeometry } from './backend.js';
import { loadOnnxRuntime, type Ort, type OnnxRuntime } from './onnx-runtime.js';

type OrtSession = Awaited<ReturnType<Ort['InferenceSession']['create']>>;

/** Frames per batch when the caller does not say (lib/options.ts). */
export const CPU_DEFAULT_BATCH = DEFAULT_BATCH.cpu;
/**
 * A batch never holds more than this many output pixels (16 MB of maps: 16 frames of 64x64 at 8x, one of 256x256).
 * The network's intermediate activations scale with it (Deep-STORM keeps 64 channels at the output resolution), and
 * on a CPU larger batches buy no speed, only memory.
 */
export const CPU_MAX_BATCH_OUTPUT_PIXELS = 4 * 1024 * 1024;

export interface CpuBackendOptions {
  /** Frames per inference call; default 8. Capped so a batch's output stays within CPU_MAX_BATCH_OUTPUT_PIXELS. */
  batchSize?: number;
  /**
   * onnxruntime intra-op threads; default: onnxruntime's choice (all cores). The WebAssembly runtime takes its thread
   * count once, at its first session: later values are ignored there.
   */
  threads?: number;
}

function abortError(): SmlmError {
  return new SmlmError('E_ABORTED', 'reconstruction aborted by the caller');
}

class CpuBackend implements InferenceBackend {
  readonly name = 'cpu' as const;
  private session: OrtSession | undefined;
  /** Set for a localization-head model: its detections are rendered instead of clamping and summing maps. */
  private readonly grid: DetectionGrid | undefined;

  constructor(
    /** Which onnxruntime runs the model (onnx-runtime.ts). */
    readonly runtime: OnnxRuntime,
    session: OrtSession,
    private readonly model: LoadedModel,
  ) {
    this.session = session;
    const head = localizationHeadOf(model.metadata);
    this.grid = head ? { head, upsampling: model.metadata.upsampling } : undefined;
  }

  async run(stack: Stack, image: Float32Array, options: BackendRunOptions): Promise<BackendRunTimings> {
    const session = this.session;
    if (!session) throw new SmlmError('E_CLOSED', 'the cpu backend was closed');
    const { upsampling, normalization } = this.model.metadata;
    const { height, width, frames } = stack;
    const outH = height * upsampling;
    const outW = width * upsampling;
    const pixels = height * width;
    const outPixels = outH * outW;
    if (image.length !== outPixels) throw new RangeError(`cpu backend: image has ${image.length} values, expected ${outPixels}`);
    const batch = Math.max(1, Math.min(options.batchSize, frames, Math.floor(CPU_MAX_BATCH_OUTPUT_PIXELS / outPixels) || 1));
    const input = new Float32Array(batch * pixels);
    let preprocessMs = 0;
    let inferenceMs = 0;
    for (let first = 0; first < frames; first += batch) {
      if (options.signal?.aborted) throw abortError();
      const count = Math.min(batch, frames - first);
      const t0 = performance.now();
      normalizeFrames(stack.data, first, count, pixels, normalization, input);
      const tensor = new this.runtime.ort.Tensor('float32', input.subarray(0, count * pixels), [count, 1, height, width]);
      const t1 = performance.now();
      const out = await this.runSession(session, tensor, count, height, width);
      const t2 = performance.now();
      if (this.grid) {
        options.onDetections?.(out, first, count);
        renderDetections(out, count, height, width, this.grid, image, options.frameMaps, first * outPixels);
      } else {
        accumulateClamped(out, count, outPixels, image, options.frameMaps, first * outPixels);
      }
      preprocessMs += t1 - t0 + (performance.now() - t2);
      inferenceMs += t2 - t1;
      options.onProgress?.({ framesDone: first + count, framesTotal: frames });
    }
    return { inferenceMs, preprocessMs };
  }

  /** A session keeping the image in host memory (backend.ts's hostSession over run()). */
  async openSession(geometry: SessionGeometry): Promise<BackendSession> {
    if (!this.session) throw new SmlmError('E_CLOSED', 'the cpu backend was closed');
    return hostSession(this, { ...geometry, upsampling: this.model.metadata.upsampling });
  }

  /** Runs one batch and checks the output's shape: `maps` [count,1,uH,uW], or `detections` [count,5g^2,H,W]. */
  private async runSession(session: OrtSession, tensor: InstanceType<Ort['Tensor']>, count: number, height: number, width: number): Promise<Float32Array> {
    const { upsampling } = this.model.metadata;
    const [name, expected] = this.grid
      ? ['detections', [count, 5 * cellsPerPixel(this.grid.head) ** 2, height, width]]
      : ['maps', [count, 1, height * upsampling, width * upsampling]];
    try {
      const outputs = await session.run({ frames: tensor });
      const out = outputs[name];
      const dims = out?.dims ?? [];
      if (!out || out.type !== 'float32' || dims.length !== 4 || dims.some((d, i) => d !== expected[i])) {
        throw new SmlmError(
          'E_MODEL_INVALID',
          `${this.model.name}: output "${name}" has shape [${dims.join(', ')}], expected [${expected.join(', ')}] (upsampling ${upsampling})`,
          { model: this.model.name },
        );
      }
      return out.data as Float32Array;
    } catch (err) {
      if (err instanceof SmlmError) throw err;
      throw new SmlmError('E_MODEL_INVALID', `${this.model.name}: onnxruntime failed to run the model: ${(err as Error).message}`, { model: this.model.name }, { cause: err });
    }
  }

  async close(): Promise<void> {
    const session = this.session;
    this.session = undefined;
    await session?.release();
  }
}

/**
 * image += sum over frames of max(map, 0); each clamped map is also copied into frameMaps (from `frameMapsOffset`)
 * when given. Exported for tests.
 */
export function accumulateClamped(
  maps: Float32Array,
  count: number,
  outPixels: number,
  image: Float32Array,
  frameMaps: Float32Array | undefined,
  frameMapsOffset: number,
): void {
  for (let f = 0; f < count; f++) {
    const base = f * outPixels;
    for (let i = 0; i < outPixels; i++) {
      const v = maps[base + i];
      // `v > 0` also maps NaN to 0: a broken activation must not poison the whole image.
      const clamped = v > 0 ? v : 0;
      image[i] += clamped;
      if (frameMaps) frameMaps[frameMapsOffset + base + i] = clamped;
    }
  }
}

/**
 * Creates the CPU backend for a loaded model. Throws E_BACKEND_UNAVAILABLE when no onnxruntime can load and
 * E_MODEL_INVALID when onnxruntime rejects the graph or its input/output names break the contract.
 */
export async function createCpuBackend(model: LoadedModel, options: CpuBackendOptions = {}): Promise<InferenceBackend> {
  const runtime = await loadOnnxRuntime();
  const { ort } = runtime;
  if (runtime.name === 'onnxruntime-web' && options.threads) ort.env.wasm.numThreads = options.threads;
  let session: OrtSession;
  try {
    session = await ort.InferenceSession.create(model.bytes, {
      executionProviders: [runtime.executionProvider],
      graphOptimizationLevel: 'all',
      ...(options.threads ? { intraOpNumThreads: options.threads } : {}),
    });
  } catch (err) {
    throw new SmlmError('E_MODEL_INVALID', `${model.name}: onnxruntime cannot load the model: ${(err as Error).message}`, { model: model.name }, { cause: err });
  }
  const outputName = localizationHeadOf(model.metadata) ? 'detections' : 'maps';
  if (!session.inputNames.includes('frames') || !session.outputNames.includes(outputName)) {
    await session.release();
    throw new SmlmError(
      'E_MODEL_INVALID',
      `${model.name}: the graph must have an input "frames" and an output "${outputName}"; it has inputs [${session.inputNames.join(', ')}] and outputs [${session.outputNames.join(', ')}]`,
      { model: model.name },
    );
  }
  return new CpuBackend(runtime, session, model);
}
