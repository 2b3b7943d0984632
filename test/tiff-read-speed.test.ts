/**
 * "TIFF at disk speed" on any machine: streaming a 262 MB uncompressed stack (2,000 frames of 256 x 256 uint16)
 * through openTiffStack, as reconstructSource reads it, takes at most 3x fs.readFile of the same file. Both are
 * timed from the page cache (the file was just written and is read once before timing), best of three each, so the
 * ratio compares the readers, not the disk. The file is written to the system's temp folder and deleted after.
 */
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { expectedFrame, writeUint16Stack } from '../benchmarks/stack-file.js';
import { openTiffStack } from '../lib/io/tiff-read.js';
import { tempDir } from './helpers/paths.js';

const dir = tempDir();
afterAll(() => rm(dir, { recursive: true, force: true }));

/** Best times of `a` and `b`, run in turns (a, b, a, b, ...) so that both see the same machine load. */
async function bestOfTurns(turns: number, a: () => Promise<unknown>, b: () => Promise<unknown>): Promise<[number, number]> {
  const best = [Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY];
  for (let i = 0; i < turns; i++) {
    for (const [k, fn] of [a, b].entries()) {
      const started = performance.now();
      await fn();
      best[k] = Math.min(best[k], performance.now() - started);
    }
  }
  return [best[0], best[1]];
}

/** Streams every frame in chunks of 256 (reconstructSource's chunk); returns a checksum so that nothing is skipped. */
async function streamStack(path: string): Promise<number> {
  const source = await openTiffStack(path);
  let sum = 0;
  try {
    for await (const chunk of source.chunks(256)) sum += chunk.data[chunk.data.length - 1];
  } finally {
    await source.close();
  }
  return sum;
}

describe('TIFF at disk speed', () => {
  for (const layout of ['imagej', 'interleaved'] as const) {
    it(`streams a 262 MB uncompressed stack (${layout} layout) within 3x of fs.readFile`, async () => {
      const [frames, height, width] = [2000, 256, 256];
      const path = join(dir, `${layout}.tif`);
      const size = await writeUint16Stack(path, frames, height, width, { layout });
      expect(size).toBeGreaterThan(262e6);
      // Right pixels, first and last frame.
      const source = await openTiffStack(path);
      const chunks = [];
      for await (const chunk of source.chunks(1999)) chunks.push(chunk);
      await source.close();
      expect(Array.from(chunks[0].data.subarray(0, height * width))).toEqual(Array.from(expectedFrame(0, height, width)));
      expect(Array.from(chunks[1].data)).toEqual(Array.from(expectedFrame(1999, height, width)));
      await readFile(path); // warm the page cache
      const [readFileMs, streamMs] = await bestOfTurns(
        4,
        () => readFile(path),
        () => streamStack(path),
      );
      const mbps = (ms: number) => ((size / 1e6) * 1000) / ms;
      console.log(
        `[tiff-read-speed] ${layout}: openTiffStack ${streamMs.toFixed(0)} ms (${mbps(streamMs).toFixed(0)} MB/s), fs.readFile ${readFileMs.toFixed(0)} ms (${mbps(readFileMs).toFixed(0)} MB/s), ratio ${(streamMs / readFileMs).toFixed(2)}`,
      );
      expect(streamMs).toBeLessThanOrEqual(3 * readFileMs);
      await rm(path);
    }, 120_000);
  }
});
