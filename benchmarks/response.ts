/**
 * `npm run bench:response` — how sharply each bundled model commits an emitter to its 12.5 nm pixel.
 *
 * Why: NMSE without blur (σ0) on stacks whose emitters almost never repeat a pixel (the two ThunderSTORM stacks of
 * ../shared/data) rewards a map that puts an emitter's mass on exactly its ground-truth pixel, while the training
 * loss, ||g*x' - g*x||^2 + ||x'||_1 with g a Gaussian of 1 fine pixel, hardly tells a spike from the same mass spread
 * over the neighbouring pixels. How sharp a model's maps come out is left to its architecture. This benchmark shows
 * it: the mean of the reconstructed image (scaled by its least-squares factor, as the NMSE is) in the 3x3 fine pixels
 * around every true emitter's pixel, beside the model's NMSE σ0. A sharper model has a higher centre and lower
 * diagonal corners.
 *
 * Nothing here chooses or tunes a model: it only measures.
 *
 * Usage: npm run build && node dist/benchmarks/response.js [--models unet,deepstorm] [--shared DIR]
 *   (CPU backend; about 40 s with both bundled models on 2 cores)
 */
import { parseArgs } from 'node:util';
import { compareImages, groundTruthImage } from '../lib/metrics.js';
import { bundledModelNames } from '../lib/model/registry.js';
import { Reconstructor } from '../lib/reconstructor.js';
import type { Emitter } from '../lib/simulate/csv.js';
import { defaultSharedDir, readSharedStacks } from '../scripts/evaluation-data.js';

const UPSAMPLING = 8;
const FINE_NM = 100 / UPSAMPLING;

/** Mean of the image around each emitter's fine pixel: centre, its 4 edge neighbours, its 4 diagonal neighbours. */
export function meanResponse(image: ArrayLike<number>, width: number, height: number, emitters: readonly Pick<Emitter, 'xNm' | 'yNm'>[], scale: number): { centre: number; edges: number; corners: number; emitters: number } {
  let centre = 0;
  let edges = 0;
  let corners = 0;
  let n = 0;
  for (const e of emitters) {
    const x = Math.floor(e.xNm / FINE_NM);
    const y = Math.floor(e.yNm / FINE_NM);
    if (x < 1 || y < 1 || x >= width - 1 || y >= height - 1) continue;
    const at = (dx: number, dy: number): number => image[(y + dy) * width + x + dx];
    centre += at(0, 0);
    edges += (at(-1, 0) + at(1, 0) + at(0, -1) + at(0, 1)) / 4;
    corners += (at(-1, -1) + at(1, -1) + at(-1, 1) + at(1, 1)) / 4;
    n++;
  }
  const k = n > 0 ? scale / n : 0;
  return { centre: centre * k, edges: edges * k, corners: corners * k, emitters: n };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { models: { type: 'string' }, shared: { type: 'string', default: defaultSharedDir() } } });
  const models = values.models ? values.models.split(',') : bundledModelNames();
  const stacks = await readSharedStacks(values.shared!, (path) => console.log(`${path} is absent, skipped`));
  console.log(`models: ${models.join(', ')} (CPU backend); image scaled by its least-squares factor against the ground truth, then averaged around every true emitter's 12.5 nm pixel`);
  console.log(`${'stack'.padEnd(30)} ${'model'.padEnd(10)} ${'NMSE σ0'.padStart(8)} ${'centre'.padStart(7)} ${'edges'.padStart(7)} ${'corners'.padStart(7)} ${'centre/edges'.padStart(12)}`);
  for (const model of models) {
    const reconstructor = await Reconstructor.create({ model, backend: 'cpu' });
    try {
      for (const { tif: name, stack, emitters } of stacks) {
        const w = stack.width * UPSAMPLING;
        const h = stack.height * UPSAMPLING;
        const { image } = await reconstructor.reconstruct(stack);
        const comparison = compareImages(image, groundTruthImage(emitters, w, h, FINE_NM), w, h, 0);
        const r = meanResponse(image, w, h, emitters, comparison.scale);
        console.log(
          `${name.padEnd(30)} ${model.padEnd(10)} ${(100 * comparison.scaled.nmse).toFixed(2).padStart(7)}% ${r.centre.toFixed(3).padStart(7)} ${r.edges.toFixed(3).padStart(7)} ${r.corners.toFixed(3).padStart(7)} ${(r.centre / r.edges).toFixed(2).padStart(12)}`,
        );
      }
    } finally {
      await reconstructor.close();
    }
  }
}

// Run only as a script, so that tests can import meanResponse.
if (process.argv[1]?.endsWith('response.js')) await main();
