/**
 * The `tensorrt` backend: NVIDIA TensorRT builds an engine from the ONNX model (native/tensorrt/), smlm-rt adds its
 * own normalization and clamp-and-sum kernels around it. Compiled into the addon only where TensorRT headers and
 * libraries were found at build time (TENSORRT_ROOT or standard paths).
 */
import { SmlmError } from '../errors.js';
import type { LoadedModel } from '../model/onnx.js';
import { addonBuildCommand, loadAddon } from '../native/binding.js';
import { compilePlan, onnxToFp16 } from '../native/compiler.js';
import { engineCacheDir, NativeEngineBackend, resolveGpuOptions, toSmlmError, type GpuBackendOptions } from './native-engine.js';
import type { InferenceBackend } from './backend.js';
import { requireUsableAddon } from './cuda.js';

export type { GpuBackendOptions } from './native-engine.js';

/** TensorRT 11 dropped the FP16 builder flag: networks are strongly typed, so FP16 must be in the ONNX itself. */
function isStronglyTypedOnly(tensorrtVersion: string | undefined): boolean {
  const major = Number((tensorrtVersion ?? '').split('.')[0]);
  return Number.isFinite(major) && major >= 11;
}

function builtWithoutTensorRt(): SmlmError {
  return new SmlmError(
    'E_BACKEND_UNAVAILABLE',
    'tensorrt backend unavailable: the CUDA addon was built without TensorRT. Install TensorRT and rebuild with ' +
      `\`TENSORRT_ROOT=/path/to/TensorRT ${addonBuildCommand()}\`; the \`cuda\` backend needs no TensorRT.`,
    { backend: 'tensorrt' },
  );
}

/**
 * Creates the `tensorrt` backend for a model. The plan is still compiled: it carries the normalization, frame-size
 * rules and upsampling the pre- and post-kernels use, and it validates the model the same way as `cuda` does.
 */
export async function createTensorRtBackend(model: LoadedModel, options: GpuBackendOptions = {}): Promise<InferenceBackend> {
  // The reasons in the order `smlm-rt info` gives them: no addon, then an addon without TensorRT, then no GPU.
  const loaded = loadAddon();
  if (loaded.ok && !loaded.addon.features.tensorrt) throw builtWithoutTensorRt();
  const { addon, deviceCount } = requireUsableAddon('tensorrt');
  const createEngine = addon.createTensorRtEngine;
  if (!createEngine) throw builtWithoutTensorRt();
  const resolved = resolveGpuOptions(options, deviceCount);
  const plan = await compilePlan(model);
  if (plan.ops.at(-1)?.op === 'localization-head') {
    // The TensorRT network ends in the ONNX output; rendering a localization head's detections is not wired into it,
    // and running it as a maps model would clamp and sum raw detections. The model itself is fine: the backend is not.
    throw new SmlmError('E_BACKEND_UNAVAILABLE', `tensorrt backend unavailable for ${model.name}: it does not run localization-head models; use the cuda or cpu backend`, {
      backend: 'tensorrt',
      model: model.name,
    });
  }
  const fp16 = resolved.precision === 'fp16';
  const onnxBytes = fp16 && isStronglyTypedOnly(addon.features.tensorrtVersion) ? await onnxToFp16(model.bytes) : model.bytes;
  try {
    const engine = await createEngine.call(addon, plan, onnxBytes, {
      device: resolved.device,
      maxBatch: resolved.batchSize,
      fp16,
      cacheDir: engineCacheDir(),
    });
    return new NativeEngineBackend('tensorrt', engine, model, resolved.batchSize);
  } catch (err) {
    throw toSmlmError(err, 'tensorrt');
  }
}
