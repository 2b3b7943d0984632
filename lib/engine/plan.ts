import type { Normalization } from '../model/metadata.js';

/**
 * An execution plan: what the graph compiler (lib/engine/compile*.ts) makes of an ONNX model and what the native
 * engine (native/) executes. It is deliberately small: three kinds of op cover Deep-STORM and smlm-rt's U-Net, and
 * every rewrite (BatchNorm folding, upsampling and pooling fused into convolutions, concatenations turned into
 * channel slices) has already been applied to the weights here, so the native side only executes.
 *
 * Layout conventions shared with native/:
 *  - activations are NHWC; a buffer holds `channels` channels at spatial size frame * scaleNum / scaleDen;
 *  - weights are float32 in `weights`, OHWI ([cout][kh][kw][cin]); the engine converts them to fp16 itself;
 *  - spatial index (y, x) of a buffer at scale s covers the frame region [y/s, (y+1)/s) in camera pixels.
 */
export const PLAN_VERSION = 1;

/** A stored activation tensor. Buffer 0 is never declared: the raw frame is read by the first conv directly. */
export interface PlanBuffer {
  id: number;
  channels: number;
  scaleNum: number;
  scaleDen: number;
}

/** A channel range of a buffer: ops read and write views, which is how concatenations disappear. */
export interface PlanView {
  buffer: number;
  channelOffset: number;
  channels: number;
}

/**
 * One output phase of a convolution. A plain convolution has one phase (stride 1). A convolution applied to a
 * nearest-upsampled input (factor u) is rewritten as u*u phases on the *un-upsampled* input, each with a smaller
 * kernel whose taps are sums of the original taps (exact, fewer MACs); a ConvTranspose with kernel == stride is
 * u*u phases of 1x1 kernels.
 *
 *   out[n, u*oy + phaseY, u*ox + phaseX, co] =
 *     bias[co] + sum_{ky < kh, kx < kw, ci} W[co][ky][kx][ci] * in[n, oy + ky - padTop, ox + kx - padLeft, ci]
 *
 * with zero outside the input. `weightOffset` indexes `Plan.weights` (cout*kh*kw*cin floats, OHWI).
 */
export interface ConvPhase {
  phaseY: number;
  phaseX: number;
  kh: number;
  kw: number;
  padTop: number;
  padLeft: number;
  weightOffset: number;
}

/**
 * How a conv reads its input:
 *  - 'frame': buffer 0, the raw frame (uint16 or float32), normalized on load with `Plan.normalization`;
 *  - 'direct': the view as stored;
 *  - 'maxpool2': the 2x2/stride-2 max of the view (the MaxPool is fused into this conv's loads).
 */
export type InputTransform = 'frame' | 'direct' | 'maxpool2';

export interface ConvOp {
  op: 'conv';
  name: string;
  input: PlanView;
  inputTransform: InputTransform;
  output: PlanView;
  cin: number;
  cout: number;
  /** Output stride: 1 for plain convs, u for phased (upsampling) convs. */
  upsample: number;
  phases: ConvPhase[];
  biasOffset: number;
  relu: boolean;
}

/**
 * The last layer fused with the frame sum:
 *   map[n, s*y + i, s*x + j] = max(0, bias[i*s+j] + sum_ci W[i*s+j][ci] * in[n, y, x, ci])   (1x1 conv + depth-to-space)
 *   image[Y, X] += sum_n map[n, Y, X]                                                           (fp32 accumulator)
 * s = 1 for Deep-STORM's 1x1 output conv, s = upsampling for a depth-to-space head.
 */
export interface HeadOp {
  op: 'head';
  name: string;
  input: PlanView;
  inputTransform: 'direct';
  cin: number;
  upscale: number;
  weightOffset: number;
  biasOffset: number;
}

/**
 * A localization head (model metadata `smlm.head` kind "localization", lib/model/head.ts) fused with its rendering:
 *   v[k] = bias[k] + sum_ci W[k][ci] * in[n, r, c, ci]          for rows k = 0 .. renderedRows-1 (raw p, dx, dy of
 *                                                                 each of the g x g cells, and sx, sy when the widths
 *                                                                 are predicted; otherwise the network's sx, sy rows do
 *                                                                 not affect the image and are dropped)
 *   row q g^2 + i g + j is quantity q (p, dx, dy, sx, sy) of cell (R, C) = (r g + i, c g + j)
 *   p = sigmoid(v[p row]), muX = (C + 0.5 + maxOffset tanh(v[dx row])) u/g, muY = (R + 0.5 + maxOffset tanh(v[dy row])) u/g
 *   sigmaMode 'fixed': width renderSigma on both axes; 'predicted': sigmaX = clamp((0.01 + 3 sigmoid(v[sx row])) u/g,
 *   sigmaRange[0], sigmaRange[1]), sigmaY likewise from the sy row
 *   image[Y, X] += the detection rendered with those widths and renderRadius, skipped when p < minProbability
 * exactly as lib/render-detections.ts states it. The input is at camera resolution; u = `upsampling`, g = `grid`.
 */
export interface LocalizationHeadOp {
  op: 'localization-head';
  name: string;
  input: PlanView;
  inputTransform: 'direct';
  cin: number;
  /** localizationHeadRows(op) rows (p, dx, dy[, sx, sy] of every cell, in the order above) of cin floats. */
  weightOffset: number;
  /** localizationHeadRows(op) floats. */
  biasOffset: number;
  upsampling: number;
  /** g: detection cells per camera pixel and axis (1, 2, 4 or 8; divides upsampling). */
  grid: number;
  maxOffset: number;
  /** 'fixed': every detection is rendered renderSigma wide; 'predicted': with its own widths, clamped to sigmaRange. */
  sigmaMode: 'fixed' | 'predicted';
  /** Fine px; the width in 'fixed' mode, 0 (unused) in 'predicted' mode. */
  renderSigma: number;
  /** [lo, hi] fine px, 0 < lo <= hi <= 4; present exactly in 'predicted' mode. */
  sigmaRange?: [number, number];
  renderRadius: number;
  minProbability: number;
  /**
   * Rows the plan holds when it keeps more than rendering needs: 5g^2 (every row of the network's `detections`, sx and
   * sy included) in a plan compiled with `localizationRows: 'all'` (the CPU plan executor, whose output is the ONNX
   * `detections` that localize reads). Absent: localizationHeadRows' default. The rows are in the same order either
   * way, so an executor that renders reads the first 3g^2 (or 5g^2) of them unchanged.
   */
  rows?: number;
}

/**
 * Rows of a localization head's 1x1 conv that the plan keeps: 3g^2 (p, dx, dy), 5g^2 when the widths are predicted or
 * the plan was compiled with every row (`rows`).
 */
export function localizationHeadRows(op: Pick<LocalizationHeadOp, 'grid' | 'sigmaMode'> & { rows?: number }): number {
  return op.rows ?? (op.sigmaMode === 'predicted' ? 5 : 3) * op.grid * op.grid;
}

export type PlanOp = ConvOp | HeadOp | LocalizationHeadOp;

export interface Plan {
  version: typeof PLAN_VERSION;
  /** Frame -> output grid factor (the model's `upsampling`). */
  upsampling: number;
  normalization: Normalization;
  /** Frame height/width must be a multiple of this and at least minSize. */
  sizeMultiple: number;
  minSize: number;
  buffers: PlanBuffer[];
  /** Topologically ordered; exactly one HeadOp or LocalizationHeadOp, last. */
  ops: PlanOp[];
  weights: Float32Array;
  /** sha256 of the source ONNX bytes, for cache keys. */
  modelHash: string;
}

/** Multiply-accumulates per frame of size h x w, counted on the rewritten plan (what actually executes). */
export function planMacsPerFrame(plan: Plan, height: number, width: number): number {
  let macs = 0;
  const scaled = (b: number, v: number) => {
    const buf = plan.buffers.find((x) => x.id === b);
    if (!buf) throw new Error(`plan: unknown buffer ${b}`);
    return (v * buf.scaleNum) / buf.scaleDen;
  };
  for (const op of plan.ops) {
    if (op.op === 'conv') {
      const inH = op.inputTransform === 'frame' ? height : scaled(op.input.buffer, height) / (op.inputTransform === 'maxpool2' ? 2 : 1);
      const inW = op.inputTransform === 'frame' ? width : scaled(op.input.buffer, width) / (op.inputTransform === 'maxpool2' ? 2 : 1);
      for (const p of op.phases) macs += inH * inW * p.kh * p.kw * op.cin * op.cout;
    } else if (op.op === 'head') {
      macs += scaled(op.input.buffer, height) * scaled(op.input.buffer, width) * op.cin * op.upscale * op.upscale;
    } else {
      // The rows that are computed; the rendering is no multiply-accumulate of the network.
      macs += scaled(op.input.buffer, height) * scaled(op.input.buffer, width) * op.cin * localizationHeadRows(op);
    }
  }
  return macs;
}
