/**
 * Picks and creates the inference backend. GPU backends live behind dynamic imports so that CPU-only use never
 * loads the native addon's JavaScript side either.
 */
import { isSmlmError } from '../errors.js';
import type { LoadedModel } from '../model/onnx.js';
import type { BackendChoice, BackendName, Precision } from '../types.js';
import type { InferenceBackend } from './backend.js';
import { DEFAULT_BATCH } from '../options.js';
import { createCpuBackend } from './cpu.js';

export interface BackendRequest {
  batchSize?: number;
  precision?: Precision;
  device?: number;
}

export interface SelectedBackend {
  backend: InferenceBackend;
  /** Frames per batch to run with. */
  batchSize: number;
  /** Set when `auto` wanted a GPU backend and fell back to the CPU: why. */
  fallbackReason?: string;
}

async function createGpuBackend(name: 'cuda' | 'tensorrt', model: LoadedModel, request: BackendRequest): Promise<InferenceBackend> {
  if (name === 'cuda') {
    const { createCudaBackend } = await import('./cuda.js');
    return createCudaBackend(model, request);
  }
  const { createTensorRtBackend } = await import('./tensorrt.js');
  return createTensorRtBackend(model, request);
}

/** Whether the CUDA backend can run here; never throws (a missing addon is "no"). */
export async function gpuUsable(): Promise<{ usable: boolean; reason?: string }> {
  try {
    const { cudaStatus } = await import('./cuda.js');
    const status = cudaStatus();
    return { usable: status.usable, reason: status.reason };
  } catch (err) {
    return { usable: false, reason: (err as Error).message };
  }
}

/**
 * Creates the backend for `choice`. `auto` takes `cuda` when a GPU is usable and the engine accepts the model,
 * otherwise `cpu` (and says why in `fallbackReason`). An explicit GPU choice never falls back: it throws
 * E_BACKEND_UNAVAILABLE (or the engine's error) instead.
 */
export async function selectBackend(choice: BackendChoice, model: LoadedModel, request: BackendRequest): Promise<SelectedBackend> {
  const batchFor = (name: BackendName) => request.batchSize ?? DEFAULT_BATCH[name];
  if (choice === 'cpu') return { backend: await createCpuBackend(model, { batchSize: request.batchSize }), batchSize: batchFor('cpu') };
  if (choice === 'cuda' || choice === 'tensorrt') return { backend: await createGpuBackend(choice, model, request), batchSize: batchFor(choice) };
  let fallbackReason: string;
  if (request.precision === 'fp32') {
    // Known before any GPU work: the engine would refuse it after loading the addon.
    const { CUDA_FP32_UNSUPPORTED } = await import('./cuda.js');
    fallbackReason = `precision fp32: ${CUDA_FP32_UNSUPPORTED}`;
  } else {
    const gpu = await gpuUsable();
    if (!gpu.usable) {
      fallbackReason = `no usable GPU: ${gpu.reason ?? 'unknown reason'}`;
    } else {
      try {
        return { backend: await createGpuBackend('cuda', model, request), batchSize: batchFor('cuda') };
      } catch (err) {
        // Bad options are the caller's mistake on every backend: report them rather than hide them behind a fallback.
        if (isSmlmError(err, 'E_BAD_OPTIONS')) throw err;
        fallbackReason = `cuda backend failed to start: ${(err as Error).message}`;
      }
    }
  }
  return { backend: await createCpuBackend(model, { batchSize: request.batchSize }), batchSize: batchFor('cpu'), fallbackReason };
}
