/**
 * The data smlm-rt's accuracy figures are measured on, defined once for the benchmarks and the scripts that write or
 * read it: the seeds of the simulated stacks and the ThunderSTORM stacks of ../shared/data (never shipped, never
 * trained on).
 */
import { join } from 'node:path';
import { packageRoot } from '../lib/model/registry.js';
import type { SimulationOptions } from '../lib/simulate/simulate.js';

/** The held-out simulated stack's seed: distinct from the training data's (20261125) and its derived seeds. */
export const HELDOUT_SEED = 424242;

/**
 * The simulated validation stacks that model selection uses (scripts/select_unet.py), in both emitter layouts a user
 * meets: lib/simulate's benchmark defaults (filament labels that blink again and again, 361 frames) and uniformly
 * scattered emitters reaching the frame's edge (otherwise the benchmark's conditions; 100 frames, since scattered
 * emitters hardly repeat a pixel however many frames there are).
 */
export const VALIDATION_STACKS: readonly { name: string; options: SimulationOptions }[] = [
  { name: 'validation-515151', options: { seed: 515151, frames: 361 } },
  { name: 'validation-626262', options: { seed: 626262, frames: 361 } },
  { name: 'validation-uniform-737373', options: { seed: 737373, frames: 100, structure: { kind: 'uniform' }, marginNm: 0 } },
  { name: 'validation-uniform-848484', options: { seed: 848484, frames: 100, structure: { kind: 'uniform' }, marginNm: 0 } },
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
