// The TypeScript side of the GPU backends, without a GPU: NativeEngineBackend in front of a scripted stand-in for
// the addon's engine object (the same interface the C++ EngineWrap implements). Runs everywhere, CI included.
import { describe, expect, it } from 'vitest';
import { isSmlmError } from '../../lib/errors.js';
import type { NativeEngine, NativeRunRequest, NativeRunStats, NativeSession } from '../../lib/native/binding.js';
import { NativeEngineBackend, resolveGpuOptions, toSmlmError } from '../../lib/backends/native-engine.js';
import type { LoadedModel } from '../../lib/model/onnx.js';
import type { ModelMetadata } from '../../lib/model/metadata.js';
import { rejection } from '../helpers/calls.js';

const metadata: ModelMetadata = {
  architecture: 'test',
  upsampling: 2,
  cameraPixelNm: 100,
  outputPixelNm: 50,
  normalization: { kind: 'minmax-zscore', mean: 0, std: 1 },
  outputScale: 1,
  sizeMultiple: 4,
  minSize: 8,
  training: {},
};
const model = { name: 'test', path: '/dev/null', bytes: new Uint8Array(), proto: {}, metadata, hash: '' } as unknown as LoadedModel;

/** Records requests; `batches` batches of work, each reporting progress and checking the cancel flag like the engine. */
class ScriptedEngine implements NativeEngine {
  requests: NativeRunRequest[] = [];
  cancelled = false;
  closed = false;
  failWith?: { code?: string; message: string };

  async run(request: NativeRunRequest): Promise<NativeRunStats> {
    this.requests.push(request);
    this.cancelled = false;
    if (this.failWith) throw Object.assign(new Error(this.failWith.message), { code: this.failWith.code });
    const batch = request.batchSize;
    for (let done = 0; done < request.frameCount; ) {
      await new Promise((resolve) => setTimeout(resolve, 1));
      if (this.cancelled) throw Object.assign(new Error('cancelled'), { code: 'E_ABORTED' });
      done = Math.min(request.frameCount, done + batch);
      for (let i = 0; i < request.image.length; i++) request.image[i] += batch; // something checkable
      request.onProgress?.(done, request.frameCount);
    }
    return { totalMs: 10, deviceMs: 7, batchSize: batch, tiles: 1 };
  }
  openSession(): NativeSession {
    throw Object.assign(new Error('sessions are not scripted'), { code: 'E_BACKEND_UNAVAILABLE' });
  }
  cancel(): void {
    this.cancelled = true;
  }
  close(): void {
    this.closed = true;
  }
  describe(): string {
    return 'scripted';
  }
}

const stack = (frames: number, side = 8) => ({ data: new Uint16Array(frames * side * side), frames, height: side, width: side });
const imageFor = (side = 8) => new Float32Array(side * 2 * side * 2);

describe('NativeEngineBackend', () => {
  it('passes the stack, image and batch size to the engine and reports kernel vs other time', async () => {
    const engine = new ScriptedEngine();
    const backend = new NativeEngineBackend('cuda', engine, model, 16);
    const s = stack(10);
    const image = imageFor();
    const timings = await backend.run(s, image, { batchSize: 4 });
    expect(engine.requests[0]).toMatchObject({ frameCount: 10, height: 8, width: 8, batchSize: 4 });
    expect(engine.requests[0].frames).toBe(s.data); // zero-copy: the caller's array itself
    expect(engine.requests[0].image).toBe(image);
    expect(timings).toEqual({ inferenceMs: 7, preprocessMs: 3 });
    expect(backend.lastStats?.batchSize).toBe(4);
  });

  it('caps the batch at the size the engine was created for', async () => {
    const engine = new ScriptedEngine();
    const backend = new NativeEngineBackend('cuda', engine, model, 16);
    await backend.run(stack(40), imageFor(), { batchSize: 64 });
    expect(engine.requests[0].batchSize).toBe(16);
  });

  it('forwards progress as {framesDone, framesTotal}', async () => {
    const backend = new NativeEngineBackend('cuda', new ScriptedEngine(), model, 16);
    const seen: Array<[number, number]> = [];
    await backend.run(stack(10), imageFor(), { batchSize: 4, onProgress: (p) => seen.push([p.framesDone, p.framesTotal]) });
    expect(seen).toEqual([
      [4, 10],
      [8, 10],
      [10, 10],
    ]);
  });

  it('cancels the engine when the signal aborts and reports E_ABORTED', async () => {
    const engine = new ScriptedEngine();
    const backend = new NativeEngineBackend('cuda', engine, model, 16);
    const controller = new AbortController();
    const error = await rejection(backend.run(stack(40), imageFor(), { batchSize: 4, signal: controller.signal, onProgress: () => controller.abort() }));
    expect(isSmlmError(error, 'E_ABORTED')).toBe(true);
    expect(engine.cancelled).toBe(true);
  });

  it('refuses an already aborted signal without calling the engine', async () => {
    const engine = new ScriptedEngine();
    const backend = new NativeEngineBackend('cuda', engine, model, 16);
    expect(isSmlmError(await rejection(backend.run(stack(4), imageFor(), { batchSize: 4, signal: AbortSignal.abort() })), 'E_ABORTED')).toBe(true);
    expect(engine.requests).toHaveLength(0);
  });

  it('refuses frame sizes the model cannot take before the engine sees them', async () => {
    const engine = new ScriptedEngine();
    const backend = new NativeEngineBackend('cuda', engine, model, 16);
    for (const side of [4, 10]) {
      // 4: below minSize 8; 10: not a multiple of 4
      const error = await rejection(backend.run(stack(2, side), imageFor(side), { batchSize: 2 }));
      expect(isSmlmError(error, 'E_FRAME_SIZE_UNSUPPORTED')).toBe(true);
    }
    expect(engine.requests).toHaveLength(0);
  });

  it('refuses a stack whose data does not match its dimensions, and a wrongly sized image or map buffer', async () => {
    const backend = new NativeEngineBackend('cuda', new ScriptedEngine(), model, 16);
    const short = { ...stack(2), data: new Uint16Array(100) };
    expect(isSmlmError(await rejection(backend.run(short, imageFor(), { batchSize: 2 })), 'E_BAD_OPTIONS')).toBe(true);
    expect(isSmlmError(await rejection(backend.run(stack(2), new Float32Array(7), { batchSize: 2 })), 'E_BAD_OPTIONS')).toBe(true);
    expect(isSmlmError(await rejection(backend.run(stack(2), imageFor(), { batchSize: 2, frameMaps: new Float32Array(3) })), 'E_BAD_OPTIONS')).toBe(true);
  });

  it("maps the engine's error codes onto SmlmError and anything else onto E_GPU", async () => {
    const engine = new ScriptedEngine();
    const backend = new NativeEngineBackend('cuda', engine, model, 16);
    engine.failWith = { code: 'E_GPU_OUT_OF_MEMORY', message: 'out of device memory even for one frame at a time' };
    const oom = await rejection(backend.run(stack(4), imageFor(), { batchSize: 4 }));
    expect(isSmlmError(oom, 'E_GPU_OUT_OF_MEMORY')).toBe(true);
    expect((oom as Error).message).toContain('out of device memory');
    engine.failWith = { code: 'E_SOMETHING_NEW', message: 'cudaLaunchKernel: invalid argument' };
    const other = await rejection(backend.run(stack(4), imageFor(), { batchSize: 4 }));
    expect(isSmlmError(other, 'E_GPU')).toBe(true);
    expect((other as Error).message).toContain('invalid argument');
    expect(toSmlmError('plain string', 'tensorrt').code).toBe('E_GPU');
  });

  it('closes the engine once and then says E_CLOSED', async () => {
    const engine = new ScriptedEngine();
    const backend = new NativeEngineBackend('cuda', engine, model, 16);
    await backend.close();
    await backend.close();
    expect(engine.closed).toBe(true);
    expect(isSmlmError(await rejection(backend.run(stack(4), imageFor(), { batchSize: 4 })), 'E_CLOSED')).toBe(true);
  });
});

describe('resolveGpuOptions', () => {
  it('fills in defaults', () => {
    expect(resolveGpuOptions({}, 1)).toEqual({ batchSize: 64, device: 0, precision: 'fp16' });
  });
  it('refuses bad values with E_BAD_OPTIONS', () => {
    for (const options of [{ batchSize: 0 }, { batchSize: 1.5 }, { device: -1 }, { device: 2 }, { precision: 'int8' as 'fp16' }]) {
      expect(() => resolveGpuOptions(options, 2)).toThrow(expect.objectContaining({ code: 'E_BAD_OPTIONS' }));
    }
  });
});
