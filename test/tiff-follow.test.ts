/**
 * Following a TIFF that is still being written (lib/io/tiff-follow.ts): pages are read as they become complete, a
 * linked page whose pixels are not all there is waited for, a torn last page is left out and reported, and damaged
 * or foreign files fail with typed errors. The file is written by test/helpers/growing-tiff.ts as a camera would.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SmlmError } from '../lib/errors.js';
import { followTiffStack, type GrowingTiffStack } from '../lib/io/tiff-follow.js';
import { readTiffStack } from '../lib/io/tiff-read.js';
import type { Stack } from '../lib/types.js';
import { GrowingTiffWriter } from './helpers/growing-tiff.js';
import { buildTestTiff, pagesOf, withTag } from './helpers/tiff-builder.js';
import { tempDir } from './helpers/paths.js';

const dir = tempDir('smlm-rt-follow-');
const W = 6;
const H = 4;
const frame = (f: number) => Uint16Array.from({ length: W * H }, (_, i) => (f * 97 + i * 13) % 4000);
const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function collect(stack: GrowingTiffStack, maxFrames = 256): Promise<number[][]> {
  const frames: number[][] = [];
  for await (const chunk of stack.frames(maxFrames)) {
    for (let f = 0; f < chunk.frames; f++) frames.push(Array.from(chunk.data.subarray(f * W * H, (f + 1) * W * H)));
  }
  return frames;
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof SmlmError) return err.code;
    throw err;
  }
  return 'resolved';
}

describe('followTiffStack', () => {
  for (const bigEndian of [false, true]) {
    it(`reads pages as they are written, waiting for a linked page's pixels (${bigEndian ? 'big' : 'little'}-endian)`, async () => {
      const path = join(dir, `growing-${bigEndian ? 'be' : 'le'}.tif`);
      const writer = new GrowingTiffWriter(path, { width: W, height: H, bigEndian, description: 'ImageJ=1.54f\nunit=micron\n' });
      writer.appendPage(frame(0));
      const stack = await followTiffStack(path, { idleMs: 600, pollMs: 20 });
      expect([stack.width, stack.height, stack.sampleType]).toEqual([W, H, 'uint16']);
      const writing = (async () => {
        for (let f = 1; f < 6; f++) {
          await wait(60);
          if (f === 3) {
            // Linked, but only half of its pixels: not read until the rest is there.
            writer.appendPage(frame(f), W * H);
            await wait(100);
            writer.finishPage();
          } else writer.appendPage(frame(f));
        }
        writer.close();
      })();
      const frames = await collect(stack, 2);
      await writing;
      await stack.close();
      expect(frames).toEqual(Array.from({ length: 6 }, (_, f) => Array.from(frame(f))));
      expect([stack.framesRead, stack.stoppedBy, stack.incomplete]).toEqual([6, 'idle', undefined]);
      // The whole file reads as the same stack.
      const whole = await readTiffStack(path);
      expect(whole.frames).toBe(6);
    });
  }

  it('follows a BigTIFF, big-endian, written already: all its pages, then stops when it does not grow', async () => {
    const path = join(dir, 'big.tif');
    writeFileSync(
      path,
      buildTestTiff(
        pagesOf(5, H, W, (f, y, x) => f * 100 + y * W + x),
        { kind: 'uint16', bigTiff: true, bigEndian: true },
      ),
    );
    const stack = await followTiffStack(path, { idleMs: 100, pollMs: 20 });
    const frames = await collect(stack, 2);
    await stack.close();
    expect(frames).toEqual(Array.from({ length: 5 }, (_, f) => Array.from({ length: W * H }, (_, i) => f * 100 + i)));
    expect(stack.stoppedBy).toBe('idle');
  });

  it('leaves out a torn last page and says which', async () => {
    const path = join(dir, 'torn.tif');
    const writer = new GrowingTiffWriter(path, { width: W, height: H });
    for (let f = 0; f < 3; f++) writer.appendPage(frame(f));
    writer.appendPage(frame(3), 7);
    writer.close();
    const stack = await followTiffStack(path, { idleMs: 200, pollMs: 20 });
    const frames = await collect(stack);
    await stack.close();
    expect(frames).toHaveLength(3);
    expect(stack.incomplete).toMatch(/^page 3 \(IFD at byte \d+\) was incomplete when following stopped \(page 3's pixel data ends past the end of the file\)$/);
  });

  it('stops on the signal, keeping what it read', async () => {
    const path = join(dir, 'signal.tif');
    const writer = new GrowingTiffWriter(path, { width: W, height: H });
    writer.appendPage(frame(0));
    writer.appendPage(frame(1));
    const controller = new AbortController();
    const stack = await followTiffStack(path, { idleMs: 60_000, pollMs: 20, signal: controller.signal });
    const frames: Stack[] = [];
    for await (const chunk of stack.frames(1)) {
      frames.push(chunk);
      if (frames.length === 2) setTimeout(() => controller.abort(), 50);
    }
    writer.close();
    await stack.close();
    expect([frames.length, stack.stoppedBy]).toEqual([2, 'signal']);
  });

  it('typed errors: missing, not a TIFF, no page before the file goes idle, aborted while waiting, a page that never completes while the file grows', async () => {
    expect(await codeOf(followTiffStack(join(dir, 'missing.tif'), { idleMs: 100 }))).toBe('E_FILE_NOT_FOUND');
    expect(await codeOf(followTiffStack(dir, { idleMs: 100 }))).toBe('E_FILE_NOT_FOUND');
    const text = join(dir, 'text.tif');
    writeFileSync(text, 'hello, this is no TIFF');
    expect(await codeOf(followTiffStack(text, { idleMs: 100 }))).toBe('E_NOT_TIFF');
    const headerOnly = join(dir, 'header-only.tif');
    new GrowingTiffWriter(headerOnly, { width: W, height: H }).close();
    expect(await codeOf(followTiffStack(headerOnly, { idleMs: 150, pollMs: 20 }))).toBe('E_EMPTY_STACK');
    expect(await codeOf(followTiffStack(headerOnly, { idleMs: 60_000, signal: AbortSignal.timeout(100) }))).toBe('E_ABORTED');
    expect(await codeOf(followTiffStack(headerOnly, { idleMs: 0 }))).toBe('E_BAD_OPTIONS');
    // Damage no growth can mend (a strip too small for its pixels) is said at once.
    const damaged = join(dir, 'damaged.tif');
    writeFileSync(
      damaged,
      withTag(
        buildTestTiff(
          pagesOf(2, H, W, () => 1),
          { kind: 'uint16' },
        ),
        279,
        3,
      ),
    );
    expect(await codeOf(followTiffStack(damaged, { idleMs: 60_000 }))).toBe('E_TIFF_CORRUPT');
    // Page 1's strip lies far past the end, and the writer goes on appending, but not that far: damaged, not late.
    const stalled = join(dir, 'stalled.tif');
    const writer = new GrowingTiffWriter(stalled, { width: W, height: H });
    writer.appendPage(frame(0));
    writer.appendPage(frame(1), undefined, { stripOffset: 100 * 1024 * 1024 });
    const stack = await followTiffStack(stalled, { idleMs: 60_000, pollMs: 20 });
    const reading = codeOf(collect(stack));
    await wait(100);
    writer.appendJunk(2 * 1024 * 1024);
    expect(await reading).toBe('E_TIFF_CORRUPT');
    writer.close();
    await stack.close();
  });
});
