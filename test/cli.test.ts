import { spawnSync } from 'node:child_process';
import { copyFileSync, linkSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decode } from 'fast-png';
import { describe, expect, it } from 'vitest';
import { readTiffStack } from '../lib/io/tiff-read.js';
import { writeFloatTiff } from '../lib/io/tiff-write.js';
import { formatThunderstormCsv } from '../lib/simulate/csv.js';
import { expectedKnownImage, makeKnownModel, writeTempModel } from './helpers/known-model.js';
import { REPO_ROOT, tempDir } from './helpers/paths.js';
import { interruptAtProgress } from './helpers/interrupt.js';
import { buildTestTiff, pagesOf } from './helpers/tiff-builder.js';

// The CLI runs from dist/, which test/global-setup.ts compiles from the current sources before any test file runs.
const CLI = join(REPO_ROOT, 'dist', 'lib', 'cli', 'main.js');
const dir = tempDir('smlm-rt-cli-');
const modelPath = writeTempModel(makeKnownModel());
const emptyModels = join(dir, 'no-models');

const pixel = (f: number, y: number, x: number) => 100 + ((f * 31 + y * 7 + x * 13) % 50);
const stackPath = join(dir, 'stack.tif');
writeFileSync(stackPath, buildTestTiff(pagesOf(3, 4, 6, pixel), { kind: 'uint16', description: 'ImageJ=1.54f\nimages=3\nunit=micron\n', resolution: { x: [10, 1], unit: 1 } }));

function smlm(args: string[], env: Record<string, string> = {}) {
  const run = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, SMLM_RT_MODELS_DIR: emptyModels, ...env }, timeout: 60_000 });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

/** The CLI's one-line error contract: exactly one stderr line with the code, no stack trace. */
function expectOneLineError(stderr: string, code: string): void {
  const lines = stderr.trim().split('\n');
  expect(lines, stderr).toHaveLength(1);
  expect(lines[0]).toMatch(new RegExp(`^smlm-rt: error ${code}: \\S`));
  expect(stderr).not.toMatch(/\n\s+at /);
}

/** stderr without the `smlm-rt: note:` lines (e.g. an uncalibrated stack's pixel size note). */
function withoutNotes(stderr: string): string {
  return stderr
    .split('\n')
    .filter((l) => !l.startsWith('smlm-rt: note:'))
    .join('\n');
}

describe('smlm-rt reconstruct (spawned)', () => {
  it('writes the float TIFF with its scale and a PNG preview; progress as plain lines when piped', async () => {
    const out = join(dir, 'sr.tif');
    const png = join(dir, 'sr.png');
    const run = smlm(['reconstruct', stackPath, '-o', out, '--png', png, '--model', modelPath, '--backend', 'cpu', '--batch', '2']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^wrote .*sr\.tif and .*sr\.png: 12 x 8 px at 50 nm, 3 frames/);
    expect(run.stderr).not.toContain('\r');
    expect(run.stderr).toMatch(/frames 3\/3 \(100%\)/);
    const sr = await readTiffStack(out);
    expect([sr.width, sr.height, sr.frames]).toEqual([12, 8, 1]);
    expect(sr.pixelSizeNm).toBeCloseTo(50, 6);
    const data = Array.from({ length: 3 * 24 }, (_, i) => pixel(Math.floor(i / 24), Math.floor((i % 24) / 6), i % 6));
    const { image } = expectedKnownImage(data, 3, 4, 6);
    for (let i = 0; i < image.length; i++) expect(sr.data[i]).toBeCloseTo(image[i], 4);
    const preview = decode(readFileSync(png));
    expect([preview.width, preview.height, preview.channels]).toEqual([12, 8, 3]);
  });

  it('refuses to overwrite without --force (E_OUTPUT_EXISTS, file untouched), overwrites with it', () => {
    const out = join(dir, 'exists.tif');
    writeFileSync(out, 'precious');
    const refused = smlm(['reconstruct', stackPath, '-o', out, '--model', modelPath, '-b', 'cpu']);
    expect(refused.code).toBe(1);
    expectOneLineError(refused.stderr, 'E_OUTPUT_EXISTS');
    expect(readFileSync(out, 'utf8')).toBe('precious');
    const png = join(dir, 'exists.png');
    writeFileSync(png, 'precious too');
    const refusedPng = smlm(['reconstruct', stackPath, '-o', join(dir, 'fresh.tif'), '--png', png, '--model', modelPath, '-b', 'cpu']);
    expectOneLineError(refusedPng.stderr, 'E_OUTPUT_EXISTS');
    const forced = smlm(['reconstruct', stackPath, '-o', out, '--model', modelPath, '-b', 'cpu', '--force', '--quiet']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(statSync(out).size).toBeGreaterThan(100);
  });

  it.skipIf(process.platform === 'win32')('a write that fails (file size limit) leaves an existing output untouched with --force, and no partial file without', () => {
    const folder = join(dir, 'write-fails');
    mkdirSync(folder);
    const bigStack = join(dir, 'big-frame.tif');
    writeFileSync(bigStack, buildTestTiff(pagesOf(1, 64, 64, pixel), { kind: 'uint16' })); // 128 x 128 float output: 64 KiB
    const existing = join(folder, 'existing.tif');
    writeFileSync(existing, 'precious');
    const fresh = join(folder, 'fresh.tif');
    // RLIMIT_FSIZE of 16 KiB (sh counts 512-byte blocks): writing the 64 KiB result fails with EFBIG.
    const limited = (args: string[]) =>
      spawnSync('sh', ['-c', 'ulimit -f 32 && exec "$0" "$@"', process.execPath, CLI, ...args], { encoding: 'utf8', env: { ...process.env, SMLM_RT_MODELS_DIR: emptyModels }, timeout: 60_000 });
    const forced = limited(['reconstruct', bigStack, '-o', existing, '--model', modelPath, '-b', 'cpu', '--force', '--quiet']);
    expect(forced.status, forced.stderr).toBe(1);
    expectOneLineError(withoutNotes(forced.stderr), 'E_FILE_NOT_FOUND');
    expect(forced.stderr).toContain('EFBIG');
    expect(readFileSync(existing, 'utf8')).toBe('precious');
    const unforced = limited(['reconstruct', bigStack, '-o', fresh, '--model', modelPath, '-b', 'cpu', '--quiet']);
    expect(unforced.status, unforced.stderr).toBe(1);
    expect(readdirSync(folder)).toEqual(['existing.tif']); // neither a partial result nor a temporary file is left
  });

  it('an output that names a folder or nothing is E_BAD_OPTIONS before any work (even with --force)', () => {
    const folder = join(dir, 'a-folder');
    mkdirSync(folder);
    // The model does not exist: an output checked up front fails before the model is looked for.
    const missingModel = join(dir, 'missing-model.onnx');
    for (const output of [folder, `${folder}/`, join(dir, 'not-yet-a-folder') + '/', '']) {
      for (const force of [[], ['--force']]) {
        const run = smlm(['reconstruct', stackPath, '-o', output, '--model', missingModel, '-b', 'cpu', ...force]);
        expect(run.code, `-o "${output}" ${force.join('')}\n${run.stderr}`).toBe(1);
        expectOneLineError(run.stderr, 'E_BAD_OPTIONS');
      }
    }
  });

  it('refuses an output that is the input stack or the model, under any name, even with --force; both stay intact', () => {
    const folder = join(dir, 'same-file');
    mkdirSync(folder);
    const input = join(folder, 'in.tif');
    copyFileSync(stackPath, input);
    const model = join(folder, 'model.onnx');
    copyFileSync(modelPath, model);
    symlinkSync('in.tif', join(folder, 'symlink.tif'));
    linkSync(input, join(folder, 'hardlink.tif'));
    const before = { input: readFileSync(input), model: readFileSync(model) };
    const sameAsInput = [input, join(folder, '..', 'same-file', 'in.tif'), join(folder, 'symlink.tif'), join(folder, 'hardlink.tif')];
    for (const args of [
      ...sameAsInput.map((output) => ['reconstruct', input, '-o', output]),
      ['reconstruct', input, '-o', join(folder, 'sr.tif'), '--png', input],
      ['reconstruct', input, '-o', model],
      ['localize', input, '-o', input],
      ['localize', input, '-o', model],
    ]) {
      const run = smlm([...args, '--model', model, '-b', 'cpu', '--force']);
      expect(run.code, `${args.join(' ')}\n${run.stderr}`).toBe(1);
      expectOneLineError(run.stderr, 'E_BAD_OPTIONS');
    }
    expect(readFileSync(input)).toEqual(before.input);
    expect(readFileSync(model)).toEqual(before.model);
  });

  it('--png naming the same file as -o is a usage error before any work; an existing file there is untouched', () => {
    const out = join(dir, 'both.tif');
    writeFileSync(out, 'precious');
    for (const png of [out, join(dir, '.', 'both.tif')]) {
      const run = smlm(['reconstruct', stackPath, '-o', out, '--png', png, '--model', join(dir, 'missing-model.onnx'), '-b', 'cpu', '--force']);
      expect(run.code, run.stderr).toBe(2);
      expect(run.stderr).toMatch(/^smlm-rt: error: --png and --output name the same file/);
    }
    expect(readFileSync(out, 'utf8')).toBe('precious');
  });

  it('input and model errors: one line with the code, exit 1', () => {
    const notTiff = join(dir, 'notes.txt');
    writeFileSync(notTiff, 'not an image');
    const cases: Array<[string[], string]> = [
      [['reconstruct', join(dir, 'missing.tif'), '-o', join(dir, 'a.tif'), '--model', modelPath], 'E_FILE_NOT_FOUND'],
      [['reconstruct', notTiff, '-o', join(dir, 'b.tif'), '--model', modelPath], 'E_NOT_TIFF'],
      // (Frames of a size the model does not take are padded now: test/frame-preparation.test.ts.)
      [['reconstruct', stackPath, '-o', join(dir, 'c.tif'), '--model', modelPath, '-b', 'cpu', '--frames', '5:'], 'E_BAD_OPTIONS'], // 3 frames
      [['reconstruct', stackPath, '-o', join(dir, 'd.tif'), '--model', join(dir, 'nope.onnx')], 'E_MODEL_NOT_FOUND'],
      [['reconstruct', stackPath, '-o', join(dir, 'e.tif')], 'E_MODEL_NOT_FOUND'], // nothing bundled, none given
      [['reconstruct', stackPath, '-o', join(dir, 'f.tif'), '--model', notTiff], 'E_MODEL_INVALID'],
    ];
    for (const [args, code] of cases) {
      const run = smlm(args);
      expect(run.code, `${args.join(' ')}\n${run.stderr}`).toBe(1);
      expectOneLineError(withoutNotes(run.stderr), code);
    }
  });

  it('E_BACKEND_UNAVAILABLE for an explicit GPU backend without the addon; auto falls back to cpu with a note', () => {
    const env = { SMLM_RT_DISABLE_NATIVE: '1' };
    for (const backend of ['cuda', 'tensorrt']) {
      const run = smlm(['reconstruct', stackPath, '-o', join(dir, `${backend}.tif`), '--model', modelPath, '--backend', backend], env);
      expect(run.code).toBe(1);
      expectOneLineError(run.stderr, 'E_BACKEND_UNAVAILABLE');
    }
    const auto = smlm(['reconstruct', stackPath, '-o', join(dir, 'auto.tif'), '--model', modelPath], env); // no -q: it silences notes too
    expect(auto.code, auto.stderr).toBe(0);
    expect(auto.stderr).toMatch(/^smlm-rt: note: using the cpu backend \(no usable GPU: .*SMLM_RT_DISABLE_NATIVE/);
    expect(auto.stdout).toContain('backend cpu');
  });

  it('Ctrl-C (SIGINT) stops between batches with E_ABORTED, writes nothing and exits 130 (128 + SIGINT)', async () => {
    const longStack = join(dir, 'long.tif');
    writeFileSync(longStack, buildTestTiff(pagesOf(4000, 16, 16, pixel), { kind: 'uint16' }));
    const out = join(dir, 'interrupted.tif');
    const { code, stderr } = await interruptAtProgress(['reconstruct', longStack, '-o', out, '--model', modelPath, '-b', 'cpu', '--batch', '1'], { ...process.env, SMLM_RT_MODELS_DIR: emptyModels });
    expect(code, stderr).toBe(130);
    expect(stderr).toMatch(/smlm-rt: error E_ABORTED: /);
    expect(() => statSync(out)).toThrow();
  });

  it('usage errors exit 2', () => {
    for (const args of [
      ['reconstruct', stackPath],
      ['reconstruct', stackPath, '-o', join(dir, 'u.tif'), '--batch', '0'],
      ['reconstruct', stackPath, '-o', join(dir, 'u.tif'), '--batch', 'many'],
      ['reconstruct', stackPath, '-o', join(dir, 'u.tif'), '--backend', 'gpu'],
      ['reconstrct'],
    ]) {
      const run = smlm(args);
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.stderr).toMatch(/^smlm-rt: error: /);
    }
  });

  it('--version and --help exit 0', () => {
    const version = smlm(['--version']);
    expect(version.code).toBe(0);
    expect(version.stdout.trim()).toBe(JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')).version);
    const help = smlm(['reconstruct', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('--force');
  });
});

describe('smlm-rt evaluate (spawned)', () => {
  it('--sigma: empty items, values above the bound or not numbers are usage errors (exit 2); a good list is scored', async () => {
    const image = join(dir, 'eval.tif');
    await writeFloatTiff(image, Float32Array.from([1, 0, 0, 0]), 2, 2, { pixelSizeNm: 12.5, force: true });
    const positions = join(dir, 'eval.csv');
    writeFileSync(positions, formatThunderstormCsv([{ id: 1, frame: 1, xNm: 5, yNm: 5, sigmaNm: 0, photons: 0, offsetPhotons: 0, bkgStdPhotons: 0 }]));
    for (const sigma of ['1e9', '101', '', '1,,2', '1,', ' ', 'wide', '-1']) {
      const run = smlm(['evaluate', image, positions, '--sigma', sigma]);
      expect(run.code, `--sigma "${sigma}": ${run.stderr}`).toBe(2);
      expect(run.stderr).toMatch(/^smlm-rt: error: .*blur sigmas from 0 to 100/);
    }
    const ok = smlm(['evaluate', image, positions, '--sigma', '0, 2.5,100', '--json']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout).results.map((r: { sigma: number }) => r.sigma)).toEqual([0, 2.5, 100]);
  });
});

describe('smlm-rt info (spawned)', () => {
  it('reports backends, GPUs and bundled models with metadata, as text and JSON', () => {
    const models = tempDir();
    copyFileSync(modelPath, join(models, 'unet.onnx'));
    const json = smlm(['info', '--json'], { SMLM_RT_MODELS_DIR: models });
    expect(json.code, json.stderr).toBe(0);
    const info = JSON.parse(json.stdout);
    expect(info.backends.map((b: { name: string }) => b.name)).toEqual(['cpu', 'cuda', 'tensorrt']);
    expect(info.backends[0]).toMatchObject({ name: 'cpu', usable: true });
    expect(info.models).toHaveLength(1);
    expect(info.models[0]).toMatchObject({ name: 'unet', isDefault: true, metadata: { architecture: 'known-answer-1x1', upsampling: 2 } });
    const text = smlm(['info'], { SMLM_RT_MODELS_DIR: models });
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/backends:\n {2}cpu +usable/);
    expect(text.stdout).toContain('unet (default)');
    expect(text.stdout).toContain('2x upsampling: 100 nm camera pixels -> 50 nm output pixels');
  });
});
