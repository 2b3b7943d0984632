/**
 * Writes the training set of scripts/train.py (format and conditions: lib/simulate/training-set.ts).
 *
 * Usage (after `npm run build`): node dist/scripts/make-training-data.js [--out .gpu/train/train.bin] [--seed 20261125]
 *        [--patches 10000] [--train 7000] [--patches-per-frame 2]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { encodeTrainingSet, makeTrainingSet } from '../lib/simulate/training-set.js';

const { values } = parseArgs({
  options: {
    out: { type: 'string', default: '.gpu/train/train.bin' },
    seed: { type: 'string', default: '20261125' },
    patches: { type: 'string', default: '10000' },
    train: { type: 'string', default: '7000' },
    'patches-per-frame': { type: 'string', default: '2' },
  },
});
const started = Date.now();
const set = makeTrainingSet({ seed: Number(values.seed), patches: Number(values.patches), train: Number(values.train), patchesPerFrame: Number(values['patches-per-frame']) });
const bytes = encodeTrainingSet(set);
mkdirSync(dirname(values.out!), { recursive: true });
writeFileSync(values.out!, bytes);
const h = set.header;
console.log(
  `wrote ${values.out}: ${String(h.count)} patches (${String(h.train)} train / ${String(h.validation)} validation), ${String(h.emitters)} emitters, ` +
    `${(bytes.length / 2 ** 20).toFixed(1)} MiB, seed ${String(h.seed)}, ${((Date.now() - started) / 1000).toFixed(1)} s`,
);
