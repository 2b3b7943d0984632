import { SmlmError } from '../../errors.js';
import type { ConvPhase } from '../plan.js';

/**
 * The compiler's intermediate graph: ONNX nodes turned into a few layer kinds whose weights are already decoded,
 * with convolutions in the Plan's phased form from the start (a plain Conv is one phase). Passes rewrite this graph;
 * lower.ts turns what is left into a Plan. Tensors are referred to by their ONNX names.
 */

/** One phase of a (possibly phased) convolution, as in plan.ts but holding its own OHWI weights ([cout][kh][kw][cin]). */
export interface IrPhase extends Omit<ConvPhase, 'weightOffset'> {
  weights: Float32Array;
}

/** Where a layer came from, for error messages and op names. */
export interface IrOrigin {
  opType: string;
  nodeName: string;
}

export interface IrConv extends IrOrigin {
  kind: 'conv';
  input: string;
  output: string;
  cin: number;
  cout: number;
  upsample: number;
  phases: IrPhase[];
  bias: Float32Array;
  relu: boolean;
  inputTransform: 'direct' | 'maxpool2';
}

/** Per-channel affine y = x * scale + shift (an inference-mode BatchNormalization). */
export interface IrAffine extends IrOrigin {
  kind: 'affine';
  input: string;
  output: string;
  scale: Float32Array;
  shift: Float32Array;
}

export interface IrRelu extends IrOrigin {
  kind: 'relu';
  input: string;
  output: string;
}

export interface IrMaxPool2 extends IrOrigin {
  kind: 'maxpool2';
  input: string;
  output: string;
}

/** Nearest-neighbour upsampling by an integer factor, every output pixel a copy of its source pixel. */
export interface IrUpsample extends IrOrigin {
  kind: 'upsample';
  input: string;
  output: string;
  factor: number;
}

export interface IrConcat extends IrOrigin {
  kind: 'concat';
  inputs: string[];
  output: string;
}

/**
 * Channels to space with one output channel: out[s*y + i, s*x + j] = in[channelOf[i*s + j], y, x].
 * DepthToSpace CRD and DCR (and torch's reshape/permute pixel shuffles) only differ in `channelOf`.
 */
export interface IrPixelShuffle extends IrOrigin {
  kind: 'pixelshuffle';
  input: string;
  output: string;
  factor: number;
  channelOf: number[];
}

/** A Reshape whose target shape was resolved (symbolically) at compile time; only kept to be matched by a pass. */
export interface IrReshape extends IrOrigin {
  kind: 'reshape';
  input: string;
  output: string;
  /** Target shape with 0 / -1 resolved; entries are symbolic dimensions. */
  shape: SymDim[];
}

export interface IrTranspose extends IrOrigin {
  kind: 'transpose';
  input: string;
  output: string;
  perm: number[];
}

export type IrLayer = IrConv | IrAffine | IrRelu | IrMaxPool2 | IrUpsample | IrConcat | IrPixelShuffle | IrReshape | IrTranspose;

/**
 * A symbolic tensor dimension: coef * product(symbols). The frame's batch, height and width are the symbols
 * 'N', 'H', 'W'; e.g. a buffer pooled once from an 8x upsampled frame has height {coef: 4, symbols: ['H']}.
 */
export interface SymDim {
  coef: number;
  symbols: string[];
}

export interface IrGraph {
  /** Name of the graph input (`frames`). */
  input: string;
  /** Name of the graph output (`maps`). */
  output: string;
  /** Topologically ordered. */
  layers: IrLayer[];
  /** Symbolic shape [N, C, H, W] of every activation tensor, as parsed (before rewrites). */
  shapes: Map<string, SymDim[]>;
}

export function layerInputs(layer: IrLayer): string[] {
  return layer.kind === 'concat' ? layer.inputs : [layer.input];
}

/** Layers reading `tensor` (a layer reading it twice appears twice). */
export function consumersOf(graph: IrGraph, tensor: string): IrLayer[] {
  const out: IrLayer[] = [];
  for (const layer of graph.layers) for (const input of layerInputs(layer)) if (input === tensor) out.push(layer);
  return out;
}

export function producerOf(graph: IrGraph, tensor: string): IrLayer | undefined {
  return graph.layers.find((layer) => layer.output === tensor);
}

/** True when `tensor` is read by exactly one layer and is not the graph output, so its producer may be rewritten. */
export function hasSingleConsumer(graph: IrGraph, tensor: string): boolean {
  return tensor !== graph.output && consumersOf(graph, tensor).length === 1;
}

/** Replaces every read of `from` by `to` (graph output included). */
export function renameTensor(graph: IrGraph, from: string, to: string): void {
  for (const layer of graph.layers) {
    if (layer.kind === 'concat') layer.inputs = layer.inputs.map((t) => (t === from ? to : t));
    else if (layer.input === from) layer.input = to;
  }
  if (graph.output === from) graph.output = to;
}

export function removeLayer(graph: IrGraph, layer: IrLayer): void {
  const i = graph.layers.indexOf(layer);
  if (i >= 0) graph.layers.splice(i, 1);
}

export function unsupported(origin: IrOrigin, why: string, source: string): SmlmError {
  return new SmlmError(
    'E_MODEL_INVALID',
    `${source}: operator ${origin.opType} (node "${origin.nodeName}") is not supported by the smlm-rt engine: ${why}`,
    { source, operator: origin.opType, node: origin.nodeName },
  );
}

/** A pass: a named, pure-in-spirit rewrite of the graph (it mutates the graph it is given, which compile owns). */
export interface GraphPass {
  name: string;
  run(graph: IrGraph, source: string): void;
}
