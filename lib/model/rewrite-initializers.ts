/**
 * Replaces the values of float32 initializers of an ONNX file in place, byte for byte.
 *
 * Why not decode the ModelProto, change the tensors and encode it again: protobufjs re-encodes what PyTorch wrote
 * differently (see rewrite-metadata.ts), so the rest of the file would change too. A float32 initializer stored as
 * raw_data keeps its length when its values change, so the new values are written over the old bytes and every
 * other byte of the file stays what it was.
 */
import { SmlmError } from '../errors.js';
import { toNumber } from './onnx-values.js';
import { decodeOnnx, onnx } from './onnx.js';

/**
 * Returns a copy of `bytes` in which each named initializer holds the given values (float32, same element count
 * and layout as the initializer's dims). Nothing else changes.
 *
 * @throws SmlmError E_MODEL_INVALID when `bytes` is not an ONNX model, a name is not an initializer, or an
 *   initializer is not float32 raw_data (the form torch.onnx.export writes); E_BAD_OPTIONS when a value array has
 *   the wrong length or holds a non-finite number.
 */
export function withInitializerValues(bytes: Uint8Array, values: Record<string, Float32Array>, source = 'model'): Uint8Array {
  // protobufjs decodes bytes fields as views of the buffer it reads, so raw_data's offset in the file is known.
  const view = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const proto = decodeOnnx(view, source);
  const initializers = new Map((proto.graph?.initializer ?? []).map((t) => [t.name ?? '', t]));
  const out = Uint8Array.from(view);
  for (const [name, data] of Object.entries(values)) {
    const tensor = initializers.get(name);
    if (!tensor) throw new SmlmError('E_MODEL_INVALID', `${source}: no initializer named "${name}"`, { source, name });
    const count = (tensor.dims ?? []).reduce<number>((n, d) => n * toNumber(d as number), 1);
    const raw = tensor.rawData;
    if (tensor.dataType !== onnx.TensorProto.DataType.FLOAT || !raw || raw.byteLength !== 4 * count || raw.buffer !== view.buffer) {
      throw new SmlmError('E_MODEL_INVALID', `${source}: initializer "${name}" is not float32 raw_data; only that form can be rewritten in place`, { source, name });
    }
    if (data.length !== count) throw new SmlmError('E_BAD_OPTIONS', `${source}: initializer "${name}" holds ${count} values, got ${data.length}`, { source, name });
    const at = raw.byteOffset - view.byteOffset;
    const target = new DataView(out.buffer, out.byteOffset + at, 4 * count);
    for (let i = 0; i < count; i++) {
      if (!Number.isFinite(data[i])) throw new SmlmError('E_BAD_OPTIONS', `${source}: value ${i} for "${name}" is ${data[i]}`, { source, name });
      target.setFloat32(4 * i, data[i], true);
    }
  }
  return out;
}
