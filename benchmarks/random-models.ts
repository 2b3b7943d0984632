/**
 * Random-weight smlm-rt models for benchmarks (timing without trained weights) and tests, built with
 * lib/model/onnx-builder.ts. They follow the op patterns of the real models exported from PyTorch
 * (torch.onnx.export, opset 17): Conv (+BatchNormalization unless folded) + Relu, MaxPool 2x2, Resize nearest with
 * an empty roi and a scales tensor, ConvTranspose 2x2/s2, Concat skips, a final 1x1 Conv (+ DepthToSpace).
 * Everything is deterministic from `seed`.
 */
import { OnnxModelBuilder, type ResizeNearestOptions } from '../lib/model/onnx-builder.js';
import { createHash } from 'node:crypto';
import { parseModelMetadata, serializeModelMetadata, type ModelMetadata } from '../lib/model/metadata.js';
import { decodeOnnx, metadataProps, type LoadedModel } from '../lib/model/onnx.js';
import { LOCALIZATION_CHANNELS, type LocalizationHead } from '../lib/model/head.js';

/** mulberry32: a tiny, well-mixed 32-bit PRNG; good enough for weights and test frames. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function uniform(rand: () => number, count: number, lo: number, hi: number): Float32Array {
  return Float32Array.from({ length: count }, () => lo + (hi - lo) * rand());
}

/** Deep-STORM's dataset normalization constants (Nehme et al. 2018, demo code). */
export const DEEPSTORM_NORMALIZATION = { kind: 'minmax-zscore', mean: 0.19608, std: 0.17764 } as const;

/** Layer-by-layer writer that keeps the random weights in a sane range (He-like scale), so activations neither vanish nor explode. */
class RandomNetWriter {
  constructor(
    readonly b: OnnxModelBuilder,
    readonly rand: () => number,
    readonly withBatchNorm: boolean,
  ) {}

  /** Conv kxk (+BN) + ReLU, torch style: bias only when there is no BN (nn.Conv2d(bias=False) before BatchNorm2d). */
  convBnRelu(x: string, cin: number, cout: number, k = 3): string {
    const bound = Math.sqrt(6 / (cin * k * k));
    let y = this.b.conv(x, {
      weight: uniform(this.rand, cout * cin * k * k, -bound, bound),
      weightDims: [cout, cin, k, k],
      bias: this.withBatchNorm ? undefined : uniform(this.rand, cout, -0.1, 0.2),
    });
    if (this.withBatchNorm) y = this.batchNorm(y, cout);
    return this.b.relu(y);
  }

  batchNorm(x: string, c: number): string {
    return this.b.batchNorm(x, {
      scale: uniform(this.rand, c, 0.5, 1.5),
      bias: uniform(this.rand, c, -0.2, 0.3),
      mean: uniform(this.rand, c, -0.3, 0.3),
      variance: uniform(this.rand, c, 0.5, 2),
      epsilon: 1e-5,
    });
  }

  /**
   * 1x1 output conv. Its inputs are ReLU outputs (>= 0), so weights of alternating sign per input channel make the
   * map take both signs whatever the seed: part of it survives the clamp, part does not.
   */
  conv1x1(x: string, cin: number, cout: number): string {
    const bound = Math.sqrt(3 / cin);
    const weight = uniform(this.rand, cout * cin, 0.2 * bound, bound).map((w, i) => (i % 2 === 0 ? w : -w));
    return this.b.conv(x, {
      weight,
      weightDims: [cout, cin, 1, 1],
      bias: uniform(this.rand, cout, -0.1, 0.1),
      pads: [0, 0, 0, 0],
    });
  }

  /** 1x1 conv with bias + ReLU: scripts/models.py's per-pixel renderer before the head (no BatchNorm there). */
  renderer(x: string, cin: number, cout: number): string {
    const bound = Math.sqrt(6 / cin);
    const y = this.b.conv(x, {
      weight: uniform(this.rand, cout * cin, -bound, bound),
      weightDims: [cout, cin, 1, 1],
      bias: uniform(this.rand, cout, -0.1, 0.2),
      pads: [0, 0, 0, 0],
    });
    return this.b.relu(y);
  }

  convTranspose2x2(x: string, cin: number, cout: number, relu = true): string {
    const bound = Math.sqrt(6 / cin);
    let y = this.b.convTranspose(x, {
      weight: uniform(this.rand, cin * cout * 4, -bound, bound),
      weightDims: [cin, cout, 2, 2],
      bias: this.withBatchNorm ? undefined : uniform(this.rand, cout, -0.1, 0.2),
      strides: [2, 2],
    });
    if (this.withBatchNorm) y = this.batchNorm(y, cout);
    return relu ? this.b.relu(y) : y;
  }
}

export interface DeepStormModelOptions {
  /** Channels of the first layer: widths are w-2w-4w-16w-4w-2w-w (w=32 is the real 32-64-128-512-128-64-32). Default 4. */
  width?: number;
  seed?: number;
  /** true (default): Conv without bias + BatchNormalization, as an unfolded export; false: Conv with bias. */
  withBatchNorm?: boolean;
  /** How the Resize nodes are written (default: torch's asymmetric + floor, scales as an initializer). */
  resize?: ResizeNearestOptions;
  /** Factor of the first (input) upsampling; default 8. */
  upsampling?: number;
}

/** Channel widths of Deep-STORM for a first-layer width: [c1, c2, c3, c4 (bottleneck)]. */
export function deepStormWidths(width: number): [number, number, number, number] {
  return [width, 2 * width, 4 * width, 16 * width];
}

/**
 * A Deep-STORM-shaped model: Resize x8 nearest -> [Conv3x3-BN-ReLU, MaxPool2] x3 -> Conv-BN-ReLU ->
 * [Resize x2 -> Conv-BN-ReLU] x3 -> Conv1x1 -> `maps`. Takes any frame size (sizeMultiple 1).
 */
export function makeDeepStormModel(options: DeepStormModelOptions = {}): Uint8Array {
  const { width = 4, seed = 1, withBatchNorm = true, resize = {}, upsampling = 8 } = options;
  const [c1, c2, c3, c4] = deepStormWidths(width);
  const b = new OnnxModelBuilder();
  const net = new RandomNetWriter(b, seededRandom(seed), withBatchNorm);
  let x = b.addInput('frames', ['N', 1, 'H', 'W']);
  x = b.resizeNearest(x, upsampling, resize);
  x = b.maxPool(net.convBnRelu(x, 1, c1));
  x = b.maxPool(net.convBnRelu(x, c1, c2));
  x = b.maxPool(net.convBnRelu(x, c2, c3));
  x = net.convBnRelu(x, c3, c4);
  x = net.convBnRelu(b.resizeNearest(x, 2, resize), c4, c3);
  x = net.convBnRelu(b.resizeNearest(x, 2, resize), c3, c2);
  x = net.convBnRelu(b.resizeNearest(x, 2, resize), c2, c1);
  x = net.conv1x1(x, c1, 1);
  b.addOutput('maps', ['N', 1, 'OH', 'OW'], x);
  const metadata = testMetadata({
    architecture: 'deepstorm',
    upsampling,
    outputPixelNm: 100 / upsampling,
    sizeMultiple: 1,
    // The three poolings act on the 8x upsampled frame, so any size works; below 8 px a frame holds no PSF.
    minSize: 8,
    training: { note: 'random weights for tests', seed, width, withBatchNorm },
  });
  return b.build({ metadata, graphName: 'deepstorm_random' });
}

/**
 * What torch.onnx.export writes for a hand-written pixel shuffle with dynamic shapes,
 *   n, _, h, w = x.shape
 *   x.reshape(n, 1, u, u, h, w).permute(0, 1, 4, 2, 5, 3).reshape(n, 1, h * u, w * u)
 * i.e. Shape -> Gather -> Unsqueeze -> Concat shape arithmetic feeding Reshape / Transpose / Reshape.
 */
export function torchStylePixelShuffle(b: OnnxModelBuilder, x: string, u: number): string {
  const shape = b.node('Shape', [x])[0];
  const dim = (index: number) => {
    const i = b.constant({ dims: [], dataType: 7, rawData: new Uint8Array(new BigInt64Array([BigInt(index)]).buffer) });
    return b.node('Gather', [shape, i], { axis: { kind: 'int', value: 0 } })[0];
  };
  const int64 = (v: number) => b.constant({ dims: [], dataType: 7, rawData: new Uint8Array(new BigInt64Array([BigInt(v)]).buffer) });
  const axes0 = () => b.constant({ dims: [1], dataType: 7, rawData: new Uint8Array(new BigInt64Array([0n]).buffer) });
  const vec = (scalars: string[]) => b.concat(scalars.map((s) => b.node('Unsqueeze', [s, axes0()])[0]), 0);
  const n = dim(0);
  const h = dim(2);
  const w = dim(3);
  let y = b.node('Reshape', [x, vec([n, int64(1), int64(u), int64(u), h, w])])[0];
  y = b.transpose(y, [0, 1, 4, 2, 5, 3]);
  const hu = b.node('Mul', [h, int64(u)])[0];
  const wu = b.node('Mul', [w, int64(u)])[0];
  return b.node('Reshape', [y, vec([n, int64(1), hu, wu])])[0];
}

export interface UNetModelOptions {
  /** Channels of the first level (levels: base, 2*base, 4*base). Default 4. */
  base?: number;
  seed?: number;
  /** true (default): BatchNormalization nodes after convs; false: convs with bias (BN already folded by the exporter). */
  withBatchNorm?: boolean;
  /** DepthToSpace mode of the head (same result for one output channel; both appear in exports). Default 'CRD'. */
  depthToSpaceMode?: 'CRD' | 'DCR';
  /** Write the head's pixel shuffle as Reshape/Transpose/Reshape (a hand-written pixel shuffle) instead of DepthToSpace. */
  pixelShuffleAsTranspose?: boolean;
  /** End with Relu after the head (some exports clamp inside the network). */
  finalRelu?: boolean;
  upsampling?: number;
  /**
   * Super-resolving stages after d1, as scripts/models.py writes them: ConvTranspose 2x2/s2 (no ReLU, channels
   * halved) then two conv-BN-ReLU at the doubled resolution; the head's shuffle shrinks to upsampling / 2^stages.
   */
  srStages?: number;
  /** Channels of a per-pixel renderer (1x1 conv + bias + ReLU) before the head, as scripts/models.py's head_hidden. Default 0: none. */
  headHidden?: number;
  /**
   * End in a localization head instead (model contract, lib/model/head.ts): a 1x1 conv to 5g^2 raw channels at camera
   * resolution, output `detections` [N,5g^2,H,W], metadata `smlm.head` with these render settings, outputScale 1.
   */
  localization?: LocalizationRenderSettings;
}

/** The numbers of a localization head a test chooses (channels are fixed by the contract). */
export interface LocalizationRenderSettings {
  maxOffset: number;
  /** A fixed width (fine px) or "predicted" (each detection's own widths, clamped to sigmaRange). */
  sigma: number | 'predicted';
  /** [lo, hi] fine px; with sigma "predicted" only. */
  sigmaRange?: [number, number];
  radius: number;
  minProbability: number;
  /** Detection cells per camera pixel and axis; absent = no `grid` key in the metadata (g = 1). */
  grid?: number;
}

export function localizationHead(settings: LocalizationRenderSettings): LocalizationHead {
  const { maxOffset, sigma, sigmaRange, radius, minProbability, grid } = settings;
  const widths = sigmaRange === undefined ? { sigma } : { sigma, sigmaRange };
  return { kind: 'localization', channels: LOCALIZATION_CHANNELS, ...(grid === undefined ? {} : { grid }), maxOffset, render: { ...widths, radius, minProbability } };
}

/**
 * A small U-Net at camera resolution:
 *   e1 = CBR(1,b), CBR(b,b)                   (H)
 *   e2 = CBR(pool(e1), 2b), CBR(2b,2b)         (H/2)
 *   m  = CBR(pool(e2), 4b)                     (H/4)
 *   d2 = CBR(concat(ConvT2x2(m)->2b, e2), 2b)  (H/2)
 *   d1 = CBR(concat(Conv(Resize2(d2))->b, e1), b)  (H)
 *   maps = DepthToSpace(Conv1x1(d1 -> u*u), u)  (H*u)
 * Frame sides must be multiples of 4 (two poolings).
 */
export function makeUNetModel(options: UNetModelOptions = {}): Uint8Array {
  const { base = 4, seed = 2, withBatchNorm = true, depthToSpaceMode = 'CRD', pixelShuffleAsTranspose = false, finalRelu = false, upsampling = 8, srStages = 0, headHidden = 0, localization } = options;
  const b = new OnnxModelBuilder();
  const net = new RandomNetWriter(b, seededRandom(seed), withBatchNorm);
  const input = b.addInput('frames', ['N', 1, 'H', 'W']);
  const e1 = net.convBnRelu(net.convBnRelu(input, 1, base), base, base);
  const e2 = net.convBnRelu(net.convBnRelu(b.maxPool(e1), base, 2 * base), 2 * base, 2 * base);
  const m = net.convBnRelu(b.maxPool(e2), 2 * base, 4 * base);
  const up2 = net.convTranspose2x2(m, 4 * base, 2 * base);
  const d2 = net.convBnRelu(b.concat([up2, e2]), 4 * base, 2 * base);
  const up1 = net.convBnRelu(b.resizeNearest(d2, 2), 2 * base, base);
  let features = net.convBnRelu(b.concat([up1, e1]), 2 * base, base);
  let channels = base;
  for (let s = 0; s < srStages; s++) {
    const half = Math.max(1, channels >> 1);
    features = net.convTranspose2x2(features, channels, half, false);
    features = net.convBnRelu(net.convBnRelu(features, half, half), half, half);
    channels = half;
  }
  if (headHidden > 0) {
    features = net.renderer(features, channels, headHidden);
    channels = headHidden;
  }
  if (localization) {
    if (srStages) throw new Error('makeUNetModel: a localization head reads camera-resolution features (srStages 0)');
    const detectionChannels = 5 * (localization.grid ?? 1) ** 2;
    b.addOutput('detections', ['N', detectionChannels, 'H', 'W'], net.conv1x1(features, channels, detectionChannels));
    const metadata = testMetadata({
      architecture: 'unet-loc',
      upsampling,
      outputPixelNm: 100 / upsampling,
      outputScale: 1,
      sizeMultiple: 4,
      minSize: 8,
      training: { note: 'random weights for tests', seed, base, withBatchNorm, ...(headHidden ? { headHidden } : {}) },
      head: localizationHead(localization),
    });
    return b.build({ metadata, graphName: 'unet_loc_random' });
  }
  const u = upsampling >> srStages;
  let out = net.conv1x1(features, channels, u * u);
  out = pixelShuffleAsTranspose ? torchStylePixelShuffle(b, out, u) : b.depthToSpace(out, u, depthToSpaceMode);
  if (finalRelu) out = b.relu(out);
  b.addOutput('maps', ['N', 1, 'OH', 'OW'], out);
  const metadata = testMetadata({
    architecture: 'unet',
    upsampling,
    outputPixelNm: 100 / upsampling,
    sizeMultiple: 4,
    minSize: 8,
    training: { note: 'random weights for tests', seed, base, withBatchNorm, srStages, ...(headHidden ? { headHidden } : {}) },
  });
  return b.build({ metadata, graphName: 'unet_random' });
}

/** A LoadedModel (as lib/model/onnx.ts's loadOnnxModel returns) from bytes in memory. */
export function loadedModelFromBytes(bytes: Uint8Array, name = 'test-model.onnx'): LoadedModel {
  const proto = decodeOnnx(bytes, name);
  return { name, path: name, bytes, proto, metadata: parseModelMetadata(metadataProps(proto), name), hash: createHash('sha256').update(bytes).digest('hex') };
}

/** Metadata for hand-built test graphs. */
export function testMetadata(overrides: Partial<ModelMetadata> = {}): Record<string, string> {
  return serializeModelMetadata({
    architecture: 'test',
    upsampling: 8,
    cameraPixelNm: 100,
    outputPixelNm: 12.5,
    normalization: { ...DEEPSTORM_NORMALIZATION },
    outputScale: 100,
    sizeMultiple: 1,
    minSize: 4,
    training: {},
    ...overrides,
  });
}

/**
 * Multiply-accumulates per frame of the ONNX graph as written (no rewrites): Conv counts out_pixels * cin * kh * kw
 * per output channel, ConvTranspose in_pixels * cin * cout * kh * kw. Shapes are propagated through the op set the
 * helpers write; independent of the compiler on purpose.
 */
export function naiveMacsPerFrame(bytes: Uint8Array, height: number, width: number): number {
  const proto = decodeOnnx(bytes, 'naive-macs');
  const graph = proto.graph!;
  const dims = new Map<string, number[]>();
  const floats = new Map<string, number[]>();
  for (const t of graph.initializer ?? []) {
    dims.set(t.name!, (t.dims ?? []).map(Number));
    if (t.dataType === 1 && t.rawData) floats.set(t.name!, Array.from(new Float32Array(new Uint8Array(t.rawData).buffer)));
  }
  const shapes = new Map<string, number[]>([[graph.input![0].name!, [1, height, width]]]); // [C, H, W]
  let macs = 0;
  for (const node of graph.node ?? []) {
    const value = node.opType === 'Constant' ? node.attribute?.find((at) => at.name === 'value')?.t : undefined;
    if (value) floats.set(node.output![0], value.rawData?.length ? Array.from(new Float32Array(new Uint8Array(value.rawData).buffer)) : (value.floatData ?? []));
    const x = shapes.get(node.input?.[0] ?? '');
    if (!x) continue; // constants and shape arithmetic
    const out = node.output![0];
    const a = (name: string) => node.attribute?.find((at) => at.name === name);
    switch (node.opType) {
      case 'Conv': {
        const [cout, cin, kh, kw] = dims.get(node.input![1])!;
        macs += x[1] * x[2] * cout * cin * kh * kw;
        shapes.set(out, [cout, x[1], x[2]]);
        break;
      }
      case 'ConvTranspose': {
        const [cin, cout, kh, kw] = dims.get(node.input![1])!;
        const s = Number(a('strides')!.ints![0]);
        macs += x[1] * x[2] * cin * cout * kh * kw;
        shapes.set(out, [cout, x[1] * s, x[2] * s]);
        break;
      }
      case 'MaxPool':
        shapes.set(out, [x[0], Math.floor(x[1] / 2), Math.floor(x[2] / 2)]);
        break;
      case 'Resize': {
        const scales = floats.get(node.input![2])!;
        shapes.set(out, [x[0], x[1] * scales[2], x[2] * scales[3]]);
        break;
      }
      case 'Concat':
        shapes.set(out, [node.input!.reduce((sum, i) => sum + shapes.get(i)![0], 0), x[1], x[2]]);
        break;
      case 'DepthToSpace': {
        const s = Number(a('blocksize')!.i);
        shapes.set(out, [x[0] / (s * s), x[1] * s, x[2] * s]);
        break;
      }
      default:
        shapes.set(out, x);
    }
  }
  return macs;
}
