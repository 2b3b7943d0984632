import { SmlmError } from '../../errors.js';
import { cellsPerPixel, localizationHeadOf } from '../../model/head.js';
import type { ModelMetadata } from '../../model/metadata.js';
import { localizationHeadRows, PLAN_VERSION, type ConvOp, type HeadOp, type LocalizationHeadOp, type Plan, type PlanBuffer, type PlanView } from '../plan.js';
import { consumersOf, producerOf, removeLayer, unsupported, type IrConcat, type IrConv, type IrGraph, type IrLayer } from './ir.js';

/**
 * The rewritten IR -> Plan: the head (final 1x1 conv, optional pixel shuffle and clamps) is recognized, concatenations
 * become channel slices of one buffer (producers write their views), every stored tensor gets a buffer with its
 * scale relative to the frame, and weights are packed into one Float32Array.
 */

interface Rational {
  num: number;
  den: number;
}

function gcd(a: number, b: number): number {
  return b === 0 ? Math.abs(a) : gcd(b, a % b);
}

function rational(num: number, den: number): Rational {
  const g = gcd(num, den);
  return { num: num / g, den: den / g };
}

function lcm(a: number, b: number): number {
  return (a / gcd(a, b)) * b;
}

interface Head {
  conv: IrConv;
  factor: number;
  channelOf: number[];
}

/** Quantities of a localization head's 1x1 conv (p, dx, dy, sx, sy), each with g^2 rows (one per detection cell). */
const DETECTION_QUANTITIES = 5;

/**
 * A localization head (metadata `smlm.head` kind "localization", grid g): the graph output must be the raw output of a
 * 1x1 Conv with 5g^2 channels at camera resolution. Anything after it (a ReLU, a pixel shuffle) would change the raw
 * values the contract defines, so it is refused rather than guessed at.
 */
function extractLocalizationHead(graph: IrGraph, grid: number, source: string): Head {
  const conv = producerOf(graph, graph.output);
  const channels = DETECTION_QUANTITIES * grid * grid;
  const cells = grid > 1 ? ` of each of its ${grid}x${grid} detection cells` : '';
  const what = `a localization-head network must end with a 1x1 Conv with ${channels} output channels (raw p, dx, dy, sx, sy${cells}) and nothing after it`;
  if (!conv || conv.kind !== 'conv') {
    const origin = conv ?? { opType: 'graph output', nodeName: graph.output };
    throw unsupported(origin, `cannot be the last layer: ${what}`, source);
  }
  const [phase] = conv.phases;
  if (conv.upsample !== 1 || conv.phases.length !== 1 || phase.kh !== 1 || phase.kw !== 1 || conv.inputTransform !== 'direct') {
    throw unsupported(conv, `cannot be the last layer: ${what}`, source);
  }
  if (conv.relu) throw unsupported(conv, `is followed by a ReLU/Clip: ${what}`, source);
  if (conv.cout !== channels) throw unsupported(conv, `the last conv has ${conv.cout} channels: ${what}`, source);
  removeLayer(graph, conv);
  return { conv, factor: 1, channelOf: [] };
}

/** Walks back from the graph output over clamps and a pixel shuffle to the final 1x1 conv, and removes them. */
function extractHead(graph: IrGraph, source: string): Head {
  const chain: IrLayer[] = [];
  let tensor = graph.output;
  let factor = 1;
  let channelOf = [0];
  let layer = producerOf(graph, tensor);
  const skipClamps = () => {
    // The head clamps at zero anyway (max(0, .)), so ReLU / Clip(0) at the end of the network change nothing.
    while (layer && layer.kind === 'relu') {
      chain.push(layer);
      tensor = layer.input;
      layer = producerOf(graph, tensor);
    }
  };
  skipClamps();
  if (layer && layer.kind === 'pixelshuffle') {
    chain.push(layer);
    factor = layer.factor;
    channelOf = layer.channelOf;
    tensor = layer.input;
    layer = producerOf(graph, tensor);
    skipClamps();
  }
  const conv = layer;
  const what = 'the network must end with a 1x1 Conv (optionally followed by DepthToSpace / a pixel shuffle and ReLU/Clip(0))';
  if (!conv || conv.kind !== 'conv') {
    const origin = conv ?? { opType: 'graph output', nodeName: graph.output };
    throw unsupported(origin, `cannot be the last layer: ${what}`, source);
  }
  const [phase] = conv.phases;
  if (conv.upsample !== 1 || phase.kh !== 1 || phase.kw !== 1 || conv.inputTransform !== 'direct') {
    throw unsupported(conv, `cannot be the last layer: ${what}`, source);
  }
  if (conv.cout !== factor * factor) throw unsupported(conv, `the last conv has ${conv.cout} channels, the output needs ${factor * factor}`, source);
  for (const l of [conv, ...chain]) {
    if (l.output !== graph.output && consumersOf(graph, l.output).length !== 1) {
      throw unsupported(l, 'an intermediate of the output head is also used elsewhere', source);
    }
  }
  for (const l of [conv, ...chain]) removeLayer(graph, l);
  return { conv, factor, channelOf };
}

/** Drops convs whose output nobody reads (e.g. branches that only fed a removed shape computation). */
function removeDeadLayers(graph: IrGraph, live: Set<string>): void {
  for (let i = graph.layers.length - 1; i >= 0; i--) {
    const layer = graph.layers[i];
    if (!live.has(layer.output) && consumersOf(graph, layer.output).length === 0) graph.layers.splice(i, 1);
  }
}

class WeightPacker {
  private readonly chunks: Float32Array[] = [];
  private size = 0;
  push(values: Float32Array): number {
    const offset = this.size;
    this.chunks.push(values);
    this.size += values.length;
    return offset;
  }
  finish(): Float32Array {
    const out = new Float32Array(this.size);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }
}

/**
 * `localizationRows`: 'rendered' (default) keeps the localization head's rows that rendering needs; 'all' keeps every
 * row of the network's `detections` (5g^2), for executors that output them (the CPU plan executor).
 */
export function lowerToPlan(graph: IrGraph, metadata: ModelMetadata, modelHash: string, source: string, localizationRows: 'rendered' | 'all' = 'rendered'): Plan {
  const locHead = localizationHeadOf(metadata);
  const head = locHead ? extractLocalizationHead(graph, cellsPerPixel(locHead), source) : extractHead(graph, source);
  removeDeadLayers(graph, new Set([head.conv.input]));
  for (const layer of graph.layers) {
    if (layer.kind === 'conv' || layer.kind === 'concat') continue;
    const why: Record<string, string> = {
      affine: 'a BatchNormalization must directly follow a Conv whose output it alone reads',
      relu: 'a ReLU must directly follow a Conv whose output it alone reads (or end the network)',
      maxpool2: 'a MaxPool must feed convolutions only',
      upsample: 'a nearest Resize must feed plain convolutions only',
      pixelshuffle: 'a pixel shuffle is only supported right after the final 1x1 conv',
      reshape: 'only a pixel-shuffle Reshape/Transpose/Reshape at the end of the network is supported',
      transpose: 'only a pixel-shuffle Reshape/Transpose/Reshape at the end of the network is supported',
    };
    throw unsupported(layer, why[layer.kind] ?? 'no rewrite exists for it', source);
  }

  // Scales relative to the frame, channel counts.
  const scale = new Map<string, Rational>([[graph.input, rational(1, 1)]]);
  const channels = new Map<string, number>([[graph.input, 1]]);
  for (const layer of graph.layers) {
    if (layer.kind === 'conv') {
      const s = scale.get(layer.input)!;
      scale.set(layer.output, rational(s.num * layer.upsample, s.den * (layer.inputTransform === 'maxpool2' ? 2 : 1)));
      channels.set(layer.output, layer.cout);
    } else if (layer.kind === 'concat') {
      const scales = layer.inputs.map((t) => scale.get(t)!);
      if (scales.some((s) => s.num !== scales[0].num || s.den !== scales[0].den)) throw unsupported(layer, 'inputs at different scales', source);
      scale.set(layer.output, scales[0]);
      channels.set(layer.output, layer.inputs.reduce((sum, t) => sum + channels.get(t)!, 0));
    }
  }

  // Concatenations: each input tensor lives in a channel slice of the concatenation's storage.
  const sliceOf = new Map<string, { concat: IrConcat; offset: number }>();
  for (const layer of graph.layers) {
    if (layer.kind !== 'concat') continue;
    let offset = 0;
    for (const t of layer.inputs) {
      if (t === graph.input) throw unsupported(layer, 'the frames cannot be concatenated (they are never stored)', source);
      if (sliceOf.has(t)) throw unsupported(layer, `tensor "${t}" is concatenated twice; it cannot live in two channel slices`, source);
      sliceOf.set(t, { concat: layer, offset });
      offset += channels.get(t)!;
    }
  }
  const buffers: PlanBuffer[] = [];
  const views = new Map<string, PlanView>();
  const viewOf = (t: string): PlanView => {
    const known = views.get(t);
    if (known) return known;
    let view: PlanView;
    const slice = sliceOf.get(t);
    if (slice) {
      const outer = viewOf(slice.concat.output);
      view = { buffer: outer.buffer, channelOffset: outer.channelOffset + slice.offset, channels: channels.get(t)! };
    } else {
      const s = scale.get(t)!;
      const id = buffers.length + 1;
      buffers.push({ id, channels: channels.get(t)!, scaleNum: s.num, scaleDen: s.den });
      view = { buffer: id, channelOffset: 0, channels: channels.get(t)! };
    }
    views.set(t, view);
    return view;
  };
  const frameView: PlanView = { buffer: 0, channelOffset: 0, channels: 1 };

  const packer = new WeightPacker();
  const ops: (ConvOp | HeadOp | LocalizationHeadOp)[] = [];
  let sizeMultiple = metadata.sizeMultiple;
  const requireDivisible = (s: Rational, pooled: boolean) => {
    // Sizes frame*num/den must be integers, and even where a conv pools them on load.
    const den = pooled ? 2 * s.den : s.den;
    sizeMultiple = lcm(sizeMultiple, den / gcd(den, s.num));
  };
  for (const layer of graph.layers) {
    if (layer.kind !== 'conv') continue;
    const fromFrame = layer.input === graph.input;
    if (fromFrame && layer.inputTransform !== 'direct') throw unsupported(layer, 'the frames cannot be max-pooled before the first conv', source);
    requireDivisible(scale.get(layer.input)!, layer.inputTransform === 'maxpool2');
    requireDivisible(scale.get(layer.output)!, false);
    ops.push({
      op: 'conv',
      name: layer.nodeName,
      input: fromFrame ? frameView : viewOf(layer.input),
      inputTransform: fromFrame ? 'frame' : layer.inputTransform,
      output: viewOf(layer.output),
      cin: layer.cin,
      cout: layer.cout,
      upsample: layer.upsample,
      phases: layer.phases.map((p) => ({
        phaseY: p.phaseY,
        phaseX: p.phaseX,
        kh: p.kh,
        kw: p.kw,
        padTop: p.padTop,
        padLeft: p.padLeft,
        weightOffset: packer.push(p.weights),
      })),
      biasOffset: packer.push(layer.bias),
      relu: layer.relu,
    });
  }

  const { conv, factor, channelOf } = head;
  if (conv.input === graph.input) throw unsupported(conv, 'a network that is only a 1x1 conv on the frames', source);
  const headScale = scale.get(conv.input)!;
  const outScale = rational(headScale.num * factor, headScale.den);
  // A maps head writes the output grid; a localization head writes detections at camera resolution.
  const expectedScale = locHead ? 1 : metadata.upsampling;
  if (outScale.den !== 1 || outScale.num !== expectedScale) {
    const says = locHead ? 'the localization head must read camera-resolution features' : `its metadata says upsampling ${metadata.upsampling}`;
    throw new SmlmError('E_MODEL_INVALID', `${source}: the network's output grid is ${outScale.num}/${outScale.den} times the frame, but ${says}`, { source });
  }
  const cin = conv.cin;
  if (locHead) {
    // The rendered rows are the conv's first output channels (the metadata fixes the order): p, dx, dy of every cell,
    // and sx, sy too when the widths are predicted (sx, sy only matter for localize otherwise).
    const { sigma, sigmaRange } = locHead.render;
    const widths = sigma === 'predicted' ? { sigmaMode: 'predicted' as const, renderSigma: 0, sigmaRange: sigmaRange! } : { sigmaMode: 'fixed' as const, renderSigma: sigma };
    const allRows = 5 * cellsPerPixel(locHead) ** 2;
    const renderedRows = localizationRows === 'all' ? allRows : localizationHeadRows({ grid: cellsPerPixel(locHead), sigmaMode: widths.sigmaMode });
    ops.push({
      op: 'localization-head',
      name: conv.nodeName,
      input: viewOf(conv.input),
      inputTransform: 'direct',
      cin,
      weightOffset: packer.push(conv.phases[0].weights.slice(0, renderedRows * cin)),
      biasOffset: packer.push(conv.bias.slice(0, renderedRows)),
      upsampling: metadata.upsampling,
      grid: cellsPerPixel(locHead),
      maxOffset: locHead.maxOffset,
      ...widths,
      renderRadius: locHead.render.radius,
      minProbability: locHead.render.minProbability,
      ...(localizationRows === 'all' ? { rows: allRows } : {}),
    });
  } else {
    const headWeights = new Float32Array(factor * factor * cin);
    const headBias = new Float32Array(factor * factor);
    channelOf.forEach((ch, row) => {
      headWeights.set(conv.phases[0].weights.subarray(ch * cin, (ch + 1) * cin), row * cin);
      headBias[row] = conv.bias[ch];
    });
    ops.push({
      op: 'head',
      name: conv.nodeName,
      input: viewOf(conv.input),
      inputTransform: 'direct',
      cin,
      upscale: factor,
      weightOffset: packer.push(headWeights),
      biasOffset: packer.push(headBias),
    });
  }

  return {
    version: PLAN_VERSION,
    upsampling: metadata.upsampling,
    normalization: { ...metadata.normalization },
    sizeMultiple,
    minSize: Math.max(metadata.minSize, sizeMultiple),
    buffers,
    ops,
    weights: packer.finish(),
    modelHash,
  };
}
