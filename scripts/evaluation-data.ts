/**
 * The data smlm-rt's accuracy figures are measured on, defined once for the benchmarks and the scripts that write or
 * read it: the seeds of the simulated stacks and the ThunderSTORM stacks of ../shared/data (never shipped, never
 * trained on).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { BENCHMARK_LIKE_EMCCD, SCMOS_107NM } from '../lib/independent-simulator/index.js';
import { readTiffStack } from '../lib/io/tiff-read.js';
import { packageRoot } from '../lib/model/registry.js';
import { readThunderstormCsv, type Emitter } from '../lib/simulate/csv.js';
import type { SimulationOptions } from '../lib/simulate/simulate.js';
import type { Stack } from '../lib/types.js';
import type { IndependentStackSpec } from './independent-stacks.js';

/** The held-out simulated stack's seed: distinct from the training data's (20261125) and its derived seeds. */
export const HELDOUT_SEED = 424242;

/** Emitters scattered uniformly up to the frame's edge, as in the ThunderSTORM stacks (their x and y span 0-6400 nm). */
export const UNIFORM_TO_EDGE: SimulationOptions = { structure: { kind: 'uniform' }, marginNm: 0 };

/**
 * The simulated validation stacks that model selection uses (scripts/select_unet.py), in both emitter layouts a user
 * meets: lib/simulate's benchmark defaults (filament labels that blink again and again, 361 frames) and uniformly
 * scattered emitters reaching the frame's edge (otherwise the benchmark's conditions; 100 frames, since scattered
 * emitters hardly repeat a pixel however many frames there are).
 */
export const VALIDATION_STACKS: readonly { name: string; options: SimulationOptions }[] = [
  { name: 'validation-515151', options: { seed: 515151, frames: 361 } },
  { name: 'validation-626262', options: { seed: 626262, frames: 361 } },
  { name: 'validation-uniform-737373', options: { ...UNIFORM_TO_EDGE, seed: 737373, frames: 100 } },
  { name: 'validation-uniform-848484', options: { ...UNIFORM_TO_EDGE, seed: 848484, frames: 100 } },
];

/**
 * Validation stacks of the independent simulator (lib/independent-simulator: Airy PSF, log-normal photons, uneven
 * background, its own cameras and structures), used for model selection beside VALIDATION_STACKS: the benchmark's
 * conditions on an EMCCD, and an sCMOS microscope with 107 nm pixels (chip 7001). 100 frames each, so that scoring
 * four U-Nets on every validation stack stays under two minutes on the 2-core CPU backend.
 */
export const INDEPENDENT_VALIDATION_STACKS: readonly IndependentStackSpec[] = [
  { name: 'validation-indep-emccd-919191', conditions: BENCHMARK_LIKE_EMCCD, seed: 919191, frames: 100 },
  { name: 'validation-indep-scmos-929292', conditions: SCMOS_107NM, seed: 929292, frames: 100 },
];

/**
 * Held-out stacks of the independent simulator, for reporting only (never for choosing anything): the benchmark's
 * conditions over 361 frames like the benchmark, and the sCMOS conditions on another chip (seed 7002) over 200 frames.
 */
export const INDEPENDENT_HELDOUT_STACKS: readonly IndependentStackSpec[] = [
  { name: 'heldout-indep-emccd-939393', conditions: BENCHMARK_LIKE_EMCCD, seed: 939393, frames: 361 },
  { name: 'heldout-indep-scmos-949494', conditions: { ...SCMOS_107NM, camera: { ...SCMOS_107NM.camera, chipSeed: 7002 } as typeof SCMOS_107NM.camera }, seed: 949494, frames: 200 },
];

/** The two ThunderSTORM stacks of ../shared/data/deepstorm-demo1 with their ground truth; `name` is their short name. */
export const SHARED_STACKS: readonly { tif: string; csv: string; name: string }[] = [
  { tif: 'Artificialdataset.tif', csv: 'positions.csv', name: 'demo-artificial' },
  { tif: 'ArtificialDataset_demo1.tif', csv: 'positions_demo1.csv', name: 'demo1' },
];

/** Where those stacks are by default: ../shared beside the repository. */
export function defaultSharedDir(): string {
  return join(packageRoot(), '..', 'shared', 'data', 'deepstorm-demo1');
}

/**
 * Reads those of the shared stacks that are in `dir`, each with its ground truth, in SHARED_STACKS order; for each
 * absent one, calls `onAbsent` with the TIFF's path.
 */
export async function readSharedStacks(dir: string, onAbsent: (tifPath: string) => void = () => {}): Promise<{ tif: string; name: string; stack: Stack; emitters: Emitter[] }[]> {
  const found = [];
  for (const { tif, csv, name } of SHARED_STACKS) {
    const tifPath = join(dir, tif);
    if (!existsSync(tifPath)) {
      onAbsent(tifPath);
      continue;
    }
    found.push({ tif, name, stack: await readTiffStack(tifPath), emitters: readThunderstormCsv(join(dir, csv)) });
  }
  return found;
}
