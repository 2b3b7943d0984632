/**
 * End-to-end check of the bundled models through the whole CPU path (TIFF reading, normalization from metadata,
 * inference, clamp-and-sum, output grid orientation): the brightest output pixels must sit on emitters of the
 * example stack's ground truth (which the simulator regenerates from its seed).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readTiffStack } from '../lib/io/tiff-read.js';
import { defaultModelName, listModels, modelsDir } from '../lib/model/registry.js';
import { Reconstructor } from '../lib/reconstructor.js';
import { simulateStack } from '../lib/simulate/simulate.js';
import { REPO_ROOT } from './helpers/paths.js';

const BUNDLED = ['deepstorm', 'unet'].filter((name) => existsSync(join(modelsDir(), `${name}.onnx`)));
const EXAMPLE = join(REPO_ROOT, 'examples', 'microtubules.tif');

if (BUNDLED.length === 0) {
  const reason = `no bundled models in ${modelsDir()}; skipping the end-to-end tests of bundled models`;
  console.warn(`[bundled-models] ${reason}`);
  it.skip(reason, () => undefined);
}

describe.runIf(BUNDLED.length > 0)('bundled models', () => {
  it('are listed with valid metadata; unet is the default when present', async () => {
    const models = await listModels();
    for (const name of BUNDLED) {
      const info = models.find((m) => m.name === name);
      expect(info?.error).toBeUndefined();
      expect(info?.metadata?.upsampling).toBe(8);
    }
    expect(defaultModelName()).toBe(BUNDLED.includes('unet') ? 'unet' : 'deepstorm');
  });

  for (const [name, frames, top] of [['unet', 8, 200], ['deepstorm', 2, 100]] as const) {
    it.runIf(BUNDLED.includes(name))(`${name}: the ${top} brightest output pixels lie within 50 nm of true emitters`, async () => {
      const stack = await readTiffStack(EXAMPLE);
      const pixels = stack.height * stack.width;
      const truth = simulateStack({ seed: 2026, frames: 100 }).emitters.filter((e) => e.frame <= frames);
      const rec = await Reconstructor.create({ model: name, backend: 'cpu' });
      const result = await rec.reconstruct({ ...stack, frames, data: stack.data.subarray(0, frames * pixels) });
      await rec.close();
      expect([result.width, result.height, result.pixelSizeNm]).toEqual([512, 512, 12.5]);
      const order = Array.from(result.image.keys()).sort((a, b) => result.image[b] - result.image[a]).slice(0, top);
      const nearTruth = (x: number, y: number) => truth.some((e) => Math.hypot(e.xNm - x, e.yNm - y) < 50);
      // Output pixel j covers [12.5 j, 12.5 (j + 1)) nm: its centre is at 12.5 (j + 0.5).
      const hits = order.filter((i) => nearTruth(((i % result.width) + 0.5) * 12.5, (Math.floor(i / result.width) + 0.5) * 12.5)).length;
      // The same pixels transposed (x <-> y) as a control: a correct pipeline must beat it by far.
      const transposed = order.filter((i) => nearTruth((Math.floor(i / result.width) + 0.5) * 12.5, ((i % result.width) + 0.5) * 12.5)).length;
      expect(hits / top).toBeGreaterThan(0.9);
      expect(transposed / top).toBeLessThan(0.5);
    });
  }
});
