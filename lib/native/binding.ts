/**
 * The typed face of smlm-rt's native addon (native/addon/, built into build/Release/smlm_rt.node or shipped prebuilt
 * in a platform package such as @smlm-rt/linux-x64-gnu). The addon is optional: it is loaded lazily, once, and a
 * load failure is remembered as a human-readable reason (what is missing, how to build it) instead of an exception,
 * so that `smlm-rt info` and backend selection can explain why the GPU is not used.
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
// native-env.cjs: the helpers the install script (scripts/install-native.mjs, which runs before any TypeScript is
// compiled) uses too, so that a switch or a build hint reads the same there; copied into dist/lib/native by tsc.
import nativeEnv from './native-env.cjs';
import type { Plan } from '../engine/plan.js';
import { packageRoot } from '../model/registry.js';
import type { PixelArray } from '../types.js';

/** One CUDA device as the addon reports it (cudaGetDeviceProperties). */
export interface NativeDeviceInfo {
  ordinal: number;
  name: string;
  /** Compute capability major.minor. */
  major: number;
  minor: number;
  totalMemoryBytes: number;
  multiprocessors: number;
}

/** What `listDevices()` returns: never throws; an empty list comes with the driver's reason. */
export interface NativeDeviceList {
  devices: NativeDeviceInfo[];
  reason?: string;
}

/** Which optional parts were compiled into this build of the addon, and against what. */
export interface NativeFeatures {
  cuda: boolean;
  tensorrt: boolean;
  /** NV_TENSORRT_MAJOR.MINOR.PATCH of the headers the addon was compiled against, when tensorrt is true. */
  tensorrtVersion?: string;
  /** Detected at build time and reported only: smlm-rt's engine does not call cuDNN. */
  cudnn: boolean;
  cudnnVersion?: string;
  /** CUDART_VERSION of the statically linked runtime, e.g. 13000. */
  cudaRuntimeVersion: number;
  /** The GPU architectures the kernels were compiled for, e.g. "75;80;86;89;90;90-virtual". */
  cudaArchitectures: string;
  /** The smlm-rt version the addon was built from (package.json). */
  version: string;
}

export interface NativeEngineOptions {
  device: number;
  maxBatch: number;
  fp16: boolean;
  /** Where tuned kernel choices / serialized TensorRT engines are cached; '' disables the cache. */
  cacheDir: string;
}

export interface NativeRunRequest {
  /** frameCount x height x width pixels, read in place (no copy) while the run is in flight. */
  frames: PixelArray;
  frameCount: number;
  height: number;
  width: number;
  /** (height*upsampling) x (width*upsampling): the sum of the clamped maps is *added* into it. */
  image: Float32Array;
  /** Optional frameCount x outH x outW: every clamped per-frame map is written here. */
  frameMaps?: Float32Array;
  /** Frames per batch; 0 lets the engine pick. */
  batchSize: number;
  /** Called on the JS thread after each batch. */
  onProgress?: (framesDone: number, framesTotal: number) => void;
}

export interface NativeRunStats {
  totalMs: number;
  /** Kernel time measured with CUDA events, summed over batches. */
  deviceMs: number;
  /** The batch size actually used (smaller than asked after an out-of-memory retry). */
  batchSize: number;
  /** Tiles per frame: 1 when frames ran whole, more when their activations did not fit the memory budget. */
  tiles: number;
  /** Size of each tile, its halo included (only when tiles > 1). */
  tileHeight?: number;
  tileWidth?: number;
}

/** What engine.openSession() takes (lib/backends/backend.ts SessionGeometry, checked by the backend). */
export interface NativeSessionGeometry {
  /** Frame size the network sees (after preparation). */
  height: number;
  width: number;
  /** Multiplies the image when it is read (snapshot/finish), on the device. */
  scale: number;
  /** Frames per batch; 0 lets the engine pick. */
  batchSize: number;
  /** Resampling and/or padding applied on the device: push() then takes the source frames (lib/frames/prepare.ts). */
  preparation?: {
    resampled?: { fromNm: number; toNm: number; from: { height: number; width: number }; to: { height: number; width: number } };
    padded?: { from: { height: number; width: number }; to: { height: number; width: number }; mode: 'reflect' };
  };
}

/**
 * A chunk for session.push(): like NativeRunRequest without the image (it stays on the device); frameMaps, when
 * given, come back multiplied by the session's scale (on the device), in the image's units.
 */
export type NativePushRequest = Omit<NativeRunRequest, 'image'>;

/**
 * An open session (native/engine/pipeline.h): the image is an FP32 accumulator on the device from openSession to
 * finish. One call at a time per engine. snapshot()/finish() resolve with a new (height*u) x (width*u) Float32Array,
 * already multiplied by the scale.
 */
export interface NativeSession {
  /** Runs the chunk's frames (of the source size when the session prepares frames) into the image. */
  push(request: NativePushRequest): Promise<NativeRunStats>;
  snapshot(): Promise<Float32Array>;
  /** The image; the session's device memory is released (later calls reject with E_CLOSED). */
  finish(): Promise<Float32Array>;
  /** Ends the session without a result; a push in flight is cancelled. Idempotent. */
  close(): void;
}

/** An smlmrt::Engine owned by JS. One run at a time; close() frees device memory (the GC does too, later). */
export interface NativeEngine {
  run(request: NativeRunRequest): Promise<NativeRunStats>;
  /** Opens a session (allocates the image on the device; throws E_FRAME_SIZE_UNSUPPORTED, E_BAD_OPTIONS, ...). */
  openSession(geometry: NativeSessionGeometry): NativeSession;
  /** Asks a run in flight to stop after the current batch; it then rejects with code E_ABORTED. */
  cancel(): void;
  close(): void;
  describe(): string;
}

/** Errors thrown or rejected by the addon carry the engine's code (E_GPU, E_GPU_OUT_OF_MEMORY, ...). */
export interface NativeError extends Error {
  code?: string;
}

export interface NativeAddon {
  listDevices(): NativeDeviceList;
  /** cudaMemGetInfo of a device; throws (code E_GPU) where there is no usable device. */
  deviceMemory(ordinal: number): { freeBytes: number; totalBytes: number };
  features: NativeFeatures;
  /** Builds the engine on a worker thread (kernel tuning takes a while) and resolves with it. */
  createCudaEngine(plan: Plan, options: NativeEngineOptions): Promise<NativeEngine>;
  /** Present only when the addon was compiled with TensorRT; builds (or loads the cached) TensorRT engine. */
  createTensorRtEngine?(plan: Plan, onnxBytes: Uint8Array, options: NativeEngineOptions): Promise<NativeEngine>;
}

export type AddonLoadResult = { ok: true; addon: NativeAddon; path: string } | { ok: false; reason: string };

let cached: AddonLoadResult | undefined;

/** The glibc version this process runs on (e.g. "2.35"), or undefined where there is none (musl, macOS). */
function runtimeGlibc(): string | undefined {
  try {
    const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
    return header?.glibcVersionRuntime;
  } catch {
    return undefined;
  }
}

/**
 * The command that builds the addon from source for this package: `npm run build:native` in a clone, the build tools
 * and smlm-rt's build script in an installed package (native-env.cjs).
 */
export function addonBuildCommand(): string {
  return nativeEnv.buildCommand(packageRoot());
}

/** "Rebuild it with `<the command that works at root>`." */
function rebuildHint(root: string): string {
  return `Rebuild it with \`${nativeEnv.buildCommand(root)}\`${nativeEnv.isInstalledPackage(root) ? ' in your project' : ''}.`;
}

/**
 * Turns a load failure of the addon of the package at `root` into a sentence that says what is missing and what to
 * do about it; the build commands it suggests are those that work there (a clone, or an installed package).
 * `glibc` is the system's glibc version (the running one by default), named when the addon needs a newer one.
 */
export function explainLoadFailure(err: unknown, root: string, { glibc = runtimeGlibc() }: { glibc?: string } = {}): string {
  const howToBuild = `${nativeEnv.howToBuild(root)} The CPU backend works without it.`;
  const rebuild = rebuildHint(root);
  const message = err instanceof Error ? err.message : String(err);
  if (message.includes('No native build was found')) {
    const platformPackage = nativeEnv.platformPackageName();
    const prebuilt = nativeEnv.PLATFORM_PACKAGES.includes(platformPackage)
      ? `${platformPackage}, the optional dependency that carries the prebuilt addon, is not installed`
      : `smlm-rt has no prebuilt addon for ${process.platform}-${process.arch}`;
    return `the CUDA addon is not installed: ${prebuilt}, and there is no build/Release/*.node in ${root}. ${howToBuild}`;
  }
  const firstLine = message.split('\n')[0];
  // A binary made on a newer system than this one (the prebuild needs glibc >= 2.34: docs/native-build.md), e.g.
  // "/lib/x86_64-linux-gnu/libc.so.6: version `GLIBC_2.36' not found (required by .../smlm-rt.napi.glibc.node)".
  const version = /version [`']((GLIBC|GLIBCXX|CXXABI)_[\d.]+)' not found/.exec(firstLine);
  if (version) {
    const library = version[2] === 'GLIBC' ? 'glibc' : 'libstdc++';
    const has = version[2] === 'GLIBC' && glibc ? `, this system has glibc ${glibc}` : '';
    return `the CUDA addon needs a newer ${library} than this system has: it needs ${version[1]}${has} (${firstLine}). ${howToBuild}`;
  }
  // An addon built with TensorRT needs TensorRT's libraries at load time.
  if (/nvinfer|nvonnxparser|getInferLibVersion|createInfer|createNvOnnxParser/.test(firstLine)) {
    const script = nativeEnv.isInstalledPackage(root) ? join(root, 'scripts', 'build-native.mjs') : 'scripts/build-native.mjs';
    return `the CUDA addon was built with TensorRT, whose libraries cannot be loaded here (${firstLine}). Put TensorRT's lib folder on LD_LIBRARY_PATH, or rebuild without it: \`node ${script} --no-tensorrt\`.`;
  }
  if (/cannot open shared object file|Library not loaded|image not found/.test(message)) {
    return `the CUDA addon exists but a shared library it needs is missing (${firstLine}). ${howToBuild}`;
  }
  if (message.includes('undefined symbol')) {
    return `the CUDA addon is incomplete (${firstLine}): it was built from sources that do not define every function. ${rebuild}`;
  }
  if (/invalid ELF header|wrong ELF class|not a valid Win32 application/.test(message)) {
    return `the CUDA addon was built for another platform or architecture (${firstLine}). ${rebuild}`;
  }
  return `the CUDA addon failed to load: ${firstLine}. ${howToBuild}`;
}

/**
 * Loads the addon once and remembers the outcome. SMLM_RT_ADDON=<path to a .node file> overrides the search
 * (useful on hosts that receive a binary built elsewhere); SMLM_RT_DISABLE_NATIVE=1 pretends it is absent
 * (0, false, no, off or empty: not disabled).
 */
export function loadAddon(): AddonLoadResult {
  if (cached) return cached;
  if (nativeEnv.envFlag('SMLM_RT_DISABLE_NATIVE')) {
    cached = { ok: false, reason: 'the CUDA addon is disabled by SMLM_RT_DISABLE_NATIVE.' };
    return cached;
  }
  let root = '';
  try {
    root = packageRoot();
    cached = loadFirst(addonCandidates(root), root);
  } catch (err) {
    cached = { ok: false, reason: explainLoadFailure(err, root || '(package root not found)') };
  }
  return cached;
}

/**
 * Where the addon may be, in the order tried: SMLM_RT_ADDON alone when set; else an addon built here (build/Release,
 * through node-gyp-build, which also honours a prebuilds/ folder), which exists only when someone built it on purpose,
 * then this platform's package (@smlm-rt/<platform>-<arch>-<libc>, an optional dependency). Throws node-gyp-build's
 * "No native build was found" when there is neither.
 */
function addonCandidates(root: string): string[] {
  const override = process.env.SMLM_RT_ADDON;
  if (override) return [override];
  const candidates: string[] = [];
  let notBuilt: unknown;
  try {
    const nodeGypBuild = createRequire(join(root, 'package.json'))('node-gyp-build') as { resolve(dir: string): string };
    candidates.push(nodeGypBuild.resolve(root));
  } catch (err) {
    notBuilt = err;
  }
  const prebuilt = nativeEnv.resolvePlatformAddon(root);
  if (prebuilt) candidates.push(prebuilt);
  if (candidates.length === 0) throw notBuilt;
  return candidates;
}

/** The first candidate that loads and is smlm-rt's addon; if none does, the first one's failure, explained. */
function loadFirst(candidates: string[], root: string): AddonLoadResult {
  const require = createRequire(join(root, 'package.json'));
  let first: AddonLoadResult | undefined;
  for (const path of candidates) {
    let result: AddonLoadResult;
    try {
      const addon = require(path) as NativeAddon;
      result =
        typeof addon.listDevices !== 'function' || typeof addon.createCudaEngine !== 'function' || !addon.features
          ? { ok: false, reason: `${path} is not smlm-rt's CUDA addon (listDevices/createCudaEngine/features missing). ${rebuildHint(root)}` }
          : { ok: true, addon, path };
    } catch (err) {
      result = { ok: false, reason: explainLoadFailure(err, root) };
    }
    if (result.ok) return result;
    first ??= result;
  }
  return first!;
}

/** For tests: forget the remembered load outcome. */
export function resetAddonCacheForTests(): void {
  cached = undefined;
}

// ---- The CPU plan executor (native/cpu/): the same compiled Plan run in fp32 on the CPU, no CUDA involved ----

export interface NativeCpuExecutorOptions {
  /** Threads of the executor's pool, the calling worker included; default: the cores this process may use. */
  threads?: number;
  /** Rows the plan's localization head holds (localizationHeadRows(op)); default: as its sigma mode says. */
  localizationRows?: number;
}

export interface NativeCpuRunRequest {
  /** frameCount x height x width normalized frames (read in place while the run is in flight). */
  input: Float32Array;
  frameCount: number;
  height: number;
  width: number;
  /**
   * frameCount x outputValuesPerFrame(height, width), overwritten with what the ONNX model outputs: the raw maps
   * [n, 1, H*u, W*u] (before the clamp), or a localization head's raw detections [n, 5g^2, H, W].
   */
  output: Float32Array;
}

/** An smlmrt::cpu::CpuExecutor owned by JS. Runs are serialized; close() frees it (after a run in flight returns). */
export interface NativeCpuExecutor {
  run(request: NativeCpuRunRequest): Promise<{ totalMs: number }>;
  outputValuesPerFrame(height: number, width: number): number;
  close(): void;
  describe(): string;
  readonly threads: number;
  /** The micro-kernel in use: "avx2+fma" or "portable". */
  readonly kernel: string;
}

/** What an addon with the CPU executor adds to NativeAddon (older builds lack it). */
export interface NativeCpuExecutorAddon {
  /** Packs the plan's weights on a worker thread; rejects with E_MODEL_INVALID for a plan it cannot execute. */
  createCpuExecutor(plan: Plan, options?: NativeCpuExecutorOptions): Promise<NativeCpuExecutor>;
  /** The micro-kernel this CPU gets ("avx2+fma" or "portable"; SMLM_RT_CPU_KERNEL=portable forces the latter). */
  cpuKernel: string;
}

/** The addon's CPU executor functions, or undefined when this build of the addon has none. */
export function cpuExecutorOf(addon: NativeAddon): NativeCpuExecutorAddon | undefined {
  const candidate = addon as NativeAddon & Partial<NativeCpuExecutorAddon>;
  return typeof candidate.createCpuExecutor === 'function' ? (candidate as NativeAddon & NativeCpuExecutorAddon) : undefined;
}
