import { SmlmError } from '../errors.js';
import type { Normalization } from '../model/metadata.js';
import type { Stack } from '../types.js';
import { LOCALIZATION_CHANNELS } from '../model/head.js';
import { renderFrame, type DetectionGrid } from '../render-detections.js';
import { localizationHeadRows, type ConvOp, type HeadOp, type LocalizationHeadOp, type Plan, type PlanView } from './plan.js';

/**
 * A deliberately plain fp32 executor of a Plan, written straight from the semantics in plan.ts. It is the yardstick
 * for the compiler (plan vs the original ONNX in onnxruntime) and for the native engine (GPU vs this), not a fast path.
 * Arithmetic is in float64 JS numbers, stored as float32 between ops.
 */

export interface ReferenceResult {
  /** frames x outHeight x outWidth; clamped at zero unless `rawMaps` was asked for. */
  maps: Float32Array;
  /** outHeight x outWidth: sum over frames of the clamped maps (raw network units). */
  image: Float32Array;
  outHeight: number;
  outWidth: number;
  /**
   * Localization-head plans only: frames x 5g^2 x height x width raw head values at camera resolution, the layout of
   * the ONNX `detections` output; the sx, sy channels (3g^2 onwards) are zero because the plan does not compute them.
   */
  detections?: Float32Array;
}

export interface ReferenceOptions {
  /** Keep the head's values before the clamp in `maps` (the image is always the sum of clamped maps). */
  rawMaps?: boolean;
}

/** An activation tensor in NHWC (one frame): height x width x channels, row-major. */
interface Tensor {
  data: Float32Array;
  height: number;
  width: number;
  channels: number;
}

/** Deep-STORM's per-frame normalization; a constant frame scales to 0 (as lib/preprocess.ts defines it). */
export function normalizeFrameReference(stack: Stack, frame: number, normalization: Normalization): Float32Array {
  const n = stack.height * stack.width;
  const src = stack.data.subarray(frame * n, (frame + 1) * n);
  let min = Infinity;
  let max = -Infinity;
  for (const v of src) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const out = new Float32Array(n);
  const range = max - min;
  for (let i = 0; i < n; i++) out[i] = ((range > 0 ? (src[i] - min) / range : 0) - normalization.mean) / normalization.std;
  return out;
}

function checkFrameSize(plan: Plan, stack: Stack): void {
  for (const [axis, size] of [['height', stack.height], ['width', stack.width]] as const) {
    if (size < plan.minSize || size % plan.sizeMultiple !== 0) {
      throw new SmlmError(
        'E_FRAME_SIZE_UNSUPPORTED',
        `frame ${axis} ${size} is not supported by this model: it must be a multiple of ${plan.sizeMultiple} and at least ${plan.minSize}`,
        { height: stack.height, width: stack.width, sizeMultiple: plan.sizeMultiple, minSize: plan.minSize },
      );
    }
  }
  if (stack.data.length < stack.frames * stack.height * stack.width) throw new SmlmError('E_BAD_OPTIONS', 'stack data is shorter than frames x height x width');
}

/** The channels of `view` read from `tensor` (which holds the whole buffer), as a tensor of their own. */
function readView(tensor: Tensor, view: PlanView): Tensor {
  if (view.channelOffset === 0 && view.channels === tensor.channels) return tensor;
  const { height, width } = tensor;
  const data = new Float32Array(height * width * view.channels);
  for (let p = 0; p < height * width; p++) {
    for (let c = 0; c < view.channels; c++) data[p * view.channels + c] = tensor.data[p * tensor.channels + view.channelOffset + c];
  }
  return { data, height, width, channels: view.channels };
}

function maxPool2(t: Tensor): Tensor {
  const height = t.height / 2;
  const width = t.width / 2;
  if (!Number.isInteger(height) || !Number.isInteger(width)) throw new Error(`reference: maxpool2 of odd size ${t.height}x${t.width}`);
  const c = t.channels;
  const data = new Float32Array(height * width * c);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let ch = 0; ch < c; ch++) {
        const at = (yy: number, xx: number) => t.data[(yy * t.width + xx) * c + ch];
        data[(y * width + x) * c + ch] = Math.max(at(2 * y, 2 * x), at(2 * y, 2 * x + 1), at(2 * y + 1, 2 * x), at(2 * y + 1, 2 * x + 1));
      }
    }
  }
  return { data, height, width, channels: c };
}

function runConv(op: ConvOp, input: Tensor, output: Tensor, weights: Float32Array): void {
  const { cin, cout, upsample: u } = op;
  if (input.channels !== cin) throw new Error(`reference: ${op.name} reads ${input.channels} channels, expects ${cin}`);
  if (output.height !== input.height * u || output.width !== input.width * u) {
    throw new Error(`reference: ${op.name} writes ${input.height * u}x${input.width * u} into a ${output.height}x${output.width} buffer`);
  }
  for (const p of op.phases) {
    for (let oy = 0; oy < input.height; oy++) {
      for (let ox = 0; ox < input.width; ox++) {
        const dst = ((u * oy + p.phaseY) * output.width + (u * ox + p.phaseX)) * output.channels + op.output.channelOffset;
        for (let co = 0; co < cout; co++) {
          let acc = weights[op.biasOffset + co];
          for (let ky = 0; ky < p.kh; ky++) {
            const iy = oy + ky - p.padTop;
            if (iy < 0 || iy >= input.height) continue;
            for (let kx = 0; kx < p.kw; kx++) {
              const ix = ox + kx - p.padLeft;
              if (ix < 0 || ix >= input.width) continue;
              const w = p.weightOffset + ((co * p.kh + ky) * p.kw + kx) * cin;
              const src = (iy * input.width + ix) * cin;
              for (let ci = 0; ci < cin; ci++) acc += weights[w + ci] * input.data[src + ci];
            }
          }
          output.data[dst + co] = op.relu && acc < 0 ? 0 : acc;
        }
      }
    }
  }
}

function runHead(op: HeadOp, input: Tensor, weights: Float32Array, map: Float32Array, outWidth: number, raw: boolean, image: Float32Array): void {
  const s = op.upscale;
  for (let y = 0; y < input.height; y++) {
    for (let x = 0; x < input.width; x++) {
      const src = (y * input.width + x) * input.channels;
      for (let i = 0; i < s; i++) {
        for (let j = 0; j < s; j++) {
          const row = i * s + j;
          let acc = weights[op.biasOffset + row];
          const w = op.weightOffset + row * op.cin;
          for (let ci = 0; ci < op.cin; ci++) acc += weights[w + ci] * input.data[src + ci];
          const at = (s * y + i) * outWidth + (s * x + j);
          const clamped = acc > 0 ? acc : 0;
          map[at] = raw ? acc : clamped;
          image[at] += clamped;
        }
      }
    }
  }
}

/**
 * The head's raw rows (p, dx, dy: 3g^2; and sx, sy: 5g^2 with predicted widths) for one frame into `detections` (5g^2
 * channels per frame, frame `frame`, the ONNX layout: the plan's rows are the network's first channels), then its map.
 */
function runLocalizationHead(op: LocalizationHeadOp, input: Tensor, weights: Float32Array, frame: number, detections: Float32Array, map: Float32Array, image: Float32Array): void {
  const plane = input.height * input.width;
  const channels = 5 * op.grid * op.grid;
  const rows = localizationHeadRows(op);
  for (let p = 0; p < plane; p++) {
    const src = p * input.channels;
    for (let row = 0; row < rows; row++) {
      let acc = weights[op.biasOffset + row];
      const w = op.weightOffset + row * op.cin;
      for (let ci = 0; ci < op.cin; ci++) acc += weights[w + ci] * input.data[src + ci];
      detections[(frame * channels + row) * plane + p] = acc;
    }
  }
  const grid: DetectionGrid = {
    upsampling: op.upsampling,
    head: {
      kind: 'localization',
      channels: LOCALIZATION_CHANNELS,
      maxOffset: op.maxOffset,
      grid: op.grid,
      render: {
        ...(op.sigmaMode === 'predicted' ? { sigma: 'predicted' as const, sigmaRange: op.sigmaRange } : { sigma: op.renderSigma }),
        radius: op.renderRadius,
        minProbability: op.minProbability,
      },
    },
  };
  renderFrame(detections, frame, input.height, input.width, grid, map);
  for (let i = 0; i < map.length; i++) image[i] += map[i];
}

/** Runs `plan` on every frame of `stack` (uint8/uint16/float32 pixels, normalized here as the plan says). */
export function runPlanReference(plan: Plan, stack: Stack, options: ReferenceOptions = {}): ReferenceResult {
  checkFrameSize(plan, stack);
  const outHeight = stack.height * plan.upsampling;
  const outWidth = stack.width * plan.upsampling;
  const maps = new Float32Array(stack.frames * outHeight * outWidth);
  const image = new Float32Array(outHeight * outWidth);
  const localization = plan.ops.at(-1)?.op === 'localization-head';
  const last = plan.ops.at(-1);
  const cells = last?.op === 'localization-head' ? last.grid * last.grid : 1;
  const detections = localization ? new Float32Array(stack.frames * 5 * cells * stack.height * stack.width) : undefined;
  const buffers = new Map<number, Tensor>();
  for (const b of plan.buffers) {
    const height = (stack.height * b.scaleNum) / b.scaleDen;
    const width = (stack.width * b.scaleNum) / b.scaleDen;
    if (!Number.isInteger(height) || !Number.isInteger(width)) throw new Error(`reference: buffer ${b.id} has a fractional size`);
    buffers.set(b.id, { data: new Float32Array(height * width * b.channels), height, width, channels: b.channels });
  }
  const buffer = (id: number) => {
    const t = buffers.get(id);
    if (!t) throw new Error(`reference: unknown buffer ${id}`);
    return t;
  };
  for (let f = 0; f < stack.frames; f++) {
    const frame: Tensor = { data: normalizeFrameReference(stack, f, plan.normalization), height: stack.height, width: stack.width, channels: 1 };
    const map = maps.subarray(f * outHeight * outWidth, (f + 1) * outHeight * outWidth);
    for (const op of plan.ops) {
      if (op.op === 'conv') {
        let input = op.inputTransform === 'frame' ? frame : readView(buffer(op.input.buffer), op.input);
        if (op.inputTransform === 'maxpool2') input = maxPool2(input);
        runConv(op, input, buffer(op.output.buffer), plan.weights);
      } else if (op.op === 'localization-head') {
        const input = readView(buffer(op.input.buffer), op.input);
        if (input.height !== stack.height || input.width !== stack.width || op.upsampling !== plan.upsampling) {
          throw new Error(`reference: localization head reads ${input.height}x${input.width}, not the ${stack.height}x${stack.width} frame`);
        }
        runLocalizationHead(op, input, plan.weights, f, detections!, map, image);
      } else {
        const input = readView(buffer(op.input.buffer), op.input);
        if (input.height * op.upscale !== outHeight || input.width * op.upscale !== outWidth) {
          throw new Error(`reference: head output ${input.height * op.upscale}x${input.width * op.upscale} is not the ${outHeight}x${outWidth} map`);
        }
        runHead(op, input, plan.weights, map, outWidth, options.rawMaps ?? false, image);
      }
    }
  }
  return { maps, image, outHeight, outWidth, ...(detections ? { detections } : {}) };
}
