/**
 * Refuses ONNX models whose floating-point constants hold NaN or infinities. Such a model runs "successfully" on
 * every backend and returns an image of Infinity or NaN (or, after the clamp, silent zeros), so it is refused at load
 * with the name of the first bad tensor instead.
 */
import { SmlmError } from '../errors.js';
import type { OnnxModelProto } from './onnx.js';
import onnxProto from 'onnx-proto';
import { constantNodeValue, decodeTensor } from './onnx-values.js';

const T = onnxProto.onnx.TensorProto.DataType;
/** The float types decodeTensor reads (bfloat16 is not decoded: no exporter smlm-rt supports writes it). */
const FLOAT_TYPES: ReadonlySet<number> = new Set([T.FLOAT, T.FLOAT16, T.DOUBLE]);

function firstNonFinite(values: Float64Array): number {
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) return i;
  return -1;
}

function refuse(source: string, what: string, name: string, index: number, value: number): SmlmError {
  return new SmlmError('E_MODEL_INVALID', `${source}: ${what} "${name}" holds a non-finite weight (${value} at index ${index}); the model would produce an image of NaN or Infinity`, {
    source,
    initializer: name,
    index,
  });
}

/** Throws E_MODEL_INVALID naming the first float initializer or Constant node with a NaN or infinite value. */
export function checkFiniteWeights(proto: OnnxModelProto, source: string): void {
  const graph = proto.graph;
  if (!graph) return;
  for (const tensor of graph.initializer ?? []) {
    if (!FLOAT_TYPES.has(tensor.dataType ?? 0)) continue;
    const decoded = decodeTensor(tensor);
    if (!decoded) continue;
    const i = firstNonFinite(decoded.values);
    if (i >= 0) throw refuse(source, 'initializer', tensor.name ?? '?', i, decoded.values[i]);
  }
  for (const node of graph.node ?? []) {
    if (node.opType !== 'Constant') continue;
    const decoded = constantNodeValue(node);
    if (!decoded || decoded.isInteger) continue;
    const i = firstNonFinite(decoded.values);
    if (i >= 0) throw refuse(source, 'Constant node', node.name || (node.output ?? [])[0] || '?', i, decoded.values[i]);
  }
}
