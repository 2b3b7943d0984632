import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import onnxProto from 'onnx-proto';
import { SmlmError } from '../errors.js';
import { checkFiniteWeights } from './finite-initializers.js';
import { parseModelMetadata, type ModelMetadata } from './metadata.js';

export const { onnx } = onnxProto;
export type OnnxModelProto = InstanceType<typeof onnx.ModelProto>;

/** An ONNX file read once: its bytes (for onnxruntime), the decoded graph (for the compiler) and its metadata. */
export interface LoadedModel {
  /** What the user asked for: a bundled model name or the path. */
  name: string;
  path: string;
  bytes: Uint8Array;
  proto: OnnxModelProto;
  metadata: ModelMetadata;
  /** sha256 of the file, hex. */
  hash: string;
}

export function decodeOnnx(bytes: Uint8Array, source: string): OnnxModelProto {
  let proto: OnnxModelProto;
  try {
    proto = onnx.ModelProto.decode(bytes);
  } catch (err) {
    throw new SmlmError('E_MODEL_INVALID', `${source}: not an ONNX model (${(err as Error).message})`, { source }, { cause: err });
  }
  // Protobuf decodes many non-ONNX files (a README, a TIFF) without an error, into a model with no graph.
  if (!proto.graph || !proto.graph.node || proto.graph.node.length === 0) {
    throw new SmlmError('E_MODEL_INVALID', `${source}: not an ONNX model (no graph in the file)`, { source });
  }
  return proto;
}

export function metadataProps(proto: OnnxModelProto): Record<string, string> {
  const props: Record<string, string> = {};
  for (const entry of proto.metadataProps ?? []) {
    if (entry.key) props[entry.key] = entry.value ?? '';
  }
  return props;
}

export async function loadOnnxModel(path: string, name = path): Promise<LoadedModel> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new SmlmError('E_MODEL_NOT_FOUND', `model file "${path}" cannot be read (${code ?? (err as Error).message})`, { path }, { cause: err });
  }
  const proto = decodeOnnx(bytes, path);
  const metadata = parseModelMetadata(metadataProps(proto), path);
  checkFiniteWeights(proto, path);
  const hash = createHash('sha256').update(bytes).digest('hex');
  return { name, path, bytes, proto, metadata, hash };
}
