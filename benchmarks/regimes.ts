/**
 * `npm run bench:regimes` — how the bundled models compare in different emitter regimes, on short simulated stacks.
 *
 * Why: on the two 20-frame ThunderSTORM stacks of ../shared/data the U-Net trails Deep-STORM without blur (σ0) while
 * it leads on the held-out simulated stack. Those stacks differ from lib/simulate's benchmark defaults less in
 * brightness or camera than in how the emitters are laid out: lib/simulate's filaments carry a fixed set of labels
 * that blink again and again (a third of the emitters share a 12.5 nm pixel with another over 20 frames), while the
 * ThunderSTORM stacks' emitters are scattered over most of the field and almost never repeat. This benchmark prints
 * that layout (crowding figures) for each regime and for the shared stacks, then NMSE σ0 / σ1 of every model averaged
 * over several seeds per regime, including uniform-emitter replicas of the two shared stacks' conditions.
 *
 * Nothing here chooses or tunes a model: it only measures.
 *
 * Usage: npm run build && node dist/benchmarks/regimes.js [--seeds 6] [--frames 20] [--models unet,deepstorm]
 *   (seeds 9001.., CPU backend; about 2 minutes with both bundled models on 2 cores)
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { compareImages, groundTruthImage } from '../lib/metrics.js';
import { bundledModelNames } from '../lib/model/registry.js';
import { Reconstructor } from '../lib/reconstructor.js';
import { readThunderstormCsv, type Emitter } from '../lib/simulate/csv.js';
import { simulateStack, type SimulationOptions } from '../lib/simulate/simulate.js';
import { defaultSharedDir, SHARED_STACKS, UNIFORM_TO_EDGE } from '../scripts/evaluation-data.js';

const FIRST_SEED = 9001;
const UPSAMPLING = 8;
const FINE_NM = 100 / UPSAMPLING;
const CROWDING_RADIUS_NM = 200;

const NO_EM_GAIN_1_ADU = { emGain: 0, electronsPerAdu: 1, baselineAdu: 0, readNoiseAdu: 0 };

/**
 * The regimes: lib/simulate's benchmark defaults, then uniform emitters, then replicas of the two shared stacks. The
 * uniform ones reach the frame's edge, as the shared stacks' emitters do.
 */
const REGIMES: readonly { name: string; options: SimulationOptions }[] = [
  { name: 'benchmark defaults (filament labels that blink repeatedly)', options: {} },
  { name: 'uniform emitters, benchmark conditions', options: UNIFORM_TO_EDGE },
  {
    name: 'demo1 replica (uniform, 6.05/um², 2000-2500 ph, bg 20, EM gain, 2 ADU/ph, baseline 100)',
    options: { ...UNIFORM_TO_EDGE, densityPerUm2: 6.05, photons: { kind: 'uniform', min: 2000, max: 2500 }, backgroundPhotons: 20, sigmaNm: [106, 115] },
  },
  {
    name: 'Artificialdataset replica (uniform, 5.5/um², 1000-3000 ph, bg 10, no EM gain, 1 ADU/ph)',
    options: { ...UNIFORM_TO_EDGE, densityPerUm2: 5.5, photons: { kind: 'uniform', min: 1000, max: 3000 }, backgroundPhotons: 10, sigmaNm: [106, 115], camera: NO_EM_GAIN_1_ADU },
  },
];

interface Crowding {
  emitters: number;
  /** Mean count of other emitters of the same frame within CROWDING_RADIUS_NM. */
  neighbours: number;
  /** Mean distance to the nearest other emitter of the same frame, nm. */
  nearestNm: number;
  /** Share of emitters whose 12.5 nm pixel holds another emitter of the stack (any frame). */
  sharedPixel: number;
  /** Share of the 100 nm camera-pixel cells that hold at least one emitter. */
  cellsOccupied: number;
}

function crowding(emitters: readonly Emitter[], width: number, height: number): Crowding {
  const byFrame = new Map<number, Emitter[]>();
  for (const e of emitters) {
    const list = byFrame.get(e.frame) ?? [];
    list.push(e);
    byFrame.set(e.frame, list);
  }
  let neighbours = 0;
  let nearest = 0;
  for (const list of byFrame.values()) {
    for (const a of list) {
      let best = Infinity;
      for (const b of list) {
        if (a === b) continue;
        const d = Math.hypot(a.xNm - b.xNm, a.yNm - b.yNm);
        if (d < CROWDING_RADIUS_NM) neighbours++;
        best = Math.min(best, d);
      }
      if (Number.isFinite(best)) nearest += best;
    }
  }
  const perPixel = new Map<string, number>();
  const cells = new Set<string>();
  for (const e of emitters) {
    const key = `${Math.floor(e.xNm / FINE_NM)},${Math.floor(e.yNm / FINE_NM)}`;
    perPixel.set(key, (perPixel.get(key) ?? 0) + 1);
    cells.add(`${Math.floor(e.xNm / 100)},${Math.floor(e.yNm / 100)}`);
  }
  let shared = 0;
  for (const count of perPixel.values()) if (count > 1) shared += count;
  const n = emitters.length;
  return { emitters: n, neighbours: neighbours / n, nearestNm: nearest / n, sharedPixel: shared / n, cellsOccupied: cells.size / (width * height) };
}

function crowdingLine(name: string, c: Crowding): string {
  return `${name.padEnd(96)} ${String(c.emitters).padStart(8)} ${c.neighbours.toFixed(2).padStart(9)} ${c.nearestNm.toFixed(0).padStart(8)} ${(100 * c.sharedPixel).toFixed(1).padStart(9)}% ${(100 * c.cellsOccupied).toFixed(1).padStart(8)}%`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seeds: { type: 'string', default: '6' },
      frames: { type: 'string', default: '20' },
      models: { type: 'string' },
      shared: { type: 'string', default: defaultSharedDir() },
    },
  });
  const seeds = Array.from({ length: Number(values.seeds) }, (_, i) => FIRST_SEED + i);
  const frames = Number(values.frames);
  const models = values.models ? values.models.split(',') : bundledModelNames();
  console.log(`models: ${models.join(', ')} (CPU backend); ${frames}-frame stacks of 64x64, seeds ${seeds[0]}-${seeds[seeds.length - 1]}; NMSE with least-squares scaling`);

  console.log(`\nemitter layout (crowding within ${CROWDING_RADIUS_NM} nm in the same frame; first seed of each regime)`);
  console.log(`${'stack'.padEnd(96)} ${'emitters'.padStart(8)} ${'neighbours'.padStart(9)} ${'NN nm'.padStart(8)} ${'shared px'.padStart(10)} ${'cells'.padStart(9)}`);
  for (const { tif, csv } of SHARED_STACKS) {
    const path = join(values.shared!, csv);
    if (existsSync(path)) console.log(crowdingLine(`${tif} (../shared/data)`, crowding(readThunderstormCsv(path), 64, 64)));
    else console.log(`${tif}: ${path} is absent, skipped`);
  }
  for (const regime of REGIMES) {
    const sim = simulateStack({ ...regime.options, seed: seeds[0], frames });
    console.log(crowdingLine(regime.name, crowding(sim.emitters, sim.stack.width, sim.stack.height)));
  }

  const reconstructors = new Map<string, Reconstructor>();
  for (const model of models) reconstructors.set(model, await Reconstructor.create({ model, backend: 'cpu' }));
  try {
    console.log(`\nmean over ${seeds.length} seeds: NMSE σ0 / NMSE σ1 (lower is better)`);
    console.log(`${'regime'.padEnd(96)} ${models.map((m) => m.padStart(17)).join(' ')}`);
    for (const regime of REGIMES) {
      const sums = new Map(models.map((m) => [m, [0, 0]]));
      for (const seed of seeds) {
        const sim = simulateStack({ ...regime.options, seed, frames });
        const w = sim.stack.width * UPSAMPLING;
        const h = sim.stack.height * UPSAMPLING;
        const truth = groundTruthImage(sim.emitters, w, h, FINE_NM);
        for (const model of models) {
          const { image } = await reconstructors.get(model)!.reconstruct(sim.stack);
          const s = sums.get(model)!;
          s[0] += compareImages(image, truth, w, h, 0).scaled.nmse / seeds.length;
          s[1] += compareImages(image, truth, w, h, 1).scaled.nmse / seeds.length;
        }
      }
      const cells = models.map((m) => {
        const [s0, s1] = sums.get(m)!;
        return `${(100 * s0).toFixed(2)}% / ${(100 * s1).toFixed(2)}%`.padStart(17);
      });
      console.log(`${regime.name.padEnd(96)} ${cells.join(' ')}`);
    }
  } finally {
    for (const r of reconstructors.values()) await r.close();
  }
}

await main();
