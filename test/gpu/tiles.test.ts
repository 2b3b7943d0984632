// On a GPU: frames whose activations do not fit the memory budget run in tiles with the network's receptive-field
// halo (native/engine/pipeline.h). The budget is capped with SMLM_RT_GPU_MEMORY_BUDGET (read at every push) to force
// tiles; the tiled image must equal the untiled one within FP16 rounding, for the fused Deep-STORM head, the U-Net's
// depth-to-space head and the shipped localization head. At 2048x2048: tiled == untiled, device memory flat over
// repeated calls, and a long tiled call stops when cancelled.
import { afterEach, describe, expect, it } from 'vitest';
import type { LoadedModel } from '../../lib/model/onnx.js';
import { loadAddon, type NativeEngine, type NativeRunStats } from '../../lib/native/binding.js';
import { compilePlan } from '../../lib/native/compiler.js';
import type { Stack } from '../../lib/types.js';
import { makeStack } from '../../benchmarks/synthetic-stack.js';
import { announceSkip, gpu, relativeL2, sum, testModels } from './helpers.js';

announceSkip('tiles');

const FP16_TOLERANCE = 1e-2;
const MiB = 1024 * 1024;

async function engineFor(model: LoadedModel, maxBatch: number): Promise<NativeEngine> {
  const loaded = loadAddon();
  if (!loaded.ok) throw new Error(loaded.reason);
  return loaded.addon.createCudaEngine(await compilePlan(model), { device: 0, maxBatch, fp16: true, cacheDir: '' });
}

function freeDeviceBytes(): number {
  const loaded = loadAddon();
  if (!loaded.ok) throw new Error(loaded.reason);
  return loaded.addon.deviceMemory(0).freeBytes;
}

/** One session over the whole stack under a budget (bytes; 0: none); the image and the push's statistics. */
async function runWithBudget(engine: NativeEngine, stack: Stack, u: number, budget: number, batchSize: number): Promise<{ image: Float32Array; stats: NativeRunStats }> {
  if (budget > 0) process.env.SMLM_RT_GPU_MEMORY_BUDGET = String(budget);
  else delete process.env.SMLM_RT_GPU_MEMORY_BUDGET;
  try {
    const session = engine.openSession({ height: stack.height, width: stack.width, scale: 1, batchSize });
    try {
      const stats = await session.push({ frames: stack.data, frameCount: stack.frames, height: stack.height, width: stack.width, batchSize });
      const image = await session.finish();
      expect(image.length).toBe(stack.height * u * stack.width * u);
      return { image, stats };
    } finally {
      session.close();
    }
  } finally {
    delete process.env.SMLM_RT_GPU_MEMORY_BUDGET;
  }
}

/** The largest budget, halving from `start`, under which the frames run in tiles. */
async function tiledRun(engine: NativeEngine, stack: Stack, u: number, start: number): Promise<{ image: Float32Array; stats: NativeRunStats; budget: number }> {
  for (let budget = start; budget >= MiB; budget /= 2) {
    const run = await runWithBudget(engine, stack, u, budget, 2);
    if (run.stats.tiles > 1) return { ...run, budget };
  }
  throw new Error('no budget made the frames run in tiles');
}

/** n copies of a generated frame (generating 2048x2048 frames one by one is slow in JS). */
function repeatFrames(frame: Stack, n: number): Stack {
  const pixels = frame.height * frame.width;
  const data = new Uint16Array(n * pixels);
  for (let f = 0; f < n; f++) data.set(frame.data.subarray(0, pixels) as Uint16Array, f * pixels);
  return { ...frame, frames: n, data };
}

describe.skipIf(!gpu.usable)('tiles for frames that do not fit', () => {
  afterEach(() => {
    delete process.env.SMLM_RT_GPU_MEMORY_BUDGET;
  });

  const models = testModels();
  const cases = [models[1], models[2], ...models.filter((m) => m.label === 'shipped unet')];
  for (const testModel of cases) {
    it(`tiled == untiled at 512x512: ${testModel.label}`, async () => {
      const model = await testModel.load();
      const u = model.metadata.upsampling;
      const engine = await engineFor(model, 4);
      try {
        const stack = makeStack(2, 512, 512, 31);
        const whole = await runWithBudget(engine, stack, u, 0, 2);
        expect(whole.stats.tiles).toBe(1);
        expect(sum(whole.image)).toBeGreaterThan(0);
        const tiled = await tiledRun(engine, stack, u, 256 * MiB);
        const error = relativeL2(tiled.image, whole.image);
        console.log(
          `[tiles] ${testModel.label}: budget ${tiled.budget / MiB} MiB -> ${tiled.stats.tiles} tiles of ${tiled.stats.tileWidth}x${tiled.stats.tileHeight}, batch ${tiled.stats.batchSize}; relative L2 vs untiled ${error.toExponential(2)}`,
        );
        expect(error).toBeLessThan(FP16_TOLERANCE);
      } finally {
        engine.close();
      }
    }, 300_000);
  }

  it("frame maps come back times the session's scale, untiled and tiled (scaled on the device)", async () => {
    const model = await models[1].load();
    const u = model.metadata.upsampling;
    const engine = await engineFor(model, 4);
    const stack = makeStack(2, 256, 256, 33);
    const mapPixels = stack.height * u * stack.width * u;
    const mapsOf = async (scale: number, budget: number) => {
      if (budget > 0) process.env.SMLM_RT_GPU_MEMORY_BUDGET = String(budget);
      const session = engine.openSession({ height: stack.height, width: stack.width, scale, batchSize: 2 });
      try {
        const frameMaps = new Float32Array(stack.frames * mapPixels);
        const stats = await session.push({ frames: stack.data, frameCount: stack.frames, height: stack.height, width: stack.width, batchSize: 2, frameMaps });
        const image = await session.finish();
        return { frameMaps, image, tiles: stats.tiles };
      } finally {
        session.close();
        delete process.env.SMLM_RT_GPU_MEMORY_BUDGET;
      }
    };
    try {
      const raw = await mapsOf(1, 0);
      expect(sum(raw.frameMaps)).toBeGreaterThan(0);
      const scaled = await mapsOf(0.5, 0);
      expect(
        relativeL2(
          scaled.frameMaps,
          raw.frameMaps.map((v) => v * 0.5),
        ),
      ).toBeLessThan(1e-6);
      // The maps' sum is the image, in the same units.
      const summed = new Float32Array(mapPixels);
      for (let f = 0; f < stack.frames; f++) for (let i = 0; i < mapPixels; i++) summed[i] += scaled.frameMaps[f * mapPixels + i];
      expect(relativeL2(summed, scaled.image)).toBeLessThan(1e-5);
      let tiled: Awaited<ReturnType<typeof mapsOf>> | undefined;
      for (let budget = 64 * MiB; budget >= MiB && !tiled; budget /= 2) {
        const run = await mapsOf(0.5, budget);
        if (run.tiles > 1) tiled = run;
      }
      expect(tiled, 'no budget made the frames run in tiles').toBeDefined();
      console.log(`[tiles] scaled frame maps: ${tiled!.tiles} tiles, relative L2 vs untiled ${relativeL2(tiled!.frameMaps, scaled.frameMaps).toExponential(2)}`);
      expect(relativeL2(tiled!.frameMaps, scaled.frameMaps)).toBeLessThan(FP16_TOLERANCE);
    } finally {
      engine.close();
    }
  }, 300_000);

  it('2048x2048: tiled == untiled, memory flat over repeated calls, cancel stops a long tiled call', async () => {
    const model = await models[1].load();
    const u = model.metadata.upsampling;
    const engine = await engineFor(model, 4);
    try {
      const frame = makeStack(1, 2048, 2048, 41);
      const stack = repeatFrames(frame, 2);
      const whole = await runWithBudget(engine, stack, u, 0, 2);
      expect(whole.stats.tiles).toBe(1);
      const budget = 512 * MiB; // an 8 GB GPU's share, and less than one untiled frame needs (the fused head's maps alone: 1 GiB)
      const tiled = await runWithBudget(engine, stack, u, budget, 2);
      const error = relativeL2(tiled.image, whole.image);
      console.log(
        `[tiles] 2048x2048 deepstorm w8: untiled ${whole.stats.deviceMs.toFixed(1)} ms device; budget 512 MiB -> ${tiled.stats.tiles} tiles of ${tiled.stats.tileWidth}x${tiled.stats.tileHeight}, batch ${tiled.stats.batchSize}, ${tiled.stats.deviceMs.toFixed(1)} ms device; relative L2 ${error.toExponential(2)}`,
      );
      expect(tiled.stats.tiles).toBeGreaterThan(1);
      expect(error).toBeLessThan(FP16_TOLERANCE);

      // Memory flat: repeated untiled and tiled calls through engine.run (one session each).
      const image = new Float32Array(whole.image.length);
      const runOnce = async (cap: number) => {
        if (cap > 0) process.env.SMLM_RT_GPU_MEMORY_BUDGET = String(cap);
        try {
          await engine.run({ frames: stack.data, frameCount: 2, height: 2048, width: 2048, image: image.fill(0), batchSize: 2 });
        } finally {
          delete process.env.SMLM_RT_GPU_MEMORY_BUDGET;
        }
      };
      await runOnce(0);
      await runOnce(budget);
      const before = freeDeviceBytes();
      for (let i = 0; i < 3; i++) {
        await runOnce(0);
        await runOnce(budget);
      }
      const after = freeDeviceBytes();
      console.log(`[tiles] 2048x2048: free device memory before ${(before / MiB).toFixed(1)} MiB, after 6 more calls ${(after / MiB).toFixed(1)} MiB`);
      expect(Math.abs(before - after)).toBeLessThanOrEqual(8 * MiB);
      expect(relativeL2(image, tiled.image)).toBeLessThan(1e-6); // the last call was tiled

      // Cancel: a long tiled call stops between batches, and the engine runs again afterwards.
      const long = repeatFrames(frame, 24);
      process.env.SMLM_RT_GPU_MEMORY_BUDGET = String(budget);
      const reports: number[] = [];
      let error2: unknown;
      try {
        await engine.run({
          frames: long.data,
          frameCount: long.frames,
          height: 2048,
          width: 2048,
          image: image.fill(0),
          batchSize: 1,
          onProgress: (done) => {
            reports.push(done);
            engine.cancel();
          },
        });
      } catch (err) {
        error2 = err;
      } finally {
        delete process.env.SMLM_RT_GPU_MEMORY_BUDGET;
      }
      expect((error2 as { code?: string } | undefined)?.code).toBe('E_ABORTED');
      console.log(`[tiles] long tiled call cancelled after ${Math.max(0, ...reports)} of ${long.frames} frames`);
      expect(Math.max(0, ...reports)).toBeLessThan(long.frames);
      await runOnce(0);
      expect(relativeL2(image, whole.image)).toBeLessThan(1e-6);
    } finally {
      engine.close();
    }
  }, 300_000);
});
