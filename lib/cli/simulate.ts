/** `smlm-rt simulate -o stack.tif`: a simulated stack and its ThunderSTORM ground truth at given conditions. */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { basename, dirname, extname, join } from 'node:path';
import { checkOutputWritable, sameFile, writeOutputFile } from '../io/output-file.js';
import { encodeStackTiff } from '../io/tiff-write.js';
import { BENCHMARK_CONDITIONS } from '../simulate/simulate.js';
import { checkConditions, readConditionsFile, simulationOptionsFor, type MicroscopeConditions } from '../simulate/conditions.js';
import { formatThunderstormCsv } from '../simulate/csv.js';
import { simulateStack } from '../simulate/simulate.js';
import { SmlmError } from '../errors.js';
import { integerOption, pixelSizeOption } from './options.js';

export interface SimulateCliOptions {
  output: string;
  truth?: string;
  like?: string;
  pixelSize?: number;
  photons?: number;
  background?: number;
  psfSigma?: number;
  density?: number;
  camera?: 'emccd' | 'scmos';
  baseline?: number;
  aduPerPhoton?: number;
  readNoise?: number;
  frames: number;
  size: { height: number; width: number };
  structure: 'filaments' | 'uniform';
  seed: number;
  force?: boolean;
}

function nonNegative(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`expected a number >= 0, got "${value}"`);
  return n;
}

function positive(value: string): number {
  const n = nonNegative(value);
  if (n === 0) throw new InvalidArgumentError(`expected a number > 0, got "${value}"`);
  return n;
}

/** HEIGHTxWIDTH, or one number for a square frame. */
function frameSize(value: string): { height: number; width: number } {
  const m = /^\s*(\d+)\s*(?:[xX]\s*(\d+)\s*)?$/.exec(value);
  const [h, w] = m ? [Number(m[1]), Number(m[2] ?? m[1])] : [0, 0];
  if (!(h >= 4 && w >= 4 && h <= 4096 && w <= 4096)) throw new InvalidArgumentError(`expected HEIGHTxWIDTH or one side, 4..4096 each (e.g. 64x64 or 62), got "${value}"`);
  return { height: h, width: w };
}

/** The benchmark's conditions, the base that --like and the single options change. */
const BENCHMARK: MicroscopeConditions = {
  baselineAdu: BENCHMARK_CONDITIONS.camera.baselineAdu,
  aduPerPhoton: BENCHMARK_CONDITIONS.camera.emGain / BENCHMARK_CONDITIONS.camera.electronsPerAdu,
  backgroundPhotons: BENCHMARK_CONDITIONS.backgroundPhotons,
  photonsMedian: 1500,
  psfSigmaNm: 110,
  densityPerUm2: BENCHMARK_CONDITIONS.densityPerUm2,
  pixelSizeNm: BENCHMARK_CONDITIONS.pixelSizeNm,
  camera: 'emccd',
};

/** stack.tif -> stack.csv beside it. */
export function defaultTruthPath(stackPath: string): string {
  const ext = extname(stackPath);
  return join(dirname(stackPath), `${basename(stackPath, ext)}.csv`);
}

/** Conditions: the benchmark's, then --like's, then each option given. */
export async function conditionsFromOptions(opts: SimulateCliOptions): Promise<MicroscopeConditions> {
  const base = opts.like ? await readConditionsFile(opts.like) : BENCHMARK;
  const given: Partial<MicroscopeConditions> = {
    pixelSizeNm: opts.pixelSize,
    photonsMedian: opts.photons,
    backgroundPhotons: opts.background,
    psfSigmaNm: opts.psfSigma,
    densityPerUm2: opts.density,
    camera: opts.camera,
    baselineAdu: opts.baseline,
    aduPerPhoton: opts.aduPerPhoton,
    readNoiseAdu: opts.readNoise,
  };
  const merged: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(given)) if (v !== undefined) merged[k] = v;
  return checkConditions(merged, opts.like ?? 'options');
}

export async function runSimulate(opts: SimulateCliOptions): Promise<string> {
  const force = opts.force ?? false;
  const truth = opts.truth ?? defaultTruthPath(opts.output);
  if (await sameFile(truth, opts.output)) throw new SmlmError('E_BAD_OPTIONS', `the ground truth and the stack would both be ${truth}; give --truth another name`);
  if (opts.like && ((await sameFile(opts.output, opts.like)) || (await sameFile(truth, opts.like)))) {
    throw new SmlmError('E_BAD_OPTIONS', `an output would replace the conditions file ${opts.like}`);
  }
  // Both outputs are checked before anything is simulated or written.
  await checkOutputWritable(opts.output, force);
  await checkOutputWritable(truth, force);
  const c = await conditionsFromOptions(opts);
  const sim = simulateStack({
    ...simulationOptionsFor(c),
    frames: opts.frames,
    height: opts.size.height,
    width: opts.size.width,
    structure: { kind: opts.structure },
    seed: opts.seed,
    // Uniform emitters fill the field up to its edge (as real samples do); filaments keep lib/simulate's margin.
    ...(opts.structure === 'uniform' ? { marginNm: 0 } : {}),
  });
  await writeOutputFile(opts.output, encodeStackTiff(sim.stack), force);
  await writeOutputFile(truth, new TextEncoder().encode(formatThunderstormCsv(sim.emitters)), force);
  return `wrote ${opts.output} (${sim.stack.frames} frames of ${sim.stack.width} x ${sim.stack.height} px at ${c.pixelSizeNm} nm, ${c.camera}) and ${truth} (${sim.emitters.length} emitters)`;
}

export function register(program: Command): void {
  program
    .command('simulate')
    .description("simulate an SMLM stack and its ThunderSTORM ground truth at given imaging conditions (default: the benchmark's)")
    .requiredOption('-o, --output <stack.tif>', 'output TIFF stack (uint16, calibrated)')
    .option('--truth <file.csv>', "ground-truth CSV (default: the stack's name with .csv)")
    .option('--like <conditions.json>', 'conditions from a JSON file (the output of `smlm-rt estimate --json`); options below override it')
    .option('--pixel-size <nm>', 'camera pixel size, nm', pixelSizeOption)
    .option('--photons <n>', 'median photons per emitter (uniform over 2/3..4/3 of it)', positive)
    .option('--background <n>', 'background photons per pixel', nonNegative)
    .option('--psf-sigma <nm>', 'PSF sigma, nm (uniform over +-5 %)', positive)
    .option('--density <n>', 'emitters per um^2 per frame', nonNegative)
    .addOption(new Option('--camera <kind>', 'camera: EM gain (excess noise 2) or sCMOS').choices(['emccd', 'scmos']))
    .option('--baseline <adu>', 'camera offset, ADU', nonNegative)
    .option('--adu-per-photon <n>', 'gain, ADU per photon', positive)
    .option('--read-noise <adu>', 'sCMOS read noise, ADU rms (default 1.5 electrons)', nonNegative)
    .option('--frames <n>', 'frames', integerOption(1, 1_000_000), 100)
    .addOption(new Option('--size <HxW>', 'frame size, px: HEIGHTxWIDTH, or one side for a square').argParser(frameSize).default({ height: 64, width: 64 }, '64x64'))
    .addOption(new Option('--structure <kind>', 'where emitters sit').choices(['filaments', 'uniform']).default('filaments'))
    .option('--seed <n>', 'random seed (same options and seed: the same stack)', integerOption(0, 2 ** 31 - 1), 1)
    .option('-f, --force', 'overwrite existing output files')
    .action(async (opts: SimulateCliOptions) => {
      process.stdout.write(`${await runSimulate(opts)}\n`);
    });
}
