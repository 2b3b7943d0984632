// On a GPU: what the `cuda` backend promises beyond numbers. Device memory stays flat over repeated runs and over
// create/close cycles; AbortSignal stops a run between batches and leaves the engine usable; frame sizes the model
// cannot take are refused (by the backend and by the engine itself) with E_FRAME_SIZE_UNSUPPORTED; the image is
// added into (the InferenceBackend contract); pixel types give the same result; a closed backend says E_CLOSED.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InferenceBackend } from '../../lib/backends/backend.js';
import { createCudaBackend } from '../../lib/backends/cuda.js';
import { isSmlmError } from '../../lib/errors.js';
import type { LoadedModel } from '../../lib/model/onnx.js';
import { loadAddon } from '../../lib/native/binding.js';
import { compilePlan } from '../../lib/native/compiler.js';
import type { Stack } from '../../lib/types.js';
import { makeStack } from '../../benchmarks/synthetic-stack.js';
import { announceSkip, gpu, relativeL2, sum, testModels } from './helpers.js';
import { rejection } from '../helpers/calls.js';

announceSkip('engine-lifecycle');

const MiB = 1024 * 1024;

function outPixels(model: LoadedModel, stack: Stack): number {
  const u = model.metadata.upsampling;
  return stack.height * u * stack.width * u;
}

function freeDeviceBytes(): number {
  const loaded = loadAddon();
  if (!loaded.ok) throw new Error(loaded.reason);
  return loaded.addon.deviceMemory(0).freeBytes;
}

describe.skipIf(!gpu.usable)('cuda backend lifecycle', () => {
  let deepstorm: LoadedModel;
  let unet: LoadedModel;
  let backend: InferenceBackend;
  const stack = makeStack(24, 64, 64, 5);

  beforeAll(async () => {
    const models = testModels();
    deepstorm = await models[1].load();
    unet = await models[2].load();
    backend = await createCudaBackend(deepstorm, { batchSize: 4 });
  }, 300_000);
  afterAll(async () => {
    await backend?.close();
  });

  it('keeps device memory flat over repeated runs', async () => {
    const image = new Float32Array(outPixels(deepstorm, stack));
    for (let i = 0; i < 2; i++) await backend.run(stack, image.fill(0), { batchSize: 4 });
    const before = freeDeviceBytes();
    for (let i = 0; i < 6; i++) await backend.run(stack, image.fill(0), { batchSize: 4 });
    const after = freeDeviceBytes();
    console.log(`[lifecycle] free device memory before ${(before / MiB).toFixed(1)} MiB, after 6 runs ${(after / MiB).toFixed(1)} MiB`);
    expect(Math.abs(before - after)).toBeLessThanOrEqual(2 * MiB);
  });

  it('releases device memory on close', async () => {
    const image = new Float32Array(outPixels(deepstorm, stack));
    const cycle = async () => {
      const extra = await createCudaBackend(deepstorm, { batchSize: 16 });
      await extra.run(stack, image.fill(0), { batchSize: 16 });
      await extra.close();
    };
    await cycle();
    const baseline = freeDeviceBytes();
    for (let i = 0; i < 3; i++) await cycle();
    const after = freeDeviceBytes();
    console.log(`[lifecycle] free device memory after one create/run/close ${(baseline / MiB).toFixed(1)} MiB, after three more ${(after / MiB).toFixed(1)} MiB`);
    expect(Math.abs(baseline - after)).toBeLessThanOrEqual(8 * MiB);
  });

  it('stops between batches when the signal aborts, and stays usable', async () => {
    // The abort travels from the first progress report (a thread-safe call onto this thread) back to the worker, which
    // checks it between batches. The run must outlast that round trip, or it may rightly finish first: 64 frames in
    // 16 batches of this small model once did, on an H100. 2048 single-frame batches take tens of milliseconds.
    const long = makeStack(2048, 64, 64, 9);
    const image = new Float32Array(outPixels(deepstorm, long));
    const controller = new AbortController();
    const reports: number[] = [];
    const error = await rejection(
      backend.run(long, image, {
        batchSize: 1,
        signal: controller.signal,
        onProgress: ({ framesDone }) => {
          reports.push(framesDone);
          controller.abort();
        },
      }),
    );
    expect(isSmlmError(error, 'E_ABORTED')).toBe(true);
    expect(reports.length).toBeGreaterThan(0);
    expect(Math.max(...reports)).toBeLessThan(long.frames);
    // Aborted before it starts: refused at once.
    expect(isSmlmError(await rejection(backend.run(long, image.fill(0), { batchSize: 4, signal: AbortSignal.abort() })), 'E_ABORTED')).toBe(true);
    // And the engine still runs a whole stack afterwards, reporting monotonic progress up to the total.
    const progress: number[] = [];
    await backend.run(long, image.fill(0), { batchSize: 4, onProgress: ({ framesDone }) => progress.push(framesDone) });
    expect(progress.at(-1)).toBe(long.frames);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
  });

  it('refuses a frame size the model cannot take, in the backend and in the engine', async () => {
    const unetBackend = await createCudaBackend(unet, { batchSize: 2 });
    try {
      const odd = makeStack(2, 66, 66, 3); // the U-Net needs multiples of 4
      const image = new Float32Array(outPixels(unet, odd));
      expect(isSmlmError(await rejection(unetBackend.run(odd, image, { batchSize: 2 })), 'E_FRAME_SIZE_UNSUPPORTED')).toBe(true);
    } finally {
      await unetBackend.close();
    }
    // The engine's own check, bypassing the TypeScript one.
    const loaded = loadAddon();
    if (!loaded.ok) throw new Error(loaded.reason);
    const engine = await loaded.addon.createCudaEngine(await compilePlan(unet), { device: 0, maxBatch: 2, fp16: true, cacheDir: '' });
    try {
      const odd = makeStack(2, 66, 66, 3);
      const error = await rejection(engine.run({ frames: odd.data, frameCount: 2, height: 66, width: 66, image: new Float32Array(66 * 66 * 64), batchSize: 2 }));
      expect((error as { code?: string }).code).toBe('E_FRAME_SIZE_UNSUPPORTED');
    } finally {
      engine.close();
    }
  });

  it('adds into the image it is given', async () => {
    const fresh = new Float32Array(outPixels(deepstorm, stack));
    await backend.run(stack, fresh, { batchSize: 4 });
    expect(sum(fresh)).toBeGreaterThan(0); // an all-zero image would make the comparison meaningless
    const preset = new Float32Array(fresh.length).fill(1);
    await backend.run(stack, preset, { batchSize: 4 });
    const minusOne = preset.map((v) => v - 1);
    expect(relativeL2(minusOne, fresh)).toBeLessThan(1e-5);
  });

  it('gives the same image for Uint16, Float32 and Uint8 pixels holding the same values', async () => {
    const small = makeStack(8, 64, 64, 21);
    const asU8 = { ...small, data: Uint8Array.from(small.data, (v) => Math.min(255, v >> 3)) };
    const images = [];
    for (const data of [small.data, Float32Array.from(small.data), asU8.data, Float32Array.from(asU8.data)]) {
      const image = new Float32Array(outPixels(deepstorm, small));
      await backend.run({ ...small, data }, image, { batchSize: 4 });
      images.push(image);
    }
    for (const image of images) expect(sum(image)).toBeGreaterThan(0);
    expect(relativeL2(images[1], images[0])).toBeLessThan(1e-6);
    expect(relativeL2(images[3], images[2])).toBeLessThan(1e-6);
  });

  it('says E_CLOSED after close', async () => {
    const closing = await createCudaBackend(deepstorm, { batchSize: 4 });
    await closing.close();
    const error = await rejection(closing.run(stack, new Float32Array(outPixels(deepstorm, stack)), { batchSize: 4 }));
    expect(isSmlmError(error, 'E_CLOSED')).toBe(true);
  });
});
