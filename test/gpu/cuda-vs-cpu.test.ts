// On a GPU: the `cuda` backend (FP16 tensor cores, FP32 accumulation) reproduces the `cpu` backend (onnxruntime,
// FP32) for every test model at 64x64 and 256x256 frames, per-frame maps and summed image.
//
// Tolerance, relative L2 error < 1e-2 for maps and image. FP16 keeps 11 significant bits (unit roundoff
// u = 2^-11 = 4.9e-4). Weights and every stored activation are rounded once to FP16, products are accumulated in
// FP32, so each layer adds a relative error of a few u; the networks have 8 (Deep-STORM) to 9 (U-Net) layers, and
// errors of independent roundings add roughly in quadrature, giving a few 1e-3 at the output. The clamp at zero
// only turns tiny differences near zero into tiny absolute differences. 1e-2 leaves a margin of about 3 over that
// estimate while still catching any real indexing or fusion mistake (those give errors of order 1).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InferenceBackend } from '../../lib/backends/backend.js';
import { createCpuBackend } from '../../lib/backends/cpu.js';
import { createCudaBackend } from '../../lib/backends/cuda.js';
import type { LoadedModel } from '../../lib/model/onnx.js';
import type { Stack } from '../../lib/types.js';
import { makeStack } from '../../benchmarks/synthetic-stack.js';
import { announceSkip, gpu, relativeL2, sum, testModels } from './helpers.js';

const FP16_TOLERANCE = 1e-2;

announceSkip('cuda-vs-cpu');

interface Output {
  image: Float32Array;
  maps: Float32Array;
}

async function runBackend(backend: InferenceBackend, model: LoadedModel, stack: Stack, batchSize: number): Promise<Output> {
  const u = model.metadata.upsampling;
  const outPixels = stack.height * u * stack.width * u;
  const image = new Float32Array(outPixels);
  const maps = new Float32Array(stack.frames * outPixels);
  await backend.run(stack, image, { batchSize, frameMaps: maps });
  return { image, maps };
}

// 64x64: several batches with a remainder (20 frames in batches of 8); 256x256: two frames, one per batch.
const sizes = [
  { side: 64, frames: 20, batch: 8 },
  { side: 256, frames: 2, batch: 1 },
];

describe.skipIf(!gpu.usable)('cuda matches cpu within the FP16 tolerance', () => {
  for (const testModel of testModels()) {
    describe(testModel.label, () => {
      let model: LoadedModel;
      let cpu: InferenceBackend;
      let cuda: InferenceBackend;
      beforeAll(async () => {
        model = await testModel.load();
        cpu = await createCpuBackend(model, {});
        cuda = await createCudaBackend(model, { batchSize: 8 });
      }, 300_000);
      afterAll(async () => {
        await cpu?.close();
        await cuda?.close();
      });

      for (const { side, frames, batch } of sizes) {
        it(`${side}x${side}, ${frames} frames`, async () => {
          const sideOk = side % model.metadata.sizeMultiple === 0 && side >= model.metadata.minSize;
          expect(sideOk).toBe(true);
          const stack = makeStack(frames, side, side, side + frames);
          const reference = await runBackend(cpu, model, stack, batch);
          const result = await runBackend(cuda, model, stack, batch);
          const mapsError = relativeL2(result.maps, reference.maps);
          const imageError = relativeL2(result.image, reference.image);
          console.log(`[cuda-vs-cpu] ${testModel.label} ${side}x${side}: rel. L2 maps ${mapsError.toExponential(2)}, image ${imageError.toExponential(2)}; image sum cuda ${sum(result.image).toPrecision(6)} cpu ${sum(reference.image).toPrecision(6)}`);
          // A reference of zeros would make any comparison pass: the models must produce signal here.
          expect(sum(reference.image)).toBeGreaterThan(0);
          expect(mapsError).toBeLessThan(FP16_TOLERANCE);
          expect(imageError).toBeLessThan(FP16_TOLERANCE);
          // The image is the sum of the maps the engine returned (FP32 sums in a different order: tight bound).
          const summed = new Float32Array(result.image.length);
          for (let f = 0; f < frames; f++) for (let i = 0; i < summed.length; i++) summed[i] += result.maps[f * summed.length + i];
          expect(relativeL2(result.image, summed)).toBeLessThan(1e-5);
        }, 300_000);
      }
    });
  }
});
