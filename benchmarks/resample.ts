/**
 * `node dist/benchmarks/resample.js`: does resampling camera frames to the model's pixel size help? For camera pixels
 * of 65 and 160 nm (the model's: 100 nm), localizes 20 simulated frames (0.5 emitters/um^2, uniform, PSF sigma 110 nm,
 * the benchmark's photons and EMCCD) with the default model on the CPU, resampled and as they are, and prints recall
 * and precision against the ground truth (100 nm match radius). The figures behind resample 'auto' (lib/frames/prepare.ts).
 */
import { localizeMaps, matchLocalizations } from '../lib/localize.js';
import { Reconstructor } from '../lib/reconstructor.js';
import { simulateStack } from '../lib/simulate/simulate.js';

const rec = await Reconstructor.create({ backend: 'cpu' });
const modelPixel = rec.model.metadata.cameraPixelNm;
console.log(`model ${rec.model.name} (${modelPixel} nm camera pixels), cpu backend; 20 frames, 0.5 emitters/um^2, seed 4`);
for (const [pixelSizeNm, size] of [
  [65, 96],
  [160, 64],
] as const) {
  const sim = simulateStack({ frames: 20, seed: 4, pixelSizeNm, width: size, height: size, densityPerUm2: 0.5, structure: { kind: 'uniform' }, sigmaNm: [105, 115] });
  for (const resample of ['always', 'never'] as const) {
    const r = await rec.reconstruct(sim.stack, { keepFrameMaps: true, resample });
    const locs = localizeMaps(r.frameMaps!, r.frames, r.width, r.height, { pixelNm: r.pixelSizeNm });
    const m = matchLocalizations(locs, sim.emitters, 100);
    const what = resample === 'always' ? `resampled (${r.resampled!.method})` : 'as they are';
    console.log(`${pixelSizeNm} nm frames, ${what.padEnd(22)} recall ${m.recall.toFixed(3)}  precision ${m.precision.toFixed(3)}  rmse ${m.rmseNm.toFixed(1)} nm`);
  }
}
await rec.close();
