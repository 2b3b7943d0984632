/**
 * Which onnxruntime the `cpu` backend runs on. Two builds share one JavaScript API (onnxruntime-common):
 * - onnxruntime-node, native code: 3 to 8 times faster (README, CPU speed), but 288 MB installed and an install
 *   script that downloads from api.nuget.org, so smlm-rt does not depend on it: it is an optional peer dependency,
 *   used when the project installed it;
 * - onnxruntime-web's WebAssembly build (threaded SIMD), 14 MB, shipped inside smlm-rt (vendor/onnxruntime-web/, see
 *   scripts/vendor-onnxruntime-web.mjs), so that `npm install smlm-rt` needs nothing but the npm registry.
 * SMLM_RT_CPU_RUNTIME=onnxruntime-node or onnxruntime-web picks one; unset (or `auto`), the native one where it loads.
 * Each runtime is imported on first use only, so programs that never use the CPU backend never load it.
 */
import { join, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { SmlmError } from '../errors.js';
import { packageRoot } from '../model/registry.js';

/** The API both builds export (they re-export onnxruntime-common). */
export type Ort = typeof import('onnxruntime-common');
export type OnnxRuntimeName = 'onnxruntime-node' | 'onnxruntime-web';
export const ONNX_RUNTIME_NAMES: readonly OnnxRuntimeName[] = ['onnxruntime-node', 'onnxruntime-web'];

export interface OnnxRuntime {
  name: OnnxRuntimeName;
  version: string;
  ort: Ort;
  /** The execution provider to ask sessions for. */
  executionProvider: 'cpu' | 'wasm';
  /** With `auto`: why the native runtime is not the one used (it is not installed, or it failed to load). */
  nativeUnavailable?: string;
}

const loading = new Map<OnnxRuntimeName, Promise<OnnxRuntime>>();

/** The runtime SMLM_RT_CPU_RUNTIME asks for, or 'auto'; E_BAD_OPTIONS for anything else. */
export function requestedRuntime(env: Record<string, string | undefined> = process.env): OnnxRuntimeName | 'auto' {
  const value = env.SMLM_RT_CPU_RUNTIME?.trim() ?? '';
  if (value === '' || value === 'auto') return 'auto';
  if ((ONNX_RUNTIME_NAMES as readonly string[]).includes(value)) return value as OnnxRuntimeName;
  throw new SmlmError('E_BAD_OPTIONS', `SMLM_RT_CPU_RUNTIME must be auto, ${ONNX_RUNTIME_NAMES.join(' or ')}; got ${JSON.stringify(value)}`);
}

async function importNative(): Promise<OnnxRuntime> {
  // A bare specifier, resolved from smlm-rt's own folder: the copy the project installed beside smlm-rt.
  const ort = (await import('onnxruntime-node')) as unknown as Ort;
  return { name: 'onnxruntime-node', version: ort.env.versions.node ?? ort.env.versions.common ?? '?', ort, executionProvider: 'cpu' };
}

async function importWasm(): Promise<OnnxRuntime> {
  const dir = join(packageRoot(), 'vendor', 'onnxruntime-web');
  const ort = (await import(pathToFileURL(join(dir, 'ort.node.min.mjs')).href)) as Ort;
  // Where the WebAssembly module and its loader are. The entry point would find them through import.meta.url, which
  // bundlers and test runners that transform modules (vitest) rewrite; a folder path works in every case.
  ort.env.wasm.wasmPaths = `${dir}${sep}`;
  return { name: 'onnxruntime-web', version: ort.env.versions.web ?? ort.env.versions.common ?? '?', ort, executionProvider: 'wasm' };
}

function loadOnce(name: OnnxRuntimeName): Promise<OnnxRuntime> {
  let promise = loading.get(name);
  if (!promise) {
    promise = (name === 'onnxruntime-node' ? importNative() : importWasm()).catch((err: unknown) => {
      loading.delete(name);
      throw new SmlmError('E_BACKEND_UNAVAILABLE', `cpu backend unavailable: ${name} cannot be loaded (${(err as Error).message.split('\n')[0]})`, { backend: 'cpu' }, { cause: err });
    });
    loading.set(name, promise);
  }
  return promise;
}

/**
 * Loads the runtime `choice` (default: SMLM_RT_CPU_RUNTIME, else auto) once. Auto: onnxruntime-node where it loads,
 * else the WebAssembly build, saying why in `nativeUnavailable`. E_BACKEND_UNAVAILABLE when the chosen one cannot load.
 */
export async function loadOnnxRuntime(choice: OnnxRuntimeName | 'auto' = requestedRuntime()): Promise<OnnxRuntime> {
  if (choice !== 'auto') return loadOnce(choice);
  try {
    return await loadOnce('onnxruntime-node');
  } catch (err) {
    const cause = (err as Error).cause as { code?: string } | undefined;
    const nativeUnavailable = cause?.code === 'ERR_MODULE_NOT_FOUND' ? 'onnxruntime-node is not installed' : (err as Error).message;
    return { ...(await loadOnce('onnxruntime-web')), nativeUnavailable };
  }
}
