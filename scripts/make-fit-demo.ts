/**
 * The data of README's "Fit a model to your microscope": two microscopes that are not the benchmark's, drawn by the
 * independent simulator (lib/independent-simulator: code the training simulators share nothing with). For each:
 *   WORK/NAME-acquisition.tif    what a user hands to `smlm-rt estimate` (stays here: only its conditions travel)
 *   OUT/NAME.conditions.json     `smlm-rt estimate WORK/NAME-acquisition.tif --json`, run through the CLI as a user
 *                                runs it: the conditions `smlm-rt train --like` fits a model to
 *   OUT/NAME-heldout.tif + .csv.gz  another field of the same microscope, never used to fit anything: before/after
 *                                NMSE (the CSV, ThunderSTORM columns, gzipped; also WORK/NAME-heldout.csv)
 * Both stacks carry their pixel size in the file, as a camera's software writes it. The estimate's error against the
 * simulation's settings is printed (and kept in OUT/NAME.settings.json) but nothing downstream reads the settings.
 *
 * Usage (after `npm run build`): node dist/scripts/make-fit-demo.js [--out .gpu/fit] [--work .gpu/fit-acquisition]
 *   [--frames 200] [--heldout-frames 200] [--microscopes scmos-107nm,scmos-160nm]
 * (--microscopes naive-160nm: the third, naive simulator's 160 nm sCMOS at 3/um^2 over the whole field, where `estimate`
 * is least certain; lib/naive-simulator.ts)
 * OUT is what scripts/gpu-host/fit-demo.sh reads on the GPU host (carry it); keep it small (the script prints its size).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { parseArgs } from 'node:util';
import { NAIVE_107NM, naiveTruth, simulateNaive, type NaiveConditions } from '../lib/naive-simulator.js';
import { SCMOS_107NM, settingsInEstimateTerms, simulateIndependentStack, writeTruthCsv, type IndependentConditions, type TruthRow } from '../lib/independent-simulator/index.js';
import { writeStackTiff } from '../lib/io/tiff-write.js';
import type { Stack } from '../lib/types.js';

/**
 * The issue's example microscopes: the sCMOS at 107 nm, and the same objective (PSF sigma ~125 nm) with a 160 nm
 * camera (sigma ~0.78 px: undersampled).
 */
export const FIT_DEMO_MICROSCOPES: readonly { name: string; conditions: IndependentConditions; seeds: [number, number] }[] = [
  { name: 'scmos-107nm', conditions: SCMOS_107NM, seeds: [515001, 515002] },
  {
    name: 'scmos-160nm',
    conditions: {
      ...SCMOS_107NM,
      pixelSizeNm: 160,
      width: 48,
      height: 48,
      photons: { median: 1800, logSigma: 0.35 },
      background: { ...SCMOS_107NM.background, meanPhotons: 25 },
      densityPerUm2: 2.5,
      camera: { ...SCMOS_107NM.camera, chipSeed: 7160 } as typeof SCMOS_107NM.camera,
    },
    seeds: [516001, 516002],
  },
];

/** A microscope the demo can draw: a stack with its ground truth, and the settings in `estimate`'s terms. */
interface DemoMicroscope {
  name: string;
  pixelSizeNm: number;
  seeds: [number, number];
  draw: (seed: number, frames: number) => { stack: Stack; truth: TruthRow[] };
  settings: Record<string, number | string>;
}

const NAIVE_160NM: NaiveConditions = { ...NAIVE_107NM, pixelSizeNm: 160, densityPerUm2: 3 };

const DEMO_MICROSCOPES: readonly DemoMicroscope[] = [
  ...FIT_DEMO_MICROSCOPES.map(({ name, conditions, seeds }) => ({
    name,
    pixelSizeNm: conditions.pixelSizeNm,
    seeds,
    draw: (seed: number, frames: number) => simulateIndependentStack({ ...conditions, seed, frames }),
    settings: settingsInEstimateTerms(conditions),
  })),
  {
    name: 'naive-160nm',
    pixelSizeNm: NAIVE_160NM.pixelSizeNm,
    seeds: [517001, 517002],
    draw: (seed: number, frames: number) => {
      const { stack, emitters } = simulateNaive(NAIVE_160NM, seed, frames);
      return { stack, truth: emitters.map((e, i) => ({ id: i + 1, ...e, sigmaNm: NAIVE_160NM.sigmaNm })) };
    },
    settings: naiveTruth(NAIVE_160NM),
  },
];

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      out: { type: 'string', default: '.gpu/fit' },
      work: { type: 'string', default: '.gpu/fit-acquisition' },
      frames: { type: 'string', default: '200' },
      'heldout-frames': { type: 'string', default: '200' },
      microscopes: { type: 'string', default: FIT_DEMO_MICROSCOPES.map((m) => m.name).join(',') },
    },
  });
  const names = values.microscopes!.split(',');
  const unknown = names.filter((n) => !DEMO_MICROSCOPES.some((m) => m.name === n));
  if (unknown.length) throw new Error(`unknown microscope ${unknown.join(', ')}; known: ${DEMO_MICROSCOPES.map((m) => m.name).join(', ')}`);
  const out = values.out!;
  const work = values.work!;
  mkdirSync(out, { recursive: true });
  mkdirSync(work, { recursive: true });
  const cli = fileURLToPath(new URL('../lib/cli/main.js', import.meta.url));
  for (const { name, pixelSizeNm, seeds, draw, settings } of DEMO_MICROSCOPES.filter((m) => names.includes(m.name))) {
    const acquisition = draw(seeds[0], Number(values.frames));
    const acquisitionPath = join(work, `${name}-acquisition.tif`);
    await writeStackTiff(acquisitionPath, acquisition.stack, { force: true });
    // The user's path: the CLI's JSON, not the simulation's settings. A refusal stops the script (no fallback).
    const json = execFileSync(process.execPath, [cli, 'estimate', acquisitionPath, '--json'], { encoding: 'utf8' });
    const estimated = JSON.parse(json) as Record<string, number | string>;
    writeFileSync(join(out, `${name}.conditions.json`), json);
    writeFileSync(join(out, `${name}.settings.json`), `${JSON.stringify(settings, null, 2)}\n`);
    const rows = Object.entries(settings).map(([key, set]) => {
      const got = estimated[key];
      const error = typeof set === 'number' && typeof got === 'number' ? ` (${got >= set ? '+' : ''}${(100 * (got / set - 1)).toFixed(1)} %)` : '';
      return `  ${key.padEnd(18)} estimated ${typeof got === 'number' ? Number(got.toPrecision(4)) : got}, set ${typeof set === 'number' ? Number(set.toPrecision(4)) : set}${error}`;
    });
    console.log(`${name}: smlm-rt estimate ${acquisitionPath} --json > ${join(out, `${name}.conditions.json`)}\n${rows.join('\n')}`);

    const heldout = draw(seeds[1], Number(values['heldout-frames']));
    const heldoutPath = join(out, `${name}-heldout.tif`);
    await writeStackTiff(heldoutPath, heldout.stack, { force: true });
    // Gzipped: the CSVs are most of what travels (fit-demo.sh unpacks them on the host).
    const csv = join(work, `${name}-heldout.csv`);
    writeTruthCsv(csv, heldout.truth);
    writeFileSync(`${join(out, `${name}-heldout.csv`)}.gz`, gzipSync(readFileSync(csv)));
    console.log(`${heldoutPath}: ${heldout.stack.frames} frames of ${heldout.stack.width}x${heldout.stack.height} px at ${pixelSizeNm} nm, ${heldout.truth.length} emitters`);
  }
  let bytes = 0;
  for (const f of readdirSync(out)) bytes += statSync(join(out, f)).size;
  console.log(`${out}: ${(bytes / 2 ** 20).toFixed(2)} MiB (what travels to the GPU host)`);
}

// Run as a script only: importing FIT_DEMO_MICROSCOPES must not write files.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
