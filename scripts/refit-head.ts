/**
 * Refits a model's output head (its last 1x1 convolution) by least squares against the unblurred ground truth of
 * simulated stacks, and adopts the refit only when it scores better on the simulated validation stacks.
 *
 * Why (lib/model/head-refit.ts has the math): the training loss blurs both maps by 1 fine pixel before comparing
 * them, so it leaves almost free how the head shares an emitter's mass between neighbouring 12.5 nm pixels, which NMSE
 * without blur (σ0) scores. The features the network computes stay as trained; only the head's weights (and bias)
 * change, so the graph, its operators and its cost are the same.
 *
 * Fit data: `--stacks` stacks of `--frames` 64x64 frames, each with one draw of the training data's imaging
 * conditions (lib/simulate/training-set.ts drawTrainingConditions: both emitter layouts, the whole range of density,
 * brightness and cameras), seeds from `--seed` (3000: distinct from training, validation, held-out, calibration and
 * example seeds). The objective is the mean over stacks of ||image - G||^2 / ||G||^2 with the image summed before the
 * per-frame clamp. Selection, as for the trained candidates (scripts/select_unet.py): the mean of NMSE σ0 + NMSE σ1
 * over scripts/evaluation-data.ts VALIDATION_STACKS, through the real CPU pipeline (clamp included). The held-out
 * stack and the ../shared stacks are scored and printed; they decide nothing.
 *
 * Usage (after `npm run build`):
 *   node dist/scripts/refit-head.js [--models unet | name,path.onnx,...] [--seed 3000] [--stacks 48] [--frames 40]
 *     [--out path.onnx (one model only; default: rewrite the model file in place)] [--shared DIR] [--dry-run]
 * The rewritten file keeps every byte but the head's weights and the smlm.training metadata (head_refit). Run
 * scripts/calibrate-output-scale.ts afterwards: the refit's image is in ground-truth counts on the fit data, not on
 * the calibration stacks.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import ort from 'onnxruntime-node';
import { SmlmError } from '../lib/errors.js';
import { compareImages, groundTruthImage } from '../lib/metrics.js';
import { findHead, HeadLeastSquares, withHeadFeaturesOutput, type HeadInfo } from '../lib/model/head-refit.js';
import { METADATA_KEYS, parseModelMetadata, type ModelMetadata } from '../lib/model/metadata.js';
import { decodeOnnx, metadataProps } from '../lib/model/onnx.js';
import { modelsDir } from '../lib/model/registry.js';
import { withInitializerValues } from '../lib/model/rewrite-initializers.js';
import { withMetadata } from '../lib/model/rewrite-metadata.js';
import { normalizeFrames } from '../lib/preprocess.js';
import { Reconstructor } from '../lib/reconstructor.js';
import type { Emitter } from '../lib/simulate/csv.js';
import { Random } from '../lib/simulate/random.js';
import { simulateStack } from '../lib/simulate/simulate.js';
import { drawTrainingConditions } from '../lib/simulate/training-set.js';
import type { Stack } from '../lib/types.js';
import { defaultSharedDir, HELDOUT_SEED, readSharedStacks, VALIDATION_STACKS } from './evaluation-data.js';

/** First seed of the fit stacks' condition draws. */
export const REFIT_SEED = 3000;
const FRAME = 64;
const BATCH = 8;

export interface ScoredStack {
  name: string;
  stack: Stack;
  emitters: readonly Emitter[];
}

/** The fit stacks: `count` draws of the training conditions, `frames` frames each (deterministic per seed). */
export function fitStacks(seed: number, count: number, frames: number): ScoredStack[] {
  const rng = new Random(seed);
  return Array.from({ length: count }, (_, k) => {
    const conditions = drawTrainingConditions(rng, rng.nextUint32());
    const { stack, emitters } = simulateStack({ ...conditions, frames, width: FRAME, height: FRAME });
    return { name: `fit ${k}`, stack, emitters };
  });
}

/** The head's input features of every frame of `stack`, summed: [inChannels, headHeight, headWidth]. */
async function summedFeatures(session: ort.InferenceSession, head: HeadInfo, meta: ModelMetadata, stack: Stack): Promise<{ features: Float64Array; height: number; width: number }> {
  const pixels = stack.height * stack.width;
  let features: Float64Array | undefined;
  let dims: readonly number[] = [];
  for (let first = 0; first < stack.frames; first += BATCH) {
    const n = Math.min(BATCH, stack.frames - first);
    const input = new Float32Array(n * pixels);
    normalizeFrames(stack.data, first, n, pixels, meta.normalization, input);
    const out = await session.run({ frames: new ort.Tensor('float32', input, [n, 1, stack.height, stack.width]) }, [head.featureTensor]);
    const f = out[head.featureTensor];
    dims = f.dims;
    const data = f.data as Float32Array;
    const per = data.length / n;
    features ??= new Float64Array(per);
    for (let i = 0; i < n; i++) for (let j = 0; j < per; j++) features[j] += data[i * per + j];
  }
  return { features: features!, height: dims[2], width: dims[3] };
}

/** Least-squares head for `bytes` on the fit stacks, as new weights (in the model's raw output units). */
export async function fitHead(bytes: Uint8Array, stacks: readonly ScoredStack[], source: string): Promise<{ head: HeadInfo; meta: ModelMetadata; weight: Float32Array; bias?: Float32Array; emitters: number }> {
  const proto = decodeOnnx(bytes, source);
  const meta = parseModelMetadata(metadataProps(proto), source);
  const head = findHead(proto, source);
  const session = await ort.InferenceSession.create(withHeadFeaturesOutput(bytes, head, source));
  const lsq = new HeadLeastSquares(head.inChannels, head.shuffle, head.bias !== undefined);
  const fine = meta.cameraPixelNm / meta.upsampling;
  let emitters = 0;
  try {
    for (const { stack, emitters: truth } of stacks) {
      const { features, height, width } = await summedFeatures(session, head, meta, stack);
      const target = groundTruthImage(truth, stack.width * meta.upsampling, stack.height * meta.upsampling, fine);
      let norm = 0;
      for (let i = 0; i < target.length; i++) norm += target[i] * target[i];
      if (norm === 0) continue;
      emitters += truth.length;
      // Raw map units: smlm-rt divides the summed clamped maps by output_scale.
      for (let i = 0; i < target.length; i++) target[i] *= meta.outputScale;
      lsq.addStack(features, height, width, stack.frames, target, 1 / norm);
    }
  } finally {
    await session.release();
  }
  const solution = lsq.solve();
  return { head, meta, weight: Float32Array.from(solution.weight), bias: solution.bias && Float32Array.from(solution.bias), emitters };
}

export interface StackScore {
  name: string;
  nmse0: number;
  nmse1: number;
  psnr0: number;
  psnr1: number;
}

/** NMSE / PSNR σ0 and σ1 (least-squares scaled) of a model file on stacks, through the CPU backend. */
export async function scoreModel(path: string, stacks: readonly ScoredStack[]): Promise<StackScore[]> {
  const rec = await Reconstructor.create({ model: path, backend: 'cpu' });
  try {
    const scores: StackScore[] = [];
    for (const { name, stack, emitters } of stacks) {
      const { image, width, height, pixelSizeNm } = await rec.reconstruct(stack);
      const gt = groundTruthImage(emitters, width, height, pixelSizeNm);
      const s0 = compareImages(image, gt, width, height, 0).scaled;
      const s1 = compareImages(image, gt, width, height, 1).scaled;
      scores.push({ name, nmse0: s0.nmse, nmse1: s1.nmse, psnr0: s0.psnr, psnr1: s1.psnr });
    }
    return scores;
  } finally {
    await rec.close();
  }
}

/** The selection score: mean over the validation stacks of NMSE σ0 + NMSE σ1 (lower is better). */
export function validationScore(scores: readonly StackScore[]): number {
  const validation = scores.filter((s) => s.name.startsWith('validation-'));
  return validation.reduce((sum, s) => sum + s.nmse0 + s.nmse1, 0) / validation.length;
}

async function scoreBytes(bytes: Uint8Array, stacks: readonly ScoredStack[], tag: string): Promise<StackScore[]> {
  const path = join(tmpdir(), `smlm-rt-refit-${process.pid}-${tag}.onnx`);
  writeFileSync(path, bytes);
  try {
    return await scoreModel(path, stacks);
  } finally {
    rmSync(path, { force: true });
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      models: { type: 'string', default: 'unet' },
      seed: { type: 'string', default: String(REFIT_SEED) },
      stacks: { type: 'string', default: '48' },
      frames: { type: 'string', default: '40' },
      out: { type: 'string' },
      shared: { type: 'string', default: defaultSharedDir() },
      'dry-run': { type: 'boolean', default: false },
    },
  });
  const [seed, count, frames] = [values.seed, values.stacks, values.frames].map(Number);
  if (!Number.isInteger(seed) || ![count, frames].every((n) => Number.isInteger(n) && n >= 1)) {
    throw new SmlmError('E_BAD_OPTIONS', '--seed must be an integer; --stacks and --frames integers >= 1');
  }
  const models = values.models!.split(',').filter(Boolean).map((m) => (m.endsWith('.onnx') ? { name: basename(m, '.onnx'), path: resolve(m) } : { name: m, path: join(modelsDir(), `${m}.onnx`) }));
  if (values.out && models.length !== 1) throw new SmlmError('E_BAD_OPTIONS', '--out takes one model');

  const started = performance.now();
  const fit = fitStacks(seed, count, frames);
  const evaluation: ScoredStack[] = VALIDATION_STACKS.map(({ name, options }) => ({ name, ...simulateStack(options) }));
  evaluation.push({ name: `held-out (seed ${HELDOUT_SEED})`, ...simulateStack({ seed: HELDOUT_SEED, frames: 361 }) });
  for (const s of await readSharedStacks(values.shared!, (p) => console.log(`${p} is absent, not scored`))) evaluation.push({ name: s.tif, stack: s.stack, emitters: s.emitters });
  console.log(`fit data: ${count} stacks x ${frames} frames of 64x64, training conditions drawn from seed ${seed} (${fit.reduce((n, s) => n + s.emitters.length, 0)} emitters); ${((performance.now() - started) / 1000).toFixed(0)} s to simulate`);

  let failed = false;
  for (const model of models) {
    const t0 = performance.now();
    const bytes = readFileSync(model.path);
    const { head, meta, weight, bias, emitters } = await fitHead(bytes, fit, model.path);
    const weights: Record<string, Float32Array> = { [head.weightName]: weight };
    if (head.biasName && bias) weights[head.biasName] = bias;
    const refitWeights = withInitializerValues(bytes, weights, model.path);
    const before = await scoreBytes(bytes, evaluation, `${model.name}-before`);
    const after = await scoreBytes(refitWeights, evaluation, `${model.name}-after`);
    const scoreBefore = validationScore(before);
    const scoreAfter = validationScore(after);
    const refitRecord = {
      what: 'the output head (last 1x1 conv) refit by linear least squares; the rest of the network as trained',
      objective: 'mean over fit stacks of ||summed map - ground truth||^2 / ||ground truth||^2 (no blur; per-frame clamp left out of the fit)',
      fitData: `${count} stacks x ${frames} frames of 64x64, lib/simulate/training-set.ts drawTrainingConditions, seed ${seed}, ${emitters} emitters`,
      head: { weight: head.weightName, bias: head.biasName ?? null, inChannels: head.inChannels, shuffle: head.shuffle },
      previousHeadAbsMax: Math.max(...Array.from(head.weight, Math.abs)),
      newHeadAbsMax: Math.max(...Array.from(weight, Math.abs)),
      selection: 'validation stacks (scripts/evaluation-data.ts), mean NMSE sigma0 + sigma1, CPU backend',
      validationScoreBefore: scoreBefore,
      validationScoreAfter: scoreAfter,
      script: 'scripts/refit-head.ts',
      date: new Date().toISOString().slice(0, 10),
    };
    const final = withMetadata(refitWeights, { [METADATA_KEYS.training]: JSON.stringify({ ...meta.training, head_refit: refitRecord }) }, model.path);

    console.log(`\n${model.name} (${model.path}): head ${head.weightName}${head.biasName ? ` + ${head.biasName}` : ''}, ${head.inChannels} inputs x ${head.shuffle * head.shuffle} phases; |w| max ${refitRecord.previousHeadAbsMax.toFixed(3)} -> ${refitRecord.newHeadAbsMax.toFixed(3)}`);
    console.log(`${'stack'.padEnd(32)} ${'NMSE σ0 before'.padStart(15)} ${'after'.padStart(8)} ${'NMSE σ1 before'.padStart(15)} ${'after'.padStart(8)} ${'PSNR σ0 before'.padStart(15)} ${'after'.padStart(7)}`);
    before.forEach((b, i) => {
      const a = after[i];
      const pct = (v: number) => `${(100 * v).toFixed(2)}%`;
      console.log(`${b.name.padEnd(32)} ${pct(b.nmse0).padStart(15)} ${pct(a.nmse0).padStart(8)} ${pct(b.nmse1).padStart(15)} ${pct(a.nmse1).padStart(8)} ${b.psnr0.toFixed(2).padStart(15)} ${a.psnr0.toFixed(2).padStart(7)}`);
    });
    const better = scoreAfter < scoreBefore;
    console.log(`validation score (mean NMSE σ0 + σ1 over ${VALIDATION_STACKS.length} stacks): ${scoreBefore.toFixed(4)} -> ${scoreAfter.toFixed(4)}: ${better ? 'refit adopted' : 'refit rejected'}`);
    const target = values.out ? resolve(values.out) : model.path;
    if (better && !values['dry-run']) {
      writeFileSync(target, final);
      console.log(`written to ${target}`);
    } else {
      console.log(values['dry-run'] ? '(dry run: nothing written)' : `${target} left unchanged`);
      if (!better) failed = true;
    }
    console.log(`${model.name}: ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  }
  if (failed) process.exitCode = 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().catch((err: unknown) => {
    console.error(err instanceof SmlmError ? `${err.code}: ${err.message}` : err);
    process.exitCode = 1;
  });
}
