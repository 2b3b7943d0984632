/**
 * `smlm-rt evaluate <sr.tif> <positions.csv> [--localizations locs.csv]`: NMSE and PSNR of a reconstruction against
 * ground-truth positions and, given per-frame localizations (e.g. from `smlm-rt localize`), the localization figures
 * of the README's accuracy table (Jaccard, RMSE, recall, precision), matched frame by frame as bench:accuracy does.
 */
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { SmlmError } from '../errors.js';
import { readTiffStack } from '../io/tiff-read.js';
import { validateStack } from '../io/validate-stack.js';
import { matchLocalizations, type MatchFigures } from '../localize.js';
import { compareImages, groundTruthImage, MAX_BLUR_SIGMA, type ImageComparison } from '../metrics.js';
import { readThunderstormCsv } from '../simulate/csv.js';

export interface EvaluateCliOptions {
  pixelNm?: number;
  sigma: number[];
  json?: boolean;
  /** A CSV of per-frame localizations (ThunderSTORM columns frame, x [nm], y [nm]). */
  localizations?: string;
  /** Matching radius for the localizations, nm (default 50, as in bench:accuracy). */
  matchRadiusNm?: number;
}

/** The matching radius of the README's accuracy table (benchmarks/accuracy.ts). */
export const DEFAULT_MATCH_RADIUS_NM = 50;

const DEFAULT_OUTPUT_PIXEL_NM = 12.5;

function sigmaList(value: string): number[] {
  const items = value.split(',').map((s) => s.trim());
  // Number('') is 0: an empty item ("", "1,,2", "1,") must not become a sigma of 0.
  const valid = (item: string) => item !== '' && Number(item) >= 0 && Number(item) <= MAX_BLUR_SIGMA;
  if (!items.every(valid)) {
    throw new InvalidArgumentError(`expected comma-separated blur sigmas from 0 to ${MAX_BLUR_SIGMA} (output pixels), got "${value}"`);
  }
  return items.map(Number);
}

function positiveNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`expected a positive number, got "${value}"`);
  return n;
}

/** Scores an SR image file against a ThunderSTORM CSV; returns one comparison per sigma. */
export async function evaluateFiles(
  imagePath: string,
  csvPath: string,
  opts: EvaluateCliOptions,
): Promise<{ pixelNm: number; emitters: number; inside: number; results: ImageComparison[]; localization?: MatchFigures }> {
  const image = await readTiffStack(imagePath);
  if (image.frames !== 1) {
    throw new SmlmError('E_BAD_OPTIONS', `${imagePath} has ${image.frames} pages; evaluate expects one super-resolution image`, { path: imagePath });
  }
  validateStack(image, imagePath); // E_NON_FINITE_PIXELS, naming the file and pixel, rather than NaN figures
  const pixelNm = opts.pixelNm ?? image.pixelSizeNm ?? DEFAULT_OUTPUT_PIXEL_NM;
  if (opts.pixelNm === undefined && image.pixelSizeNm === undefined) {
    process.stderr.write(`smlm-rt: note: ${imagePath} does not state its pixel size; assuming ${DEFAULT_OUTPUT_PIXEL_NM} nm (use --pixel-nm)\n`);
  }
  const emitters = readThunderstormCsv(csvPath);
  const gt = groundTruthImage(emitters, image.width, image.height, pixelNm);
  const inside = gt.reduce((a, b) => a + b, 0);
  const results = opts.sigma.map((s) => compareImages(image.data, gt, image.width, image.height, s));
  if (opts.localizations === undefined) return { pixelNm, emitters: emitters.length, inside, results };
  const found = readThunderstormCsv(opts.localizations);
  const localization = matchLocalizations(found, emitters, opts.matchRadiusNm ?? DEFAULT_MATCH_RADIUS_NM);
  return { pixelNm, emitters: emitters.length, inside, results, localization };
}

export function register(program: Command): void {
  program
    .command('evaluate')
    .description('NMSE and PSNR of a super-resolution image against ground-truth positions (ThunderSTORM CSV)')
    .argument('<image>', 'super-resolution image: single-page TIFF (e.g. written by `smlm-rt reconstruct`)')
    .argument('<positions>', 'ground truth: CSV with ThunderSTORM columns "frame","x [nm]","y [nm]"')
    .option('--pixel-nm <nm>', 'output pixel size, nm (default: from the TIFF, else 12.5)', positiveNumber)
    .option('--sigma <list>', `Gaussian blur of both images, in output pixels (0 to ${MAX_BLUR_SIGMA}), comma-separated`, sigmaList, [0, 1])
    .option('--localizations <csv>', 'also score per-frame localizations (e.g. from `smlm-rt localize`): Jaccard, RMSE, recall, precision')
    .option('--match-radius-nm <nm>', `matching radius for --localizations (default ${DEFAULT_MATCH_RADIUS_NM})`, positiveNumber)
    .option('--json', 'print JSON instead of a table')
    .action(async (imagePath: string, csvPath: string, opts: EvaluateCliOptions) => {
      const r = await evaluateFiles(imagePath, csvPath, opts);
      if (opts.json) {
        process.stdout.write(JSON.stringify(r, null, 1) + '\n');
        return;
      }
      const lines = [
        `${imagePath} vs ${csvPath}: ${r.emitters} positions (${r.inside} inside the image), ${r.pixelNm} nm pixels`,
        'sigma  NMSE (scaled)  PSNR (scaled)  NMSE (unscaled)  PSNR (unscaled)  LS scale',
        ...r.results.map(
          (c) =>
            `${c.sigma.toString().padStart(5)}  ${(100 * c.scaled.nmse).toFixed(2).padStart(11)} %  ${c.scaled.psnr.toFixed(2).padStart(10)} dB  ` +
            `${(100 * c.unscaled.nmse).toFixed(2).padStart(13)} %  ${c.unscaled.psnr.toFixed(2).padStart(12)} dB  ${c.scale.toPrecision(4)}`,
        ),
      ];
      const l = r.localization;
      if (l) {
        lines.push(
          `localizations (${opts.localizations}, matched per frame within ${l.radiusNm} nm): Jaccard ${l.jaccard.toFixed(3)}  RMSE ${l.rmseNm.toFixed(1)} nm  ` +
            `recall ${l.recall.toFixed(3)}  precision ${l.precision.toFixed(3)}  (${l.truePositives} matched, ${l.falsePositives} false, ${l.falseNegatives} missed)`,
        );
      }
      process.stdout.write(lines.join('\n') + '\n');
    });
}
