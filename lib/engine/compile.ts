import type { LoadedModel } from '../model/onnx.js';
import type { GraphPass, IrGraph } from './passes/ir.js';
import { foldBatchNorm } from './passes/fold-batchnorm.js';
import { fuseMaxPoolIntoConv } from './passes/fuse-maxpool.js';
import { fuseRelu } from './passes/fuse-relu.js';
import { fuseUpsampleIntoConv } from './passes/fuse-upsample.js';
import { lowerToPlan } from './passes/lower.js';
import { parseOnnxGraph } from './passes/parse.js';
import { recognizePixelShuffle } from './passes/pixel-shuffle.js';
import { localizationHeadRows, planMacsPerFrame, type Plan, type PlanView } from './plan.js';

/**
 * The graph passes, in the order they run. Order matters in two places: BatchNorm is folded before the ReLU is fused
 * (conv -> BN -> ReLU), and upsampling is fused before pooling so that a conv reading upsample(maxpool(x)) ends up as
 * a phased conv with a pooled load.
 */
export const COMPILER_PASSES: readonly GraphPass[] = [foldBatchNorm, fuseRelu, recognizePixelShuffle, fuseUpsampleIntoConv, fuseMaxPoolIntoConv];

export interface CompileOptions {
  /** Called after parsing ('parse') and after each pass with the IR, e.g. to log or test single passes. */
  onPass?: (passName: string, graph: IrGraph) => void;
  /**
   * A localization head's rows to keep: 'rendered' (default: p, dx, dy, and sx, sy when the widths are predicted) or
   * 'all' (the network's whole `detections` output, for the CPU plan executor, whose output localize reads).
   */
  localizationRows?: 'rendered' | 'all';
}

/**
 * Compiles a loaded smlm-rt ONNX model into the execution plan the native engine runs (see plan.ts for its
 * semantics). Throws SmlmError E_MODEL_INVALID naming the operator and node for anything the engine cannot execute.
 */
export function compileModel(model: LoadedModel, options: CompileOptions = {}): Plan {
  const source = model.path || model.name;
  const graph = parseOnnxGraph(model.proto, source);
  options.onPass?.('parse', graph);
  for (const pass of COMPILER_PASSES) {
    pass.run(graph, source);
    options.onPass?.(pass.name, graph);
  }
  return lowerToPlan(graph, model.metadata, model.hash, source, options.localizationRows);
}

function viewText(view: PlanView, plan: Plan): string {
  if (view.buffer === 0) return 'frame';
  const buf = plan.buffers.find((b) => b.id === view.buffer);
  const scale = buf ? `@${buf.scaleNum}${buf.scaleDen === 1 ? '' : `/${buf.scaleDen}`}` : '@?';
  const whole = buf && view.channelOffset === 0 && view.channels === buf.channels;
  return `b${view.buffer}${whole ? '' : `[${view.channelOffset}:${view.channelOffset + view.channels}]`}${scale}`;
}

/**
 * A human-readable listing of a plan, one line per op (plus a header; with a frame size, MACs per op and in total).
 * Example line: `conv  Conv_3  frame -> b1@8  1->4  8x8 phases, 100 taps  relu`.
 */
export function describePlan(plan: Plan, frame?: { height: number; width: number }): string {
  const lines: string[] = [];
  const header = `plan v${plan.version}: ${plan.ops.length} ops, ${plan.buffers.length} buffers, ${plan.weights.length} weights, upsampling ${plan.upsampling}, size multiple ${plan.sizeMultiple}, min size ${plan.minSize}`;
  lines.push(frame ? `${header}, ${(planMacsPerFrame(plan, frame.height, frame.width) / 1e9).toFixed(4)} GMAC per ${frame.height}x${frame.width} frame` : header);
  for (const op of plan.ops) {
    const single: Plan = { ...plan, ops: [op] };
    const macs = frame ? `  ${(planMacsPerFrame(single, frame.height, frame.width) / 1e6).toFixed(3)} MMAC` : '';
    if (op.op === 'conv') {
      const taps = op.phases.reduce((sum, p) => sum + p.kh * p.kw, 0);
      const kernel = op.phases.length === 1 ? `${op.phases[0].kh}x${op.phases[0].kw}` : `${op.upsample}x${op.upsample} phases, ${taps} taps`;
      const load = op.inputTransform === 'maxpool2' ? 'maxpool2 ' : '';
      lines.push(`conv  ${op.name}  ${load}${viewText(op.input, plan)} -> ${viewText(op.output, plan)}  ${op.cin}->${op.cout}  ${kernel}${op.relu ? '  relu' : ''}${macs}`);
    } else if (op.op === 'localization-head') {
      const predicted = op.sigmaMode === 'predicted';
      const width = predicted ? `predicted sigma in [${op.sigmaRange![0]}, ${op.sigmaRange![1]}]` : `sigma ${op.renderSigma}`;
      const render = `${width}, radius ${op.renderRadius}, p >= ${op.minProbability}`;
      const cells = op.grid > 1 ? ` of ${op.grid}x${op.grid} cells` : '';
      lines.push(`loc-head  ${op.name}  ${viewText(op.input, plan)} -> image  ${op.cin}->${localizationHeadRows(op)} (p, dx, dy${predicted ? ', sx, sy' : ''}${cells})  1x1  rendered x${op.upsampling} (${render}), sum over frames${macs}`);
    } else {
      lines.push(`head  ${op.name}  ${viewText(op.input, plan)} -> maps  ${op.cin}->${op.upscale * op.upscale}  1x1${op.upscale > 1 ? ` + depth-to-space ${op.upscale}` : ''}  clamp>=0, sum over frames${macs}`);
    }
  }
  return lines.join('\n');
}
