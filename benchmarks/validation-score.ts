/**
 * The model-selection score (`npm run bench:accuracy -- --validation --models a.onnx,b.onnx`): each model on every
 * validation stack of both simulators — lib/simulate's VALIDATION_STACKS and the independent simulator's
 * INDEPENDENT_VALIDATION_STACKS (benchmarks/evaluation-data.ts) — on the CPU backend.
 *
 * Score of a model = mean over those stacks of NMSE(sigma 0) + NMSE(sigma 1), each NMSE with the prediction scaled
 * by its least-squares factor (lib/metrics.ts). Lower is better. It is scripts/select_unet.py's criterion on the same
 * stacks (its validation-* files, as scripts/make-eval-stacks.ts writes them), so a score printed here and one
 * computed on the GPU host rank candidates alike. The per-simulator means are printed beside it, since a model that
 * only fits our own simulator shows up as a gap between them. Held-out stacks play no part.
 */
import { basename } from 'node:path';
import { compareImages, groundTruthImage } from '../lib/metrics.js';
import { Reconstructor } from '../lib/reconstructor.js';
import { simulateStack } from '../lib/simulate/simulate.js';
import type { Stack } from '../lib/types.js';
import { INDEPENDENT_VALIDATION_STACKS, VALIDATION_STACKS } from '../scripts/evaluation-data.js';
import { loadIndependentStack } from '../scripts/independent-stacks.js';

const UPSAMPLING = 8;

export interface StackScore {
  stack: string;
  simulator: 'main' | 'independent';
  nmse0: number;
  nmse1: number;
}

export interface ModelValidation {
  model: string;
  stacks: StackScore[];
  /** Mean over all validation stacks of nmse0 + nmse1. */
  score: number;
  /** The same mean over each simulator's stacks alone. */
  mainScore: number;
  independentScore: number;
  seconds: number;
}

interface ValidationStack {
  name: string;
  simulator: StackScore['simulator'];
  stack: Stack;
  truth: readonly { xNm: number; yNm: number }[];
}

function validationStacks(): ValidationStack[] {
  const out: ValidationStack[] = [];
  for (const { name, options } of VALIDATION_STACKS) {
    const sim = simulateStack(options);
    out.push({ name, simulator: 'main', stack: sim.stack, truth: sim.emitters });
  }
  for (const spec of INDEPENDENT_VALIDATION_STACKS) {
    const s = loadIndependentStack(spec);
    out.push({ name: spec.name, simulator: 'independent', stack: s.stack, truth: s.truth });
  }
  return out;
}

const sumOf = (s: StackScore) => s.nmse0 + s.nmse1;
const meanOf = (list: StackScore[]) => (list.length ? list.reduce((t, s) => t + sumOf(s), 0) / list.length : Number.NaN);

/** Scores every model on every validation stack; `log` gets one line per model as it finishes. */
export async function scoreValidation(models: readonly string[], log: (line: string) => void = () => {}): Promise<ModelValidation[]> {
  const stacks = validationStacks();
  const truthImages = stacks.map(({ stack, truth }) => {
    const finePx = (stack.pixelSizeNm ?? 100) / UPSAMPLING;
    return groundTruthImage(truth, stack.width * UPSAMPLING, stack.height * UPSAMPLING, finePx);
  });
  log(`validation stacks: ${stacks.map((s) => `${s.name} (${s.stack.frames} frames)`).join(', ')}`);
  const results: ModelValidation[] = [];
  for (const model of models) {
    const t0 = performance.now();
    const rec = await Reconstructor.create({ model, backend: 'cpu' });
    const scores: StackScore[] = [];
    try {
      for (let i = 0; i < stacks.length; i++) {
        const { name, simulator, stack } = stacks[i];
        const r = await rec.reconstruct(stack);
        const w = stack.width * UPSAMPLING;
        const h = stack.height * UPSAMPLING;
        scores.push({ stack: name, simulator, nmse0: compareImages(r.image, truthImages[i], w, h, 0).scaled.nmse, nmse1: compareImages(r.image, truthImages[i], w, h, 1).scaled.nmse });
      }
    } finally {
      await rec.close();
    }
    const result: ModelValidation = {
      model,
      stacks: scores,
      score: meanOf(scores),
      mainScore: meanOf(scores.filter((s) => s.simulator === 'main')),
      independentScore: meanOf(scores.filter((s) => s.simulator === 'independent')),
      seconds: (performance.now() - t0) / 1000,
    };
    results.push(result);
    log(`${label(model)}: score ${result.score.toFixed(4)} (${result.seconds.toFixed(1)} s)`);
  }
  return results;
}

function label(model: string): string {
  return model.endsWith('.onnx') ? basename(model, '.onnx') : model;
}

/** Per-stack NMSE sigma 0 / sigma 1, the per-simulator means and the score, best model first. */
export function printValidationScores(results: readonly ModelValidation[]): void {
  if (results.length === 0) return;
  const ranked = [...results].sort((a, b) => a.score - b.score);
  const stackNames = results[0].stacks.map((s) => s.stack);
  const pct = (v: number) => `${(100 * v).toFixed(2)}%`;
  console.log('\nNMSE σ0 / NMSE σ1 per validation stack (least-squares scaling; lower is better)');
  const w = Math.max(6, ...results.map((r) => label(r.model).length));
  console.log(`${'model'.padEnd(w)}  ${stackNames.map((n) => n.padStart(30)).join(' ')}`);
  for (const r of ranked) console.log(`${label(r.model).padEnd(w)}  ${r.stacks.map((s) => `${pct(s.nmse0)} / ${pct(s.nmse1)}`.padStart(30)).join(' ')}`);
  console.log("\nscore = mean over the validation stacks of NMSE σ0 + NMSE σ1 (scripts/select_unet.py's criterion); lower is better");
  console.log(`${'model'.padEnd(w)}  ${'main sim.'.padStart(10)} ${'independent'.padStart(12)} ${'score'.padStart(8)}  CPU s`);
  for (const r of ranked) {
    console.log(`${label(r.model).padEnd(w)}  ${r.mainScore.toFixed(4).padStart(10)} ${r.independentScore.toFixed(4).padStart(12)} ${r.score.toFixed(4).padStart(8)}  ${r.seconds.toFixed(1)}`);
  }
  console.log(`\nbest: ${label(ranked[0].model)} (score ${ranked[0].score.toFixed(4)})`);
}
