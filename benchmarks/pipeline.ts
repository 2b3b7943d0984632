/**
 * `npm run bench:pipeline`: the whole path from a file, side by side in one run, for the four stacks of issue #12
 * (generated on the fly as uncompressed uint16 TIFFs in a temp folder, deleted at the end). ms per frame of:
 *
 *   engine      the backend's own inference time (result.timings.inferenceMs) where the backend is a GPU one; n/a on
 *               the cpu backend (there the in-memory column is the engine, give or take the clamp-and-sum)
 *   in memory   Reconstructor.reconstruct on the stack already in memory (wall time of the call)
 *   live        the same frames pushed at full speed into Reconstructor.live() in chunks of 256, then finish()
 *               (wall time from opening the session to the result)
 *   read        openTiffStack streaming every frame in reconstructSource's chunks of 256 (MB/s beside it)
 *   readFile    fs.readFile of the same file (MB/s beside it), the bound a reader can reach
 *   CLI         `smlm-rt reconstruct file -o out.tif` in a child process (wall time: Node start, model load, read,
 *               reconstruct, write the result)
 *
 *   node dist/benchmarks/pipeline.js [--backend auto|cpu|cuda|tensorrt] [--scale F] [--sizes 64,256,512,2048]
 *                                    [--model NAME|file.onnx] [--json out.json] [--read-only]
 *
 * --scale multiplies every stack's frame count (at least 1 frame). The cpu backend needs ~18 ms per 64x64 frame, so
 * its default scale is 0.01 (200, 20, 4 and 1 frames); GPU backends default to 1. --read-only measures only the two
 * read columns (scale 1 by default), for the read side at full size on a machine without a GPU. A benchmark:
 * nothing asserts.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { openTiffStack, readTiffStack } from '../lib/io/tiff-read.js';
import { Reconstructor } from '../lib/reconstructor.js';
import type { BackendChoice } from '../lib/types.js';
import { writeUint16Stack } from './stack-file.js';

/** The stacks of issue #12: frames x height x width, uint16. */
const STACKS: Array<{ frames: number; size: number }> = [
  { frames: 20_000, size: 64 },
  { frames: 2_000, size: 256 },
  { frames: 400, size: 512 },
  { frames: 24, size: 2048 },
];

const CLI = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'lib', 'cli', 'main.js');

interface Row {
  frames: number;
  height: number;
  width: number;
  fileBytes: number;
  /** ms per frame; null where not measured (engine on the cpu backend). */
  engineMs: number | null;
  inMemoryMs: number | null;
  liveMs: number | null;
  readMs: number;
  readMBps: number;
  readFileMs: number;
  readFileMBps: number;
  cliMs: number | null;
  cliError?: string;
}

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const started = performance.now();
  const value = await fn();
  return [value, performance.now() - started];
}

/** Streams every frame as reconstructSource does (chunks of 256); best of `turns`. */
async function readMs(path: string, turns: number): Promise<number> {
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < turns; i++) {
    const [, ms] = await timed(async () => {
      const source = await openTiffStack(path);
      try {
        for await (const chunk of source.chunks(256)) void chunk;
      } finally {
        await source.close();
      }
    });
    best = Math.min(best, ms);
  }
  return best;
}

async function readFileMs(path: string, turns: number): Promise<number> {
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < turns; i++) best = Math.min(best, (await timed(() => readFile(path)))[1]);
  return best;
}

/**
 * Wall time of reconstruct on the stack in memory, of the same frames pushed into a live session, and the engine's
 * own time where the backend is a GPU one.
 */
async function inMemoryMs(rec: Reconstructor, path: string): Promise<{ inMemory: number; live: number; engine: number | null }> {
  const stack = await readTiffStack(path);
  // Warm-up on the whole stack: sessions, arenas, and the GPU engine's kernel choices, which it times and caches the
  // first time it meets a batch size and a frame or tile shape. A one-frame warm-up left the timed call to choose them
  // for the stack's own batch: on the H200 (2026-12-05) that read 21.9 and 1623 ms/frame at 512x512 and 2048x2048,
  // where the engine's own time was 2.26 and 36.6 and the live session, timed after it, 2.40 and 76.7.
  await rec.reconstruct(stack);
  const [result, inMemory] = await timed(() => rec.reconstruct(stack));
  const [, live] = await timed(async () => {
    const session = await rec.live({ height: stack.height, width: stack.width, sourcePixelSizeNm: stack.pixelSizeNm });
    const pixels = stack.height * stack.width;
    for (let first = 0; first < stack.frames; first += 256) await session.push(stack.data.subarray(first * pixels, Math.min(stack.frames, first + 256) * pixels), { copy: false });
    return session.finish();
  });
  const gpu = rec.backendName === 'cuda' || rec.backendName === 'tensorrt';
  return { inMemory, live, engine: gpu ? result.timings.inferenceMs : null };
}

async function benchStack(rec: Reconstructor | undefined, dir: string, frames: number, size: number, backend: string, model: string | undefined): Promise<Row> {
  const path = join(dir, `stack-${frames}x${size}x${size}.tif`);
  const fileBytes = await writeUint16Stack(path, frames, size, size);
  const reconstructed = rec ? await inMemoryMs(rec, path) : undefined;
  await readFile(path); // the page cache holds the file for every reader alike
  const readTurns = frames * size * size * 2 > 512e6 ? 1 : 3;
  const read = await readMs(path, readTurns);
  const whole = await readFileMs(path, readTurns);
  const out = join(dir, 'out.tif');
  const args = [CLI, 'reconstruct', path, '-o', out, '--force', '--quiet', '--backend', backend, ...(model ? ['--model', model] : [])];
  const [cli, cliMs] = rec ? await timed(async () => spawnSync(process.execPath, args, { encoding: 'utf8' })) : [undefined, 0];
  rmSync(out, { force: true });
  rmSync(path, { force: true });
  const mbps = (ms: number) => fileBytes / 1e6 / (ms / 1000);
  return {
    frames,
    height: size,
    width: size,
    fileBytes,
    engineMs: reconstructed?.engine != null ? reconstructed.engine / frames : null,
    inMemoryMs: reconstructed ? reconstructed.inMemory / frames : null,
    liveMs: reconstructed ? reconstructed.live / frames : null,
    readMs: read / frames,
    readMBps: mbps(read),
    readFileMs: whole / frames,
    readFileMBps: mbps(whole),
    cliMs: cli?.status === 0 ? cliMs / frames : null,
    ...(cli && cli.status !== 0 ? { cliError: (cli.stderr || String(cli.error)).trim().split('\n').at(-1) } : {}),
  };
}

function fmt(ms: number | null): string {
  if (ms === null) return 'n/a';
  return ms >= 100 ? ms.toFixed(0) : ms >= 1 ? ms.toFixed(2) : ms.toFixed(3);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      backend: { type: 'string', default: 'auto' },
      scale: { type: 'string' },
      sizes: { type: 'string', default: '64,256,512,2048' },
      model: { type: 'string' },
      json: { type: 'string' },
      'read-only': { type: 'boolean', default: false },
    },
  });
  const readOnly = values['read-only']!;
  const rec = readOnly ? undefined : await Reconstructor.create({ backend: values.backend as BackendChoice, model: values.model });
  try {
    const backend = rec?.backendName ?? 'none (--read-only)';
    const scale = values.scale === undefined ? (backend === 'cpu' ? 0.01 : 1) : Number(values.scale);
    if (!(scale > 0)) throw new Error(`--scale must be a positive number, got ${values.scale}`);
    const sizes = values.sizes!.split(',').map(Number);
    const dir = mkdtempSync(join(tmpdir(), 'smlm-rt-pipeline-'));
    const cpu = cpus();
    console.log(
      `smlm-rt pipeline benchmark: backend ${backend}${rec?.fallbackReason ? ' (no usable GPU)' : ''}, model ${rec?.model.name ?? 'none'}, scale ${scale}, node ${process.version}, ${cpu.length} x ${cpu[0]?.model ?? 'unknown CPU'}`,
    );
    if (backend === 'cpu' && values.scale === undefined) console.log('(cpu backend: frame counts scaled by 0.01 by default; --scale 1 runs the full stacks, for hours)');
    console.log('ms per frame       | engine | in memory |   live  |   read (MB/s)     | readFile (MB/s)   |   CLI');
    console.log('-------------------|--------|-----------|---------|-------------------|-------------------|--------');
    const rows: Row[] = [];
    try {
      for (const { frames: full, size } of STACKS.filter((s) => sizes.includes(s.size))) {
        const frames = Math.max(1, Math.round(full * scale));
        const row = await benchStack(rec, dir, frames, size, backend, values.model);
        rows.push(row);
        const label = `${row.frames} x ${size}x${size}`;
        console.log(
          `${label.padEnd(18)} | ${fmt(row.engineMs).padStart(6)} | ${fmt(row.inMemoryMs).padStart(9)} | ${fmt(row.liveMs).padStart(7)} | ${fmt(row.readMs).padStart(7)} (${row.readMBps.toFixed(0).padStart(5)}) | ${fmt(row.readFileMs).padStart(7)} (${row.readFileMBps.toFixed(0).padStart(5)}) | ${fmt(row.cliMs).padStart(6)}${row.cliError ? `  CLI failed: ${row.cliError}` : ''}`,
        );
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    if (values.json) {
      writeFileSync(values.json, JSON.stringify({ backend, model: rec?.model.name ?? null, scale, node: process.version, cpu: cpu[0]?.model, cores: cpu.length, rows }, null, 2) + '\n');
      console.log(`wrote ${values.json}`);
    }
  } finally {
    await rec?.close();
  }
}

await main();
