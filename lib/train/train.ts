/**
 * `smlm-rt train`: a model fitted to a microscope's conditions. smlm-rt's side of it: check the Python side can run,
 * run scripts/train_loc.py (simulation on the GPU, training, ONNX export with smlm-rt metadata; written by the
 * training side, see CONTRACT), then load what it produced through the normal model loader — so a file that the
 * reconstructor would refuse is refused here — and only then publish it at the output path, never over an existing
 * file without `force`.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, extname, join } from 'node:path';
import { existsSync } from 'node:fs';
import { SmlmError } from '../errors.js';
import { checkOutputIsNotInput, checkOutputWritable, writeOutputFile } from '../io/output-file.js';
import { loadOnnxModel } from '../model/onnx.js';
import { packageRoot, resolveModel } from '../model/registry.js';
import type { ModelMetadata } from '../model/metadata.js';
import { readConditionsFile } from '../simulate/conditions.js';
import { checkTrainingEnvironment, type TrainingEnvironment } from './environment.js';
import { runTrainingScript } from './run-script.js';

export interface TrainOptions {
  /** Conditions JSON (the output of `smlm-rt estimate --json`). */
  like: string;
  /** Where the trained ONNX goes; its training log goes beside it as <name>.json. */
  output: string;
  /**
   * Model to start from (bundled name or .onnx path): the fit keeps its architecture and its rendering rule
   * (scripts/render_rule.py); absent: train from scratch, rendered 1 fine px wide.
   */
  base?: string;
  /** Training time budget, minutes (passed to the script). */
  minutes?: number;
  /** Python interpreter. Default python3. */
  python?: string;
  /** The training script. Default: scripts/train_loc.py of this package (or SMLM_RT_TRAIN_SCRIPT). */
  script?: string;
  seed?: number;
  force?: boolean;
  signal?: AbortSignal;
  onStdout?: (text: string) => void;
  onStderr?: (text: string) => void;
}

export interface TrainResult {
  output: string;
  /** The training log beside the model, when the script wrote one. */
  log?: string;
  metadata: ModelMetadata;
  environment: TrainingEnvironment;
  minutes: number;
}

export function defaultTrainingScript(): string {
  return process.env.SMLM_RT_TRAIN_SCRIPT ?? join(packageRoot(), 'scripts', 'train_loc.py');
}

/** my-model.onnx -> my-model.json beside it. */
export function trainingLogPath(output: string): string {
  return join(dirname(output), `${basename(output, extname(output))}.json`);
}

export async function trainModel(options: TrainOptions): Promise<TrainResult> {
  const started = performance.now();
  const force = options.force ?? false;
  if (options.minutes !== undefined && !(Number.isFinite(options.minutes) && options.minutes > 0)) {
    throw new SmlmError('E_BAD_OPTIONS', `minutes must be > 0, got ${String(options.minutes)}`);
  }
  const log = trainingLogPath(options.output);
  const base = options.base === undefined ? undefined : await resolveModel(options.base);
  // Everything that can be refused is refused before the GPU works for minutes.
  for (const out of [options.output, log]) {
    await checkOutputIsNotInput(out, [options.like, base?.path]);
    await checkOutputWritable(out, force);
  }
  await readConditionsFile(options.like);
  const script = options.script ?? defaultTrainingScript();
  if (!existsSync(script)) throw new SmlmError('E_BACKEND_UNAVAILABLE', `the training script ${script} is missing from this installation`, { script });
  const environment = await checkTrainingEnvironment(options.python ?? 'python3');

  const work = await mkdtemp(join(tmpdir(), 'smlm-rt-train-'));
  try {
    const name = basename(options.output, extname(options.output)) || 'model';
    const args = ['--out', work, '--name', name, '--like', options.like];
    if (base) args.push('--init-onnx', base.path);
    if (options.minutes !== undefined) args.push('--minutes', String(options.minutes));
    if (options.seed !== undefined) args.push('--seed', String(options.seed));
    await runTrainingScript({ python: environment.python, script, args, signal: options.signal, onStdout: options.onStdout, onStderr: options.onStderr });
    const produced = join(work, `${name}.onnx`);
    if (!existsSync(produced)) throw new SmlmError('E_TRAINING_FAILED', `${script} succeeded but wrote no ${name}.onnx in its output folder`);
    // The normal loader: metadata contract and ONNX parse, exactly what `reconstruct --model` will check.
    const model = await loadOnnxModel(produced, options.output);
    const producedLog = join(work, `${name}.json`);
    await writeOutputFile(options.output, model.bytes, force);
    const wroteLog = existsSync(producedLog);
    if (wroteLog) await writeOutputFile(log, await readFile(producedLog), force);
    return { output: options.output, ...(wroteLog ? { log } : {}), metadata: model.metadata, environment, minutes: (performance.now() - started) / 60000 };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
