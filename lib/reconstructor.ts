/**
 * The public entry point: a Reconstructor owns one model and one backend and turns stacks into super-resolution
 * images. Calls are queued on a promise chain, so concurrent `reconstruct` calls run one after the other and never
 * interleave their batches on the backend. Every call (reconstruct, reconstructSource, a live session) runs as one
 * backend session (lib/backends/backend.ts): opened, fed chunk by chunk, finished, the output cropped back here.
 */
import { allocateArray } from './allocation.js';
import type { InferenceBackend } from './backends/backend.js';
import { selectBackend } from './backends/select.js';
import { abortedError, checkCallOptions, cropResult, planCall, pushChunk, resultOf, type CallContext } from './call-plan.js';
import { graphFootprint, type GraphFootprint } from './engine/graph-footprint.js';
import { SmlmError } from './errors.js';
import { checkLiveOptions, openLive, planLive, type LiveOptions, type LiveSession, type LiveSessionImpl } from './live.js';
import { planPreparation, prepareChunk } from './frames/prepare.js';
import { selectFrames } from './io/frame-range.js';
import { stackAsSource, type FrameSource } from './io/frame-source.js';
import { validateFrameSource, validateStack } from './io/validate-stack.js';
import type { ModelMetadata } from './model/metadata.js';
import type { LoadedModel } from './model/onnx.js';
import { resolveModel } from './model/registry.js';
import { checkBackendChoice, checkBatchSize, checkDevice, checkGpuOnlyOptions, checkPrecision } from './options.js';
import type { BackendName, ReconstructCallOptions, ReconstructionResult, ReconstructorOptions, Stack } from './types.js';

function checkOptions(options: ReconstructorOptions): void {
  if (options === null || typeof options !== 'object') throw new SmlmError('E_BAD_OPTIONS', 'options must be an object');
  if (options.backend !== undefined) checkBackendChoice(options.backend);
  checkBatchSize(options.batchSize);
  checkPrecision(options.precision);
  checkDevice(options.device);
  checkGpuOnlyOptions(options.backend, options.device, options.precision);
}

function closedError(): SmlmError {
  return new SmlmError('E_CLOSED', 'this Reconstructor was closed');
}

export class Reconstructor {
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;
  /** Live sessions open now (close() aborts them). */
  private readonly lives = new Set<LiveSessionImpl>();

  private constructor(
    private readonly loaded: LoadedModel,
    /** The graph's largest tensor per frame pixel: caps each call's batch to what memory holds. */
    private readonly footprint: GraphFootprint,
    private readonly backend: InferenceBackend,
    private readonly batchSize: number,
    /** Why `auto` fell back to the CPU, if it did. */
    readonly fallbackReason: string | undefined,
  ) {}

  /**
   * Loads the model (a bundled name or an ONNX path; default: the bundled default) and starts the backend.
   * Throws E_BAD_OPTIONS, E_MODEL_NOT_FOUND, E_MODEL_INVALID or E_BACKEND_UNAVAILABLE.
   */
  static async create(options: ReconstructorOptions = {}): Promise<Reconstructor> {
    checkOptions(options);
    const model = await resolveModel(options.model);
    // Every backend: a graph whose tensors cannot be bounded is refused before onnxruntime or the engine sees it.
    const footprint = graphFootprint(model);
    const selected = await selectBackend(options.backend ?? 'auto', model, {
      batchSize: options.batchSize,
      precision: options.precision,
      device: options.device,
    });
    return new Reconstructor(model, footprint, selected.backend, selected.batchSize, selected.fallbackReason);
  }

  /** What a call runs on: the model, its footprint, the backend and the batch size asked for. */
  private get context(): CallContext {
    return { loaded: this.loaded, footprint: this.footprint, backend: this.backend, batchSize: this.batchSize };
  }

  /** The backend actually in use (after `auto` was resolved). */
  get backendName(): BackendName {
    return this.backend.name;
  }

  /** The model's name (bundled name or the path given) and its metadata. */
  get model(): { name: string; path: string; hash: string; metadata: ModelMetadata } {
    const { name, path, hash, metadata } = this.loaded;
    return { name, path, hash, metadata };
  }

  /**
   * Reconstructs one in-memory stack: frames -> per-frame maps (clamped at 0) -> their sum / outputScale.
   * The call's options and the stack are validated before any backend work (on a closed Reconstructor, E_CLOSED
   * comes first). Throws E_EMPTY_STACK, E_BAD_OPTIONS, E_NON_FINITE_PIXELS, E_FRAME_SIZE_UNSUPPORTED, E_ABORTED
   * (between batches), E_CLOSED, or a backend error.
   */
  reconstruct(stack: Stack, options: ReconstructCallOptions = {}): Promise<ReconstructionResult> {
    try {
      // A closed Reconstructor says so first, whatever else is wrong with the call.
      if (this.closed) throw closedError();
      checkCallOptions(options);
      validateStack(stack);
      planPreparation(stack, this.loaded.metadata, this.loaded.name, options);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.reconstructSource(stackAsSource(stack), options);
  }

  /**
   * Reconstructs a stack read chunk by chunk (e.g. `openTiffStack(path)`), so that stacks larger than memory work.
   * Each chunk is validated as it arrives; the announced shape and frame size are checked, and the result buffers
   * allocated, before the first chunk is read: an output image too large to allocate is E_FRAME_SIZE_UNSUPPORTED,
   * frame maps too large E_BAD_OPTIONS (both say the bytes needed). The next chunk is read while the backend works
   * on the current one. The call owns the source: it calls the source's `close()` (if it has one) when it ends, with
   * a result or an error, so a file opened with openTiffStack is never left to the garbage collector.
   */
  reconstructSource(source: FrameSource, options: ReconstructCallOptions = {}): Promise<ReconstructionResult> {
    try {
      if (this.closed) throw closedError();
      checkCallOptions(options);
    } catch (err) {
      return closeSource(source).then(() => Promise.reject(err));
    }
    const run = () => this.runSource(source, options).finally(() => closeSource(source));
    const result = this.queue.then(run, run);
    // The queue only orders calls; one call's failure must not fail the next.
    this.queue = result.catch(() => undefined);
    return result;
  }

  private async runSource(source: FrameSource, options: ReconstructCallOptions): Promise<ReconstructionResult> {
    const started = performance.now();
    const { signal, onProgress, keepFrameMaps, onDetections } = options;
    if (signal?.aborted) throw abortedError();
    validateFrameSource(source);
    if (options.frames) source = selectFrames(source, options.frames);
    const { frames, height, width } = source;
    // Pixel size, resampling to the model's pixels and padding to a size it takes: decided once, applied per chunk.
    let frameMaps: Float32Array | undefined;
    const call = planCall(this.context, source, options, (outH, outW) => {
      frameMaps = keepFrameMaps
        ? allocateArray(Float32Array, frames * outH * outW, 'E_BAD_OPTIONS', `the ${frames} frame maps of ${outW} x ${outH} px that keepFrameMaps asks for`, 'reconstruct fewer frames per call')
        : undefined;
    });
    const { plan, outH, outW } = call;
    let framesDone = 0;
    let inferenceMs = 0;
    let preprocessMs = 0;
    const session = await this.backend.openSession(call.geometry);
    try {
      for await (const chunk of readAhead(source.chunks(call.chunkFrames))) {
        if (signal?.aborted) throw abortedError();
        validateStack(chunk, `the stack (frames ${framesDone}..${framesDone + chunk.frames - 1})`, framesDone);
        if (chunk.height !== height || chunk.width !== width) {
          throw new SmlmError('E_FRAME_SIZE_MISMATCH', `frame ${framesDone} is ${chunk.width} x ${chunk.height}, but the stack is ${width} x ${height}`);
        }
        if (framesDone + chunk.frames > frames) throw new SmlmError('E_BAD_OPTIONS', `the source yielded more than the ${frames} frames it announced`);
        const offset = framesDone;
        const timings = await pushChunk(session, call, session.preparesFrames ? chunk : prepareChunk(chunk, plan), offset, {
          signal,
          onProgress: onProgress && ((done) => onProgress({ framesDone: done, framesTotal: frames })),
          onDetections,
          mapsOut: frameMaps?.subarray(offset * outH * outW, (offset + chunk.frames) * outH * outW),
        });
        inferenceMs += timings.inferenceMs;
        preprocessMs += timings.preprocessMs;
        framesDone += chunk.frames;
      }
      if (framesDone !== frames) throw new SmlmError('E_BAD_OPTIONS', `the source announced ${frames} frames but yielded ${framesDone}`);
      const image = cropResult(call, await session.finish());
      const firstFrame = 'firstFrame' in source ? (source as { firstFrame: number }).firstFrame : 1;
      return resultOf(this.context, call, image, { frames, firstFrame }, { totalMs: performance.now() - started, inferenceMs, preprocessMs }, frameMaps);
    } finally {
      session.close();
    }
  }

  /**
   * Opens a live session for frames of `options.height` x `options.width` px that arrive over time (lib/live.ts):
   * push them as they come, take snapshots, finish for the result reconstruct would give for the same frames.
   * Resolves once the session is open: after the calls queued before it. While it is open, later calls on this
   * Reconstructor wait for it: finish or abort it before awaiting them. Options are checked before it is queued
   * (E_BAD_OPTIONS; E_FRAME_SIZE_UNSUPPORTED for a frame size the model cannot take with padFrames: false, or frames
   * whose output image cannot be allocated); E_ABORTED when its signal fires while it waits, E_CLOSED on a closed
   * Reconstructor.
   */
  live(options: LiveOptions): Promise<LiveSession> {
    let call: ReturnType<typeof planLive>;
    try {
      if (this.closed) throw closedError();
      checkLiveOptions(options);
      call = planLive(this.context, options);
    } catch (err) {
      return Promise.reject(err);
    }
    let release!: () => void;
    const ended = new Promise<void>((resolve) => (release = resolve));
    const open = async () => {
      if (this.closed) throw closedError();
      const live = await openLive(this.context, call, options, () => {
        this.lives.delete(live);
        release();
      });
      this.lives.add(live);
      return live;
    };
    const opened = this.queue.then(open, open);
    // The queue holds until the session has ended; a session that did not open holds nothing.
    this.queue = opened.then(
      () => ended,
      () => undefined,
    );
    const { signal } = options;
    if (!signal) return opened;
    // A signal that fires while the session waits for its turn rejects at once; the session then never opens, or
    // (opened in between) ends itself on the signal.
    return new Promise<LiveSession>((resolve, reject) => {
      const onAbort = () => reject(new SmlmError('E_ABORTED', 'live session aborted before it opened'));
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
      opened.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
    });
  }

  /**
   * Waits for queued calls, then releases the backend. Open live sessions are ended (their calls in flight reject
   * with E_CLOSED). Later calls fail with E_CLOSED. Idempotent.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.lives].map((live) => live.closeFromReconstructor()));
    await this.queue;
    await this.backend.close();
  }
}

/** Closes a source that can be closed; a failure to close must not hide the call's own result or error. */
async function closeSource(source: FrameSource): Promise<void> {
  if (source !== null && typeof source === 'object' && typeof source.close === 'function') await source.close().catch(() => undefined);
}

/**
 * Yields the chunks of `chunks` while the next one is already being read: reading chunk k+1 from disk overlaps the
 * backend's work on chunk k. At most two chunks are held at once. When the consumer stops early (an error, an
 * abort), the read in flight is awaited and the iterator is ended, so no read outlives the call.
 */
export async function* readAhead<T>(chunks: AsyncIterable<T>): AsyncGenerator<T> {
  const iterator = chunks[Symbol.asyncIterator]();
  let next = iterator.next();
  // A read that fails while the consumer is busy is reported when its turn comes, not as an unhandled rejection.
  next.catch(() => undefined);
  let finished = false;
  try {
    for (;;) {
      const current = await next;
      if (current.done) {
        finished = true;
        return;
      }
      next = iterator.next();
      next.catch(() => undefined);
      yield current.value;
    }
  } finally {
    if (!finished) {
      await next.catch(() => undefined);
      await Promise.resolve(iterator.return?.()).catch(() => undefined);
    }
  }
}

/** One-shot: create a Reconstructor, reconstruct one stack, close it. */
export async function reconstruct(stack: Stack, options: ReconstructorOptions & ReconstructCallOptions = {}): Promise<ReconstructionResult> {
  if (options === null || typeof options !== 'object') throw new SmlmError('E_BAD_OPTIONS', `options must be an object, got ${String(options)}`);
  const { signal, onProgress, keepFrameMaps, onDetections, frames, pixelSizeNm, resample, padFrames, ...createOptions } = options;
  const callOptions = { signal, onProgress, keepFrameMaps, onDetections, frames, pixelSizeNm, resample, padFrames };
  // Validate the call and the stack before paying for model loading.
  checkCallOptions(callOptions);
  validateStack(stack);
  const rec = await Reconstructor.create(createOptions);
  try {
    return await rec.reconstruct(stack, callOptions);
  } finally {
    await rec.close();
  }
}
