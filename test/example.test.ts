import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readTiffStack } from '../lib/io/tiff-read.js';
import { encodeStackTiff } from '../lib/io/tiff-write.js';
import { simulateStack } from '../lib/simulate/simulate.js';
import { REPO_ROOT } from './helpers/paths.js';

const EXAMPLE = join(REPO_ROOT, 'examples', 'microtubules.tif');

describe('the shipped example stack', () => {
  it('is what scripts/make-example.ts makes (seed 2026, 100 frames): regenerate it if the simulator changed', () => {
    const { stack } = simulateStack({ seed: 2026, frames: 100 });
    const expected = encodeStackTiff(stack);
    const actual = readFileSync(EXAMPLE);
    expect(actual.length).toBe(expected.length);
    expect(Buffer.compare(actual, Buffer.from(expected))).toBe(0);
  });

  it('reads as 100 frames of 64x64 uint16 at 100 nm', async () => {
    const stack = await readTiffStack(EXAMPLE);
    expect({ frames: stack.frames, height: stack.height, width: stack.width, pixelSizeNm: stack.pixelSizeNm }).toEqual({ frames: 100, height: 64, width: 64, pixelSizeNm: 100 });
    expect(stack.data).toBeInstanceOf(Uint16Array);
  });
});
