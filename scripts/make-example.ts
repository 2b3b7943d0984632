/**
 * Makes the example stack shipped in examples/: a simulated high-density SMLM movie of bundled microtubule-like
 * filaments under the benchmark's imaging conditions (lib/simulate), written as an ImageJ TIFF with its 100 nm
 * pixel size. Deterministic: the same seed gives the same bytes, so the committed file can be checked.
 *
 *   npm run build && node dist/scripts/make-example.js [--out examples/microtubules.tif] [--truth truth.csv] [--frames 100] [--seed 2026]
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { encodeStackTiff } from '../lib/io/tiff-write.js';
import { formatThunderstormCsv } from '../lib/simulate/csv.js';
import { simulateStack } from '../lib/simulate/simulate.js';

export const EXAMPLE_DEFAULTS = { seed: 2026, frames: 100, out: 'examples/microtubules.tif' } as const;

const { values } = parseArgs({
  options: {
    out: { type: 'string', default: EXAMPLE_DEFAULTS.out },
    truth: { type: 'string' },
    frames: { type: 'string', default: String(EXAMPLE_DEFAULTS.frames) },
    seed: { type: 'string', default: String(EXAMPLE_DEFAULTS.seed) },
  },
});

const frames = Number(values.frames);
const seed = Number(values.seed);
// Everything else is the simulator's default: the benchmark's conditions (64x64 px of 100 nm, ~5.5 emitters/um^2).
const { stack, emitters } = simulateStack({ seed, frames });
writeFileSync(values.out!, encodeStackTiff(stack));
if (values.truth) writeFileSync(values.truth, formatThunderstormCsv(emitters));
console.log(`wrote ${values.out}: ${stack.frames} frames of ${stack.width}x${stack.height} px at ${stack.pixelSizeNm} nm, ${emitters.length} emitters (seed ${seed})`);
