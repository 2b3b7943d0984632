/**
 * Rewrites the metadata_props of an ONNX file and nothing else.
 *
 * Why not decode the whole ModelProto and encode it again: protobufjs re-encodes what PyTorch wrote differently
 * (repeated int64 attributes packed instead of unpacked, fields of newer ONNX versions it does not know are dropped),
 * so a round trip is equal in meaning at best, never byte for byte. Instead the model's top-level fields are copied
 * verbatim and only the metadata_props entries (ModelProto field 14) are replaced; onnx-proto decodes the input (to
 * validate it and read the current entries) and encodes the new entries. The graph and its weights keep their bytes.
 */
import { SmlmError } from '../errors.js';
import { decodeOnnx, metadataProps, onnx } from './onnx.js';

/** ModelProto field number of `repeated StringStringEntryProto metadata_props` (onnx.proto). */
const METADATA_PROPS_FIELD = 14;

/** A top-level protobuf field of the model: its number and where its bytes (tag included) lie. */
interface FieldSpan {
  field: number;
  start: number;
  end: number;
}

function readVarint(bytes: Uint8Array, at: number, source: string): { value: number; next: number } {
  let value = 0;
  let factor = 1;
  for (let i = at; i < bytes.length && i < at + 10; i++) {
    const byte = bytes[i];
    value += (byte & 0x7f) * factor;
    if (byte < 0x80) return { value, next: i + 1 };
    factor *= 128;
  }
  throw new SmlmError('E_MODEL_INVALID', `${source}: malformed protobuf varint at byte ${at}`, { source, offset: at });
}

/** Splits a ModelProto's bytes into its top-level fields (wire format: tag varint, then a payload per wire type). */
function topLevelFields(bytes: Uint8Array, source: string): FieldSpan[] {
  const spans: FieldSpan[] = [];
  let at = 0;
  while (at < bytes.length) {
    const start = at;
    const tag = readVarint(bytes, at, source);
    const field = Math.floor(tag.value / 8);
    const wireType = tag.value % 8;
    at = tag.next;
    if (wireType === 0) at = readVarint(bytes, at, source).next;
    else if (wireType === 1) at += 8;
    else if (wireType === 5) at += 4;
    else if (wireType === 2) {
      const length = readVarint(bytes, at, source);
      at = length.next + length.value;
    } else {
      throw new SmlmError('E_MODEL_INVALID', `${source}: unsupported protobuf wire type ${wireType} (field ${field})`, { source, field });
    }
    if (at > bytes.length) throw new SmlmError('E_MODEL_INVALID', `${source}: truncated protobuf field ${field}`, { source, field });
    spans.push({ field, start, end: at });
  }
  return spans;
}

/**
 * Returns a copy of an ONNX model with metadata_props updated: keys in `updates` get the new value (in place when
 * present, appended otherwise), every other entry is kept in its order. All other bytes of the file are copied
 * unchanged, so the graph and the weights are byte-identical.
 *
 * @throws SmlmError E_MODEL_INVALID when `bytes` is not an ONNX model; E_BAD_OPTIONS for an empty key or a
 *   non-string value.
 */
export function withMetadata(bytes: Uint8Array, updates: Record<string, string>, source = 'model'): Uint8Array {
  for (const [key, value] of Object.entries(updates)) {
    if (key.length === 0) throw new SmlmError('E_BAD_OPTIONS', 'metadata keys must be non-empty strings');
    if (typeof value !== 'string') throw new SmlmError('E_BAD_OPTIONS', `metadata "${key}" must be a string, got ${typeof value}`, { key });
  }
  const props = metadataProps(decodeOnnx(bytes, source));
  // Object key order is insertion order: existing keys keep their place, new ones follow.
  const merged: Record<string, string> = { ...props, ...updates };
  const entries = onnx.ModelProto.encode({ metadataProps: Object.entries(merged).map(([key, value]) => ({ key, value })) }).finish();

  const spans = topLevelFields(bytes, source);
  const kept = spans.filter((s) => s.field !== METADATA_PROPS_FIELD);
  // The new entries go where the old ones began (protobuf accepts any field order; this keeps the layout familiar).
  const firstOld = spans.findIndex((s) => s.field === METADATA_PROPS_FIELD);
  const insertAt = firstOld < 0 ? kept.length : spans.slice(0, firstOld).filter((s) => s.field !== METADATA_PROPS_FIELD).length;
  const keptLength = kept.reduce((n, s) => n + s.end - s.start, 0);
  const out = new Uint8Array(keptLength + entries.length);
  let at = 0;
  kept.forEach((span, i) => {
    if (i === insertAt) {
      out.set(entries, at);
      at += entries.length;
    }
    out.set(bytes.subarray(span.start, span.end), at);
    at += span.end - span.start;
  });
  if (insertAt === kept.length) out.set(entries, at);
  return out;
}
