/**
 * `npm run bench`: speed of the `cpu` backend in ms per frame, on each runtime that loads here (lib/backends/
 * onnx-runtime.ts: `plan`, the addon's CPU executor of the compiled model, which a plain install gets from the platform
 * package; onnxruntime-node, native, where installed; the WebAssembly build smlm-rt ships), for 64x64 and 256x256
 * frames and every bundled model (or the models given), all in one run; a second table puts each runtime's figure
 * side by side per model and frame size. Where models/ is empty, random-weight models of the real
 * architectures' shapes stand in (speed does not depend on the weights) and the table says so.
 * A benchmark, not a test: nothing here asserts.
 *
 *   node dist/benchmarks/cpu.js [--models unet,deepstorm,path.onnx] [--sizes 64,256] [--batch 8] [--min-ms 3000]
 *                               [--runtimes plan,onnxruntime-node,onnxruntime-web] [--rounds 1]
 *
 * Each row: one warm-up call (session warm-up, arena growth), then whole `reconstruct` calls on a fresh uint16 stack
 * until --min-ms has passed; ms/frame = wall time of those calls / frames, so it includes preprocessing and the
 * clamp-and-sum, as a user sees it. With --rounds R (for a shared machine) the runtimes take turns, R rounds of
 * min-ms/R each per model and frame size; the table gives the fastest round and the median.
 */
import { cpus, loadavg } from 'node:os';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CPU_DEFAULT_BATCH, CPU_MAX_BATCH_OUTPUT_PIXELS } from '../lib/backends/cpu.js';
import { CPU_RUNTIME_NAMES, loadCpuRuntime, type CpuRuntime, type CpuRuntimeName } from '../lib/backends/onnx-runtime.js';
import { bundledModelNames } from '../lib/model/registry.js';
import { Reconstructor } from '../lib/reconstructor.js';
import type { Stack } from '../lib/types.js';
import { makeDeepStormModel, makeUNetModel, seededRandom } from './random-models.js';

interface BenchModel {
  label: string;
  /** What Reconstructor.create takes: a bundled name or a path. */
  spec: string;
  note: string;
}

function standIns(): BenchModel[] {
  const dir = mkdtempSync(join(tmpdir(), 'smlm-rt-bench-'));
  // Deep-STORM's published widths (32-64-128-512) and the U-Net of scripts/models.py at roughly its widths (48-96-192).
  const models: Array<[string, Uint8Array]> = [
    ['deepstorm', makeDeepStormModel({ width: 32, withBatchNorm: false })],
    ['unet', makeUNetModel({ base: 48, withBatchNorm: false })],
  ];
  return models.map(([name, bytes]) => {
    const path = join(dir, `${name}.onnx`);
    writeFileSync(path, bytes);
    return { label: name, spec: path, note: 'random-weight stand-in (models/ has none)' };
  });
}

function framesOf(count: number, size: number, seed: number): Stack {
  const rand = seededRandom(seed);
  // Camera-like values: background ~140 ADU with a few bright spots.
  const data = Uint16Array.from({ length: count * size * size }, () => 120 + Math.floor(rand() * 40) + (rand() < 0.01 ? 2000 : 0));
  return { data, frames: count, height: size, width: size, pixelSizeNm: 100 };
}

interface Opened {
  rec: Reconstructor;
  batch: number;
  perCall: number;
}

/** A Reconstructor on `runtime` (createCpuBackend reads SMLM_RT_CPU_RUNTIME), warmed up. */
async function open(model: BenchModel, size: number, batch: number | undefined, runtime: string): Promise<Opened> {
  process.env.SMLM_RT_CPU_RUNTIME = runtime;
  const rec = await Reconstructor.create({ model: model.spec, backend: 'cpu', batchSize: batch });
  const u = rec.model.metadata.upsampling;
  const maxBatch = Math.max(1, Math.floor(CPU_MAX_BATCH_OUTPUT_PIXELS / (size * u) ** 2));
  const effectiveBatch = Math.min(batch ?? CPU_DEFAULT_BATCH, maxBatch);
  const perCall = effectiveBatch * 2; // two batches per call, so batching and accumulation both happen
  await rec.reconstruct(framesOf(Math.min(perCall, 2), size, 1)); // warm-up
  return { rec, batch: effectiveBatch, perCall };
}

/** Whole reconstruct calls on fresh stacks until minMs has passed (and at least 2 frames). */
async function time({ rec, perCall }: Opened, size: number, minMs: number, firstSeed: number) {
  let frames = 0;
  let wallMs = 0;
  let inferenceMs = 0;
  let seed = firstSeed;
  while (wallMs < minMs || frames < 2) {
    const stack = framesOf(perCall, size, seed++);
    const t0 = performance.now();
    const result = await rec.reconstruct(stack);
    wallMs += performance.now() - t0;
    inferenceMs += result.timings.inferenceMs;
    frames += stack.frames;
  }
  return { frames, msPerFrame: wallMs / frames, inferenceShare: inferenceMs / wallMs };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      models: { type: 'string' },
      sizes: { type: 'string', default: '64,256' },
      batch: { type: 'string' },
      'min-ms': { type: 'string', default: '3000' },
      runtimes: { type: 'string', default: CPU_RUNTIME_NAMES.join(',') },
      rounds: { type: 'string', default: '1' },
    },
  });
  const sizes = values.sizes!.split(',').map(Number);
  const batch = values.batch === undefined ? undefined : Number(values.batch);
  const minMs = Number(values['min-ms']);
  const rounds = Math.max(1, Number(values.rounds));
  const requested = values.models?.split(',').filter(Boolean);
  const bundled = bundledModelNames();
  const models: BenchModel[] = requested
    ? requested.map((spec) => ({ label: spec, spec, note: bundled.includes(spec) ? 'bundled' : 'given' }))
    : bundled.length > 0
      ? bundled.map((name) => ({ label: name, spec: name, note: 'bundled' }))
      : standIns();
  // Every runtime asked for that loads here, each timed in this one run (createCpuBackend reads SMLM_RT_CPU_RUNTIME).
  const runtimes: CpuRuntime[] = [];
  for (const name of values.runtimes!.split(',').filter(Boolean) as CpuRuntimeName[]) {
    try {
      runtimes.push(await loadCpuRuntime(name));
    } catch (err) {
      console.log(`(${name} skipped: ${(err as Error).message})`);
    }
  }
  const cpu = cpus();
  const label = (r: CpuRuntime) => (r.name === 'plan' ? `plan (smlm-rt ${r.version} addon, ${r.kernel})` : `${r.name} ${r.version}`);
  console.log(
    `smlm-rt cpu benchmark: ${runtimes.map(label).join(', ')}; node ${process.version}, ${cpu.length} x ${cpu[0]?.model ?? 'unknown CPU'}, load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  const figures = new Map<string, Map<string, number>>();
  if (rounds > 1)
    console.log(`each row: ${rounds} rounds of >= ${minMs / rounds} ms, the runtimes taking turns (a shared machine's load hits them alike); ms/frame of the fastest round, the median beside it`);
  console.log('runtime          | model      | frame   | batch | frames timed | ms/frame | median | frames/s | inference share | model source');
  console.log('-----------------|------------|---------|-------|--------------|----------|--------|----------|-----------------|-------------');
  for (const model of models) {
    for (const size of sizes) {
      const opened: Opened[] = [];
      for (const runtime of runtimes) opened.push(await open(model, size, batch, runtime.name));
      const measured: Array<Array<Awaited<ReturnType<typeof time>>>> = runtimes.map(() => []);
      try {
        for (let round = 0; round < rounds; round++) {
          for (let i = 0; i < runtimes.length; i++) measured[i].push(await time(opened[i], size, minMs / rounds, 2 + 1000 * round));
        }
      } finally {
        for (const o of opened) await o.rec.close();
      }
      runtimes.forEach((runtime, i) => {
        const byTime = [...measured[i]].sort((a, b) => a.msPerFrame - b.msPerFrame);
        const best = byTime[0];
        const median = byTime[Math.floor((byTime.length - 1) / 2)];
        const frames = byTime.reduce((sum, m) => sum + m.frames, 0);
        const row = `${model.label} | ${`${size}x${size}`.padEnd(7)} | ${String(opened[i].batch).padStart(5)}`;
        if (!figures.has(row)) figures.set(row, new Map());
        figures.get(row)!.set(runtime.name, best.msPerFrame);
        console.log(
          `${runtime.name.padEnd(16)} | ${model.label.padEnd(10)} | ${`${size}x${size}`.padEnd(7)} | ${String(opened[i].batch).padStart(5)} | ${String(frames).padStart(12)} | ${best.msPerFrame.toFixed(1).padStart(8)} | ${median.msPerFrame.toFixed(1).padStart(6)} | ${(1000 / best.msPerFrame).toFixed(2).padStart(8)} | ${`${(100 * best.inferenceShare).toFixed(0)} %`.padStart(15)} | ${model.note}`,
        );
      });
    }
  }
  // Side by side: the same figures, one row per model and frame size.
  const names = runtimes.map((r) => r.name);
  console.log(
    `\nms/frame side by side (load average now ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')})`,
  );
  console.log(`model | frame | batch | ${names.join(' | ')}`);
  for (const [row, byRuntime] of figures) console.log(`${row} | ${names.map((n) => byRuntime.get(n)?.toFixed(1) ?? '-').join(' | ')}`);
}

await main();
