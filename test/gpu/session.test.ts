// On a GPU: the device-resident session (lib/backends/backend.ts BackendSession, native/engine/pipeline.h). Chunks
// pushed into one session sum exactly as one run of all their frames; snapshot() reads the image mid-session without
// ending it; finish() ends it; the scale is applied on the device; AbortSignal stops a push between batches and the
// engine stays usable; bad input is refused with typed errors.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackendSession } from '../../lib/backends/backend.js';
import { createCudaBackend } from '../../lib/backends/cuda.js';
import type { NativeEngineBackend } from '../../lib/backends/native-engine.js';
import { isSmlmError } from '../../lib/errors.js';
import type { LoadedModel } from '../../lib/model/onnx.js';
import { makeStack } from '../../benchmarks/synthetic-stack.js';
import { announceSkip, gpu, relativeL2, sum, testModels } from './helpers.js';
import { framesOf, rejection } from '../helpers/calls.js';

announceSkip('session');

describe.skipIf(!gpu.usable)('cuda backend sessions', () => {
  let model: LoadedModel;
  let backend: NativeEngineBackend;
  const stack = makeStack(24, 64, 64, 21);
  let outPixels = 0;

  beforeAll(async () => {
    model = await testModels()[1].load(); // deepstorm random w8 (tensor cores, head fused into the last conv)
    backend = (await createCudaBackend(model, { batchSize: 8 })) as NativeEngineBackend;
    outPixels = stack.height * stack.width * model.metadata.upsampling ** 2;
  }, 300_000);
  afterAll(async () => {
    await backend?.close();
  });

  const geometry = (scale = 1) => ({ height: stack.height, width: stack.width, scale, batchSize: 8 });

  it('sums chunks on the device exactly as one run of all their frames', async () => {
    const whole = new Float32Array(outPixels);
    await backend.run(stack, whole, { batchSize: 8 });
    expect(sum(whole)).toBeGreaterThan(0);
    const session = await backend.openSession(geometry());
    expect(session.preparesFrames).toBe(false);
    for (let first = 0; first < stack.frames; first += 8) await session.push(framesOf(stack, first, 8), {});
    const image = await session.finish();
    expect(image.length).toBe(outPixels);
    console.log(`[session] 3 chunks of 8 vs one run of 24: relative L2 ${relativeL2(image, whole).toExponential(2)}`);
    expect(relativeL2(image, whole)).toBeLessThan(1e-6);
  });

  it('reads a snapshot mid-session, scaled on the device, and goes on', async () => {
    const first = new Float32Array(outPixels);
    await backend.run(framesOf(stack, 0, 8), first, { batchSize: 8 });
    const all = new Float32Array(outPixels);
    await backend.run(stack, all, { batchSize: 8 });
    const scale = 0.25;
    const session = await backend.openSession(geometry(scale));
    await session.push(framesOf(stack, 0, 8), {});
    const snap = await session.snapshot();
    expect(
      relativeL2(
        snap,
        first.map((v) => v * scale),
      ),
    ).toBeLessThan(1e-6);
    const again = await session.snapshot(); // a snapshot does not change the image
    expect(relativeL2(again, snap)).toBe(0);
    await session.push(framesOf(stack, 8, 16), {});
    const image = await session.finish();
    expect(
      relativeL2(
        image,
        all.map((v) => v * scale),
      ),
    ).toBeLessThan(1e-6);
    // Finished: every later call is refused, close() stays quiet.
    expect(isSmlmError(await rejection(session.snapshot()), 'E_CLOSED')).toBe(true);
    expect(isSmlmError(await rejection(session.push(framesOf(stack, 0, 1), {})), 'E_CLOSED')).toBe(true);
    session.close();
    session.close();
  });

  it('stops a push when its signal aborts, keeps the engine usable', async () => {
    const long = makeStack(1024, 64, 64, 22);
    const session = await backend.openSession({ ...geometry(), batchSize: 1 });
    const controller = new AbortController();
    const reports: number[] = [];
    const error = await rejection(
      session.push(long, {
        signal: controller.signal,
        onProgress: ({ framesDone }) => {
          reports.push(framesDone);
          controller.abort();
        },
      }),
    );
    expect(isSmlmError(error, 'E_ABORTED')).toBe(true);
    expect(Math.max(...reports)).toBeLessThan(long.frames);
    console.log(`[session] push aborted after ${Math.max(...reports)} of ${long.frames} frames`);
    expect(isSmlmError(await rejection(session.push(long, { signal: AbortSignal.abort() })), 'E_ABORTED')).toBe(true);
    session.close();
    // The engine and a fresh session still work.
    const next = await backend.openSession(geometry());
    await next.push(framesOf(stack, 0, 8), {});
    const image = await next.finish();
    const reference = new Float32Array(outPixels);
    await backend.run(framesOf(stack, 0, 8), reference, { batchSize: 8 });
    expect(relativeL2(image, reference)).toBeLessThan(1e-6);
  });

  it('refuses bad input with typed errors', async () => {
    // Below the model's minimum size (this random Deep-STORM takes any size from its min_size up: 66 would be fine).
    expect(isSmlmError(await rejection(backend.openSession({ ...geometry(), height: model.metadata.minSize - 1 })), 'E_FRAME_SIZE_UNSUPPORTED')).toBe(true);
    expect(isSmlmError(await rejection(backend.openSession({ ...geometry(), scale: Number.NaN })), 'E_BAD_OPTIONS')).toBe(true);
    const session: BackendSession = await backend.openSession(geometry());
    try {
      const wrongSize = makeStack(2, 32, 32, 3);
      expect(isSmlmError(await rejection(session.push(wrongSize, {})), 'E_BAD_OPTIONS')).toBe(true);
      const truncated = { ...framesOf(stack, 0, 2), frames: 3 };
      expect(isSmlmError(await rejection(session.push(truncated, {})), 'E_BAD_OPTIONS')).toBe(true);
      // Still usable after refusals.
      await session.push(framesOf(stack, 0, 2), {});
      expect(sum(await session.snapshot())).toBeGreaterThan(0);
    } finally {
      session.close();
    }
    // The native layer refuses what the TypeScript checks would have caught.
    const engine = (backend as unknown as { engine: import('../../lib/native/binding.js').NativeEngine }).engine;
    expect(() => engine.openSession({ height: 64, width: 64, scale: 1, batchSize: -1 })).toThrow();
    expect(() =>
      engine.openSession({ height: 60, width: 64, scale: 1, batchSize: 1, preparation: { padded: { from: { height: 60, width: 64 }, to: { height: 72, width: 64 }, mode: 'reflect' } } }),
    ).toThrow();
  });
});
