/**
 * examples/replay-live.mjs on the shipped example stack, briefly (30 frames, cpu backend): snapshots every 10 frames,
 * and a final image equal to reconstruct of the same 30 frames. The example imports the compiled library ('smlm-rt',
 * dist/, built by test/global-setup.ts) as an installed program would.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decode } from 'fast-png';
import { describe, expect, it } from 'vitest';
import { readTiffStack } from '../lib/io/tiff-read.js';
import { Reconstructor } from '../lib/reconstructor.js';
import { REPO_ROOT, tempDir } from './helpers/paths.js';

const EXAMPLE = join(REPO_ROOT, 'examples', 'replay-live.mjs');
const STACK = join(REPO_ROOT, 'examples', 'microtubules.tif');

function replay(args: string[]) {
  const run = spawnSync(process.execPath, [EXAMPLE, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

describe('examples/replay-live.mjs', () => {
  it('replays 30 frames of the example at 200 frames/s: a snapshot every 10 frames, the final image as reconstruct gives it', async () => {
    const out = join(tempDir('smlm-rt-replay-'), 'out');
    const run = replay(['--frames', '30', '--every', '10', '--fps', '200', '--backend', 'cpu', '--out', out]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^replaying 30 frames of 64 x 64 px/);
    expect(run.stdout).toMatch(/30 frames in [\d.]+ s/);
    for (const n of [10, 20, 30]) {
      const png = decode(readFileSync(join(out, `snapshot-0000${n}.png`)));
      expect([png.width, png.height, png.channels]).toEqual([512, 512, 3]);
    }
    expect(existsSync(join(out, 'snapshot-000040.png'))).toBe(false);
    const final = await readTiffStack(join(out, 'final.tif'));
    const stack = await readTiffStack(STACK);
    const rec = await Reconstructor.create({ backend: 'cpu' });
    const expected = await rec.reconstruct(stack, { frames: { from: 1, to: 30 } });
    await rec.close();
    expect([final.width, final.height, final.pixelSizeNm]).toEqual([expected.width, expected.height, expected.pixelSizeNm]);
    let worst = 0;
    let peak = 0;
    for (let i = 0; i < expected.image.length; i++) {
      worst = Math.max(worst, Math.abs(final.data[i] - expected.image[i]));
      peak = Math.max(peak, expected.image[i]);
    }
    expect(peak).toBeGreaterThan(0);
    expect(worst).toBeLessThan(1e-5 * peak);
    // Run again: the outputs exist, and nothing is replaced without --force.
    const again = replay(['--frames', '3', '--backend', 'cpu', '--out', out]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already exist; pass --force/);
  });
});
