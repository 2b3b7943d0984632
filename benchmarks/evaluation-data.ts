/**
 * The data smlm-rt's accuracy figures are measured on, defined once for the benchmarks and the scripts that write or
 * read it: the seeds of the simulated stacks and the ThunderSTORM stacks of ../shared/data (never shipped, never
 * trained on).
 */
import { join } from 'node:path';
import { packageRoot } from '../lib/model/registry.js';

/** The held-out simulated stack's seed: distinct from the training data's (20261125) and its derived seeds. */
export const HELDOUT_SEED = 424242;

/** Seeds of the simulated validation stacks that model selection uses (scripts/select_unet.py). */
export const VALIDATION_SEEDS: readonly number[] = [515151, 626262];

/** The two ThunderSTORM stacks of ../shared/data/deepstorm-demo1 with their ground truth; `name` is their short name. */
export const SHARED_STACKS: readonly { tif: string; csv: string; name: string }[] = [
  { tif: 'Artificialdataset.tif', csv: 'positions.csv', name: 'demo-artificial' },
  { tif: 'ArtificialDataset_demo1.tif', csv: 'positions_demo1.csv', name: 'demo1' },
];

/** Where those stacks are by default: ../shared beside the repository. */
export function defaultSharedDir(): string {
  return join(packageRoot(), '..', 'shared', 'data', 'deepstorm-demo1');
}
