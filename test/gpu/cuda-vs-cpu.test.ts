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
import { loadedModelFromBytes, makeUNetModel } from '../../benchmarks/random-models.js';
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

// Localization-head models: the engine decodes p, dx, dy from fp16 features and renders them by gather; the cpu
// backend runs onnxruntime and lib/render-detections.ts. Gaussian rendering (sigma >= 1.5 fine px) turns the fp16
// error of a detection's position (~1e-2 fine px) into a relative error of ~1e-2 / sigma per pixel, inside the same
// tolerance. sigma 0 (whole detections move when rounding crosses a fine-pixel border) and thresholds that random
// detections sit on are checked exactly in the engine's self-test (native/tests/selftest.cu), not here.
// Estimated on the CPU (onnxruntime's detections perturbed by a relative 3e-3, rendered twice): rel. L2 1.7e-3 (b8)
// and 3.9e-3 (b32 with maxOffset 2, where 95 % of the pixels have p > 0.5; maxOffset 1 here) at 64x64, inside 1e-2.
const localizationModels = [
  { label: 'unet-loc random b8, sigma 1.5 R6', bytes: () => makeUNetModel({ base: 8, seed: 41, localization: { maxOffset: 1, sigma: 1.5, radius: 6, minProbability: 0.01 } }) },
  { label: 'unet-loc random b32 (tensor cores), sigma 2 R8, no threshold', bytes: () => makeUNetModel({ base: 32, seed: 42, withBatchNorm: false, localization: { maxOffset: 1, sigma: 2, radius: 8, minProbability: 0 } }) },
  // Grid 2 (the trained models' 2x2 detection cells per camera pixel): offsets are in cells of u/g = 4 fine px, so the
  // fp16 position error in fine px halves while the engine gathers over about twice as many cells per axis.
  { label: 'unet-loc random b8, grid 2, sigma 1.5 R6', bytes: () => makeUNetModel({ base: 8, seed: 43, localization: { maxOffset: 1, sigma: 1.5, radius: 6, minProbability: 0.01, grid: 2 } }) },
  // Predicted widths: each detection as wide as its sx, sy rows say, clamped to [1.5, 4] (>= 1.5 for the tolerance above).
  { label: 'unet-loc random b8, grid 2, predicted sigma [1.5, 4] R6', bytes: () => makeUNetModel({ base: 8, seed: 44, localization: { maxOffset: 1, sigma: 'predicted', sigmaRange: [1.5, 4], radius: 6, minProbability: 0.01, grid: 2 } }) },
];

describe.skipIf(!gpu.usable)('localization head: cuda matches cpu within the FP16 tolerance and is deterministic', () => {
  for (const testModel of localizationModels) {
    describe(testModel.label, () => {
      let model: LoadedModel;
      let cpu: InferenceBackend;
      let cuda: InferenceBackend;
      beforeAll(async () => {
        model = loadedModelFromBytes(testModel.bytes(), `${testModel.label}.onnx`);
        cpu = await createCpuBackend(model, {});
        cuda = await createCudaBackend(model, { batchSize: 8 });
      }, 300_000);
      afterAll(async () => {
        await cpu?.close();
        await cuda?.close();
      });

      for (const { side, frames, batch } of sizes) {
        it(`${side}x${side}, ${frames} frames`, async () => {
          const stack = makeStack(frames, side, side, side + frames + 1);
          const reference = await runBackend(cpu, model, stack, batch);
          const result = await runBackend(cuda, model, stack, batch);
          const again = await runBackend(cuda, model, stack, batch);
          const mapsError = relativeL2(result.maps, reference.maps);
          const imageError = relativeL2(result.image, reference.image);
          console.log(`[cuda-vs-cpu] ${testModel.label} ${side}x${side}: rel. L2 maps ${mapsError.toExponential(2)}, image ${imageError.toExponential(2)}; image sum cuda ${sum(result.image).toPrecision(6)} cpu ${sum(reference.image).toPrecision(6)}`);
          expect(sum(reference.image)).toBeGreaterThan(0);
          expect(mapsError).toBeLessThan(FP16_TOLERANCE);
          expect(imageError).toBeLessThan(FP16_TOLERANCE);
          // Gather, frames in order, no atomics: the same input gives the same bits.
          expect(Buffer.from(again.image.buffer).equals(Buffer.from(result.image.buffer))).toBe(true);
          expect(Buffer.from(again.maps.buffer).equals(Buffer.from(result.maps.buffer))).toBe(true);
          const summed = new Float32Array(result.image.length);
          for (let f = 0; f < frames; f++) for (let i = 0; i < summed.length; i++) summed[i] += result.maps[f * summed.length + i];
          expect(relativeL2(result.image, summed)).toBeLessThan(1e-5);
        }, 300_000);
      }
    });
  }
});
