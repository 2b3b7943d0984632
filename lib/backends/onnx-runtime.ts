/**
 * Which runtime the `cpu` backend runs on. Three of them:
 * - `plan`: smlm-rt's own CPU executor of the compiled plan (native/cpu/, in the addon: fp32, AVX2+FMA where the CPU
 *   has it), shipped prebuilt in the platform package (@smlm-rt/linux-x64-gnu) that a plain `npm install` brings, and
 *   the fastest here (README, CPU speed). It needs the addon to load (no GPU or driver needed) and the model to
 *   compile to a plan (lib/engine/compile.ts);
 * - onnxruntime-node, native code: 288 MB installed and an install script that downloads from api.nuget.org, so
 *   smlm-rt does not depend on it: it is an optional peer dependency, used when the project installed it;
 * - onnxruntime-web's WebAssembly build (threaded SIMD), 14 MB, shipped inside smlm-rt (vendor/onnxruntime-web/, see
 *   scripts/vendor-onnxruntime-web.mjs), so that `npm install smlm-rt` needs nothing but the npm registry.
 * The two onnxruntime builds share one JavaScript API (onnxruntime-common).
 * SMLM_RT_CPU_RUNTIME=plan, onnxruntime-node or onnxruntime-web picks one; unset (or `auto`): plan where the addon
 * loads, else onnxruntime-node where it loads, else the WebAssembly build (lib/backends/cpu.ts also falls back to
 * onnxruntime when a model does not compile to a plan). Each runtime is loaded on first use only, so programs that
 * never use the CPU backend never load it.
 */
import { join, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { SmlmError } from '../errors.js';
import { packageRoot } from '../model/registry.js';
import { cpuExecutorOf, loadAddon, type NativeCpuExecutorAddon } from '../native/binding.js';

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

/** The addon's CPU executor of compiled plans (native/cpu/). */
export interface PlanRuntime {
  name: 'plan';
  /** The smlm-rt version the addon was built from. */
  version: string;
  cpu: NativeCpuExecutorAddon;
  /** The micro-kernel this CPU gets ("avx2+fma" or "portable"). */
  kernel: string;
  /** Where the addon was loaded from. */
  addonPath: string;
}

export type CpuRuntimeName = 'plan' | OnnxRuntimeName;
export const CPU_RUNTIME_NAMES: readonly CpuRuntimeName[] = ['plan', ...ONNX_RUNTIME_NAMES];

/** A runtime the cpu backend can use; with `auto`, `planUnavailable` says why the plan executor is not the one. */
export type CpuRuntime = PlanRuntime | (OnnxRuntime & { planUnavailable?: string });

const loading = new Map<OnnxRuntimeName, Promise<OnnxRuntime>>();

/** The runtime SMLM_RT_CPU_RUNTIME asks for, or 'auto'; E_BAD_OPTIONS for anything else. */
export function requestedRuntime(env: Record<string, string | undefined> = process.env): CpuRuntimeName | 'auto' {
  const value = env.SMLM_RT_CPU_RUNTIME?.trim() ?? '';
  if (value === '' || value === 'auto') return 'auto';
  if ((CPU_RUNTIME_NAMES as readonly string[]).includes(value)) return value as CpuRuntimeName;
  throw new SmlmError('E_BAD_OPTIONS', `SMLM_RT_CPU_RUNTIME must be auto, ${CPU_RUNTIME_NAMES.join(', ')}; got ${JSON.stringify(value)}`);
}

/**
 * The addon's CPU plan executor, or E_BACKEND_UNAVAILABLE saying why not (the addon does not load, with the loader's
 * reason, or it is an older build without the executor).
 */
export function loadPlanRuntime(): PlanRuntime {
  const loaded = loadAddon();
  if (!loaded.ok) throw new SmlmError('E_BACKEND_UNAVAILABLE', `cpu backend: the plan executor is unavailable: ${loaded.reason}`, { backend: 'cpu' });
  const cpu = cpuExecutorOf(loaded.addon);
  if (!cpu) {
    throw new SmlmError('E_BACKEND_UNAVAILABLE', `cpu backend: the addon at ${loaded.path} has no CPU plan executor (built before it existed); rebuild or reinstall it`, { backend: 'cpu' });
  }
  return { name: 'plan', version: loaded.addon.features.version, cpu, kernel: cpu.cpuKernel, addonPath: loaded.path };
}

/**
 * Loads the cpu backend's runtime `choice` (default: SMLM_RT_CPU_RUNTIME, else auto). Auto: the plan executor where the
 * addon has it, else loadOnnxRuntime('auto') with the reason in `planUnavailable`. E_BACKEND_UNAVAILABLE when the
 * chosen runtime cannot load.
 */
export async function loadCpuRuntime(choice: CpuRuntimeName | 'auto' = requestedRuntime()): Promise<CpuRuntime> {
  if (choice === 'plan') return loadPlanRuntime();
  if (choice !== 'auto') return loadOnnxRuntime(choice);
  try {
    return loadPlanRuntime();
  } catch (err) {
    return { ...(await loadOnnxRuntime('auto')), planUnavailable: (err as Error).message.replace(/^cpu backend: /, '') };
  }
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

/** SMLM_RT_CPU_RUNTIME when it names an onnxruntime build, else auto. */
function onnxChoice(): OnnxRuntimeName | 'auto' {
  const choice = requestedRuntime();
  return choice === 'plan' ? 'auto' : choice;
}

/**
 * Loads the onnxruntime `choice` (default: SMLM_RT_CPU_RUNTIME, else auto). Auto: onnxruntime-node where it loads,
 * else the WebAssembly build, saying why in `nativeUnavailable`. E_BACKEND_UNAVAILABLE when the chosen one cannot load.
 */
export async function loadOnnxRuntime(choice: OnnxRuntimeName | 'auto' = onnxChoice()): Promise<OnnxRuntime> {
  if (choice !== 'auto') return loadOnce(choice);
  try {
    return await loadOnce('onnxruntime-node');
  } catch (err) {
    const cause = (err as Error).cause as { code?: string } | undefined;
    const nativeUnavailable = cause?.code === 'ERR_MODULE_NOT_FOUND' ? 'onnxruntime-node is not installed' : (err as Error).message;
    return { ...(await loadOnce('onnxruntime-web')), nativeUnavailable };
  }
}
