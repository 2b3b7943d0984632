/**
 * Calibrates a model's `smlm.output_scale` so that its reconstruction is in expected localizations per output pixel,
 * i.e. the image of a stack sums to the number of emitters that were on in it.
 *
 * Why: training targets put a spike of height 100 (Deep-STORM's convention) on every emitter, but the L1 term of the
 * training loss shrinks the network's outputs, so dividing by the nominal 100 under-counts (0.45-0.75x measured).
 * The fix is one number per model: on a calibration stack simulated at the benchmark's conditions (lib/simulate
 * defaults, its own seed; never the held-out evaluation seed 424242, the example's 2026 or the shared stacks),
 *   ratio = (sum of the image) / (ground-truth emitters in the field of view),  output_scale_new = output_scale_old * ratio,
 * written into the model's metadata with withMetadata (graph and weights untouched) and recorded in smlm.training's
 * `calibration`. The rewritten model is checked on the calibration stack (ratio 1.00 +- 0.02) before it replaces the
 * file, then validated on a second seed and on the shared ThunderSTORM stacks (figures only; never inputs).
 *
 * Usage (after `npm run build`):
 *   node dist/scripts/calibrate-output-scale.js [--models unet,deepstorm | path.onnx,...] [--seed 777]
 *     [--validation-seed 778] [--frames 200] [--frames-per-model deepstorm=100] [--shared ../shared/data/deepstorm-demo1]
 *     [--dry-run]
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { SmlmError } from '../lib/errors.js';
import { readTiffStack } from '../lib/io/tiff-read.js';
import { METADATA_KEYS, parseModelMetadata } from '../lib/model/metadata.js';
import { decodeOnnx, metadataProps } from '../lib/model/onnx.js';
import { bundledModelNames, modelsDir, packageRoot } from '../lib/model/registry.js';
import { withMetadata } from '../lib/model/rewrite-metadata.js';
import { Reconstructor } from '../lib/reconstructor.js';
import { readThunderstormCsv, type Emitter } from '../lib/simulate/csv.js';
import { simulateStack } from '../lib/simulate/simulate.js';
import type { Stack } from '../lib/types.js';

/** Calibration and validation seeds: distinct from training (20261125), held-out evaluation (424242), example (2026). */
export const CALIBRATION_SEED = 777;
export const VALIDATION_SEED = 778;
/** Largest accepted |ratio - 1| of the rewritten model on its own calibration stack. */
export const AFTER_TOLERANCE = 0.02;
/** Significant digits kept of the new output_scale (the sampling error of the ratio is far larger than 1e-6). */
const SCALE_DIGITS = 6;

/** A stack with the number of ground-truth emitters inside its field of view. */
export interface CalibrationSample {
  name: string;
  stack: Stack;
  emitters: number;
}

/** What a model's reconstruction of a sample adds up to. */
export interface SumCheck {
  sample: string;
  frames: number;
  emitters: number;
  imageSum: number;
  /** imageSum / emitters: 1 for a calibrated model. */
  ratio: number;
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

/** A stack simulated at the benchmark's conditions (every lib/simulate default) with the given seed. */
export function simulatedSample(seed: number, frames: number): CalibrationSample {
  const { stack, emitters } = simulateStack({ seed, frames });
  return firstFrames(`simulated seed ${seed}`, stack, emitters, frames);
}

/** Reconstructs a sample on the CPU backend with the model's own metadata and sums the image. */
export async function measureImageSum(modelPath: string, sample: CalibrationSample): Promise<SumCheck> {
  if (sample.emitters === 0) throw new SmlmError('E_BAD_OPTIONS', `${sample.name}: no ground-truth emitters in the field; cannot calibrate against it`);
  const rec = await Reconstructor.create({ model: modelPath, backend: 'cpu' });
  try {
    const { image } = await rec.reconstruct(sample.stack);
    let imageSum = 0;
    for (let i = 0; i < image.length; i++) imageSum += image[i];
    return { sample: sample.name, frames: sample.stack.frames, emitters: sample.emitters, imageSum, ratio: imageSum / sample.emitters };
  } finally {
    await rec.close();
  }
}

/** The outcome of calibrating one model's bytes (nothing written yet). */
export interface Calibration {
  /** The model with the new output_scale and the calibration record. */
  bytes: Uint8Array;
  oldScale: number;
  newScale: number;
  /** The model as it was, on the calibration sample. */
  before: SumCheck;
}

/**
 * Measures a model on its calibration sample and returns it with output_scale multiplied by the measured ratio and
 * smlm.training.calibration recording how. `seed` is the calibration stack's seed (for the record).
 */
export async function calibrateModel(bytes: Uint8Array, sample: CalibrationSample, record: { seed: number; date?: string; source?: string }): Promise<Calibration> {
  const source = record.source ?? 'model';
  const props = metadataProps(decodeOnnx(bytes, source));
  const meta = parseModelMetadata(props, source);
  const measuredPath = join(tmpdir(), `smlm-rt-calibrate-${process.pid}-${Date.now()}.onnx`);
  writeFileSync(measuredPath, bytes);
  let before: SumCheck;
  try {
    before = await measureImageSum(measuredPath, sample);
  } finally {
    rmSync(measuredPath, { force: true });
  }
  if (!(before.imageSum > 0)) {
    throw new SmlmError('E_MODEL_INVALID', `${source}: the reconstruction of ${sample.name} sums to ${before.imageSum}; no scale can calibrate it`, { source });
  }
  const rawSumPerEmitter = before.ratio * meta.outputScale;
  const newScale = Number(rawSumPerEmitter.toPrecision(SCALE_DIGITS));
  const training = {
    ...meta.training,
    calibration: {
      quantity: 'output_scale = sum over frames of the clamped raw maps / ground-truth emitters in the field of view',
      stack: 'lib/simulate defaults (benchmark conditions)',
      seed: record.seed,
      frames: sample.stack.frames,
      height: sample.stack.height,
      width: sample.stack.width,
      emitters: sample.emitters,
      rawSumPerEmitter,
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
  const samples: CalibrationSample[] = [];
  for (const [tif, csv] of [
    ['Artificialdataset.tif', 'positions.csv'],
    ['ArtificialDataset_demo1.tif', 'positions_demo1.csv'],
  ]) {
    if (!existsSync(join(dir, tif))) continue;
    const stack = await readTiffStack(join(dir, tif));
    samples.push(firstFrames(tif, { ...stack, pixelSizeNm: stack.pixelSizeNm ?? 100 }, readThunderstormCsv(join(dir, csv)), stack.frames));
  }
  return samples;
}

const fixed = (v: number, digits: number) => v.toFixed(digits);

function printTable(reports: ModelReport[]): void {
  const rows = [['model', 'frames', 'emitters', 'scale before', 'sum/emitters before', 'scale after', 'sum/emitters after']];
  for (const r of reports) {
    const { before, oldScale, newScale } = r.calibration;
    rows.push([r.name, String(before.frames), String(before.emitters), String(oldScale), fixed(before.ratio, 4), String(newScale), fixed(r.after.ratio, 4)]);
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
  for (const row of rows) console.log(row.map((cell, c) => cell.padEnd(widths[c])).join('  '));
  console.log('\nvalidation (calibrated models; sum of the image / ground-truth emitters in the field):');
  for (const r of reports) {
    for (const v of r.validation) console.log(`  ${r.name.padEnd(10)} ${v.sample.padEnd(28)} ${String(v.frames).padStart(4)} frames ${String(v.emitters).padStart(6)} emitters  ratio ${fixed(v.ratio, 4)}`);
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      models: { type: 'string' },
      seed: { type: 'string', default: String(CALIBRATION_SEED) },
      'validation-seed': { type: 'string', default: String(VALIDATION_SEED) },
      frames: { type: 'string', default: '200' },
      // Deep-STORM costs ~0.36 s per 64x64 frame on a 2-core CPU; 100 frames (~22,000 emitters) are plenty.
      'frames-per-model': { type: 'string', default: 'deepstorm=100' },
      shared: { type: 'string', default: join(packageRoot(), '..', 'shared', 'data', 'deepstorm-demo1') },
      'dry-run': { type: 'boolean', default: false },
    },
  });
  const seed = Number(values.seed);
  const validationSeed = Number(values['validation-seed']);
  const defaultFrames = Number(values.frames);
  if (![seed, validationSeed].every(Number.isInteger) || !(Number.isInteger(defaultFrames) && defaultFrames >= 1)) {
    throw new SmlmError('E_BAD_OPTIONS', '--seed, --validation-seed and --frames must be integers (frames >= 1)');
  }
  const framesPerModel = parseFramesPerModel(values['frames-per-model']!);
  const models = (values.models?.split(',').filter(Boolean) ?? bundledModelNames()).map((m) =>
    m.endsWith('.onnx') ? { name: basename(m, '.onnx'), path: resolve(m) } : { name: m, path: join(modelsDir(), `${m}.onnx`) },
  );
  if (models.length === 0) throw new SmlmError('E_MODEL_NOT_FOUND', `no models to calibrate in ${modelsDir()}`);
  const maxFrames = Math.max(...models.map((m) => framesPerModel.get(m.name) ?? defaultFrames));
  // One stack per seed; a model calibrated on fewer frames takes the first ones (same structure, same emitters).
  const calibrationStack = simulateStack({ seed, frames: maxFrames });
  const validationStack = simulateStack({ seed: validationSeed, frames: maxFrames });
  const shared = await sharedSamples(values.shared!);
  if (shared.length === 0) console.log(`(shared stacks not found in ${values.shared}; validating on seed ${validationSeed} only)`);

  const reports: ModelReport[] = [];
  let failed = false;
  for (const model of models) {
    const frames = framesPerModel.get(model.name) ?? defaultFrames;
    const sample = firstFrames(`simulated seed ${seed}`, calibrationStack.stack, calibrationStack.emitters, frames);
    const started = performance.now();
    const calibration = await calibrateModel(readFileSync(model.path), sample, { seed, source: model.path });
    // Check the rewritten bytes from a file, through the same loading path users take, before replacing anything.
    const checkPath = join(tmpdir(), `smlm-rt-calibrated-${process.pid}-${model.name}.onnx`);
    writeFileSync(checkPath, calibration.bytes);
    try {
      const after = await measureImageSum(checkPath, sample);
      if (!(Math.abs(after.ratio - 1) <= AFTER_TOLERANCE)) {
        console.error(`${model.name}: after rewriting, sum/emitters is ${after.ratio.toFixed(4)}, outside 1 +- ${AFTER_TOLERANCE}; ${model.path} left unchanged`);
        failed = true;
        continue;
      }
      const validation = [await measureImageSum(checkPath, firstFrames(`simulated seed ${validationSeed}`, validationStack.stack, validationStack.emitters, frames))];
      for (const s of shared) validation.push(await measureImageSum(checkPath, s));
      if (!values['dry-run']) writeFileSync(model.path, calibration.bytes);
      reports.push({ name: model.name, calibration, after, validation });
      console.log(`${model.name}: ${values['dry-run'] ? 'measured (dry run, not written)' : `written to ${model.path}`} in ${((performance.now() - started) / 1000).toFixed(0)} s`);
    } finally {
      rmSync(checkPath, { force: true });
    }
  }
  console.log(`\ncalibration stack: lib/simulate defaults (benchmark conditions), seed ${seed}, 64x64 px; CPU backend\n`);
  printTable(reports);
  if (failed) process.exitCode = 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().catch((err: unknown) => {
    console.error(err instanceof SmlmError ? `${err.code}: ${err.message}` : err);
    process.exitCode = 1;
  });
}
