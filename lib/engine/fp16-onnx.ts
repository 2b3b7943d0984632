import type { onnx as OnnxTypes } from 'onnx-proto';
import { SmlmError } from '../errors.js';
import { decodeOnnx, onnx } from '../model/onnx.js';
import { decodeTensor } from '../model/onnx-values.js';

/**
 * FP16 copy of an ONNX model, for TensorRT 11's strongly typed networks (which run every tensor in the type the
 * ONNX file declares). Float32 weights and constants on the activation path become float16, the `frames` input and
 * `maps` output are declared float16. Tensors the ONNX spec requires in float32 stay float32: Resize's `scales`
 * (and its `roi`, whose type is independent of the data). Shape arithmetic (Shape -> Cast(float) -> Mul -> ...)
 * is not on the activation path and is left alone. Metadata is kept unchanged.
 */

const FLOAT = onnx.TensorProto.DataType.FLOAT;
const FLOAT16 = onnx.TensorProto.DataType.FLOAT16;

/** Input slots that keep their float32 type whatever the data type (opType -> input indices). */
const FLOAT32_SLOTS: Record<string, number[]> = { Resize: [1, 2, 3] };

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float32 -> IEEE half bits, round to nearest even; NaN stays NaN, overflow becomes +-Inf. */
export function floatToHalfBits(value: number): number {
  f32[0] = value;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign; // underflows to +-0
    const m = mant | 0x800000; // implicit leading 1
    const shift = 14 - e;
    const half = m >>> shift;
    const rest = m & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    return sign | (rest > mid || (rest === mid && half & 1) ? half + 1 : half);
  }
  const half = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  // Rounding up may carry into the exponent, which is the correct result (up to Inf).
  return sign | (rest > 0x1000 || (rest === 0x1000 && half & 1) ? half + 1 : half);
}

const HALF_MAX = 65504;

function toHalfTensor(tensor: OnnxTypes.ITensorProto, what: string): OnnxTypes.ITensorProto {
  const decoded = decodeTensor(tensor);
  if (!decoded) throw new SmlmError('E_MODEL_INVALID', `fp16 conversion: cannot read ${what}`, { tensor: tensor.name });
  const bits = new Uint16Array(decoded.values.length);
  decoded.values.forEach((v, i) => {
    if (Number.isFinite(v) && Math.abs(v) > HALF_MAX) {
      throw new SmlmError('E_MODEL_INVALID', `fp16 conversion: ${what} holds ${v}, beyond the float16 range (${HALF_MAX})`, { tensor: tensor.name });
    }
    bits[i] = floatToHalfBits(v);
  });
  return {
    name: tensor.name,
    dims: tensor.dims,
    dataType: FLOAT16,
    rawData: new Uint8Array(bits.buffer),
    docString: tensor.docString,
  };
}

function setElemType(info: OnnxTypes.IValueInfoProto): void {
  const tensorType = info.type?.tensorType;
  if (tensorType && tensorType.elemType === FLOAT) tensorType.elemType = FLOAT16;
}

/** Returns the model with float16 weights and float16 input/output (see the module comment). */
export function convertOnnxToFp16(bytes: Uint8Array): Uint8Array {
  const model = decodeOnnx(bytes, 'fp16 conversion');
  const graph = model.graph!;
  const nodes = graph.node ?? [];

  // Tensors computed from the graph inputs in the data type (not shapes or indices).
  const activations = new Set((graph.input ?? []).filter((i) => i.type?.tensorType?.elemType === FLOAT).map((i) => i.name ?? ''));
  for (const node of nodes) {
    const reads = (node.input ?? []).some((name, slot) => activations.has(name) && !(FLOAT32_SLOTS[node.opType ?? ''] ?? []).includes(slot));
    if (!reads || node.opType === 'Shape') continue;
    if (node.opType === 'Cast') {
      const to = node.attribute?.find((a) => a.name === 'to');
      if (!to || Number(to.i) !== FLOAT) continue;
      to.i = FLOAT16; // a cast to float on the data path stays in the data type
    }
    for (const out of node.output ?? []) activations.add(out);
  }

  // Float constants read by data-path nodes in data slots become float16. A constant read both as data and in a
  // float32 slot would need two copies; exporters never share those, so refuse rather than guess.
  const toHalf = new Set<string>();
  const keepFloat = new Set<string>();
  for (const node of nodes) {
    if (!(node.output ?? []).some((o) => activations.has(o))) continue;
    (node.input ?? []).forEach((name, slot) => {
      if (!name || activations.has(name)) return;
      ((FLOAT32_SLOTS[node.opType ?? ''] ?? []).includes(slot) ? keepFloat : toHalf).add(name);
    });
  }
  for (const name of toHalf) {
    if (keepFloat.has(name)) throw new SmlmError('E_MODEL_INVALID', `fp16 conversion: constant "${name}" is used both as data and as a float32 parameter`, { tensor: name });
  }

  graph.initializer = (graph.initializer ?? []).map((t) => (t.dataType === FLOAT && toHalf.has(t.name ?? '') ? toHalfTensor(t, `initializer "${t.name}"`) : t));
  for (const node of nodes) {
    if (node.opType !== 'Constant' || !toHalf.has(node.output?.[0] ?? '')) continue;
    const value = node.attribute?.find((a) => a.name === 'value');
    if (value?.t && value.t.dataType === FLOAT) value.t = toHalfTensor(value.t, `Constant "${node.output?.[0]}"`);
    else if (node.attribute?.some((a) => a.name === 'value_float' || a.name === 'value_floats')) {
      const a = node.attribute.find((x) => x.name === 'value_float' || x.name === 'value_floats')!;
      const floats = a.name === 'value_float' ? [a.f ?? 0] : (a.floats ?? []);
      const tensor: OnnxTypes.ITensorProto = { dims: a.name === 'value_float' ? [] : [floats.length], dataType: FLOAT, floatData: floats };
      node.attribute = [{ name: 'value', type: onnx.AttributeProto.AttributeType.TENSOR, t: toHalfTensor(tensor, `Constant "${node.output?.[0]}"`) }];
    }
  }
  for (const info of [...(graph.input ?? []), ...(graph.output ?? [])]) setElemType(info);
  for (const info of graph.valueInfo ?? []) if (activations.has(info.name ?? '')) setElemType(info);
  return onnx.ModelProto.encode(model).finish();
}
