/**
 * The memory a model's graph needs, known before any backend runs it. The compiler's parser already follows every
 * tensor's shape symbolically (N frames of H x W px); here each intermediate and output tensor's element count is
 * reduced to "elements per frame pixel", so that a graph that blows up (a Resize by 10000, a 2 KB file that asks for
 * gigabytes) is refused at load with E_MODEL_INVALID, and a frame size or batch whose tensors would not fit in memory
 * is refused or cut before onnxruntime or the GPU engine allocates anything.
 */
import { formatBytes, maxArrayBytes } from '../allocation.js';
import { SmlmError } from '../errors.js';
import type { LoadedModel } from '../model/onnx.js';
import type { SymDim } from './passes/ir.js';
import { parseOnnxGraph } from './passes/parse.js';
import { symProduct, symToString } from './passes/symbolic.js';

/**
 * A tensor may hold at most this many elements per frame pixel. Deep-STORM's widest, 64 channels at 8x8 upsampling,
 * holds 4096; 65536 leaves room for wider models while refusing graphs that could not run on a 64x64 frame.
 */
export const MAX_ELEMENTS_PER_FRAME_PIXEL = 65536;
/** Bytes per element the bound assumes: the cpu backend's float32 (the GPU engine's fp16 needs half). */
const BYTES_PER_ELEMENT = 4;
const FRAME_SYMBOLS = ['N', 'H', 'W'];

export interface GraphFootprint {
  /** Elements of the graph's largest tensor per frame pixel: at most this times frames x height x width. */
  elementsPerFramePixel: number;
  /** That tensor's name and symbolic shape, for messages. */
  largestTensor: string;
  largestShape: string;
}

function invalid(source: string, message: string, details: Record<string, unknown> = {}): SmlmError {
  return new SmlmError('E_MODEL_INVALID', `${source}: ${message}`, { source, ...details });
}

/** Elements per frame pixel of a tensor of `shape`, or undefined when its size does not grow linearly with N, H, W. */
function perFramePixel(shape: SymDim[]): number | undefined {
  const total = symProduct(shape);
  const counts = new Map<string, number>();
  for (const s of total.symbols) counts.set(s, (counts.get(s) ?? 0) + 1);
  // Each of N, H and W at most once (a missing one only makes the tensor smaller), and no other symbol.
  for (const [symbol, count] of counts) if (!FRAME_SYMBOLS.includes(symbol) || count > 1) return undefined;
  return total.coef;
}

/**
 * Parses the model's graph and bounds its tensors. Throws E_MODEL_INVALID when a shape cannot be computed (an
 * operator smlm-rt does not know), grows faster than the frames, or exceeds MAX_ELEMENTS_PER_FRAME_PIXEL.
 */
export function graphFootprint(model: LoadedModel): GraphFootprint {
  const source = model.path || model.name;
  const graph = parseOnnxGraph(model.proto, source);
  let footprint: GraphFootprint = { elementsPerFramePixel: 0, largestTensor: '', largestShape: '' };
  for (const [name, shape] of graph.shapes) {
    const shapeText = `[${shape.map(symToString).join(', ')}]`;
    const elements = perFramePixel(shape);
    if (elements === undefined) throw invalid(source, `tensor "${name}" of shape ${shapeText} does not grow linearly with the frames and their size`, { tensor: name });
    if (!(elements <= MAX_ELEMENTS_PER_FRAME_PIXEL)) {
      throw invalid(
        source,
        `tensor "${name}" of shape ${shapeText} holds ${elements} values per frame pixel (at most ${MAX_ELEMENTS_PER_FRAME_PIXEL}: ${formatBytes(elements * BYTES_PER_ELEMENT * 64 * 64)} for one 64x64 frame)`,
        { tensor: name, elementsPerFramePixel: elements },
      );
    }
    if (elements > footprint.elementsPerFramePixel) footprint = { elementsPerFramePixel: elements, largestTensor: name, largestShape: shapeText };
  }
  return footprint;
}

/**
 * Frames per batch for frames of height x width: `requested`, cut so that the largest tensor of a batch fits in
 * half of this machine's memory. E_FRAME_SIZE_UNSUPPORTED (with the bytes) when not even one frame fits.
 */
export function batchWithinMemory(footprint: GraphFootprint, height: number, width: number, requested: number, modelName: string): number {
  const bytesPerFrame = footprint.elementsPerFramePixel * height * width * BYTES_PER_ELEMENT;
  const limit = maxArrayBytes();
  if (bytesPerFrame > limit) {
    throw new SmlmError(
      'E_FRAME_SIZE_UNSUPPORTED',
      `model "${modelName}" needs ${formatBytes(bytesPerFrame)} for its tensor "${footprint.largestTensor}" ${footprint.largestShape} on one ${width} x ${height} px frame, more than half of this machine's memory (${formatBytes(2 * limit)}); use smaller frames`,
      { bytes: bytesPerFrame, height, width },
    );
  }
  return bytesPerFrame > 0 ? Math.max(1, Math.min(requested, Math.floor(limit / bytesPerFrame))) : requested;
}
