/** `smlm-rt reconstruct <stack.tif> -o <sr.tif>`: TIFF stack in, float TIFF (+ PNG preview) out. */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { streamChunkFrames } from '../call-plan.js';
import { SmlmError } from '../errors.js';
import { followTiffStack } from '../io/tiff-follow.js';
import { openStackInput, resolveStackPaths } from '../io/stack-input.js';
import type { FrameRange } from '../io/frame-range.js';
import { checkOutputIsNotInput, checkOutputWritable, sameFile } from '../io/output-file.js';
import { modelFilePath } from '../model/registry.js';
import { writeFloatTiff } from '../io/tiff-write.js';
import { writePngPreview } from '../io/png.js';
import { BACKEND_CHOICES, BATCH_LIMITS } from '../options.js';
import { Reconstructor } from '../reconstructor.js';
import type { BackendChoice, FramePreparation, Precision } from '../types.js';
import { withInterrupt } from './interrupt.js';
import { noteWriter } from './notes.js';
import { checkGpuOnlyOptions, checkOutputIsTiff, frameRangeOption, integerOption, pixelSizeOption } from './options.js';
import { createProgressReporter, formatDuration } from './progress.js';

export interface ReconstructCliOptions {
  output: string;
  png?: string;
  backend: BackendChoice;
  model?: string;
  batch?: number;
  precision?: Precision;
  device?: number;
  force?: boolean;
  quiet?: boolean;
  pixelSize?: number;
  frames?: FrameRange;
  resample?: 'auto' | 'always' | 'never';
  /** Follow a TIFF that is still being written (runFollow). */
  follow?: boolean;
  /** With follow: stop when the file has not grown for this many seconds. */
  idleSeconds?: number;
}

/** --idle-seconds' default: a camera writing at 1 frame/s and a busy disk stay well inside it. */
export const DEFAULT_IDLE_SECONDS = 5;

/** Refuses, before reading anything, outputs that exist (without --force) or that name an input. */
async function checkOutputs(opts: ReconstructCliOptions, inputs: Array<string | undefined>): Promise<void> {
  for (const output of opts.png ? [opts.output, opts.png] : [opts.output]) {
    await checkOutputIsNotInput(output, inputs);
    await checkOutputWritable(output, opts.force ?? false);
  }
}

export async function runReconstruct(stackPath: string, opts: ReconstructCliOptions): Promise<void> {
  if (opts.follow) return runFollow(stackPath, opts);
  const note = noteWriter(opts.quiet);
  const force = opts.force ?? false;
  // Refuse to overwrite before reading anything: a long run must not end in E_OUTPUT_EXISTS, and no --force may
  // replace the stack or the model being read.
  const stackFiles = await resolveStackPaths(stackPath).catch(() => [stackPath]);
  await checkOutputs(opts, [stackPath, ...stackFiles, modelFilePath(opts.model)]);
  const input = await openStackInput(stackPath);
  const source = input.source;
  let rec: Reconstructor | undefined;
  try {
    rec = await Reconstructor.create({ model: opts.model, backend: opts.backend, batchSize: opts.batch, precision: opts.precision, device: opts.device });
    if (rec.fallbackReason) note(`using the cpu backend (${rec.fallbackReason})`);
    const meta = rec.model.metadata;
    if (opts.pixelSize === undefined) {
      if (input.pixelSizeNote) note(input.pixelSizeNote);
      if (source.pixelSizeNm === undefined) note(`${stackPath} does not state its pixel size; assuming the model's ${meta.cameraPixelNm} nm (give --pixel-size)`);
    }
    const progress = opts.quiet ? undefined : createProgressReporter(process.stderr);
    const reconstructor = rec;
    const result = await withInterrupt((signal) =>
      reconstructor.reconstructSource(source, { signal, onProgress: progress && ((p) => progress.update(p)), pixelSizeNm: opts.pixelSize, frames: opts.frames, resample: opts.resample }),
    );
    progress?.finish();
    noteFramePreparation(result.preparation, rec.model.name, note);
    await writeFloatTiff(opts.output, result.image, result.width, result.height, { pixelSizeNm: result.pixelSizeNm, force });
    if (opts.png) await writePngPreview(opts.png, result.image, result.width, result.height, { force });
    const fps = (result.frames * 1000) / result.timings.totalMs;
    process.stdout.write(
      `wrote ${opts.output}${opts.png ? ` and ${opts.png}` : ''}: ${result.width} x ${result.height} px at ${result.pixelSizeNm} nm, ` +
        `${result.frames} frames in ${formatDuration(result.timings.totalMs)} (${fps.toFixed(1)} frames/s, backend ${result.backend}, model ${result.model})\n`,
    );
  } finally {
    await rec?.close();
    await input.close();
  }
}

/**
 * `reconstruct --follow`: reconstructs a TIFF that is still being written (lib/io/tiff-follow.ts) through a live
 * session, pushing pages as they become complete. Stops when the file has not grown for --idle-seconds, or on Ctrl-C:
 * then the frames read so far are reconstructed and written all the same, and the command exits 130 (E_ABORTED).
 */
export async function runFollow(stackPath: string, opts: ReconstructCliOptions): Promise<void> {
  const note = noteWriter(opts.quiet);
  const force = opts.force ?? false;
  await checkOutputs(opts, [stackPath, modelFilePath(opts.model)]);
  const idleSeconds = opts.idleSeconds ?? DEFAULT_IDLE_SECONDS;
  const rec = await Reconstructor.create({ model: opts.model, backend: opts.backend, batchSize: opts.batch, precision: opts.precision, device: opts.device });
  try {
    if (rec.fallbackReason) note(`using the cpu backend (${rec.fallbackReason})`);
    const progress = opts.quiet ? undefined : createProgressReporter(process.stderr);
    let stoppedBySignal = false;
    const result = await withInterrupt(async (signal) => {
      const stack = await followTiffStack(stackPath, { idleMs: idleSeconds * 1000, signal });
      try {
        note(`following ${stackPath} (${stack.width} x ${stack.height} px ${stack.sampleType} pages): it stops when the file has not grown for ${idleSeconds} s, or on Ctrl-C`);
        const meta = rec.model.metadata;
        if (opts.pixelSize === undefined && stack.pixelSizeNm === undefined) note(`${stackPath} does not state its pixel size; assuming the model's ${meta.cameraPixelNm} nm (give --pixel-size)`);
        // Not given the signal: Ctrl-C stops reading, and the frames read are still reconstructed.
        const live = await rec.live({
          height: stack.height,
          width: stack.width,
          pixelSizeNm: opts.pixelSize,
          sourcePixelSizeNm: stack.pixelSizeNm,
          resample: opts.resample,
          onProgress: progress && ((p) => progress.update(p)),
        });
        try {
          for await (const chunk of stack.frames(streamChunkFrames(stack.height * stack.width, 0))) await live.push(chunk, { copy: false });
          if (stack.incomplete) note(`${stackPath}: ${stack.incomplete}; it was left out`);
          stoppedBySignal = stack.stoppedBy === 'signal';
          if (stoppedBySignal && live.framesPushed === 0) throw new SmlmError('E_ABORTED', `interrupted while following ${stackPath}, before a frame was read; nothing written`);
          return await live.finish();
        } finally {
          await live.abort();
        }
      } finally {
        await stack.close();
      }
    });
    progress?.finish();
    if (result.preparation.ignoredCalibration) note(`${stackPath}: ${result.preparation.ignoredCalibration}`);
    noteFramePreparation(result.preparation, rec.model.name, note);
    await writeFloatTiff(opts.output, result.image, result.width, result.height, { pixelSizeNm: result.pixelSizeNm, force });
    if (opts.png) await writePngPreview(opts.png, result.image, result.width, result.height, { force });
    const written = `${opts.output}${opts.png ? ` and ${opts.png}` : ''}`;
    process.stdout.write(
      `wrote ${written}: ${result.width} x ${result.height} px at ${result.pixelSizeNm} nm, ${result.frames} frames followed in ${formatDuration(result.timings.totalMs)} ` +
        `(backend ${result.backend}, model ${result.model})\n`,
    );
    if (stoppedBySignal) throw new SmlmError('E_ABORTED', `interrupted while following ${stackPath}: the ${result.frames} frames read before Ctrl-C were reconstructed into ${written}`);
  } finally {
    await rec.close();
  }
}

/** --idle-seconds: a positive number of seconds, at most a day. */
function idleSecondsOption(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0 || n > 86400) throw new InvalidArgumentError(`expected a number of seconds above 0 and at most 86400, got "${value}"`);
  return n;
}

/** Says on stderr what was done to the frames (resampled, padded), so no silent change goes unnoticed. */
export function noteFramePreparation(p: FramePreparation, model: string, note: (text: string) => void): void {
  if (p.resampled) {
    const { fromNm, toNm, from, to, method } = p.resampled;
    note(`frames resampled from ${+fromNm.toFixed(2)} nm to model "${model}"'s ${toNm} nm pixels (${from.width} x ${from.height} -> ${to.width} x ${to.height} px, ${method})`);
  }
  if (p.notResampled) note(`${p.notResampled} (--resample always)`);
  if (p.padded) note(`frames padded from ${p.padded.from.width} x ${p.padded.from.height} to ${p.padded.to.width} x ${p.padded.to.height} px (mirrored) for the model; the result is cropped back`);
}

export function register(program: Command): void {
  program
    .command('reconstruct')
    .description('reconstruct a super-resolution image from a TIFF stack of SMLM frames')
    .argument('<stack>', 'input TIFF stack: uint8, uint16 or float32 pages (ImageJ, OME-TIFF or plain multi-page), or a folder or glob of single-frame TIFFs')
    .requiredOption('-o, --output <file>', 'output: 32-bit float TIFF with its nm scale')
    .option('--png <file>', 'also write a colour PNG preview')
    .addOption(new Option('-b, --backend <name>', 'inference backend').choices([...BACKEND_CHOICES]).default('auto'))
    .option('-m, --model <name|path>', 'bundled model name or .onnx path (default: the bundled default, see `smlm-rt info`)')
    .option('--batch <frames>', 'frames per inference batch', integerOption(BATCH_LIMITS.min, BATCH_LIMITS.max))
    .addOption(new Option('--precision <p>', 'GPU arithmetic (the cpu backend always uses fp32)').choices(['fp16', 'fp32']))
    .option('--device <index>', 'CUDA device ordinal', integerOption(0, 1024))
    .option('-f, --force', 'overwrite existing output files')
    .option('-q, --quiet', 'no progress and no notes; errors only')
    .option('--pixel-size <nm>', "camera pixel size in nm (overrides or supplies the file's); frames are resampled to the model's", pixelSizeOption)
    .option('--frames <first:last>', 'only these frames (1-based, inclusive, e.g. 100:5000)', frameRangeOption)
    .addOption(new Option('--resample <when>', "resample frames to the model's pixel size: auto (only smaller camera pixels), always, never").choices(['auto', 'always', 'never']).default('auto'))
    .option('--follow', 'the TIFF is still being written (a camera recording): read pages as they appear, stop when it stops growing or on Ctrl-C, keep what was read')
    .option('--idle-seconds <s>', `with --follow: stop when the file has not grown for this long (default ${DEFAULT_IDLE_SECONDS})`, idleSecondsOption)
    .action(async (stack: string, opts: ReconstructCliOptions, command: Command) => {
      checkOutputIsTiff(opts.output, command);
      if (opts.idleSeconds !== undefined && !opts.follow) command.error('error: --idle-seconds applies only with --follow', { exitCode: 2, code: 'smlm-rt.idleWithoutFollow' });
      if (opts.follow && opts.frames)
        command.error('error: --frames cannot be used with --follow (the frames of a file being written are not known yet)', { exitCode: 2, code: 'smlm-rt.framesWithFollow' });
      checkGpuOnlyOptions(opts, command);
      if (opts.png !== undefined && (await sameFile(opts.png, opts.output))) {
        command.error(`error: --png and --output name the same file (${opts.png}); the preview would replace the result`, { exitCode: 2, code: 'smlm-rt.sameOutput' });
      }
      await runReconstruct(stack, opts);
    });
}
