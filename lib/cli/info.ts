/** `smlm-rt info`: which backends can run here, which GPUs the driver sees, and the bundled models' metadata. */
import type { Command } from 'commander';
import { availableParallelism } from 'node:os';
import { loadCpuRuntime, requestedRuntime } from '../backends/onnx-runtime.js';
import { listModels, modelsDir, type ModelInfo } from '../model/registry.js';
import { cellsPerPixel, localizationHeadOf } from '../model/head.js';
import type { ModelMetadata } from '../model/metadata.js';

export interface BackendReport {
  name: 'cpu' | 'cuda' | 'tensorrt';
  /** The code is present (an onnxruntime loads / native addon built with this feature). */
  compiled: boolean;
  usable: boolean;
  detail: string;
  /** cuda and tensorrt: the addon file that loaded (a local build, or the platform package's prebuild); cpu: the same, on the plan executor. */
  addonPath?: string;
  /** cpu: the runtime it runs on (plan, onnxruntime-node or onnxruntime-web: lib/backends/onnx-runtime.ts). */
  runtime?: string;
}

export interface InfoReport {
  version: string;
  node: string;
  platform: string;
  backends: BackendReport[];
  gpus: Array<{ name: string; computeCapability: string; memoryBytes: number }>;
  modelsDir: string;
  models: ModelInfo[];
}

async function cpuReport(): Promise<BackendReport> {
  try {
    const choice = requestedRuntime();
    const why = choice === 'auto' ? 'picked by auto' : `SMLM_RT_CPU_RUNTIME=${choice}`;
    const runtime = await loadCpuRuntime(choice);
    if (runtime.name === 'plan') {
      const executor = `the addon's CPU executor of the compiled model: fp32, ${runtime.kernel} micro-kernel, ${availableParallelism()} threads`;
      return { name: 'cpu', compiled: true, usable: true, runtime: 'plan', addonPath: runtime.addonPath, detail: `plan ${runtime.version} (${executor}; ${choice === 'auto' ? 'picked by auto: the addon loads' : why})` };
    }
    const notes: string[] = [why];
    if (runtime.planUnavailable) notes.push(runtime.planUnavailable);
    if (runtime.nativeUnavailable) notes.push(`WebAssembly; ${runtime.nativeUnavailable}: \`npm install onnxruntime-node\` runs it several times faster`);
    return { name: 'cpu', compiled: true, usable: true, runtime: runtime.name, detail: `${runtime.name} ${runtime.version} (${notes.join('; ')})` };
  } catch (err) {
    return { name: 'cpu', compiled: false, usable: false, detail: (err as Error).message };
  }
}

async function gpuReports(): Promise<{ backends: BackendReport[]; gpus: InfoReport['gpus'] }> {
  try {
    const { cudaStatus } = await import('../backends/cuda.js');
    const s = cudaStatus();
    const why = s.reason ?? 'no usable GPU';
    const trt = s.features.tensorrt === true;
    return {
      backends: [
        { name: 'cuda', compiled: s.compiled, usable: s.usable, detail: s.usable ? `${s.devices.length} device(s)` : why, addonPath: s.addonPath },
        {
          name: 'tensorrt',
          compiled: trt,
          usable: s.usable && trt,
          detail: !s.compiled ? why : !trt ? 'the addon was built without TensorRT' : s.usable ? 'TensorRT compiled in' : why,
        },
      ],
      gpus: s.devices,
    };
  } catch (err) {
    const detail = `GPU backends cannot load: ${(err as Error).message}`;
    return { backends: [{ name: 'cuda', compiled: false, usable: false, detail }, { name: 'tensorrt', compiled: false, usable: false, detail }], gpus: [] };
  }
}

export async function collectInfo(version: string): Promise<InfoReport> {
  const [cpu, gpu, models] = await Promise.all([cpuReport(), gpuReports(), listModels()]);
  return {
    version,
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    backends: [cpu, ...gpu.backends],
    gpus: gpu.gpus,
    modelsDir: modelsDir(),
    models,
  };
}

const PROVENANCE_PREVIEW_CHARS = 160;

/**
 * One readable line from a model's free-form training provenance: the keys scripts/train.py writes, when present;
 * otherwise the JSON itself, shortened. The whole record stays available through `smlm-rt info --json`.
 */
export function summarizeTraining(training: Record<string, unknown>): string {
  const num = (key: string): number | undefined => (typeof training[key] === 'number' ? (training[key] as number) : undefined);
  const str = (key: string): string | undefined => (typeof training[key] === 'string' ? (training[key] as string) : undefined);
  const parts: string[] = [];
  const name = str('model_name') ?? str('architecture');
  if (name) parts.push(name);
  const widths = training.widths;
  if (Array.isArray(widths) && widths.length > 0) parts.push(`widths ${widths.join('-')}`);
  const gmac = num('gmac_per_64x64_frame');
  if (gmac !== undefined) parts.push(`${gmac.toFixed(2)} GMAC per 64x64 frame`);
  const epochs = num('epochs_done');
  const best = num('best_epoch');
  if (epochs !== undefined) parts.push(best !== undefined ? `${epochs} epochs (best ${best})` : `${epochs} epochs`);
  const loss = num('validation_loss');
  if (loss !== undefined) parts.push(`validation loss ${loss.toFixed(4)}`);
  const gpu = str('gpu');
  const seconds = num('train_seconds');
  if (gpu) parts.push(seconds !== undefined ? `${Math.round(seconds)} s on ${gpu}` : `on ${gpu}`);
  const seed = training.data_seed;
  if (typeof seed === 'number' || typeof seed === 'string') parts.push(`data seed ${seed}`);
  const dated = (key: string): string | undefined => {
    const record = training[key];
    return record && typeof record === 'object' && typeof (record as Record<string, unknown>).date === 'string' ? ((record as Record<string, unknown>).date as string) : undefined;
  };
  const refitDate = dated('head_refit');
  if (refitDate) parts.push(`head refit ${refitDate}`);
  const calibrationDate = dated('calibration');
  if (calibrationDate) parts.push(`output scale calibrated ${calibrationDate}`);
  if (parts.length > 0) return `${parts.join(', ')} (all of it: smlm-rt info --json)`;
  const json = JSON.stringify(training);
  return json.length <= PROVENANCE_PREVIEW_CHARS ? json : `${json.slice(0, PROVENANCE_PREVIEW_CHARS)}... (all of it: smlm-rt info --json)`;
}

/** What the network's output is and how smlm-rt turns it into the image (lib/model/head.ts). */
export function describeHead(md: ModelMetadata): string {
  const loc = localizationHeadOf(md);
  if (!loc) return `maps on the ${md.outputPixelNm} nm grid, clamped at zero and summed`;
  const g = cellsPerPixel(loc);
  const { sigma, radius, sigmaRange } = loc.render;
  const width = sigma === 'predicted' ? `each as wide as its predicted uncertainty (${sigmaRange?.[0]}-${sigmaRange?.[1]} fine px)` : `Gaussian of ${sigma} fine px`;
  return `localization: ${g}x${g} detection cells per camera pixel (probability, sub-pixel offset, uncertainty), rendered ${width} within ${radius} fine px`;
}

function formatModel(m: ModelInfo): string[] {
  const head = `  ${m.name}${m.isDefault ? ' (default)' : ''}  ${m.path}`;
  if (!m.metadata) return [head, `    unusable: ${m.error ?? 'unknown error'}`];
  const md = m.metadata;
  const sizes = md.sizeMultiple > 1 ? `sides multiple of ${md.sizeMultiple}, >= ${md.minSize} px` : `sides >= ${md.minSize} px`;
  return [
    head,
    `    ${md.architecture}, ${md.upsampling}x upsampling: ${md.cameraPixelNm} nm camera pixels -> ${md.outputPixelNm} nm output pixels; frames: ${sizes}`,
    `    normalization: per-frame min-max, then (v - ${md.normalization.mean}) / ${md.normalization.std}; output scale ${md.outputScale}`,
    `    head: ${describeHead(md)}`,
    `    training: ${summarizeTraining(md.training)}`,
    `    sha256: ${m.hash}`,
  ];
}

export function formatInfo(info: InfoReport): string {
  const lines = [`smlm-rt ${info.version} (node ${info.node}, ${info.platform})`, 'backends:'];
  for (const b of info.backends) lines.push(`  ${b.name.padEnd(9)} ${b.usable ? 'usable    ' : 'not usable'}  ${b.detail}`);
  lines.push(info.gpus.length ? 'GPUs:' : 'GPUs: none seen');
  info.gpus.forEach((g, i) => lines.push(`  ${i}: ${g.name}, compute capability ${g.computeCapability}, ${(g.memoryBytes / 2 ** 30).toFixed(1)} GiB`));
  lines.push(`models (${info.modelsDir}):`);
  if (info.models.length === 0) lines.push('  none bundled: pass --model <file.onnx>');
  for (const m of info.models) lines.push(...formatModel(m));
  return `${lines.join('\n')}\n`;
}

export function register(program: Command): void {
  program
    .command('info')
    .description('show usable backends, GPUs seen and bundled models with their metadata')
    .option('--json', 'print JSON instead of text')
    .action(async (opts: { json?: boolean }) => {
      const info = await collectInfo(program.version() ?? '?');
      process.stdout.write(opts.json ? `${JSON.stringify(info, null, 2)}\n` : formatInfo(info));
    });
}
