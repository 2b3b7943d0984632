import type { onnx as OnnxTypes } from 'onnx-proto';
// onnx-proto directly, not ./onnx.js: onnx.ts checks initializers with decodeTensor, and a cycle would be fragile.
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

/** Decoding of ONNX attributes and initializer tensors (float32 / float16 / int64 / int32 / double). */

/** protobufjs gives int64 as number, or as Long when the `long` package is present. */
export function toNumber(value: number | { toNumber(): number } | null | undefined): number {
  if (value === null || value === undefined) return 0;
  return typeof value === 'number' ? value : value.toNumber();
}

export type AttributeMap = Map<string, OnnxTypes.IAttributeProto>;

export function attributesOf(node: OnnxTypes.INodeProto): AttributeMap {
  return new Map((node.attribute ?? []).map((a) => [a.name ?? '', a]));
}

export function intAttr(attrs: AttributeMap, name: string, fallback: number): number {
  const a = attrs.get(name);
  return a ? toNumber(a.i as number) : fallback;
}

export function intsAttr(attrs: AttributeMap, name: string, fallback: number[]): number[] {
  const a = attrs.get(name);
  return a ? (a.ints ?? []).map((v) => toNumber(v as number)) : fallback;
}

export function floatAttr(attrs: AttributeMap, name: string, fallback: number): number {
  const a = attrs.get(name);
  return a ? (a.f ?? 0) : fallback;
}

export function stringAttr(attrs: AttributeMap, name: string, fallback: string): string {
  const a = attrs.get(name);
  return a?.s ? new TextDecoder().decode(a.s) : fallback;
}

/** A decoded constant tensor: numbers (float or integer) with their dims. */
export interface ConstTensor {
  dims: number[];
  values: Float64Array;
  isInteger: boolean;
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}

/** Decodes a TensorProto's data; returns undefined for types we never need (strings, complex, external data). */
export function decodeTensor(tensor: OnnxTypes.ITensorProto): ConstTensor | undefined {
  const T = onnx.TensorProto.DataType;
  const dims = (tensor.dims ?? []).map((d) => toNumber(d as number));
  const count = dims.reduce((a, b) => a * b, 1);
  if (tensor.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) return undefined;
  const raw = tensor.rawData && tensor.rawData.length > 0 ? tensor.rawData : undefined;
  const view = raw ? new DataView(raw.buffer, raw.byteOffset, raw.byteLength) : undefined;
  const values = new Float64Array(count);
  switch (tensor.dataType) {
    case T.FLOAT:
      for (let i = 0; i < count; i++) values[i] = view ? view.getFloat32(4 * i, true) : (tensor.floatData ?? [])[i];
      return { dims, values, isInteger: false };
    case T.DOUBLE:
      for (let i = 0; i < count; i++) values[i] = view ? view.getFloat64(8 * i, true) : (tensor.doubleData ?? [])[i];
      return { dims, values, isInteger: false };
    case T.FLOAT16:
      // Without raw data, fp16 values are stored as their bit patterns in int32_data.
      for (let i = 0; i < count; i++) values[i] = halfToFloat(view ? view.getUint16(2 * i, true) : (tensor.int32Data ?? [])[i]);
      return { dims, values, isInteger: false };
    case T.INT64:
      for (let i = 0; i < count; i++) values[i] = view ? Number(view.getBigInt64(8 * i, true)) : toNumber((tensor.int64Data ?? [])[i] as number);
      return { dims, values, isInteger: true };
    case T.INT32:
      for (let i = 0; i < count; i++) values[i] = view ? view.getInt32(4 * i, true) : (tensor.int32Data ?? [])[i];
      return { dims, values, isInteger: true };
    default:
      return undefined;
  }
}

/** The value of a Constant node (value tensor, or value_float(s) / value_int(s)). */
export function constantNodeValue(node: OnnxTypes.INodeProto): ConstTensor | undefined {
  const attrs = attributesOf(node);
  const t = attrs.get('value')?.t;
  if (t) return decodeTensor(t);
  const f = attrs.get('value_float');
  if (f) return { dims: [], values: Float64Array.of(f.f ?? 0), isInteger: false };
  const fs = attrs.get('value_floats');
  if (fs) return { dims: [fs.floats?.length ?? 0], values: Float64Array.from(fs.floats ?? []), isInteger: false };
  const i = attrs.get('value_int');
  if (i) return { dims: [], values: Float64Array.of(toNumber(i.i as number)), isInteger: true };
  const is = attrs.get('value_ints');
  if (is) return { dims: [is.ints?.length ?? 0], values: Float64Array.from((is.ints ?? []).map((v) => toNumber(v as number))), isInteger: true };
  return undefined;
}
