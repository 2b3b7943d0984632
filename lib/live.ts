/**
 * Live reconstruction: frames that arrive over time (a camera driver, a socket, a file still being written) pushed
 * into one backend session, read at any time with snapshot(), ended with finish(). Made by `Reconstructor.live()`.
 *
 *   const live = await rec.live({ height: 512, width: 512 });
 *   for await (const frames of camera) await live.push(frames); // resolves once the frames are accepted
 *   const preview = await live.snapshot();                      // the image so far; the session goes on
 *   const result = await live.finish();                          // as rec.reconstruct() would return it
 *
 * Pushed frames are cut into (or gathered into) chunks of the size reconstructSource reads; one chunk runs on the
 * backend while at most one more waits, so push() resolves as soon as its frames fit in the waiting chunk
 * (backpressure: a producer faster than the backend waits in push()). Frames pushed while a chunk runs are gathered
 * into the next one, so frames pushed one at a time still run in batches.
 */
import { allocateArray } from './allocation.js';
import type { BackendSession } from './backends/backend.js';
import { cropResult, isSignal, planCall, pushChunk, resultOf, type CallContext, type CallPlan } from './call-plan.js';
import { SmlmError } from './errors.js';
import { prepareChunk, RESAMPLE_MODES } from './frames/prepare.js';
import { checkPixelSizeNm } from './io/pixel-size.js';
import { validateStack } from './io/validate-stack.js';
import type { DetectionFrames, PixelArray, Progress, ReconstructionResult, Stack } from './types.js';

/** Options of `Reconstructor.live()`. */
export interface LiveOptions {
  /** Size of the frames that will be pushed, px. Every push must hold whole frames of this size. */
  height: number;
  width: number;
  /** The camera pixel size, nm (10..10000); overrides `sourcePixelSizeNm`. Default: the source's, else the model's. */
  pixelSizeNm?: number;
  /**
   * The pixel size the frames' source states (e.g. a TIFF's calibration), used as reconstruct uses a stack's own:
   * one outside 10 nm..10 um is ignored (result.preparation.ignoredCalibration says so).
   */
  sourcePixelSizeNm?: number;
  /** As ReconstructCallOptions.resample. */
  resample?: 'auto' | 'always' | 'never';
  /** As ReconstructCallOptions.padFrames. */
  padFrames?: boolean;
  /**
   * finish() also returns every frame's map (frames x height x width of the result), as reconstruct's keepFrameMaps.
   * They are kept as chunks are done and joined at finish(): 4 bytes per map pixel, twice over for a moment.
   */
  keepFrameMaps?: boolean;
  /** Aborts the session, as live.abort() does. */
  signal?: AbortSignal;
  /** Called as frames are done; framesTotal is the frames pushed so far. */
  onProgress?: (progress: Progress) => void;
  /** As ReconstructCallOptions.onDetections; firstFrame counts from the session's first frame (0). */
  onDetections?: (detections: Float32Array, firstFrame: number, count: number, grid: DetectionFrames) => void;
}

/** Options of one LiveSession.push(). */
export interface LivePushOptions {
  /**
   * Whether push copies frames it has to keep after it resolves (default true), so that the caller may reuse its
   * buffer at once. false: the session reads the array until the frames are done; do not change it before finish().
   */
  copy?: boolean;
}

/** The image so far, as reconstruct returns a result (without frame maps); `frames` is the frames done. */
export type LiveSnapshot = Omit<ReconstructionResult, 'frameMaps'>;

/** State of a live session: open, or ended by finish(), abort() (or its signal, or the Reconstructor's close()), or a failure. */
export type LiveState = 'open' | 'finished' | 'aborted' | 'failed';

/**
 * A reconstruction fed frame by frame (see lib/live.ts). While it is open it holds its Reconstructor's queue: other
 * calls on the same Reconstructor wait until it is finished or aborted.
 */
export interface LiveSession {
  /** The frame size every push must have. */
  readonly height: number;
  readonly width: number;
  /** Frames accepted by push() so far, and frames the backend has done. */
  readonly framesPushed: number;
  readonly framesDone: number;
  readonly state: LiveState;
  /**
   * Queues whole frames: a Stack of this session's frame size, or a Uint8Array/Uint16Array/Float32Array holding whole
   * frames. Resolves when the frames are accepted (one chunk runs, at most one more waits), before they are done.
   * Rejects with E_BAD_OPTIONS (another frame size, not whole frames, not pixel data), E_NON_FINITE_PIXELS (nothing
   * of that push is queued), E_ABORTED (aborted while waiting), E_CLOSED (after finish or abort), or the error that
   * ended the session (a backend failure). Pushes are taken in the order they were made; a push of 0 frames does
   * nothing. A Stack's own pixelSizeNm is not read: the pixel size was fixed by live().
   */
  push(frames: Stack | PixelArray, options?: LivePushOptions): Promise<void>;
  /** The image of every frame pushed before this call, once they are done, without ending the session. */
  snapshot(): Promise<LiveSnapshot>;
  /**
   * Waits for every pushed frame, ends the session and returns the result exactly as reconstruct() would return it
   * for those frames. E_EMPTY_STACK when no frame was pushed (the session ends all the same); E_CLOSED when called
   * again.
   */
  finish(): Promise<ReconstructionResult>;
  /**
   * Ends the session without a result: calls in flight reject with E_ABORTED, later ones with E_CLOSED. Resolves when
   * the backend has stopped and its Reconstructor is free for other calls. Idempotent; never rejects.
   */
  abort(): Promise<void>;
}

function badOptions(message: string): SmlmError {
  return new SmlmError('E_BAD_OPTIONS', message);
}

const isPixelArray = (v: unknown): v is PixelArray => v instanceof Uint8Array || v instanceof Uint16Array || v instanceof Float32Array;

/** E_BAD_OPTIONS unless the live options have their types (frame size: positive integers). */
export function checkLiveOptions(options: LiveOptions): void {
  if (options === null || typeof options !== 'object') throw badOptions(`live options must be an object { height, width, ... }, got ${String(options)}`);
  const { height, width, pixelSizeNm, resample, padFrames, keepFrameMaps, signal, onProgress, onDetections } = options;
  for (const [name, v] of [
    ['height', height],
    ['width', width],
  ] as const) {
    if (!(typeof v === 'number' && Number.isSafeInteger(v) && v > 0)) throw badOptions(`live ${name} must be a positive integer (px), got ${String(v)}`);
  }
  if (pixelSizeNm !== undefined) checkPixelSizeNm(pixelSizeNm, 'pixelSizeNm');
  const source = options.sourcePixelSizeNm;
  if (source !== undefined && !(typeof source === 'number' && Number.isFinite(source) && source > 0)) throw badOptions(`sourcePixelSizeNm must be a positive number of nm, got ${String(source)}`);
  if (resample !== undefined && !RESAMPLE_MODES.includes(resample)) throw badOptions(`resample must be "auto", "always" or "never", got ${JSON.stringify(resample)}`);
  if (padFrames !== undefined && typeof padFrames !== 'boolean') throw badOptions(`padFrames must be true or false, got ${String(padFrames)}`);
  if (keepFrameMaps !== undefined && typeof keepFrameMaps !== 'boolean') throw badOptions(`keepFrameMaps must be true or false, got ${String(keepFrameMaps)}`);
  if (signal !== undefined && !isSignal(signal)) throw badOptions('signal must be an AbortSignal (e.g. new AbortController().signal)');
  if (onProgress !== undefined && typeof onProgress !== 'function') throw badOptions(`onProgress must be a function, got ${typeof onProgress}`);
  if (onDetections !== undefined && typeof onDetections !== 'function') throw badOptions(`onDetections must be a function, got ${typeof onDetections}`);
}

/** Plans a live call (frame preparation, geometry, chunk size); the same errors as reconstruct's planning. */
export function planLive(context: CallContext, options: LiveOptions): CallPlan {
  const shape = { height: options.height, width: options.width, pixelSizeNm: options.sourcePixelSizeNm };
  return planCall(context, shape, { pixelSizeNm: options.pixelSizeNm, resample: options.resample, padFrames: options.padFrames });
}

/**
 * Opens the backend session of a live call (planned by planLive). `onEnd` runs once the session has ended and the
 * backend stopped: the Reconstructor then lets its next call run.
 */
export async function openLive(context: CallContext, call: CallPlan, options: LiveOptions, onEnd: () => void): Promise<LiveSessionImpl> {
  if (options.signal?.aborted) throw new SmlmError('E_ABORTED', 'live session aborted before it opened');
  const session = await context.backend.openSession(call.geometry);
  return new LiveSessionImpl(context, call, options, session, onEnd);
}

/** One chunk waiting for the backend: its frames (prepared unless the session prepares them) and where it starts. */
interface Piece {
  data: PixelArray;
  frames: number;
  height: number;
  width: number;
}

export class LiveSessionImpl implements LiveSession {
  readonly height: number;
  readonly width: number;
  framesPushed = 0;
  framesDone = 0;
  state: LiveState = 'open';
  private readonly started = performance.now();
  /** Pieces accepted but not yet handed to the backend (together at most one chunk). */
  private pending: Piece[] = [];
  private pendingFrames = 0;
  /** The loop handing pending pieces to the backend, while it runs. */
  private running = false;
  private worker: Promise<void> = Promise.resolve();
  /** Pushes waiting for room in the pending chunk. */
  private roomWaiters: Array<() => void> = [];
  /** Public calls, one after the other. */
  private ops: Promise<unknown> = Promise.resolve();
  private failure: SmlmError | undefined;
  private readonly interrupted: Promise<never>;
  private interrupt!: (reason: SmlmError) => void;
  private released: Promise<void> | undefined;
  private readonly controller = new AbortController();
  private readonly onSignal: () => void;
  private inferenceMs = 0;
  private preprocessMs = 0;
  private readonly maps: Float32Array[] = [];

  constructor(
    private readonly context: CallContext,
    private readonly call: CallPlan,
    private readonly options: LiveOptions,
    private readonly session: BackendSession,
    private readonly onEnd: () => void,
  ) {
    this.height = options.height;
    this.width = options.width;
    this.interrupted = new Promise<never>((_, reject) => {
      this.interrupt = reject;
    });
    this.interrupted.catch(() => undefined);
    this.onSignal = () => this.end('aborted', new SmlmError('E_ABORTED', 'live session aborted by the caller'));
    options.signal?.addEventListener('abort', this.onSignal, { once: true });
    // A signal that fired while the session was being opened has no 'abort' event left to send.
    if (options.signal?.aborted) this.onSignal();
  }

  push(frames: Stack | PixelArray, options: LivePushOptions = {}): Promise<void> {
    let stack: Stack;
    try {
      this.checkOpen();
      stack = this.asStack(frames);
      if (options === null || typeof options !== 'object') throw badOptions('push options must be an object');
      if (options.copy !== undefined && typeof options.copy !== 'boolean') throw badOptions(`copy must be true or false, got ${String(options.copy)}`);
    } catch (err) {
      return Promise.reject(err);
    }
    if (stack.frames === 0) return this.op(async () => undefined);
    return this.op(() => this.accept(stack, options.copy !== false));
  }

  snapshot(): Promise<LiveSnapshot> {
    return this.op(async () => {
      await this.drained();
      const image = cropResult(this.call, await this.session.snapshot());
      return resultOf(this.context, this.call, image, { frames: this.framesDone, firstFrame: 1 }, this.timings(), undefined);
    });
  }

  finish(): Promise<ReconstructionResult> {
    return this.op(async () => {
      await this.drained();
      this.checkOpen();
      this.state = 'finished';
      try {
        if (this.framesDone === 0) throw new SmlmError('E_EMPTY_STACK', 'the live session ended without a frame pushed');
        const image = cropResult(this.call, await this.session.finish());
        const frameMaps = this.options.keepFrameMaps ? this.joinedMaps() : undefined;
        return resultOf(this.context, this.call, image, { frames: this.framesDone, firstFrame: 1 }, this.timings(), frameMaps);
      } finally {
        this.release();
      }
    });
  }

  abort(): Promise<void> {
    this.end('aborted', new SmlmError('E_ABORTED', 'live session aborted by the caller'));
    return this.released ?? Promise.resolve();
  }

  /** Ends the session because its Reconstructor is closed: calls in flight reject with E_CLOSED. */
  closeFromReconstructor(): Promise<void> {
    this.end('aborted', new SmlmError('E_CLOSED', 'the Reconstructor of this live session was closed'));
    return this.released ?? Promise.resolve();
  }

  private checkOpen(): void {
    if (this.state === 'open') return;
    if (this.failure) throw this.failure;
    throw new SmlmError('E_CLOSED', `this live session has ended (${this.state})`);
  }

  /** Runs public calls in order; one in flight when the session is aborted rejects with the reason at once. */
  private op<T>(work: () => Promise<T>): Promise<T> {
    try {
      this.checkOpen();
    } catch (err) {
      return Promise.reject(err);
    }
    const result = this.ops.then(() => {
      this.checkOpen();
      return work();
    });
    this.ops = result.catch(() => undefined);
    const raced = Promise.race([result, this.interrupted]);
    // The loser of the race must not be reported as unhandled.
    result.catch(() => undefined);
    return raced;
  }

  /** The pushed value as a stack of this session's frame size; E_BAD_OPTIONS / E_NON_FINITE_PIXELS otherwise. */
  private asStack(frames: Stack | PixelArray): Stack {
    const { height, width } = this;
    const framePixels = height * width;
    let stack: Stack;
    if (isPixelArray(frames)) {
      if (frames.length % framePixels !== 0) {
        throw badOptions(`pushed ${frames.length} pixels, not whole frames of ${width} x ${height} px (${framePixels} pixels each)`);
      }
      stack = { data: frames, frames: frames.length / framePixels, height, width };
    } else if (frames !== null && typeof frames === 'object' && 'data' in frames) {
      if (frames.height !== height || frames.width !== width) {
        throw badOptions(`pushed frames of ${String(frames.width)} x ${String(frames.height)} px into a live session of ${width} x ${height} px frames`);
      }
      stack = frames;
    } else {
      throw badOptions('push takes a Stack { data, frames, height, width } or a Uint8Array, Uint16Array or Float32Array of whole frames');
    }
    if (stack.frames === 0 && stack.data?.length === 0) return stack;
    validateStack(stack, `the frames pushed (session frames ${this.framesPushed}..)`, this.framesPushed);
    return stack;
  }

  /** Queues the stack's frames piece by piece, waiting for room in the pending chunk. */
  private async accept(stack: Stack, copy: boolean): Promise<void> {
    const framePixels = this.height * this.width;
    const { chunkFrames, plan } = this.call;
    const raw = this.session.preparesFrames;
    for (let first = 0; first < stack.frames;) {
      while (this.pendingFrames >= chunkFrames) {
        await new Promise<void>((resolve) => this.roomWaiters.push(resolve));
        this.checkOpen();
      }
      const count = Math.min(stack.frames - first, chunkFrames - this.pendingFrames);
      const piece: Stack = { data: stack.data.subarray(first * framePixels, (first + count) * framePixels), frames: count, height: this.height, width: this.width };
      const prepared = raw ? piece : prepareChunk(piece, plan);
      // Frames kept after push resolves are copied unless the caller said not to, or preparing them copied them.
      const shared = prepared.data.buffer === stack.data.buffer;
      this.pending.push({ ...prepared, data: copy && shared ? prepared.data.slice() : prepared.data });
      this.pendingFrames += count;
      this.framesPushed += count;
      first += count;
      this.kick();
    }
  }

  /** Starts the loop handing pending pieces to the backend, unless it runs. */
  private kick(): void {
    if (this.running) return;
    this.running = true;
    this.worker = (async () => {
      try {
        while (this.pending.length > 0 && this.state !== 'aborted' && this.state !== 'failed') {
          const chunk = this.take();
          for (const wake of this.roomWaiters.splice(0)) wake();
          try {
            await this.runChunk(chunk);
          } catch (err) {
            this.fail(err);
          }
        }
      } finally {
        this.running = false;
      }
    })();
  }

  /** The pending pieces as one chunk (joined when there are several). */
  private take(): Piece {
    const pieces = this.pending;
    const frames = this.pendingFrames;
    this.pending = [];
    this.pendingFrames = 0;
    if (pieces.length === 1) return pieces[0];
    const Type = pieces.every((p) => p.data.constructor === pieces[0].data.constructor) ? (pieces[0].data.constructor as new (n: number) => PixelArray) : Float32Array;
    const { height, width } = pieces[0];
    const data = new Type(frames * height * width);
    let at = 0;
    for (const p of pieces) {
      data.set(p.data, at);
      at += p.data.length;
    }
    return { data, frames, height, width };
  }

  private async runChunk(chunk: Piece): Promise<void> {
    const offset = this.framesDone;
    const { outH, outW } = this.call;
    const keep = this.options.keepFrameMaps === true;
    const mapsOut = keep ? allocateArray(Float32Array, chunk.frames * outH * outW, 'E_BAD_OPTIONS', `the frame maps of ${chunk.frames} frames of ${outW} x ${outH} px (keepFrameMaps)`) : undefined;
    const { onProgress, onDetections } = this.options;
    const timings = await pushChunk(this.session, this.call, chunk, offset, {
      signal: this.controller.signal,
      onProgress: onProgress && ((done) => onProgress({ framesDone: done, framesTotal: this.framesPushed })),
      onDetections,
      mapsOut,
    });
    if (mapsOut) this.maps.push(mapsOut);
    this.inferenceMs += timings.inferenceMs;
    this.preprocessMs += timings.preprocessMs;
    this.framesDone += chunk.frames;
  }

  /** Waits until every accepted frame is done (or the session failed: then throws its error). */
  private async drained(): Promise<void> {
    while (this.running || this.pending.length > 0) {
      if (!this.running) this.kick();
      await this.worker;
    }
    if (this.failure) throw this.failure;
  }

  private fail(err: unknown): void {
    const error = err instanceof SmlmError ? err : new SmlmError('E_GPU', `live session: ${err instanceof Error ? err.message : String(err)}`, {}, { cause: err });
    if (this.state !== 'open') return;
    this.failure = error;
    this.end('failed', error);
  }

  /** Ends the session early: wakes and rejects waiting calls, stops the backend, then releases it. */
  private end(state: 'aborted' | 'failed', reason: SmlmError): void {
    if (this.state !== 'open') return;
    this.state = state;
    this.pending = [];
    this.pendingFrames = 0;
    this.controller.abort();
    this.interrupt(reason);
    for (const wake of this.roomWaiters.splice(0)) wake();
    this.release();
  }

  /** Once the backend has stopped: closes the session and lets the Reconstructor's next call run. */
  private release(): void {
    if (this.released) return;
    this.options.signal?.removeEventListener('abort', this.onSignal);
    this.released = (async () => {
      while (this.running) await this.worker;
      this.session.close();
      this.onEnd();
    })();
  }

  private timings(): ReconstructionResult['timings'] {
    return { totalMs: performance.now() - this.started, inferenceMs: this.inferenceMs, preprocessMs: this.preprocessMs };
  }

  private joinedMaps(): Float32Array {
    const { outH, outW } = this.call;
    const all = allocateArray(Float32Array, this.framesDone * outH * outW, 'E_BAD_OPTIONS', `the ${this.framesDone} frame maps of ${outW} x ${outH} px that keepFrameMaps asks for`);
    let at = 0;
    for (const m of this.maps) {
      all.set(m, at);
      at += m.length;
    }
    this.maps.length = 0;
    return all;
  }
}
