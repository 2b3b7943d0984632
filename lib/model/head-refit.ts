/**
 * Least-squares refit of a model's output head: the last 1x1 convolution (before an optional DepthToSpace and a
 * clamp), whose output is the fine-grid map.
 *
 * Why: the training loss compares maps only after a Gaussian blur of 1 fine pixel, which hardly constrains how the
 * head spreads an emitter's mass over neighbouring 12.5 nm pixels, while NMSE without blur scores exactly that. The
 * head is linear in its weights, and so is the image summed over a stack's frames (before the clamp), so the head
 * that best matches the unblurred ground truth of simulated stacks is a linear least-squares solution: with F(c) the
 * head's input features summed over the frames at head pixel c, the image at fine pixel (c, phase p) is
 * W[p] . F(c) + frames * b[p]. Every phase shares the same Gram matrix of the features, so one factorization solves
 * all of them. The per-frame clamp at zero is left out of the fit; scripts/refit-head.ts scores the refit through
 * the real pipeline (clamp included) before adopting it.
 */
import type { onnx as OnnxTypes } from 'onnx-proto';
import { SmlmError } from '../errors.js';
import { attributesOf, decodeTensor, intAttr, intsAttr } from './onnx-values.js';
import { decodeOnnx, onnx, type OnnxModelProto } from './onnx.js';

/** Where a model's head is and what it computes. */
export interface HeadInfo {
  /** The head's input: the last feature tensor before the map. */
  featureTensor: string;
  weightName: string;
  /** Absent when the conv has no bias (Deep-STORM's last conv). */
  biasName?: string;
  inChannels: number;
  /** Block size of the DepthToSpace after the conv (1 without one): each head pixel writes shuffle x shuffle map pixels. */
  shuffle: number;
  /** Current weights, [phase][inChannel] flattened (phase = row offset * shuffle + column offset), and bias. */
  weight: Float64Array;
  bias?: Float64Array;
}

function refuse(source: string, message: string): SmlmError {
  return new SmlmError('E_MODEL_INVALID', `${source}: ${message}`, { source });
}

/**
 * Finds the head of a model whose output `maps` is Conv 1x1 -> [DepthToSpace (one output channel)] -> [Relu], the
 * form of both bundled architectures. With one output channel, DepthToSpace's CRD and DCR modes both put channel
 * i * s + j at row offset i, column offset j.
 */
export function findHead(proto: OnnxModelProto, source = 'model'): HeadInfo {
  const graph = proto.graph!;
  const producer = new Map<string, OnnxTypes.INodeProto>();
  for (const node of graph.node ?? []) for (const out of node.output ?? []) producer.set(out, node);
  const outputName = graph.output?.[0]?.name ?? '';
  let node = producer.get(outputName);
  // Relu and Identity after the head change nothing the refit needs (smlm-rt clamps the maps at zero anyway).
  const skip = () => {
    while (node && (node.opType === 'Relu' || node.opType === 'Identity')) node = producer.get(node.input![0]);
  };
  skip();
  let shuffle = 1;
  if (node?.opType === 'DepthToSpace') {
    shuffle = intAttr(attributesOf(node), 'blocksize', 0);
    node = producer.get(node.input![0]);
    skip();
  }
  const what = 'the head refit needs a network ending in a 1x1 Conv, optionally followed by DepthToSpace and Relu';
  if (!node || node.opType !== 'Conv') throw refuse(source, what);
  const attrs = attributesOf(node);
  if (intAttr(attrs, 'group', 1) !== 1 || intsAttr(attrs, 'kernel_shape', [1, 1]).some((k) => k !== 1) || intsAttr(attrs, 'strides', [1, 1]).some((k) => k !== 1)) {
    throw refuse(source, what);
  }
  const initializers = new Map((graph.initializer ?? []).map((t) => [t.name ?? '', t]));
  const [featureTensor, weightName, biasName] = node.input ?? [];
  const weightTensor = initializers.get(weightName);
  const weight = weightTensor && decodeTensor(weightTensor);
  if (!weight || weight.dims.length !== 4) throw refuse(source, `the head's weight "${weightName}" is not a constant 4-D tensor`);
  const [phases, inChannels] = weight.dims;
  if (phases !== shuffle * shuffle) throw refuse(source, `the head has ${phases} output channels; its DepthToSpace needs ${shuffle * shuffle}`);
  let bias: Float64Array | undefined;
  if (biasName) {
    const biasTensor = initializers.get(biasName);
    const decoded = biasTensor && decodeTensor(biasTensor);
    if (!decoded || decoded.values.length !== phases) throw refuse(source, `the head's bias "${biasName}" is not a constant of ${phases} values`);
    bias = decoded.values;
  }
  return { featureTensor, weightName, biasName: biasName || undefined, inChannels, shuffle, weight: weight.values, bias };
}

/**
 * The model with the head's input features as a second output, for onnxruntime to return beside `maps`. (Re-encoded
 * by protobufjs: meant for running, not for shipping.)
 */
export function withHeadFeaturesOutput(bytes: Uint8Array, head: HeadInfo, source = 'model'): Uint8Array {
  const proto = decodeOnnx(bytes, source);
  proto.graph!.output = [
    ...(proto.graph!.output ?? []),
    onnx.ValueInfoProto.create({ name: head.featureTensor, type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT } } }),
  ];
  return onnx.ModelProto.encode(proto).finish();
}

/** Accumulates the normal equations of the head refit over stacks, then solves them. */
export class HeadLeastSquares {
  /** Unknowns per phase: the input channels, and the bias when the head has one. */
  readonly columns: number;
  readonly phases: number;
  private readonly gram: Float64Array;
  private readonly rhs: Float64Array;
  private stacks = 0;

  constructor(
    readonly inChannels: number,
    readonly shuffle: number,
    readonly withBias: boolean,
  ) {
    this.columns = inChannels + (withBias ? 1 : 0);
    this.phases = shuffle * shuffle;
    this.gram = new Float64Array(this.columns * this.columns);
    this.rhs = new Float64Array(this.phases * this.columns);
  }

  /**
   * Adds one stack.
   * @param features the head's input summed over the stack's frames, [inChannels, height, width] (head resolution)
   * @param frames how many frames were summed (the bias enters once per frame)
   * @param target the wanted summed map, [height * shuffle, width * shuffle] row-major
   * @param weight this stack's weight in the objective (1 / ||target||^2 makes it the mean NMSE over stacks)
   */
  addStack(features: Float64Array, height: number, width: number, frames: number, target: ArrayLike<number>, weight: number): void {
    const { inChannels, shuffle, columns } = this;
    const pixels = height * width;
    const mapWidth = width * shuffle;
    if (features.length !== inChannels * pixels || target.length !== pixels * this.phases) {
      throw new SmlmError('E_BAD_OPTIONS', `head refit: features (${features.length}) or target (${target.length}) do not match ${inChannels} x ${height} x ${width} at shuffle ${shuffle}`);
    }
    if (!(weight > 0) || !Number.isFinite(weight)) throw new SmlmError('E_BAD_OPTIONS', `head refit: stack weight must be a positive number, got ${weight}`);
    const x = new Float64Array(columns);
    for (let r = 0; r < height; r++) {
      for (let c = 0; c < width; c++) {
        const at = r * width + c;
        for (let k = 0; k < inChannels; k++) x[k] = features[k * pixels + at];
        if (this.withBias) x[inChannels] = frames;
        for (let i = 0; i < columns; i++) {
          const xi = weight * x[i];
          if (xi === 0) continue;
          const row = i * columns;
          for (let j = i; j < columns; j++) this.gram[row + j] += xi * x[j];
        }
        for (let p = 0; p < this.phases; p++) {
          const t = target[(r * shuffle + Math.floor(p / shuffle)) * mapWidth + c * shuffle + (p % shuffle)];
          if (t === 0) continue;
          const row = p * columns;
          for (let i = 0; i < columns; i++) this.rhs[row + i] += weight * t * x[i];
        }
      }
    }
    this.stacks++;
  }

  /**
   * Solves for every phase's weights (and bias) by Cholesky factorization of the shared Gram matrix, with a ridge
   * of `ridge` times its mean diagonal for numerical safety only.
   */
  solve(ridge = 1e-9): { weight: Float64Array; bias?: Float64Array } {
    const n = this.columns;
    if (this.stacks === 0) throw new SmlmError('E_BAD_OPTIONS', 'head refit: no stacks were added');
    const a = new Float64Array(n * n);
    let trace = 0;
    for (let i = 0; i < n; i++) trace += this.gram[i * n + i];
    const lambda = (ridge * trace) / n;
    for (let i = 0; i < n; i++) {
      for (let j = i; j < n; j++) a[i * n + j] = a[j * n + i] = this.gram[i * n + j] + (i === j ? lambda : 0);
    }
    // In-place Cholesky: a = L L^T, L in the lower triangle.
    for (let j = 0; j < n; j++) {
      let d = a[j * n + j];
      for (let k = 0; k < j; k++) d -= a[j * n + k] ** 2;
      if (!(d > 0)) throw new SmlmError('E_BAD_OPTIONS', `head refit: the features' Gram matrix is not positive definite (column ${j}); add stacks`);
      const l = Math.sqrt(d);
      a[j * n + j] = l;
      for (let i = j + 1; i < n; i++) {
        let s = a[i * n + j];
        for (let k = 0; k < j; k++) s -= a[i * n + k] * a[j * n + k];
        a[i * n + j] = s / l;
      }
    }
    const solution = new Float64Array(this.phases * n);
    const y = new Float64Array(n);
    for (let p = 0; p < this.phases; p++) {
      const b = this.rhs.subarray(p * n, (p + 1) * n);
      for (let i = 0; i < n; i++) {
        let s = b[i];
        for (let k = 0; k < i; k++) s -= a[i * n + k] * y[k];
        y[i] = s / a[i * n + i];
      }
      for (let i = n - 1; i >= 0; i--) {
        let s = y[i];
        for (let k = i + 1; k < n; k++) s -= a[k * n + i] * solution[p * n + k];
        solution[p * n + i] = s / a[i * n + i];
      }
    }
    const weight = new Float64Array(this.phases * this.inChannels);
    const bias = this.withBias ? new Float64Array(this.phases) : undefined;
    for (let p = 0; p < this.phases; p++) {
      weight.set(solution.subarray(p * n, p * n + this.inChannels), p * this.inChannels);
      if (bias) bias[p] = solution[p * n + this.inChannels];
    }
    return { weight, bias };
  }
}
