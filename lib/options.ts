/**
 * The Reconstructor's options and their limits, checked in one place for the API, the CLI and every backend:
 * a limit or default changed here changes everywhere.
 */
import { SmlmError } from './errors.js';
import type { BackendChoice, BackendName, Precision } from './types.js';

/** Frames per inference batch: at least 1, at most this (a GPU engine allocates device memory for the batch). */
export const BATCH_LIMITS = { min: 1, max: 4096 } as const;

/**
 * Frames per batch when the caller does not choose: 8 on the CPU (larger batches buy memory, not speed there), 64 on
 * a GPU (the engine's throughput levels off around it: README, GPU speed).
 */
export const DEFAULT_BATCH: Readonly<Record<BackendName, number>> = { cpu: 8, cuda: 64, tensorrt: 64 };

export const BACKEND_CHOICES: readonly BackendChoice[] = ['auto', 'cpu', 'cuda', 'tensorrt'];

/** Throws E_BAD_OPTIONS unless `value` is a backend choice. */
export function checkBackendChoice(value: unknown): BackendChoice {
  if (BACKEND_CHOICES.includes(value as BackendChoice)) return value as BackendChoice;
  throw new SmlmError('E_BAD_OPTIONS', `backend must be one of ${BACKEND_CHOICES.join(', ')}; got ${JSON.stringify(value)}`);
}

/** The batch size, or undefined for the backend's default; E_BAD_OPTIONS outside BATCH_LIMITS. */
export function checkBatchSize(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (!(typeof value === 'number' && Number.isInteger(value) && value >= BATCH_LIMITS.min && value <= BATCH_LIMITS.max)) {
    throw new SmlmError('E_BAD_OPTIONS', `batchSize must be an integer in ${BATCH_LIMITS.min}..${BATCH_LIMITS.max}, got ${String(value)}`, { batchSize: value });
  }
  return value;
}

export function checkPrecision(value: unknown): Precision | undefined {
  if (value === undefined || value === 'fp16' || value === 'fp32') return value;
  throw new SmlmError('E_BAD_OPTIONS', `precision must be "fp16" or "fp32", got ${JSON.stringify(value)}`, { precision: value });
}

/** A CUDA device ordinal (whether that device exists is the GPU backends' question). */
export function checkDevice(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (!(typeof value === 'number' && Number.isInteger(value) && value >= 0)) {
    throw new SmlmError('E_BAD_OPTIONS', `device must be a CUDA device ordinal (integer >= 0), got ${String(value)}`, { device: value });
  }
  return value;
}

/**
 * device and precision choose GPU settings; with backend "cpu" they would be silently ignored, so they are refused
 * (the CLI's --device/--precision with --backend cpu are usage errors for the same reason).
 */
export function checkGpuOnlyOptions(backend: unknown, device: unknown, precision: unknown): void {
  const given = gpuOnlyOptionsGiven(backend, device, precision);
  if (given.length > 0) {
    throw new SmlmError('E_BAD_OPTIONS', `${given.join(' and ')} only apply to GPU backends; backend "cpu" always computes in fp32 on the CPU`, { backend });
  }
}

/** Which of device and precision were given although the backend is "cpu" (empty for any other backend). */
export function gpuOnlyOptionsGiven(backend: unknown, device: unknown, precision: unknown): ('device' | 'precision')[] {
  if (backend !== 'cpu') return [];
  return [...(device !== undefined ? (['device'] as const) : []), ...(precision !== undefined ? (['precision'] as const) : [])];
}
