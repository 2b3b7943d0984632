/**
 * Calibrates a model's `smlm.output_scale` so that its reconstruction is in expected localizations per output pixel,
 * i.e. the image of a stack sums to the number of emitters that were on in it.
 *
 * Why: training targets put a spike of height 100 (Deep-STORM's convention) on every emitter, but the L1 term of the
 * training loss shrinks the network's outputs, so dividing by the nominal 100 under-counts (0.45-0.75x measured).
 * The fix is one number per model, measured on calibration stacks simulated at the benchmark's conditions
 * (lib/simulate defaults; seeds 777.., never the held-out evaluation seed 424242, the example's 2026 or the shared
 * stacks):
 *   ratio = (sum of the images) / (ground-truth emitters in the field of view),  output_scale_new = output_scale_old * ratio,
 * written into the model's metadata with withMetadata (graph and weights untouched) and recorded in smlm.training's
 * `calibration`. The calibration set is many short stacks, one structure each, because the ratio depends on the
 * drawn structure (+-8 % between seeds for the U-Net) far more than on the number of frames. The rewritten model is
 * checked on the calibration stacks (ratio 1.00 +- 0.02) before it replaces the file, then validated on independent
 * seeds (1777..) and on the shared ThunderSTORM stacks: those figures are reported, never used.
 *
 * Usage (after `npm run build`):
 *   node dist/scripts/calibrate-output-scale.js [--models unet,deepstorm | path.onnx,...] [--seed 777] [--stacks 40]
 *     [--validation-seed 1777] [--validation-stacks 40] [--frames 10] [--frames-per-model deepstorm=5]
 *     [--shared ../shared/data/deepstorm-demo1] [--dry-run] [--sensitivity]
 * --sensitivity adds how the calibrated sum drifts under other imaging conditions (SENSITIVITY_VARIANTS).
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { SmlmError } from '../lib/errors.js';
import { METADATA_KEYS, parseModelMetadata } from '../lib/model/metadata.js';
import { decodeOnnx, metadataProps } from '../lib/model/onnx.js';
import { bundledModelNames, modelsDir } from '../lib/model/registry.js';
import { withMetadata } from '../lib/model/rewrite-metadata.js';
import { Reconstructor } from '../lib/reconstructor.js';
import type { Emitter } from '../lib/simulate/csv.js';
import { simulateStack, type SimulationOptions } from '../lib/simulate/simulate.js';
import type { Stack } from '../lib/types.js';
import { defaultSharedDir, readSharedStacks } from './evaluation-data.js';

/**
 * Calibration and validation seeds: stacks of seeds 777.. calibrate, stacks of seeds 1777.. validate. Both ranges are
 * distinct from training (20261125 and the 32-bit seeds it draws), held-out evaluation (424242) and example (2026).
 */
export const CALIBRATION_SEED = 777;
export const VALIDATION_SEED = 1777;
/** Largest accepted |ratio - 1| of the rewritten model on its own calibration stacks. */
export const AFTER_TOLERANCE = 0.02;
/** Significant digits kept of the new output_scale (the sampling error of the ratio is far larger than 1e-6). */
const SCALE_DIGITS = 6;

/** First seed of the stacks of the optional --sensitivity report (distinct from calibration and validation). */
export const SENSITIVITY_SEED = 5000;
/**
 * Imaging conditions away from the benchmark's, for the optional --sensitivity report: the calibration holds at the
 * conditions it was measured at, and these show how far the image sum drifts elsewhere (brightness, density, camera).
 */
export const SENSITIVITY_VARIANTS: readonly { name: string; options: SimulationOptions }[] = [
  { name: 'benchmark conditions', options: {} },
  { name: 'photons 500-1000', options: { photons: { kind: 'uniform', min: 500, max: 1000 } } },
  { name: 'photons 2000-2500', options: { photons: { kind: 'uniform', min: 2000, max: 2500 } } },
  { name: 'photons 1000-3000', options: { photons: { kind: 'uniform', min: 1000, max: 3000 } } },
  { name: 'density 2.75 /um^2', options: { densityPerUm2: 2.75 } },
  { name: 'density 11 /um^2', options: { densityPerUm2: 11 } },
  {
    name: 'Artificialdataset-like (1000-3000 ph, bg 10, no EM gain or baseline, 1 ADU/ph)',
    options: { photons: { kind: 'uniform', min: 1000, max: 3000 }, backgroundPhotons: 10, camera: { emGain: 0, electronsPerAdu: 1, baselineAdu: 0, readNoiseAdu: 0 } },
  },
];

/** A stack with the number of ground-truth emitters inside its field of view. */
export interface CalibrationSample {
  name: string;
  stack: Stack;
  emitters: number;
}

/** What a model's reconstructions of some stacks add up to. */
export interface SumCheck {
  name: string;
  stacks: number;
  frames: number;
  emitters: number;
  imageSum: number;
  /** Pooled imageSum / emitters over all stacks: 1 for a calibrated model. */
  ratio: number;
  /** Each stack's own image sum / emitters. */
  stackRatios: number[];
}

/** Ground-truth emitters of frames 1..frames whose position lies on the camera's field (x: columns, nm). */
export function emittersInField(emitters: readonly Emitter[], frames: number, width: number, height: number, pixelNm: number): number {
  return emitters.filter((e) => e.frame >= 1 && e.frame <= frames && e.xNm >= 0 && e.xNm < width * pixelNm && e.yNm >= 0 && e.yNm < height * pixelNm).length;
}

/** The first `frames` frames of a stack, with its ground truth counted on them. */
export function firstFrames(name: string, stack: Stack, emitters: readonly Emitter[], frames: number): CalibrationSample {
  const n = Math.min(frames, stack.frames);
  const pixels = stack.height * stack.width;
  const sub: Stack = { ...stack, frames: n, data: stack.data.subarray(0, n * pixels) };
  return { name, stack: sub, emitters: emittersInField(emitters, n, stack.width, stack.height, stack.pixelSizeNm ?? 100) };
}

/**
 * `count` stacks of `frames` frames simulated at the benchmark's conditions (every lib/simulate default), seeds
 * firstSeed, firstSeed + 1, ... (other conditions through `options`). Many short stacks rather than one long one: the image sum per emitter depends on the
 * drawn structure (how tightly its filaments pack emitters) far more than on the frame count, so one structure would
 * calibrate the model to that structure alone.
 */
export function simulatedSamples(firstSeed: number, count: number, frames: number, options: SimulationOptions = {}): CalibrationSample[] {
  return Array.from({ length: count }, (_, k) => {
    const { stack, emitters } = simulateStack({ ...options, seed: firstSeed + k, frames });
    return firstFrames(`seed ${firstSeed + k}`, stack, emitters, frames);
  });
}

/** Reconstructs each sample on the CPU backend with the model's own metadata and sums the images. */
export async function measureImageSum(modelPath: string, samples: readonly CalibrationSample[], name = samples[0]?.name ?? 'none'): Promise<SumCheck> {
  const emitters = samples.reduce((n, s) => n + s.emitters, 0);
  if (samples.length === 0 || emitters === 0) throw new SmlmError('E_BAD_OPTIONS', `${name}: no ground-truth emitters in the field; cannot calibrate against it`);
  const rec = await Reconstructor.create({ model: modelPath, backend: 'cpu' });
  try {
    let imageSum = 0;
    const stackRatios: number[] = [];
    for (const sample of samples) {
      const { image } = await rec.reconstruct(sample.stack);
      let sum = 0;
      for (let i = 0; i < image.length; i++) sum += image[i];
      imageSum += sum;
      stackRatios.push(sum / sample.emitters);
    }
    const frames = samples.reduce((n, s) => n + s.stack.frames, 0);
    return { name, stacks: samples.length, frames, emitters, imageSum, ratio: imageSum / emitters, stackRatios };
  } finally {
    await rec.close();
  }
}

/** Sample standard deviation (0 for fewer than two values). */
export function standardDeviation(values: readonly number[]): number {
  if (values.length < 2) return 0;
  const mean = values.reduce((s, v) => s + v, 0) / values.length;
  return Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / (values.length - 1));
}

/** The outcome of calibrating one model's bytes (nothing written yet). */
export interface Calibration {
  /** The model with the new output_scale and the calibration record. */
  bytes: Uint8Array;
  oldScale: number;
  newScale: number;
  /** The model as it was, on the calibration stacks. */
  before: SumCheck;
}

/**
 * Measures a model on its calibration stacks and returns it with output_scale multiplied by the pooled ratio and
 * smlm.training.calibration recording how. `seeds` names the calibration stacks' seeds (for the record).
 */
export async function calibrateModel(
  bytes: Uint8Array,
  samples: readonly CalibrationSample[],
  record: { seeds: string; date?: string; source?: string },
): Promise<Calibration> {
  const source = record.source ?? 'model';
  const props = metadataProps(decodeOnnx(bytes, source));
  const meta = parseModelMetadata(props, source);
  const measuredPath = join(tmpdir(), `smlm-rt-calibrate-${process.pid}-${Date.now()}.onnx`);
  writeFileSync(measuredPath, bytes);
  let before: SumCheck;
  try {
    before = await measureImageSum(measuredPath, samples, 'calibration');
  } finally {
    rmSync(measuredPath, { force: true });
  }
  if (!(before.imageSum > 0)) {
    throw new SmlmError('E_MODEL_INVALID', `${source}: the calibration stacks reconstruct to a sum of ${before.imageSum}; no scale can calibrate that`, { source });
  }
  const rawSumPerEmitter = before.ratio * meta.outputScale;
  const newScale = Number(rawSumPerEmitter.toPrecision(SCALE_DIGITS));
  const first = samples[0].stack;
  const training = {
    ...meta.training,
    calibration: {
      quantity: 'output_scale = sum over frames of the clamped raw maps / ground-truth emitters in the field of view',
      conditions: 'lib/simulate defaults (benchmark conditions)',
      seeds: record.seeds,
      stacks: samples.length,
      framesPerStack: first.frames,
      height: first.height,
      width: first.width,
      emitters: before.emitters,
      rawSumPerEmitter,
      // Spread of the per-stack ratio relative to the pooled one: how far one structure may deviate.
      stackRelativeSd: standardDeviation(before.stackRatios) / before.ratio,
      previousOutputScale: meta.outputScale,
      backend: 'cpu (onnxruntime-node, fp32)',
      script: 'scripts/calibrate-output-scale.ts',
      date: record.date ?? new Date().toISOString().slice(0, 10),
    },
  };
  const calibrated = withMetadata(bytes, { [METADATA_KEYS.outputScale]: String(newScale), [METADATA_KEYS.training]: JSON.stringify(training) }, source);
  return { bytes: calibrated, oldScale: meta.outputScale, newScale, before };
}

interface ModelReport {
  name: string;
  calibration: Calibration;
  after: SumCheck;
  validation: SumCheck[];
  /** --sensitivity only. */
  sensitivity: SumCheck[];
}

function parseFramesPerModel(spec: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const part of spec.split(',').filter((p) => p.trim())) {
    const [name, value] = part.split('=');
    const n = Number(value);
    if (!name || !Number.isInteger(n) || n < 1) throw new SmlmError('E_BAD_OPTIONS', `--frames-per-model: expected name=frames[,name=frames], got "${part}"`);
    out.set(name.trim(), n);
  }
  return out;
}

/** The two ThunderSTORM stacks of ../shared/data with their ground truth, or none when the folder is absent. */
async function sharedSamples(dir: string): Promise<CalibrationSample[]> {
  return (await readSharedStacks(dir)).map(({ tif, stack, emitters }) => firstFrames(tif, { ...stack, pixelSizeNm: stack.pixelSizeNm ?? 100 }, emitters, stack.frames));
}

function printRows(rows: string[][]): void {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
  for (const row of rows) console.log(row.map((cell, c) => cell.padEnd(widths[c])).join('  ').trimEnd());
}

/** Per-stack spread of a check: relative sd and range of the stacks' ratios (blank for a single stack). */
function spread(check: SumCheck): [string, string] {
  if (check.stacks < 2) return ['', ''];
  const sd = standardDeviation(check.stackRatios);
  return [`${((100 * sd) / check.ratio).toFixed(1)} %`, `${Math.min(...check.stackRatios).toFixed(3)}-${Math.max(...check.stackRatios).toFixed(3)}`];
}

function printTables(reports: ModelReport[]): void {
  const rows = [['model', 'stacks x frames', 'emitters', 'scale before', 'sum/emitters before', 'per-stack sd', 'scale after', 'sum/emitters after']];
  for (const r of reports) {
    const { before, oldScale, newScale } = r.calibration;
    rows.push([r.name, `${before.stacks} x ${before.frames / before.stacks}`, String(before.emitters), String(oldScale), before.ratio.toFixed(4), spread(before)[0], String(newScale), r.after.ratio.toFixed(4)]);
  }
  printRows(rows);
  console.log('\nvalidation of the calibrated models (never inputs to the calibration): sum of the image / ground-truth emitters');
  const vrows = [['model', 'stacks', 'stacks x frames', 'emitters', 'sum/emitters', 'per-stack sd', 'per-stack range']];
  for (const r of reports) {
    for (const v of r.validation) vrows.push([r.name, v.name, `${v.stacks} x ${v.frames / v.stacks}`, String(v.emitters), v.ratio.toFixed(4), ...spread(v)]);
  }
  printRows(vrows);
  if (reports.some((r) => r.sensitivity.length > 0)) {
    console.log(`\nsensitivity to imaging conditions (calibrated models; seeds ${SENSITIVITY_SEED}.., other conditions as the benchmark's): sum of the image / emitters`);
    const srows = [['model', 'conditions', 'stacks x frames', 'emitters', 'sum/emitters', 'per-stack sd']];
    for (const r of reports) for (const v of r.sensitivity) srows.push([r.name, v.name, `${v.stacks} x ${v.frames / v.stacks}`, String(v.emitters), v.ratio.toFixed(4), spread(v)[0]]);
    printRows(srows);
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      models: { type: 'string' },
      seed: { type: 'string', default: String(CALIBRATION_SEED) },
      stacks: { type: 'string', default: '40' },
      'validation-seed': { type: 'string', default: String(VALIDATION_SEED) },
      'validation-stacks': { type: 'string', default: '40' },
      frames: { type: 'string', default: '10' },
      // Deep-STORM costs ~0.36 s per 64x64 frame on a 2-core CPU: 40 x 5 frames (~45,000 emitters) keep it to minutes.
      'frames-per-model': { type: 'string', default: 'deepstorm=5' },
      shared: { type: 'string', default: defaultSharedDir() },
      'dry-run': { type: 'boolean', default: false },
      sensitivity: { type: 'boolean', default: false },
    },
  });
  const [seed, stacks, validationSeed, validationStacks, defaultFrames] = [values.seed, values.stacks, values['validation-seed'], values['validation-stacks'], values.frames].map(Number);
  if (![seed, validationSeed].every(Number.isInteger) || ![stacks, validationStacks, defaultFrames].every((n) => Number.isInteger(n) && n >= 1)) {
    throw new SmlmError('E_BAD_OPTIONS', '--seed and --validation-seed must be integers; --stacks, --validation-stacks and --frames integers >= 1');
  }
  const overlap = Math.max(seed, validationSeed) < Math.min(seed + stacks, validationSeed + validationStacks);
  if (overlap) throw new SmlmError('E_BAD_OPTIONS', 'the calibration and validation seed ranges overlap; validation must be independent');
  const framesPerModel = parseFramesPerModel(values['frames-per-model']!);
  const models = (values.models?.split(',').filter(Boolean) ?? bundledModelNames()).map((m) =>
    m.endsWith('.onnx') ? { name: basename(m, '.onnx'), path: resolve(m) } : { name: m, path: join(modelsDir(), `${m}.onnx`) },
  );
  if (models.length === 0) throw new SmlmError('E_MODEL_NOT_FOUND', `no models to calibrate in ${modelsDir()}`);
  const maxFrames = Math.max(...models.map((m) => framesPerModel.get(m.name) ?? defaultFrames));
  // Simulated once; a model calibrated on fewer frames per stack takes each stack's first ones (same structure).
  const simulateSet = (first: number, count: number) => Array.from({ length: count }, (_, k) => ({ seed: first + k, ...simulateStack({ seed: first + k, frames: maxFrames }) }));
  const truncate = (set: ReturnType<typeof simulateSet>, frames: number) => set.map((sim) => firstFrames(`seed ${sim.seed}`, sim.stack, sim.emitters, frames));
  const calibrationSet = simulateSet(seed, stacks);
  const validationSet = simulateSet(validationSeed, validationStacks);
  const shared = await sharedSamples(values.shared!);
  if (shared.length === 0) console.log(`(shared stacks not found in ${values.shared}; validating on simulated stacks only)`);

  const reports: ModelReport[] = [];
  let failed = false;
  for (const model of models) {
    const frames = framesPerModel.get(model.name) ?? defaultFrames;
    const calibrationSamples = truncate(calibrationSet, frames);
    const started = performance.now();
    const calibration = await calibrateModel(readFileSync(model.path), calibrationSamples, { seeds: `${seed}-${seed + stacks - 1}`, source: model.path });
    // Check the rewritten bytes from a file, through the same loading path users take, before replacing anything.
    const checkPath = join(tmpdir(), `smlm-rt-calibrated-${process.pid}-${model.name}.onnx`);
    writeFileSync(checkPath, calibration.bytes);
    try {
      const after = await measureImageSum(checkPath, calibrationSamples, 'calibration');
      if (!(Math.abs(after.ratio - 1) <= AFTER_TOLERANCE)) {
        console.error(`${model.name}: after rewriting, sum/emitters is ${after.ratio.toFixed(4)}, outside 1 +- ${AFTER_TOLERANCE}; ${model.path} left unchanged`);
        failed = true;
        continue;
      }
      const validation = [await measureImageSum(checkPath, truncate(validationSet, frames), `seeds ${validationSeed}-${validationSeed + validationStacks - 1}`)];
      for (const s of shared) validation.push(await measureImageSum(checkPath, [s]));
      const sensitivity: SumCheck[] = [];
      if (values.sensitivity) {
        // Fewer, shorter stacks than the calibration: these are trends, not calibration-grade figures.
        const perVariantFrames = Math.max(1, Math.round(frames / 2));
        for (const v of SENSITIVITY_VARIANTS) sensitivity.push(await measureImageSum(checkPath, simulatedSamples(SENSITIVITY_SEED, 20, perVariantFrames, v.options), v.name));
      }
      if (!values['dry-run']) writeFileSync(model.path, calibration.bytes);
      reports.push({ name: model.name, calibration, after, validation, sensitivity });
      console.log(`${model.name}: ${values['dry-run'] ? 'measured (dry run, not written)' : `written to ${model.path}`} in ${((performance.now() - started) / 1000).toFixed(0)} s`);
    } finally {
      rmSync(checkPath, { force: true });
    }
  }
  console.log(`\ncalibration: seeds ${seed}-${seed + stacks - 1}, lib/simulate defaults (benchmark conditions, 64x64 px); CPU backend\n`);
  printTables(reports);
  if (failed) process.exitCode = 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().catch((err: unknown) => {
    console.error(err instanceof SmlmError ? `${err.code}: ${err.message}` : err);
    process.exitCode = 1;
  });
}
