/**
 * The `cuda` backend: smlm-rt's own fused FP16 engine (native/engine/) executing the plan that the graph compiler
 * makes of the ONNX model. Needs the native addon and an NVIDIA GPU with a driver; the CUDA runtime is linked
 * statically into the addon, so no toolkit is needed at run time.
 */
import { SmlmError } from '../errors.js';
import type { LoadedModel } from '../model/onnx.js';
import { loadAddon, type NativeAddon } from '../native/binding.js';
import { compilePlan } from '../native/compiler.js';
import { engineCacheDir, NativeEngineBackend, resolveGpuOptions, toSmlmError, type GpuBackendOptions } from './native-engine.js';
import type { InferenceBackend } from './backend.js';

export type { GpuBackendOptions } from './native-engine.js';

/** What `smlm-rt info` and backend selection need to know about the GPU side. */
export interface CudaStatus {
  /** The addon loaded (it was built or shipped as a prebuild for this platform). */
  compiled: boolean;
  /** compiled, and at least one CUDA device is visible through the driver. */
  usable: boolean;
  /** Why not usable, in words a user can act on. */
  reason?: string;
  devices: Array<{ name: string; computeCapability: string; memoryBytes: number }>;
  /** Optional parts compiled into the addon: cuda, tensorrt, cudnn. */
  features: Record<string, boolean>;
  /** The addon file that loaded (a local build, or the platform package's prebuild). */
  addonPath?: string;
}

/** Loads the addon (once) and asks the driver for devices. Never throws. */
export function cudaStatus(): CudaStatus {
  const loaded = loadAddon();
  if (!loaded.ok) return { compiled: false, usable: false, reason: loaded.reason, devices: [], features: { cuda: false, tensorrt: false, cudnn: false } };
  const { features } = loaded.addon;
  const featureFlags = { cuda: features.cuda, tensorrt: features.tensorrt, cudnn: features.cudnn };
  const addonPath = loaded.path;
  let list;
  try {
    list = loaded.addon.listDevices();
  } catch (err) {
    // listDevices is written not to throw; if it ever does, report it rather than crash `smlm-rt info`.
    return { compiled: true, usable: false, reason: `listing CUDA devices failed: ${(err as Error).message}`, devices: [], features: featureFlags, addonPath };
  }
  const devices = list.devices.map((d) => ({ name: d.name, computeCapability: `${d.major}.${d.minor}`, memoryBytes: d.totalMemoryBytes }));
  const usable = devices.length > 0;
  return {
    compiled: true,
    usable,
    ...(usable ? {} : { reason: list.reason ?? 'no CUDA device is visible' }),
    devices,
    features: featureFlags,
    addonPath,
  };
}

/** The loaded addon with at least one device, or E_BACKEND_UNAVAILABLE saying why not. Shared with the tensorrt backend. */
export function requireUsableAddon(backend: 'cuda' | 'tensorrt'): { addon: NativeAddon; deviceCount: number } {
  const loaded = loadAddon();
  if (!loaded.ok) throw new SmlmError('E_BACKEND_UNAVAILABLE', `${backend} backend unavailable: ${loaded.reason}`, { backend });
  const { devices, reason } = loaded.addon.listDevices();
  if (devices.length === 0) {
    throw new SmlmError('E_BACKEND_UNAVAILABLE', `${backend} backend unavailable: ${reason ?? 'no CUDA device is visible'}`, { backend });
  }
  return { addon: loaded.addon, deviceCount: devices.length };
}

/** The engine keeps activations in fp16 (tensor cores); `auto` runs fp32 requests on the cpu backend instead. */
export const CUDA_FP32_UNSUPPORTED = 'the cuda engine computes in fp16 only; fp32 runs on the cpu backend (or tensorrt)';

function fp32Unsupported(): SmlmError {
  return new SmlmError('E_BAD_OPTIONS', `precision "fp32": ${CUDA_FP32_UNSUPPORTED}`, { backend: 'cuda', precision: 'fp32' });
}

/**
 * Creates the `cuda` backend for a model: compiles the ONNX graph into an execution plan (E_MODEL_INVALID for an
 * operator the engine does not support) and builds the native engine on the chosen device.
 */
export async function createCudaBackend(model: LoadedModel, options: GpuBackendOptions = {}): Promise<InferenceBackend> {
  // Before looking for a GPU or compiling anything: no GPU would make fp32 possible.
  if (options.precision === 'fp32') throw fp32Unsupported();
  const { addon, deviceCount } = requireUsableAddon('cuda');
  const resolved = resolveGpuOptions(options, deviceCount);
  const plan = await compilePlan(model);
  try {
    const engine = await addon.createCudaEngine(plan, {
      device: resolved.device,
      maxBatch: resolved.batchSize,
      fp16: resolved.precision === 'fp16',
      cacheDir: engineCacheDir(),
    });
    return new NativeEngineBackend('cuda', engine, model, resolved.batchSize);
  } catch (err) {
    throw toSmlmError(err, 'cuda');
  }
}
