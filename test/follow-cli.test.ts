/**
 * `smlm-rt reconstruct --follow` on a TIFF that a camera-like writer (test/helpers/growing-tiff.ts) is still writing:
 * pages are reconstructed as they appear, a torn last page is left out, the command stops when the file stops
 * growing, and Ctrl-C keeps what was read (exit 130).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readTiffStack } from '../lib/io/tiff-read.js';
import { GrowingTiffWriter } from './helpers/growing-tiff.js';
import { expectedKnownImage, makeKnownModel, writeTempModel } from './helpers/known-model.js';
import { REPO_ROOT, tempDir } from './helpers/paths.js';

const CLI = join(REPO_ROOT, 'dist', 'lib', 'cli', 'main.js');
const dir = tempDir('smlm-rt-follow-cli-');
const modelPath = writeTempModel(makeKnownModel());
const W = 6;
const H = 4;
const frame = (f: number) => Uint16Array.from({ length: W * H }, (_, i) => 100 + ((f * 31 + i * 7) % 50));
const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Child {
  stdout: string;
  stderr: string;
  exit: Promise<number | null>;
  kill(signal: NodeJS.Signals): void;
}

function smlm(args: string[]): Child {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, SMLM_RT_MODELS_DIR: join(dir, 'no-models') } });
  const out: Child = {
    stdout: '',
    stderr: '',
    exit: new Promise((resolve) => child.on('close', (code) => resolve(code))),
    kill: (signal) => child.kill(signal),
  };
  child.stdout.on('data', (d) => (out.stdout += String(d)));
  child.stderr.on('data', (d) => (out.stderr += String(d)));
  return out;
}

async function until(condition: () => boolean, what: string, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await wait(20);
  }
}

/** The output TIFF equals the known model's reconstruction of frames 0..frames-1. */
async function expectImageOf(path: string, frames: number): Promise<void> {
  const values = Array.from({ length: frames }, (_, f) => Array.from(frame(f))).flat();
  const { image } = expectedKnownImage(values, frames, H, W);
  const sr = await readTiffStack(path);
  expect([sr.width, sr.height]).toEqual([2 * W, 2 * H]);
  for (let i = 0; i < image.length; i++) expect(sr.data[i]).toBeCloseTo(image[i], 4);
}

describe('smlm-rt reconstruct --follow (spawned)', () => {
  it('reconstructs pages as they are written, leaves out a torn last page, stops when the file stops growing', async () => {
    const path = join(dir, 'growing.tif');
    const out = join(dir, 'growing-sr.tif');
    const writer = new GrowingTiffWriter(path, { width: W, height: H });
    writer.appendPage(frame(0));
    const run = smlm(['reconstruct', path, '-o', out, '--png', join(dir, 'growing-sr.png'), '--follow', '--idle-seconds', '1.5', '--model', modelPath, '--backend', 'cpu']);
    await until(() => run.stderr.includes('following'), 'the CLI to follow the file');
    for (let f = 1; f < 8; f++) {
      await wait(80);
      writer.appendPage(frame(f));
    }
    writer.appendPage(frame(8), 10); // the writer dies mid-page
    writer.close();
    const code = await run.exit;
    expect(code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^wrote .*growing-sr\.tif and .*growing-sr\.png: 12 x 8 px at 50 nm, 8 frames followed in /);
    expect(run.stderr).toMatch(/page 8 \(IFD at byte \d+\) was incomplete when following stopped .*; it was left out/);
    await expectImageOf(out, 8);
  });

  it('Ctrl-C keeps the frames read, writes them, exits 130', async () => {
    const path = join(dir, 'interrupted.tif');
    const out = join(dir, 'interrupted-sr.tif');
    const writer = new GrowingTiffWriter(path, { width: W, height: H });
    for (let f = 0; f < 3; f++) writer.appendPage(frame(f));
    const run = smlm(['reconstruct', path, '-o', out, '--follow', '--idle-seconds', '600', '--model', modelPath, '--backend', 'cpu']);
    await until(() => run.stderr.includes('following'), 'the CLI to follow the file');
    writer.appendPage(frame(3));
    writer.appendPage(frame(4));
    // The file is looked at every 250 ms: give it ten looks to read both pages, then press Ctrl-C.
    await wait(2500);
    run.kill('SIGINT');
    const code = await run.exit;
    writer.close();
    expect(code, run.stderr).toBe(130);
    expect(run.stderr).toMatch(/smlm-rt: error E_ABORTED: interrupted while following .*: the 5 frames read before Ctrl-C were reconstructed into /);
    await expectImageOf(out, 5);
  });

  it('usage errors: --idle-seconds without --follow or out of range, --frames with --follow', async () => {
    const path = join(dir, 'usage.tif');
    const writer = new GrowingTiffWriter(path, { width: W, height: H });
    writer.appendPage(frame(0));
    writer.close();
    const out = join(dir, 'usage-sr.tif');
    for (const extra of [
      ['--idle-seconds', '2'],
      ['--follow', '--idle-seconds', '0'],
      ['--follow', '--idle-seconds', 'soon'],
      ['--follow', '--frames', '1:2'],
    ]) {
      const run = smlm(['reconstruct', path, '-o', out, '--model', modelPath, '--backend', 'cpu', ...extra]);
      expect(await run.exit, `${extra.join(' ')}: ${run.stderr}`).toBe(2);
    }
    expect(existsSync(out)).toBe(false);
  });
});
