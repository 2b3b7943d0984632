/** `smlm-rt localize <stack.tif> -o locs.csv`: per-frame maps -> emitter list in ThunderSTORM-compatible CSV. */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { framesWithin } from '../allocation.js';
import { DEFAULT_MAP_RADIUS, DEFAULT_MAP_THRESHOLD, localizeMaps, type Localization } from '../localize.js';
import { DEFAULT_DETECTION_THRESHOLD, localizeDetections } from '../localize-detections.js';
import { localizationHeadOf } from '../model/head.js';
import { checkOutputIsNotInput, checkOutputWritable, writeOutputFile } from '../io/output-file.js';
import { modelFilePath } from '../model/registry.js';
import { selectFrames, type FrameRange } from '../io/frame-range.js';
import { openStackInput, resolveStackPaths } from '../io/stack-input.js';
import { validateStack } from '../io/validate-stack.js';
import { BACKEND_CHOICES, BATCH_LIMITS } from '../options.js';
import { Reconstructor } from '../reconstructor.js';
import type { BackendChoice, DetectionFrames, Progress } from '../types.js';
import { withInterrupt } from './interrupt.js';
import { frameRangeOption, integerOption, pixelSizeOption } from './options.js';
import { createProgressReporter } from './progress.js';
import { noteWriter } from './notes.js';
import { noteFramePreparation } from './reconstruct.js';

export interface LocalizeCliOptions {
  /** Absent: the CSV goes to stdout. */
  output?: string;
  pixelSize?: number;
  frames?: FrameRange;
  resample?: 'auto' | 'always' | 'never';
  backend: BackendChoice;
  model?: string;
  batch?: number;
  /** Map models: window mass (default DEFAULT_MAP_THRESHOLD); localization-head models on cpu: p (default 0.5). */
  threshold?: number;
  radius: number;
  force?: boolean;
  quiet?: boolean;
}

/** What localizeFile reports while it runs: frames done of the whole stack, and an AbortSignal (Ctrl-C). */
export interface LocalizeRun {
  onProgress?: (progress: Progress) => void;
  signal?: AbortSignal;
}

/** Frames reconstructed at a time, at most... */
const CHUNK_FRAMES = 64;
/** ...and few enough that their kept maps take at most this (64 frames of 512x512 float32 = 64 MiB). */
const CHUNK_MAP_BYTES = 64 * 512 * 512 * 4;

/** Frames per reconstruction for frames of width x height at `upsampling`: big frames go fewer at a time, at least 1. */
export function localizeChunkFrames(width: number, height: number, upsampling: number): number {
  return framesWithin(width * upsampling * height * upsampling * 4, CHUNK_MAP_BYTES, CHUNK_FRAMES);
}

function nonNegative(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`expected a number >= 0, got "${value}"`);
  return n;
}

/** Drops localizations in the rows and columns padding added (a detection may sit a little past an unpadded edge). */
function withoutPadding(locs: Localization[], grid: DetectionFrames): Localization[] {
  const paddedX = grid.width * grid.cameraPixelNm > grid.fieldWidthNm + 1e-6;
  const paddedY = grid.height * grid.cameraPixelNm > grid.fieldHeightNm + 1e-6;
  if (!paddedX && !paddedY) return locs;
  return locs.filter((l) => (!paddedX || l.xNm < grid.fieldWidthNm) && (!paddedY || l.yNm < grid.fieldHeightNm));
}

/** ThunderSTORM reads any columns named "name [unit]"; frame, x and y are what it needs. */
export function formatLocalizationsCsv(locs: readonly Localization[]): string {
  const lines = ['"id","frame","x [nm]","y [nm]","confidence"'];
  locs.forEach((l, i) => lines.push(`${i + 1},${l.frame},${l.xNm.toFixed(2)},${l.yNm.toFixed(2)},${l.confidence.toPrecision(5)}`));
  return lines.join('\n') + '\n';
}

/** Reconstructs the stack chunk by chunk with per-frame maps kept, localizes each map, returns all localizations. */
export async function localizeFile(stackPath: string, opts: Omit<LocalizeCliOptions, 'output'>, run: LocalizeRun = {}): Promise<{ locs: Localization[]; frames: number; model: string; backend: string }> {
  const input = await openStackInput(stackPath);
  const source = opts.frames ? selectFrames(input.source, opts.frames) : input.source;
  let rec: Reconstructor | undefined;
  try {
    rec = await Reconstructor.create({ model: opts.model, backend: opts.backend, batchSize: opts.batch });
    const locs: Localization[] = [];
    // Frame numbers in the CSV are the stack's own, also when a range was given.
    let first = 'firstFrame' in source ? (source as { firstFrame: number }).firstFrame : 1;
    let noted = false;
    const chunkFrames = localizeChunkFrames(source.width, source.height, rec.model.metadata.upsampling);
    // A localization-head model's detections are its localizations (model contract): read them where the backend
    // hands them out (cpu). The GPU backends render on the device and keep no detections; there the per-frame maps
    // (the same detections rendered) go through the local-maximum localizer like any map model's.
    const head = localizationHeadOf(rec.model.metadata);
    const fromDetections = head !== undefined && rec.backendName === 'cpu';
    for await (const chunk of source.chunks(chunkFrames)) {
      // Validated here with its place in the file, so that an error names the frame as counted in the whole stack.
      validateStack(chunk, `the stack (frames ${first - 1}..${first + chunk.frames - 2})`, first - 1);
      const done = first - 1;
      const chunkFirst = first;
      const signal = run.signal;
      const onProgress = run.onProgress && ((p: Progress) => run.onProgress!({ framesDone: done + p.framesDone, framesTotal: source.frames }));
      const threshold = opts.threshold ?? (fromDetections ? DEFAULT_DETECTION_THRESHOLD : DEFAULT_MAP_THRESHOLD);
      const r = await rec.reconstruct(chunk, {
        signal,
        onProgress,
        pixelSizeNm: opts.pixelSize,
        resample: opts.resample,
        keepFrameMaps: !fromDetections,
        // Detections come on the frames as the model ran them (resampled to its pixels, padded at the bottom and
        // right): positions in nm are physical either way, and those in the padding are dropped below.
        onDetections: fromDetections
          ? (detections, firstFrame, count, grid) =>
              locs.push(...withoutPadding(localizeDetections(detections, count, grid.height, grid.width, { head, cameraPixelNm: grid.cameraPixelNm, threshold, firstFrame: chunkFirst + firstFrame }), grid))
          : undefined,
      });
      if (!noted) noteFramePreparation(r.preparation, rec.model.name, noteWriter(opts.quiet));
      noted = true;
      if (!fromDetections) locs.push(...localizeMaps(r.frameMaps!, r.frames, r.width, r.height, { pixelNm: r.pixelSizeNm, threshold, radius: opts.radius, firstFrame: first }));
      first += chunk.frames;
    }
    return { locs, frames: source.frames, model: rec.model.name, backend: rec.backendName };
  } finally {
    await rec?.close();
    await input.close();
  }
}

export function register(program: Command): void {
  program
    .command('localize')
    .description('list emitters (frame, x, y, confidence) from the per-frame maps, as ThunderSTORM-compatible CSV')
    .argument('<stack>', 'input TIFF stack, or a folder or glob of single-frame TIFFs')
    .option('-o, --output <file>', 'output CSV (default: standard output)')
    .addOption(new Option('-b, --backend <name>', 'inference backend').choices([...BACKEND_CHOICES]).default('auto'))
    .option('-m, --model <name|path>', 'bundled model name or .onnx path (default: the bundled default)')
    .option('--batch <frames>', 'frames per inference batch', integerOption(BATCH_LIMITS.min, BATCH_LIMITS.max))
    .option('--threshold <value>', `minimum map mass around a maximum (expected emitters, default ${DEFAULT_MAP_THRESHOLD}); for a localization-head model on the cpu backend, minimum expected emitters s summed over a peak detection cell's 3x3 cells (default ${DEFAULT_DETECTION_THRESHOLD})`, nonNegative)
    .option('--radius <px>', 'half-size of the maximum/centroid window, output pixels', integerOption(1, 16), DEFAULT_MAP_RADIUS)
    .option('-f, --force', 'overwrite an existing output file')
    .option('-q, --quiet', 'no progress output; errors only')
    .option('--pixel-size <nm>', "camera pixel size in nm (overrides or supplies the file's); frames are resampled to the model's", pixelSizeOption)
    .option('--frames <first:last>', 'only these frames (1-based, inclusive, e.g. 100:5000)', frameRangeOption)
    .addOption(new Option('--resample <when>', "resample frames to the model's pixel size: auto (only smaller camera pixels), always, never").choices(['auto', 'always', 'never']).default('auto'))
    .action(async (stackPath: string, opts: LocalizeCliOptions) => {
      const output = opts.output;
      if (output !== undefined) {
        const stackFiles = await resolveStackPaths(stackPath).catch(() => [stackPath]);
        await checkOutputIsNotInput(output, [stackPath, ...stackFiles, modelFilePath(opts.model)]);
        await checkOutputWritable(output, opts.force ?? false);
      }
      const progress = opts.quiet ? undefined : createProgressReporter(process.stderr);
      const r = await withInterrupt((signal) => localizeFile(stackPath, opts, { signal, onProgress: progress && ((p) => progress.update(p)) }));
      progress?.finish();
      const csv = formatLocalizationsCsv(r.locs);
      const summary = `${r.locs.length} localizations in ${r.frames} frames (model ${r.model}, backend ${r.backend})`;
      if (output === undefined) {
        // The CSV is the output: the summary goes to stderr, so `smlm-rt localize s.tif > locs.csv` holds only CSV.
        process.stdout.write(csv);
        process.stderr.write(`smlm-rt: ${summary}\n`);
      } else {
        await writeOutputFile(output, new TextEncoder().encode(csv), opts.force ?? false);
        process.stdout.write(`wrote ${output}: ${summary}\n`);
      }
    });
}
