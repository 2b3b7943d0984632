import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { localizeFile } from '../lib/cli/localize.js';
import { normalizeFrameReference } from '../lib/engine/reference.js';
import { localizeDetections } from '../lib/localize-detections.js';
import { localizationHeadOf } from '../lib/model/head.js';
import { Reconstructor } from '../lib/reconstructor.js';
import type { Stack } from '../lib/types.js';
import { writeTempModel } from './helpers/known-model.js';
import { loadedModelFromBytes, makeUNetModel, seededRandom } from '../benchmarks/random-models.js';
import { tempDir } from './helpers/paths.js';
import { buildTestTiff, pagesOf } from './helpers/tiff-builder.js';

const bytes = makeUNetModel({ base: 8, seed: 51, localization: { maxOffset: 1, sigma: 1, radius: 4, minProbability: 0.01 } });

function frames(count: number, side: number): Stack {
  const rand = seededRandom(77);
  const data = new Uint16Array(count * side * side).map(() => 100 + Math.floor(50 * rand()) + (rand() < 0.05 ? 2000 : 0));
  return { data, frames: count, height: side, width: side };
}

/** The contract's reading of the model, independent of the backends: onnxruntime's detections -> integrated peaks with s >= threshold. */
async function expectedLocalizations(stack: Stack, threshold: number) {
  const model = loadedModelFromBytes(bytes);
  const ort = await import('onnxruntime-node');
  const n = stack.height * stack.width;
  const input = new Float32Array(stack.frames * n);
  for (let f = 0; f < stack.frames; f++) input.set(normalizeFrameReference(stack, f, model.metadata.normalization), f * n);
  const session = await ort.InferenceSession.create(bytes);
  try {
    const out = await session.run({ frames: new ort.Tensor('float32', input, [stack.frames, 1, stack.height, stack.width]) });
    return localizeDetections(out.detections.data as Float32Array, stack.frames, stack.height, stack.width, { head: localizationHeadOf(model.metadata)!, cameraPixelNm: 100, threshold });
  } finally {
    await session.release();
  }
}

describe('localize with a localization-head model (cpu backend)', () => {
  it('reports the integrated detection peaks with s >= 0.5, frame numbers counted across chunks', async () => {
    const stack = frames(70, 16); // more than one 64-frame chunk of the localize command
    const path = join(tempDir(), 'loc-head-stack.tif');
    writeFileSync(
      path,
      buildTestTiff(
        pagesOf(70, 16, 16, (f, y, x) => stack.data[(f * 16 + y) * 16 + x]),
        { kind: 'uint16' },
      ),
    );
    const { locs } = await localizeFile(path, { backend: 'cpu', model: writeTempModel(bytes), radius: 1 });
    const expected = await expectedLocalizations(stack, 0.5);
    // Random weights: some cells are 3x3 peaks with s >= 0.5 and most cells are not, in every chunk.
    expect(expected.length).toBeGreaterThan(70);
    expect(expected.length).toBeLessThan(70 * 256 * 0.9);
    expect(locs.some((l) => l.frame > 64)).toBe(true);
    expect(locs.length).toBe(expected.length);
    for (let i = 0; i < locs.length; i++) {
      expect(locs[i].frame).toBe(expected[i].frame);
      expect(locs[i].xNm).toBeCloseTo(expected[i].xNm, 1);
      expect(locs[i].yNm).toBeCloseTo(expected[i].yNm, 1);
      expect(locs[i].confidence).toBeCloseTo(expected[i].confidence, 4);
    }
    // s sums nine cells' p, so a threshold above 1 is meaningful (random weights give many large sums).
    const strict = 3;
    const stricter = await localizeFile(path, { backend: 'cpu', model: writeTempModel(bytes), radius: 1, threshold: strict });
    expect(stricter.locs.length).toBe((await expectedLocalizations(stack, strict)).length);
    expect(stricter.locs.length).toBeGreaterThan(0);
    expect(stricter.locs.length).toBeLessThan(locs.length);
  });

  it('Reconstructor hands out each batch of detections with its place in the stack, and checks the callback', async () => {
    const rec = await Reconstructor.create({ model: writeTempModel(bytes), backend: 'cpu', batchSize: 3 });
    try {
      const seen: number[] = [];
      const r = await rec.reconstruct(frames(7, 16), {
        onDetections: (d, first, count) => {
          expect(d.length).toBe(count * 5 * 256);
          seen.push(first, count);
        },
      });
      expect(seen).toEqual([0, 3, 3, 3, 6, 1]);
      expect(r.image.reduce((s, v) => s + v, 0)).toBeGreaterThan(0);
      await expect(rec.reconstruct(frames(1, 16), { onDetections: 3 as never })).rejects.toMatchObject({ code: 'E_BAD_OPTIONS' });
    } finally {
      await rec.close();
    }
  });
});
