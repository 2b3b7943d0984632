/**
 * Lazy access to the graph compiler (lib/engine/compile.ts) and the FP16 ONNX converter (lib/engine/fp16-onnx.ts):
 * the GPU backends need them only when an engine is created, so code that never builds one never loads them.
 */
import type { Plan } from '../engine/plan.js';
import type { LoadedModel } from '../model/onnx.js';

/** ONNX model -> execution plan for the native engines (E_MODEL_INVALID for unsupported operators). */
export async function compilePlan(model: LoadedModel): Promise<Plan> {
  const { compileModel } = await import('../engine/compile.js');
  return compileModel(model);
}

/** FP32 ONNX bytes -> FP16 ONNX bytes, for TensorRT >= 11's strongly typed networks. */
export async function onnxToFp16(bytes: Uint8Array): Promise<Uint8Array> {
  const { convertOnnxToFp16 } = await import('../engine/fp16-onnx.js');
  return convertOnnxToFp16(bytes);
}
