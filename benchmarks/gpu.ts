/**
 * `npm run bench:gpu`: speed of the `cuda` backend. For the `deepstorm` model and the default model, frames of
 * 64x64 and 256x256 and batch sizes 1..256 it prints
 *   - ms/frame on the device (kernel time from CUDA events, summed over batches),
 *   - ms/frame end to end (a host Uint16Array stack in, the host Float32Array image out, as a user calls it),
 *   - GMAC/frame actually executed (the compiled plan) and the fraction of the GPU's dense FP16 tensor peak.
 * Models come from models/; where models/ lacks one, a random-weight model of the same shape stands in (speed does
 * not depend on the weights) and the table says so. A benchmark, not a test: nothing here asserts.
 *
 *   node dist/benchmarks/gpu.js [--models deepstorm,unet] [--sizes 64,256] [--batches 1,2,...,256]
 *                               [--min-ms 400] [--json results.json] [--torch-log torch.txt]
 *   node dist/benchmarks/gpu.js --from-json results.json --torch-log torch.txt      (compare only, no GPU work)
 *
 * --torch-log: the output of /work/shared/reference/deepstorm_torch_bench.py run on the same GPU (lines
 * "== torch size N ==" mark the frame size of the lines that follow); printed next to smlm-rt's deepstorm numbers.
 */
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { createCudaBackend, cudaStatus } from '../lib/backends/cuda.js';
import { planMacsPerFrame } from '../lib/engine/plan.js';
import { bundledModelNames, defaultModelName, resolveModel } from '../lib/model/registry.js';
import { loadOnnxModel, type LoadedModel } from '../lib/model/onnx.js';
import { loadAddon } from '../lib/native/binding.js';
import { compilePlan } from '../lib/native/compiler.js';
import { NativeEngineBackend } from '../lib/backends/native-engine.js';
import { makeStack } from './synthetic-stack.js';
import { makeDeepStormModel, makeUNetModel } from './random-models.js';

/** Dense FP16 tensor-core peak with FP32 accumulation (NVIDIA datasheets, boost clock), TFLOP/s. */
const FP16_PEAK_TFLOPS: Array<[RegExp, number]> = [
  [/H100.*PCIe/i, 756],
  [/H100 NVL/i, 835],
  [/H100|H800/i, 989.4], // SXM5 (HBM3)
  [/H200/i, 989.4],
  [/GH200/i, 989.4],
  [/A100|A800/i, 312],
  [/L40S/i, 362],
  [/L40/i, 181],
  [/L4\b/i, 121],
  [/A10\b/i, 125],
  [/RTX 4090/i, 165],
  [/T4\b/i, 65],
];

function peakTflops(deviceName: string): { tflops?: number; source: string } {
  const override = Number(process.env.SMLM_RT_PEAK_TFLOPS);
  if (Number.isFinite(override) && override > 0) return { tflops: override, source: 'SMLM_RT_PEAK_TFLOPS' };
  for (const [pattern, tflops] of FP16_PEAK_TFLOPS) if (pattern.test(deviceName)) return { tflops, source: `datasheet value for ${pattern.source}` };
  return { source: 'unknown GPU: set SMLM_RT_PEAK_TFLOPS' };
}

interface BenchModel {
  label: string;
  model: LoadedModel;
}

async function fromBytes(name: string, bytes: Uint8Array): Promise<LoadedModel> {
  const path = join(mkdtempSync(join(tmpdir(), 'smlm-rt-bench-')), `${name}.onnx`);
  writeFileSync(path, bytes);
  return loadOnnxModel(path, name);
}

/** `deepstorm` and the default model; random-weight stand-ins of the same shape where models/ lacks them. */
async function benchModels(requested: string[] | undefined): Promise<BenchModel[]> {
  const shipped = new Set(bundledModelNames());
  const names = requested ?? [...new Set(['deepstorm', defaultModelName() ?? 'unet'])];
  const models: BenchModel[] = [];
  for (const name of names) {
    if (shipped.has(name)) {
      models.push({ label: name, model: await resolveModel(name) });
    } else if (name === 'deepstorm') {
      models.push({ label: 'deepstorm (random weights, full width 32-64-128-512)', model: await fromBytes('deepstorm', makeDeepStormModel({ width: 32, seed: 1, withBatchNorm: false })) });
    } else if (name === 'unet') {
      models.push({ label: 'unet-shaped (random weights, base 32; not the shipped model)', model: await fromBytes('unet', makeUNetModel({ base: 32, seed: 2, withBatchNorm: false })) });
    } else {
      models.push({ label: name, model: await resolveModel(name) });
    }
  }
  return models;
}

/** SMLM-like uint16 stacks (benchmarks/synthetic-stack.ts), made once per size: making one takes longer than running it. */
const stacks = new Map<string, ReturnType<typeof makeStack>>();
function cachedStack(frames: number, side: number): ReturnType<typeof makeStack> {
  const key = `${frames}x${side}`;
  let stack = stacks.get(key);
  if (!stack) {
    stack = makeStack(frames, side, side, side * 7919 + frames);
    stacks.set(key, stack);
  }
  return stack;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

interface Row {
  model: string;
  side: number;
  frames: number;
  batch: number;
  batchUsed: number;
  deviceMsPerFrame: number;
  endToEndMsPerFrame: number;
  gmacPerFrame: number;
  deviceTflops: number;
  peakFraction?: number;
  endToEndPeakFraction?: number;
}

async function benchOne(backend: NativeEngineBackend, model: BenchModel, side: number, batch: number, gmac: number, peak: number | undefined, minMs: number): Promise<Row> {
  // Small frames: enough that every batch size runs at least two batches. Large frames (a few ms each): at least
  // one full batch, so that the largest batch sizes are measured without the run taking seconds.
  const frames = side <= 64 ? Math.max(2 * batch, 512) : Math.max(batch, 64);
  const stack = cachedStack(frames, side);
  const u = model.model.metadata.upsampling;
  const image = new Float32Array(side * u * side * u);
  await backend.run(stack, image, { batchSize: batch }); // warm-up: allocation, tactic choice, graph capture
  const endToEnd: number[] = [];
  const device: number[] = [];
  let batchUsed = batch;
  const started = performance.now();
  while (endToEnd.length < 3 || (performance.now() - started < minMs && endToEnd.length < 50)) {
    image.fill(0);
    const t0 = performance.now();
    const timings = await backend.run(stack, image, { batchSize: batch });
    endToEnd.push((performance.now() - t0) / frames);
    device.push(timings.inferenceMs / frames);
    batchUsed = backend.lastStats?.batchSize ?? batch;
  }
  const deviceMsPerFrame = median(device);
  const endToEndMsPerFrame = median(endToEnd);
  const deviceTflops = (2 * gmac * 1e9) / (deviceMsPerFrame * 1e-3) / 1e12;
  const e2eTflops = (2 * gmac * 1e9) / (endToEndMsPerFrame * 1e-3) / 1e12;
  return {
    model: model.label,
    side,
    frames,
    batch,
    batchUsed,
    deviceMsPerFrame,
    endToEndMsPerFrame,
    gmacPerFrame: gmac,
    deviceTflops,
    peakFraction: peak ? deviceTflops / peak : undefined,
    endToEndPeakFraction: peak ? e2eTflops / peak : undefined,
  };
}

function pad(text: string, width: number): string {
  return text.length >= width ? text : ' '.repeat(width - text.length) + text;
}

const TABLE_HEADER = ['batch', 'used', 'device ms/frame', 'e2e ms/frame', 'e2e frames/s', 'GMAC/frame', 'device TFLOP/s', '% FP16 peak (dev)', '% peak (e2e)'];
const TABLE_WIDTHS = TABLE_HEADER.map((h) => Math.max(h.length, 8));

function printTableHeader(): void {
  console.log(TABLE_HEADER.map((h, i) => pad(h, TABLE_WIDTHS[i])).join('  '));
}

/** One line per measurement, printed as soon as it exists (a time limit then keeps what was measured). */
function printTableRow(r: Row): void {
  const cells = [
    String(r.batch),
    String(r.batchUsed),
    r.deviceMsPerFrame.toFixed(4),
    r.endToEndMsPerFrame.toFixed(4),
    (1000 / r.endToEndMsPerFrame).toFixed(0),
    r.gmacPerFrame.toFixed(2),
    r.deviceTflops.toFixed(1),
    r.peakFraction === undefined ? 'n/a' : (100 * r.peakFraction).toFixed(1),
    r.endToEndPeakFraction === undefined ? 'n/a' : (100 * r.endToEndPeakFraction).toFixed(1),
  ];
  console.log(cells.map((c, i) => pad(c, TABLE_WIDTHS[i])).join('  '));
}

/** The torch reference's per-batch lines: "batch   64 ms/frame (on-device, summed): eager fp32 a | eager fp16 b | compiled fp16 c". */
interface TorchRow {
  size: number;
  batch: number;
  eagerFp32: number;
  eagerFp16: number;
  compiledFp16?: number;
}

function parseTorchLog(text: string): { rows: TorchRow[]; device?: string; endToEnd: string[] } {
  const rows: TorchRow[] = [];
  const endToEnd: string[] = [];
  let size = 64;
  let device: string | undefined;
  for (const line of text.split('\n')) {
    const sizeMarker = /^== torch size (\d+) ==/.exec(line);
    if (sizeMarker) size = Number(sizeMarker[1]);
    const dev = /^device (.+?) torch/.exec(line);
    if (dev) device = dev[1];
    const m = /^batch\s+(\d+) ms\/frame \(on-device, summed\): eager fp32 ([\d.]+) \| eager fp16 ([\d.]+)(?: \| compiled fp16 ([\d.]+))?/.exec(line);
    if (m && !rows.some((r) => r.size === size && r.batch === Number(m[1]))) {
      rows.push({ size, batch: Number(m[1]), eagerFp32: Number(m[2]), eagerFp16: Number(m[3]), compiledFp16: m[4] === undefined ? undefined : Number(m[4]) });
    }
    if (line.startsWith('end-to-end')) endToEnd.push(`${size}x${size}: ${line}`);
  }
  return { rows, device, endToEnd };
}

function printComparison(rows: Row[], torchText: string): void {
  const torch = parseTorchLog(torchText);
  const deepstormLabel = rows.find((r) => r.model.startsWith('deepstorm'))?.model;
  console.log(`\n== smlm-rt cuda vs PyTorch reference (deepstorm_torch_bench.py, random-weight Deep-STORM), same GPU${torch.device ? `: ${torch.device}` : ''} ==`);
  if (torch.rows.length === 0) {
    console.log('(no per-batch lines found in the torch log)');
    return;
  }
  const header = ['frame', 'batch', 'smlm-rt e2e', 'smlm-rt device', 'torch fp32 eager', 'torch fp16 eager', 'torch.compile fp16', 'e2e speed-up vs compiled'];
  const widths = header.map((h) => Math.max(h.length, 8));
  console.log('ms/frame; torch figures are kernels only (on-device, frames already on the GPU)');
  console.log(header.map((h, i) => pad(h, widths[i])).join('  '));
  for (const t of torch.rows) {
    const ours = rows.find((r) => r.model === deepstormLabel && r.side === t.size && r.batch === t.batch);
    const cells = [
      `${t.size}x${t.size}`,
      String(t.batch),
      ours ? ours.endToEndMsPerFrame.toFixed(4) : 'n/a',
      ours ? ours.deviceMsPerFrame.toFixed(4) : 'n/a',
      t.eagerFp32.toFixed(3),
      t.eagerFp16.toFixed(3),
      t.compiledFp16 === undefined ? 'n/a' : t.compiledFp16.toFixed(3),
      ours && t.compiledFp16 !== undefined ? `${(t.compiledFp16 / ours.endToEndMsPerFrame).toFixed(2)}x` : 'n/a',
    ];
    console.log(cells.map((c, i) => pad(c, widths[i])).join('  '));
  }
  for (const line of torch.endToEnd) console.log(`torch ${line}`);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      models: { type: 'string' },
      sizes: { type: 'string', default: '64,256' },
      batches: { type: 'string', default: '1,2,4,8,16,32,64,128,256' },
      'min-ms': { type: 'string', default: '400' },
      json: { type: 'string' },
      'torch-log': { type: 'string' },
      'from-json': { type: 'string' },
    },
  });
  if (values['from-json']) {
    const saved = JSON.parse(readFileSync(values['from-json'], 'utf8')) as { rows: Row[] };
    if (values['torch-log']) printComparison(saved.rows, readFileSync(values['torch-log'], 'utf8'));
    return;
  }
  const status = cudaStatus();
  if (!status.usable) {
    console.log(`bench:gpu: no usable GPU (${status.reason ?? 'unknown reason'}); nothing to measure.`);
    return;
  }
  const loaded = loadAddon();
  const features = loaded.ok ? loaded.addon.features : undefined;
  const device = status.devices[0];
  const peak = peakTflops(device.name);
  console.log(`smlm-rt ${features?.version ?? '?'} bench:gpu on ${device.name} (sm_${device.computeCapability.replace('.', '')}, ${(device.memoryBytes / 2 ** 30).toFixed(0)} GiB), CUDA runtime ${features?.cudaRuntimeVersion ?? '?'}, kernels for ${features?.cudaArchitectures ?? '?'}`);
  console.log(`FP16 tensor peak assumed: ${peak.tflops ?? 'n/a'} TFLOP/s (${peak.source}); e2e = host Uint16 stack in -> host Float32 image out; device = kernel time (CUDA events)`);
  const sizes = values.sizes.split(',').map(Number);
  const batches = values.batches.split(',').map(Number);
  const minMs = Number(values['min-ms']);
  const models = await benchModels(values.models?.split(','));
  const rows: Row[] = [];
  // Rewritten after every measurement, so that a run stopped by a time limit still leaves its results.
  const saveJson = () => {
    if (values.json) writeFileSync(values.json, JSON.stringify({ device, peak, features, rows }, null, 2));
  };
  for (const model of models) {
    const plan = await compilePlan(model.model);
    const backend = await createCudaBackend(model.model, { batchSize: Math.max(...batches) });
    if (!(backend instanceof NativeEngineBackend)) throw new Error('unexpected backend type');
    try {
      for (const side of sizes) {
        if (side % model.model.metadata.sizeMultiple !== 0 || side < model.model.metadata.minSize) {
          console.log(`\n${model.label}: ${side}x${side} frames not accepted by the model; skipped`);
          continue;
        }
        const gmac = planMacsPerFrame(plan, side, side) / 1e9;
        console.log(`\n== ${model.label}: ${side}x${side} -> ${side * model.model.metadata.upsampling}x${side * model.model.metadata.upsampling}, ${gmac.toFixed(2)} GMAC/frame executed ==`);
        console.log(backend.describe());
        printTableHeader();
        for (const batch of batches) {
          const row = await benchOne(backend, model, side, batch, gmac, peak.tflops, minMs);
          printTableRow(row);
          rows.push(row);
          saveJson();
        }
      }
    } finally {
      await backend.close();
    }
  }
  if (values['torch-log']) printComparison(rows, readFileSync(values['torch-log'], 'utf8'));
  if (values.json) console.log(`\nwrote ${values.json}`);
}

main().catch((err: unknown) => {
  console.error(`bench:gpu failed: ${(err as Error).stack ?? String(err)}`);
  process.exit(1);
});
