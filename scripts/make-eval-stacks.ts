/**
 * Writes the evaluation stacks that scripts/train.py scores models on (on the GPU host, which has no Node): the
 * simulated validation stacks of scripts/evaluation-data.ts (validation-*; scripts/select_unet.py picks the shipped
 * U-Net on these), the independent simulator's validation stacks (validation-indep-*: data lib/simulate did not make,
 * so that selection also rewards models that generalize; their NAME.json also gives pixelSizeNm), the held-out simulated stack (its own seed; reported, never used to choose anything) and, when
 * ../shared/data is present, the two ThunderSTORM stacks, as NAME.u16 (frames x H x W uint16 little-endian),
 * NAME.json ({frames, height, width}) and NAME.csv (ThunderSTORM ground truth). None of them is trained on.
 *
 * Usage (after `npm run build`): node dist/scripts/make-eval-stacks.js [--out .gpu/eval] [--seed 424242] [--frames 361]
 *   (--seed and --frames are the held-out stack's)
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { readTiffStack } from '../lib/io/tiff-read.js';
import { writeThunderstormCsv } from '../lib/simulate/csv.js';
import { simulateStack } from '../lib/simulate/simulate.js';
import { writeTruthCsv } from '../lib/independent-simulator/index.js';
import { defaultSharedDir, HELDOUT_SEED, INDEPENDENT_VALIDATION_STACKS, SHARED_STACKS, VALIDATION_STACKS } from './evaluation-data.js';
import { loadIndependentStack } from './independent-stacks.js';

/** Writes NAME.u16 and NAME.json; the pixel size goes into the JSON only where it is not the benchmark's 100 nm. */
function writeRaw(prefix: string, data: Uint16Array, frames: number, height: number, width: number, pixelSizeNm = 100): void {
  writeFileSync(`${prefix}.u16`, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  writeFileSync(`${prefix}.json`, JSON.stringify(pixelSizeNm === 100 ? { frames, height, width } : { frames, height, width, pixelSizeNm }));
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      out: { type: 'string', default: '.gpu/eval' },
      seed: { type: 'string', default: String(HELDOUT_SEED) },
      frames: { type: 'string', default: '361' },
      shared: { type: 'string', default: defaultSharedDir() },
    },
  });
  const out = values.out!;
  mkdirSync(out, { recursive: true });
  for (const { name, options } of VALIDATION_STACKS) {
    const val = simulateStack(options);
    writeRaw(join(out, name), val.stack.data, val.stack.frames, val.stack.height, val.stack.width);
    writeThunderstormCsv(join(out, `${name}.csv`), val.emitters);
    console.log(`${name}: ${val.stack.frames} frames, ${val.emitters.length} emitters`);
  }
  for (const spec of INDEPENDENT_VALIDATION_STACKS) {
    const { stack, truth } = loadIndependentStack(spec);
    writeRaw(join(out, spec.name), stack.data, stack.frames, stack.height, stack.width, stack.pixelSizeNm);
    writeTruthCsv(join(out, `${spec.name}.csv`), truth);
    console.log(`${spec.name}: ${stack.frames} frames of ${stack.pixelSizeNm} nm px, ${truth.length} emitters (independent simulator)`);
  }
  const sim = simulateStack({ seed: Number(values.seed), frames: Number(values.frames) });
  writeRaw(join(out, 'heldout'), sim.stack.data, sim.stack.frames, sim.stack.height, sim.stack.width);
  writeThunderstormCsv(join(out, 'heldout.csv'), sim.emitters);
  console.log(`heldout: ${sim.stack.frames} frames, ${sim.emitters.length} emitters, seed ${values.seed}`);
  for (const { tif, csv, name } of SHARED_STACKS) {
    const tifPath = join(values.shared!, tif);
    if (!existsSync(tifPath)) {
      console.log(`skipping ${tifPath}: absent`);
      continue;
    }
    const stack = await readTiffStack(tifPath);
    if (!(stack.data instanceof Uint16Array)) throw new Error(`${tifPath}: expected uint16 pixels`);
    writeRaw(join(out, name), stack.data, stack.frames, stack.height, stack.width);
    writeFileSync(join(out, `${name}.csv`), readFileSync(join(values.shared!, csv)));
    console.log(`${name}: ${stack.frames} frames of ${stack.width}x${stack.height} from ${tifPath}`);
  }
}

await main();
