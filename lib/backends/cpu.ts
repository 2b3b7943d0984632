/**
 * The `cpu` backend: the model run batch by batch on one of three CPU runtimes (onnx-runtime.ts): smlm-rt's own plan
 * executor in the addon (native/cpu/, the model compiled to a plan), onnxruntime-node where the project installed it,
 * or the WebAssembly onnxruntime smlm-rt ships. Every runtime returns what the ONNX model outputs (raw maps, or a
 * localization head's raw `detections`); the clamp-and-sum is done here in Float32 (or, for a localization head, the
 * detections rendered here: lib/render-detections.ts). The runtime is loaded on first use only, so programs that never
 * use the CPU backend (or only list models) never load it.
 */
import { compileModel } from '../engine/compile.js';
import { localizationHeadRows } from '../engine/plan.js';
import { SmlmError } from '../errors.js';
import { cellsPerPixel, localizationHeadOf } from '../model/head.js';
import type { LoadedModel } from '../model/onnx.js';
import type { NativeCpuExecutor } from '../native/binding.js';
import { DEFAULT_BATCH } from '../options.js';
import { normalizeFrames } from '../preprocess.js';
import { renderDetections, type DetectionGrid } from '../render-detections.js';
import type { Stack } from '../types.js';
import { hostSession, type BackendRunOptions, type BackendRunTimings, type BackendSession, type InferenceBackend, type SessionGeometry } from './backend.js';
import { loadCpuRuntime, loadOnnxRuntime, requestedRuntime, type CpuRuntime, type OnnxRuntime, type Ort, type PlanRuntime } from './onnx-runtime.js';

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
   * Threads: the plan executor's pool, or onnxruntime's intra-op threads; default: all cores (onnxruntime's choice).
   * The WebAssembly runtime takes its thread count once, at its first session: later values are ignored there.
   */
  threads?: number;
}

/** One batch of normalized frames [count, 1, H, W] in, the model's output for it out (a fresh array per batch). */
interface BatchRunner {
  run(input: Float32Array, count: number, height: number, width: number, expected: number[]): Promise<Float32Array>;
  release(): Promise<void>;
}

/** onnxruntime (node or web): the model's ONNX graph in an InferenceSession. */
class OrtRunner implements BatchRunner {
  constructor(
    private readonly ort: Ort,
    private readonly session: OrtSession,
    private readonly outputName: string,
    private readonly model: LoadedModel,
  ) {}

  async run(input: Float32Array, count: number, height: number, width: number, expected: number[]): Promise<Float32Array> {
    const tensor = new this.ort.Tensor('float32', input, [count, 1, height, width]);
    try {
      const outputs = await this.session.run({ frames: tensor });
      const out = outputs[this.outputName];
      const dims = out?.dims ?? [];
      if (!out || out.type !== 'float32' || dims.length !== 4 || dims.some((d, i) => d !== expected[i])) {
        throw new SmlmError(
          'E_MODEL_INVALID',
          `${this.model.name}: output "${this.outputName}" has shape [${dims.join(', ')}], expected [${expected.join(', ')}] (upsampling ${this.model.metadata.upsampling})`,
          { model: this.model.name },
        );
      }
      return out.data as Float32Array;
    } catch (err) {
      if (err instanceof SmlmError) throw err;
      throw new SmlmError('E_MODEL_INVALID', `${this.model.name}: onnxruntime failed to run the model: ${(err as Error).message}`, { model: this.model.name }, { cause: err });
    }
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

/** The addon's plan executor (native/cpu/): the compiled plan, whose output is the ONNX model's. */
class PlanRunner implements BatchRunner {
  constructor(
    private readonly executor: NativeCpuExecutor,
    private readonly model: LoadedModel,
  ) {}

  async run(input: Float32Array, count: number, height: number, width: number, expected: number[]): Promise<Float32Array> {
    const output = new Float32Array(expected.reduce((a, b) => a * b, 1));
    try {
      await this.executor.run({ input, frameCount: count, height, width, output });
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'E_FRAME_SIZE_UNSUPPORTED' || code === 'E_BAD_OPTIONS' || code === 'E_MODEL_INVALID' || code === 'E_CLOSED') {
        throw new SmlmError(code, `${this.model.name}: ${(err as Error).message}`, { model: this.model.name }, { cause: err });
      }
      throw new SmlmError('E_MODEL_INVALID', `${this.model.name}: the plan executor failed: ${(err as Error).message}`, { model: this.model.name }, { cause: err });
    }
    return output;
  }

  async release(): Promise<void> {
    this.executor.close();
  }
}

function abortError(): SmlmError {
  return new SmlmError('E_ABORTED', 'reconstruction aborted by the caller');
}

class CpuBackend implements InferenceBackend {
  readonly name = 'cpu' as const;
  private runner: BatchRunner | undefined;
  /** Set for a localization-head model: its detections are rendered instead of clamping and summing maps. */
  private readonly grid: DetectionGrid | undefined;

  constructor(
    /** Which runtime runs the model (onnx-runtime.ts), and with auto why a faster one is not used. */
    readonly runtime: CpuRuntime,
    runner: BatchRunner,
    private readonly model: LoadedModel,
    /** The plan executor's own description (kernel, threads); undefined on onnxruntime. */
    readonly executorDescription?: string,
  ) {
    this.runner = runner;
    const head = localizationHeadOf(model.metadata);
    this.grid = head ? { head, upsampling: model.metadata.upsampling } : undefined;
  }

  async run(stack: Stack, image: Float32Array, options: BackendRunOptions): Promise<BackendRunTimings> {
    const runner = this.runner;
    if (!runner) throw new SmlmError('E_CLOSED', 'the cpu backend was closed');
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
      const t1 = performance.now();
      const out = await runner.run(input.subarray(0, count * pixels), count, height, width, this.outputShape(count, height, width));
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
    if (!this.runner) throw new SmlmError('E_CLOSED', 'the cpu backend was closed');
    return hostSession(this, { ...geometry, upsampling: this.model.metadata.upsampling });
  }

  /** The output's shape: `maps` [count,1,uH,uW], or `detections` [count,5g^2,H,W]. */
  private outputShape(count: number, height: number, width: number): number[] {
    const { upsampling } = this.model.metadata;
    return this.grid ? [count, 5 * cellsPerPixel(this.grid.head) ** 2, height, width] : [count, 1, height * upsampling, width * upsampling];
  }

  async close(): Promise<void> {
    const runner = this.runner;
    this.runner = undefined;
    await runner?.release();
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
 * Creates the CPU backend for a loaded model on the runtime SMLM_RT_CPU_RUNTIME names (default auto: the plan executor
 * where the addon has it and the model compiles to a plan, else onnxruntime: onnx-runtime.ts). Throws
 * E_BACKEND_UNAVAILABLE when the chosen runtime cannot load and E_MODEL_INVALID when the runtime rejects the model
 * (or, on onnxruntime, its input/output names break the contract).
 */
export async function createCpuBackend(model: LoadedModel, options: CpuBackendOptions = {}): Promise<InferenceBackend> {
  const choice = requestedRuntime();
  const runtime = await loadCpuRuntime(choice);
  if (runtime.name !== 'plan') return createOrtBackend(model, runtime, options);
  try {
    return await createPlanBackend(model, runtime, options);
  } catch (err) {
    // Auto: a model the plan compiler does not take (an operator it lacks) still runs on onnxruntime, saying why.
    if (choice === 'plan' || !(err instanceof SmlmError) || err.code !== 'E_MODEL_INVALID') throw err;
    return createOrtBackend(model, { ...(await loadOnnxRuntime('auto')), planUnavailable: `${model.name} does not compile to a plan (${err.message})` }, options);
  }
}

async function createPlanBackend(model: LoadedModel, runtime: PlanRuntime, options: CpuBackendOptions): Promise<InferenceBackend> {
  // Every row of a localization head is kept: the executor's output is the ONNX `detections` (sx, sy for localize).
  const plan = compileModel(model, { localizationRows: 'all' });
  const head = plan.ops.at(-1);
  let executor: NativeCpuExecutor;
  try {
    executor = await runtime.cpu.createCpuExecutor(plan, {
      ...(options.threads ? { threads: options.threads } : {}),
      ...(head?.op === 'localization-head' ? { localizationRows: localizationHeadRows(head) } : {}),
    });
  } catch (err) {
    const code = (err as { code?: string }).code === 'E_BAD_OPTIONS' ? 'E_BAD_OPTIONS' : 'E_MODEL_INVALID';
    throw new SmlmError(code, `${model.name}: the plan executor cannot run the model: ${(err as Error).message}`, { model: model.name }, { cause: err });
  }
  return new CpuBackend(runtime, new PlanRunner(executor, model), model, executor.describe());
}

async function createOrtBackend(model: LoadedModel, runtime: OnnxRuntime & { planUnavailable?: string }, options: CpuBackendOptions): Promise<InferenceBackend> {
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
  return new CpuBackend(runtime, new OrtRunner(ort, session, outputName, model), model);
}
