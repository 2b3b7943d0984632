/**
 * `npm run bench:accuracy` — image and localization accuracy of every bundled model (CPU backend) on stacks with
 * ground truth, side by side with classical references computed in the same run:
 *   - held-out simulated stack at the benchmark's conditions (lib/simulate defaults, seed 424242 — never trained on);
 *   - the independent simulator's held-out stacks (benchmarks/evaluation-data.ts INDEPENDENT_HELDOUT_STACKS: data
 *     our own simulator did not make — Airy PSF, other cameras, backgrounds and structures);
 *   - a third, naive simulator's stacks (lib/naive-simulator.ts: emitters placed uniformly over the whole field, drawn
 *     afresh each frame, no structures): at the benchmark's conditions on an EMCCD, and the 107 nm sCMOS;
 *   - the two ThunderSTORM stacks of ../shared/data (skipped with a note when absent).
 * Every figure of every stack is printed per stack and again in one table at the end (and with --json, written).
 * Image figures: NMSE and PSNR (prediction scaled by its least-squares factor; lib/metrics.ts) at blur sigma 0 and
 * 1 fine pixel; reference "widefield" = summed frames (minus each frame's minimum) upsampled 8x (nearest).
 * Localization figures: recall, precision, Jaccard, RMSE at a 50 nm matching radius; reference = per-frame local
 * maximum + centroid on the camera frames (lib/localize.ts localizeCamera).
 *
 * Usage: npm run build && node dist/benchmarks/accuracy.js [--frames 361] [--models unet,deepstorm,other.onnx] [--json out.json]
 *          [--shared DIR]   (the folder of the ThunderSTORM stacks; default ../shared/data/deepstorm-demo1 beside the repository)
 *          [--only TEXT]    (only the stacks whose description holds TEXT, e.g. naive)
 *        node dist/benchmarks/accuracy.js --validation [--models a.onnx,b.onnx] [--json out.json]
 *   (--validation: the model-selection score on the validation stacks of both simulators instead; see validation-score.ts)
 */
import { writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import { localizeCamera, localizeMaps, matchLocalizations, type Localization, type MatchFigures } from '../lib/localize.js';
import { DEFAULT_DETECTION_THRESHOLD, localizeDetections } from '../lib/localize-detections.js';
import { localizationHeadOf } from '../lib/model/head.js';
import { compareImages, groundTruthImage } from '../lib/metrics.js';
import { bundledModelNames } from '../lib/model/registry.js';
import { Reconstructor } from '../lib/reconstructor.js';
import { simulateStack } from '../lib/simulate/simulate.js';
import type { Stack } from '../lib/types.js';
import { defaultSharedDir, HELDOUT_SEED, INDEPENDENT_HELDOUT_STACKS, readSharedStacks } from '../scripts/evaluation-data.js';
import { loadIndependentStack } from '../scripts/independent-stacks.js';
import { NAIVE_107NM, simulateNaive, type NaiveConditions } from '../lib/naive-simulator.js';
import { printValidationScores, scoreValidation } from './validation-score.js';

/** What a ground truth needs here: the frame and the position of each emitter (ThunderSTORM rows or simulator rows). */
type TruthPosition = { frame: number; xNm: number; yNm: number };

const MATCH_RADIUS_NM = 50;

/** The naive simulator at the benchmark's conditions: 100 nm, sigma 110 nm, 1000-2000 photons, 20 background, EM gain. */
const NAIVE_BENCHMARK_LIKE: NaiveConditions = {
  ...NAIVE_107NM,
  pixelSizeNm: 100,
  sigmaNm: 110,
  photons: { min: 1000, max: 2000 },
  backgroundPhotons: 20,
  densityPerUm2: 5.5,
  baselineAdu: 100,
  readNoiseElectrons: 0.5,
  emGain: 100,
};
const NAIVE_HELDOUT: readonly { name: string; about: string; conditions: NaiveConditions; seed: number; frames: number }[] = [
  { name: 'heldout-naive-emccd-959595', about: "EMCCD 100 nm, 5.5/um², the benchmark's conditions", conditions: NAIVE_BENCHMARK_LIKE, seed: 959595, frames: 361 },
  { name: 'heldout-naive-scmos-969696', about: "sCMOS 107 nm, 3/um², the issue's microscope", conditions: { ...NAIVE_107NM, densityPerUm2: 3 }, seed: 969696, frames: 200 },
];
const UPSAMPLING = 8;

interface Row {
  stack: string;
  method: string;
  nmse0: number;
  psnr0: number;
  nmse1: number;
  psnr1: number;
  loc?: MatchFigures;
  seconds?: number;
}

function widefield(stack: Stack): Float64Array {
  const { width, height, frames } = stack;
  const n = width * height;
  const sum = new Float64Array(n);
  for (let f = 0; f < frames; f++) {
    let min = Infinity;
    for (let i = 0; i < n; i++) min = Math.min(min, stack.data[f * n + i]);
    for (let i = 0; i < n; i++) sum[i] += stack.data[f * n + i] - min;
  }
  const W = width * UPSAMPLING;
  const out = new Float64Array(W * height * UPSAMPLING);
  for (let r = 0; r < height * UPSAMPLING; r++) {
    for (let c = 0; c < W; c++) out[r * W + c] = sum[Math.floor(r / UPSAMPLING) * width + Math.floor(c / UPSAMPLING)];
  }
  return out;
}

function imageFigures(pred: ArrayLike<number>, gt: Float64Array, w: number, h: number): Pick<Row, 'nmse0' | 'psnr0' | 'nmse1' | 'psnr1'> {
  const s0 = compareImages(pred, gt, w, h, 0).scaled;
  const s1 = compareImages(pred, gt, w, h, 1).scaled;
  return { nmse0: s0.nmse, psnr0: s0.psnr, nmse1: s1.nmse, psnr1: s1.psnr };
}

async function evaluateStack(name: string, stack: Stack, truth: readonly TruthPosition[], models: string[]): Promise<Row[]> {
  const W = stack.width * UPSAMPLING;
  const H = stack.height * UPSAMPLING;
  const finePx = (stack.pixelSizeNm ?? 100) / UPSAMPLING;
  const gt = groundTruthImage(truth, W, H, finePx);
  const rows: Row[] = [];
  for (const model of models) {
    const rec = await Reconstructor.create({ model, backend: 'cpu' });
    try {
      // What `smlm-rt localize` reports on the cpu backend: a localization-head model's own detections (spatially
      // integrated), a maps model's local maxima.
      const head = localizationHeadOf(rec.model.metadata);
      const detected: Localization[] = [];
      const t0 = performance.now();
      const r = await rec.reconstruct(stack, {
        keepFrameMaps: !head,
        onDetections: head
          ? (d, first, count, grid) => detected.push(...localizeDetections(d, count, grid.height, grid.width, { head, cameraPixelNm: grid.cameraPixelNm, threshold: DEFAULT_DETECTION_THRESHOLD, firstFrame: first + 1 }))
          : undefined,
      });
      const seconds = (performance.now() - t0) / 1000;
      const locs = head ? detected : localizeMaps(r.frameMaps!, r.frames, r.width, r.height, { pixelNm: r.pixelSizeNm });
      rows.push({ stack: name, method: modelLabel(model), ...imageFigures(r.image, gt, W, H), loc: matchLocalizations(locs, truth, MATCH_RADIUS_NM), seconds });
    } finally {
      await rec.close();
    }
  }
  rows.push({ stack: name, method: 'widefield 8x (ref)', ...imageFigures(widefield(stack), gt, W, H) });
  const classical = localizeCamera(stack);
  const cloc = matchLocalizations(classical, truth, MATCH_RADIUS_NM);
  const cimg = groundTruthImage(classical, W, H, finePx);
  rows.push({ stack: name, method: 'local max + centroid (ref)', ...imageFigures(cimg, gt, W, H), loc: cloc });
  return rows;
}

/** A bundled model's name, or an .onnx path's file name without the extension (the table's method column). */
function modelLabel(model: string): string {
  return model.endsWith('.onnx') ? basename(model, '.onnx') : model;
}

/** Every row of every stack in one table, the stack's short name first. */
function printSummary(rows: (Row & { short: string })[]): void {
  const pct = (v: number) => `${(100 * v).toFixed(2)}%`.padStart(8);
  const db = (v: number) => v.toFixed(2).padStart(6);
  const w = Math.max(5, ...rows.map((r) => r.short.length));
  console.log(`\n== all stacks\n${'stack'.padEnd(w)}  ${'method'.padEnd(28)} NMSE σ0  PSNR σ0   NMSE σ1  PSNR σ1 | recall  precis. Jaccard RMSE nm`);
  for (const r of rows) {
    const l = r.loc ? `${r.loc.recall.toFixed(3).padStart(6)}  ${r.loc.precision.toFixed(3).padStart(6)}  ${r.loc.jaccard.toFixed(3).padStart(6)} ${r.loc.rmseNm.toFixed(1).padStart(7)}` : '     -       -       -        -';
    console.log(`${r.short.padEnd(w)}  ${r.method.padEnd(28)}${pct(r.nmse0)} ${db(r.psnr0)}  ${pct(r.nmse1)} ${db(r.psnr1)} | ${l}`);
  }
}

function printRows(rows: Row[]): void {
  const pct = (v: number) => `${(100 * v).toFixed(2)}%`.padStart(8);
  const db = (v: number) => v.toFixed(2).padStart(6);
  console.log(`\n${'method'.padEnd(28)} NMSE σ0  PSNR σ0   NMSE σ1  PSNR σ1 | recall  precis. Jaccard RMSE nm | CPU s`);
  for (const r of rows) {
    const l = r.loc ? `${r.loc.recall.toFixed(3).padStart(6)}  ${r.loc.precision.toFixed(3).padStart(6)}  ${r.loc.jaccard.toFixed(3).padStart(6)} ${r.loc.rmseNm.toFixed(1).padStart(7)}` : '     -       -       -        -';
    console.log(`${r.method.padEnd(28)}${pct(r.nmse0)} ${db(r.psnr0)}  ${pct(r.nmse1)} ${db(r.psnr1)} | ${l} | ${r.seconds === undefined ? '-' : r.seconds.toFixed(1)}`);
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { frames: { type: 'string', default: '361' }, models: { type: 'string' }, json: { type: 'string' }, validation: { type: 'boolean', default: false }, shared: { type: 'string' }, only: { type: 'string' } } });
  const models = values.models ? values.models.split(',') : bundledModelNames();
  if (models.length === 0) throw new Error('no bundled models in models/');
  if (values.validation) {
    const started = performance.now();
    const scores = await scoreValidation(models, (line) => console.log(line));
    printValidationScores(scores);
    console.log(`\n${((performance.now() - started) / 1000).toFixed(0)} s in all`);
    if (values.json) writeFileSync(values.json, JSON.stringify(scores, null, 1));
    return;
  }
  const started = performance.now();
  const shared = values.shared ?? defaultSharedDir();
  const all: (Row & { short: string })[] = [];
  const sim = simulateStack({ seed: HELDOUT_SEED, frames: Number(values.frames) });
  const stacks: [string, string, () => Promise<[Stack, readonly TruthPosition[]]>][] = [
    [`held-out simulated (seed ${HELDOUT_SEED}, ${sim.stack.frames} frames, benchmark conditions)`, 'heldout', async () => [sim.stack, sim.emitters]],
  ];
  for (const spec of INDEPENDENT_HELDOUT_STACKS) {
    const c = spec.conditions;
    const camera = c.camera.kind === 'emccd' ? `EMCCD, ${c.camera.emGain / c.camera.electronsPerAdu} ADU/photon` : `sCMOS, baseline ${c.camera.baselineAdu} ADU`;
    const about = `${spec.frames} frames of ${c.pixelSizeNm} nm px, ${c.densityPerUm2}/um², ${c.photons.median} photons median, background ${c.background.meanPhotons}, ${camera}`;
    stacks.push([`held-out independent simulator: ${spec.name} (${about})`, spec.name, async () => {
      const s = loadIndependentStack(spec);
      return [s.stack, s.truth];
    }]);
  }
  for (const spec of NAIVE_HELDOUT) {
    stacks.push([`held-out naive simulator: ${spec.name} (${spec.frames} frames, ${spec.about}, placed uniformly)`, spec.name, async () => {
      const s = simulateNaive(spec.conditions, spec.seed, spec.frames);
      return [s.stack, s.emitters];
    }]);
  }
  for (const { tif, name, stack, emitters } of await readSharedStacks(shared, (path) => console.log(`note: ${path} absent; skipped`))) {
    stacks.push([`${tif} (../shared/data)`, name, async () => [stack, emitters]]);
  }
  console.log(`models: ${models.join(', ')} (CPU backend); localization matching radius ${MATCH_RADIUS_NM} nm; NMSE/PSNR with least-squares scaling`);
  for (const [name, short, load] of stacks.filter(([name]) => values.only === undefined || name.includes(values.only))) {
    const [stack, truth] = await load();
    console.log(`\n== ${name}: ${stack.frames} frames of ${stack.width}x${stack.height}, ${truth.length} emitters`);
    const rows = await evaluateStack(name, stack, truth, models);
    printRows(rows);
    all.push(...rows.map((r) => ({ ...r, short })));
  }
  printSummary(all);
  console.log(`\n${((performance.now() - started) / 1000).toFixed(0)} s in all`);
  if (values.json) writeFileSync(values.json, JSON.stringify(all, null, 1));
}

await main();
