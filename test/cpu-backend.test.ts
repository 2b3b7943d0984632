import { describe, expect, it } from 'vitest';
import { accumulateClamped, createCpuBackend } from '../lib/backends/cpu.js';
import { SmlmError } from '../lib/errors.js';
import { loadOnnxModel } from '../lib/model/onnx.js';
import { Reconstructor } from '../lib/reconstructor.js';
import { expectedKnownImage, makeKnownModel, writeTempModel } from './helpers/known-model.js';
import { makeDeepStormModel, makeUNetModel, seededRandom } from '../benchmarks/random-models.js';
import { OnnxModelBuilder } from '../lib/model/onnx-builder.js';
import { serializeModelMetadata } from '../lib/model/metadata.js';
import { KNOWN_METADATA } from './helpers/known-model.js';

const knownPath = writeTempModel(makeKnownModel());

function randomStack(frames: number, height: number, width: number, seed = 7) {
  const rand = seededRandom(seed);
  return { data: Uint16Array.from({ length: frames * height * width }, () => 100 + Math.floor(rand() * 900)), frames, height, width };
}

describe('CPU reconstruction with a model whose answer is known by hand', () => {
  it('image = sum over frames of clamped maps / outputScale, for any batch size', async () => {
    const stack = randomStack(5, 6, 8);
    const { image: expected, maps } = expectedKnownImage(stack.data, 5, 6, 8);
    // Some map values must be negative before the clamp, or the clamp would go untested.
    expect(maps.some((v) => v === 0)).toBe(true);
    for (const batchSize of [1, 2, 5, 16]) {
      const rec = await Reconstructor.create({ model: knownPath, backend: 'cpu', batchSize });
      const result = await rec.reconstruct(stack, { keepFrameMaps: true });
      await rec.close();
      expect({ width: result.width, height: result.height, frames: result.frames, backend: result.backend }).toEqual({ width: 16, height: 12, frames: 5, backend: 'cpu' });
      for (let i = 0; i < expected.length; i++) expect(result.image[i]).toBeCloseTo(expected[i], 4);
      for (let i = 0; i < maps.length; i++) expect(result.frameMaps![i]).toBeCloseTo(maps[i], 5);
    }
  });

  it('output pixel size: the stack’s camera pixel (or the model’s) / upsampling', async () => {
    const rec = await Reconstructor.create({ model: knownPath, backend: 'cpu' });
    expect((await rec.reconstruct(randomStack(1, 4, 4))).pixelSizeNm).toBe(50);
    expect((await rec.reconstruct({ ...randomStack(1, 4, 4), pixelSizeNm: 160 })).pixelSizeNm).toBe(80);
    // Resampled to the model's 100 nm camera pixels, the output is on the model's grid.
    expect((await rec.reconstruct({ ...randomStack(1, 4, 4), pixelSizeNm: 160 }, { resample: 'always' })).pixelSizeNm).toBe(50);
    expect((await rec.reconstruct({ ...randomStack(1, 8, 8), pixelSizeNm: 50 })).pixelSizeNm).toBe(50);
    await rec.close();
  });

  it('accepts uint8, uint16 and float32 stacks of the same values identically', async () => {
    const base = randomStack(2, 4, 6);
    const values = Array.from(base.data, (v) => v % 200);
    const rec = await Reconstructor.create({ model: knownPath, backend: 'cpu' });
    const images = [];
    for (const data of [Uint8Array.from(values), Uint16Array.from(values), Float32Array.from(values)]) {
      images.push(Array.from((await rec.reconstruct({ data, frames: 2, height: 4, width: 6 })).image));
    }
    await rec.close();
    expect(images[1]).toEqual(images[0]);
    expect(images[2]).toEqual(images[0]);
  });
});

describe('CPU backend with Deep-STORM- and U-Net-shaped models', () => {
  for (const [name, bytes, size] of [
    ['deepstorm', makeDeepStormModel({ width: 2 }), 16],
    ['unet', makeUNetModel({ base: 2 }), 16],
  ] as const) {
    it(`${name}: 8x output grid, non-negative, finite, and batch size does not change the result`, async () => {
      const path = writeTempModel(bytes);
      const stack = randomStack(3, size, size + 8, 3);
      const one = await Reconstructor.create({ model: path, backend: 'cpu', batchSize: 1 });
      const three = await Reconstructor.create({ model: path, backend: 'cpu', batchSize: 3 });
      const a = await one.reconstruct(stack);
      const b = await three.reconstruct(stack);
      await Promise.all([one.close(), three.close()]);
      expect([a.width, a.height, a.pixelSizeNm]).toEqual([(size + 8) * 8, size * 8, 12.5]);
      expect(a.image.every((v) => Number.isFinite(v) && v >= 0)).toBe(true);
      expect(a.image.some((v) => v > 0)).toBe(true);
      for (let i = 0; i < a.image.length; i += 97) expect(b.image[i]).toBeCloseTo(a.image[i], 4);
    });
  }
});

describe('CPU backend contract checks', () => {
  it('E_MODEL_INVALID when the graph does not name its input "frames" and output "maps"', async () => {
    const b = new OnnxModelBuilder();
    const x = b.addInput('input', ['N', 1, 'H', 'W']);
    b.addOutput('output', ['N', 1, 'H', 'W'], b.relu(x));
    const model = await loadOnnxModel(writeTempModel(b.build({ metadata: serializeModelMetadata({ ...KNOWN_METADATA, upsampling: 1 }) })));
    await expect(createCpuBackend(model)).rejects.toMatchObject({ code: 'E_MODEL_INVALID' });
  });

  it('E_MODEL_INVALID when the output grid does not match the metadata’s upsampling', async () => {
    const model = await loadOnnxModel(writeTempModel(makeKnownModel(serializeModelMetadata({ ...KNOWN_METADATA, upsampling: 4 }))));
    const rec = await Reconstructor.create({ model: model.path, backend: 'cpu' });
    await expect(rec.reconstruct(randomStack(1, 4, 4))).rejects.toMatchObject({ code: 'E_MODEL_INVALID' });
    await rec.close();
  });

  it('accumulateClamped clamps negatives and NaN to zero and copies the clamped maps', () => {
    const image = new Float32Array(2);
    const frameMaps = new Float32Array(6);
    accumulateClamped(Float32Array.from([1, -2, Number.NaN, 3]), 2, 2, image, frameMaps, 2);
    expect(Array.from(image)).toEqual([1, 3]);
    expect(Array.from(frameMaps)).toEqual([0, 0, 1, 0, 0, 3]);
  });

  it('E_CLOSED when a closed backend is run', async () => {
    const backend = await createCpuBackend(await loadOnnxModel(knownPath));
    await backend.close();
    await expect(backend.run(randomStack(1, 4, 4), new Float32Array(64), { batchSize: 1 })).rejects.toBeInstanceOf(SmlmError);
  });
});
