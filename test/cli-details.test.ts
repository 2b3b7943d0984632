// The command line's details (issue 13), each run through the built CLI: -q, -o with a PNG name, GPU-only options
// with --backend cpu, --precision fp32 on GPU backends, the tensorrt reason agreeing with `info`, a non-ONNX
// --model, evaluate's localization figures, and localize's progress and --quiet.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeFloatTiff } from '../lib/io/tiff-write.js';
import { formatThunderstormCsv, type Emitter } from '../lib/simulate/csv.js';
import { makeKnownModel, writeTempModel } from './helpers/known-model.js';
import { REPO_ROOT, tempDir } from './helpers/paths.js';
import { interruptAtProgress } from './helpers/interrupt.js';
import { buildTestTiff, pagesOf } from './helpers/tiff-builder.js';

const CLI = join(REPO_ROOT, 'dist', 'lib', 'cli', 'main.js');
const dir = tempDir('smlm-rt-cli-details-');
const modelPath = writeTempModel(makeKnownModel());
const emptyModels = join(dir, 'no-models');
mkdirSync(emptyModels);
const pixel = (f: number, y: number, x: number) => 100 + ((f * 31 + y * 7 + x * 13) % 50);
// No pixel size in the file: reconstruct notes that it assumes the model's.
const stackPath = join(dir, 'uncalibrated.tif');
writeFileSync(stackPath, buildTestTiff(pagesOf(3, 4, 6, pixel), { kind: 'uint16' }));

/** An addon stand-in as a GPU machine without TensorRT or without a driver would load it (SMLM_RT_ADDON). */
const fakeAddon = join(dir, 'fake-addon.cjs');
writeFileSync(
  fakeAddon,
  `module.exports = {
  listDevices: () => ({ devices: [], reason: 'no NVIDIA driver is loaded (fake addon)' }),
  deviceMemory: () => { throw new Error('no device'); },
  createCudaEngine: async () => { throw new Error('no device'); },
  features: { cuda: true, tensorrt: false, cudnn: false, cudaRuntimeVersion: 13000, cudaArchitectures: '90', version: '0.1.0' },
};\n`,
);

function smlm(args: string[], options: { env?: Record<string, string>; cwd?: string } = {}) {
  const run = spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    cwd: options.cwd,
    env: { ...process.env, SMLM_RT_MODELS_DIR: emptyModels, ...options.env },
    timeout: 60_000,
  });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

const reconstructArgs = (out: string, ...more: string[]) => ['reconstruct', stackPath, '-o', join(dir, out), '--model', modelPath, ...more];

describe('reconstruct options', () => {
  it('-q prints neither progress nor notes; without it both appear', () => {
    const loud = smlm(reconstructArgs('loud.tif', '-b', 'cpu'));
    expect(loud.code, loud.stderr).toBe(0);
    expect(loud.stderr).toMatch(/smlm-rt: note: .* does not state its pixel size/);
    expect(loud.stderr).toMatch(/frames 3\/3/);
    const quiet = smlm(reconstructArgs('quiet.tif', '-b', 'cpu', '-q'));
    expect(quiet.code, quiet.stderr).toBe(0);
    expect(quiet.stderr).toBe('');
    expect(quiet.stdout).toMatch(/^wrote /);
  });

  it('-o with a PNG (or JPEG) name is a usage error pointing at --png; nothing is written', () => {
    for (const name of ['x.png', 'x.PNG', 'x.jpg']) {
      const run = smlm(reconstructArgs(name, '-b', 'cpu'));
      expect(run.code, run.stderr).toBe(2);
      expect(run.stderr).toMatch(/-o writes a 32-bit float TIFF.*--png .*x\./i);
      expect(existsSync(join(dir, name))).toBe(false);
    }
  });

  it('--device and --precision with --backend cpu are usage errors, not silently ignored', () => {
    for (const extra of [
      ['--device', '0'],
      ['--precision', 'fp16'],
      ['--precision', 'fp32', '--device', '1'],
    ]) {
      const run = smlm(reconstructArgs('cpu-gpu-option.tif', '-b', 'cpu', ...extra));
      expect(run.code, run.stderr).toBe(2);
      expect(run.stderr).toMatch(/only apply to GPU backends; --backend cpu always computes in fp32/);
    }
  });

  it('--precision fp32: refused for cuda before any GPU work, and auto runs it on the cpu with a note', () => {
    const cuda = smlm(reconstructArgs('fp32-cuda.tif', '-b', 'cuda', '--precision', 'fp32'));
    expect(cuda.code, cuda.stderr).toBe(1);
    expect(cuda.stderr).toMatch(/^smlm-rt: error E_BAD_OPTIONS: precision "fp32": the cuda engine computes in fp16 only/);
    // Even where a GPU would be usable: the fake addon is loaded but never asked for an engine.
    const auto = smlm(reconstructArgs('fp32-auto.tif', '--precision', 'fp32'), { env: { SMLM_RT_ADDON: fakeAddon } });
    expect(auto.code, auto.stderr).toBe(0);
    expect(auto.stderr).toMatch(/smlm-rt: note: using the cpu backend \(precision fp32: the cuda engine computes in fp16 only/);
    expect(auto.stdout).toMatch(/backend cpu/);
  });

  it('--backend tensorrt gives the reason `info` gives: an addon without TensorRT, or no addon at all', () => {
    for (const env of [{ SMLM_RT_ADDON: fakeAddon }, { SMLM_RT_DISABLE_NATIVE: '1' }] as Record<string, string>[]) {
      const info = JSON.parse(smlm(['info', '--json'], { env }).stdout) as { backends: { name: string; detail: string }[] };
      const trt = info.backends.find((b) => b.name === 'tensorrt')!;
      const run = smlm(reconstructArgs('trt.tif', '-b', 'tensorrt'), { env });
      expect(run.code, run.stderr).toBe(1);
      expect(run.stderr).toMatch(/^smlm-rt: error E_BACKEND_UNAVAILABLE: tensorrt backend unavailable: /);
      const reason = run.stderr.replace(/^smlm-rt: error E_BACKEND_UNAVAILABLE: tensorrt backend unavailable: /, '');
      if (env.SMLM_RT_ADDON) {
        expect(trt.detail).toBe('the addon was built without TensorRT');
        expect(reason).toMatch(/^the CUDA addon was built without TensorRT/);
        expect(reason).not.toMatch(/driver/);
      } else {
        expect(reason.trim()).toBe(trt.detail);
      }
    }
  });

  it('--model naming an existing file that is not ONNX says so (E_MODEL_INVALID), not "unknown model"', () => {
    const run = smlm(['reconstruct', stackPath, '-o', join(dir, 'readme.tif'), '--model', 'README.md', '-b', 'cpu'], { cwd: REPO_ROOT });
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr).toMatch(/^smlm-rt: error E_MODEL_INVALID: .*README\.md: not an ONNX model/);
    const unknown = smlm(['reconstruct', stackPath, '-o', join(dir, 'unknown.tif'), '--model', 'no-such-model', '-b', 'cpu'], { cwd: REPO_ROOT });
    expect(unknown.stderr).toMatch(/E_MODEL_NOT_FOUND: unknown model "no-such-model"/);
  });
});

const emitter = (frame: number, xNm: number, yNm: number): Emitter => ({ id: 0, frame, xNm, yNm, sigmaNm: 100, photons: 1000, offsetPhotons: 0, bkgStdPhotons: 0 });

describe('evaluate --localizations', () => {
  it('prints Jaccard, RMSE, recall and precision, matching frame by frame within 50 nm', async () => {
    const image = join(dir, 'eval.tif');
    await writeFloatTiff(
      image,
      Float32Array.from({ length: 64 * 64 }, (_, i) => (i % 7 === 0 ? 1 : 0)),
      64,
      64,
      { pixelSizeNm: 12.5, force: true },
    );
    const truth = join(dir, 'truth.csv');
    writeFileSync(truth, formatThunderstormCsv([emitter(1, 100, 100), emitter(1, 500, 500), emitter(2, 300, 300)]));
    // Frame 1: one 10 nm off (match), one far away (false). Frame 2: one 30 nm off (match), and one on frame 1's
    // emitter at (100, 100), which is in the other frame (false). Missed: (500, 500). TP 2, FP 2, FN 1.
    const locs = join(dir, 'locs.csv');
    writeFileSync(locs, '"id","frame","x [nm]","y [nm]","confidence"\n1,1,110,100,1\n2,1,700,200,1\n3,2,300,330,1\n4,2,100,100,1\n');
    const run = smlm(['evaluate', image, truth, '--localizations', locs]);
    expect(run.code, run.stderr).toBe(0);
    const rmse = Math.sqrt((10 ** 2 + 30 ** 2) / 2).toFixed(1);
    expect(run.stdout).toContain(`matched per frame within 50 nm): Jaccard 0.400  RMSE ${rmse} nm  recall 0.667  precision 0.500  (2 matched, 2 false, 1 missed)`);
    const json = JSON.parse(smlm(['evaluate', image, truth, '--localizations', locs, '--json', '--match-radius-nm', '5']).stdout) as { localization: { truePositives: number; radiusNm: number } };
    expect(json.localization).toMatchObject({ truePositives: 0, radiusNm: 5 });
    const without = smlm(['evaluate', image, truth]);
    expect(without.stdout).not.toContain('Jaccard');
  });
});

describe('localize progress and --quiet', () => {
  it('shows progress like reconstruct, none with --quiet', () => {
    const out = join(dir, 'locs-out.csv');
    const loud = smlm(['localize', stackPath, '-o', out, '--model', modelPath, '-b', 'cpu', '--batch', '1']);
    expect(loud.code, loud.stderr).toBe(0);
    expect(loud.stderr).toMatch(/frames 3\/3 \(100%\)/);
    const quiet = smlm(['localize', stackPath, '-o', out, '--model', modelPath, '-b', 'cpu', '-q', '--force']);
    expect(quiet.code, quiet.stderr).toBe(0);
    expect(quiet.stderr).toBe('');
  });

  it('Ctrl-C exits 130 there too', async () => {
    const longStack = join(dir, 'long.tif');
    writeFileSync(longStack, buildTestTiff(pagesOf(4000, 16, 16, pixel), { kind: 'uint16' }));
    const { code, stderr } = await interruptAtProgress(['localize', longStack, '-o', join(dir, 'never.csv'), '--model', modelPath, '-b', 'cpu', '--batch', '1'], {
      ...process.env,
      SMLM_RT_MODELS_DIR: emptyModels,
    });
    expect(code, stderr).toBe(130);
    expect(stderr).toMatch(/smlm-rt: error E_ABORTED: /);
    expect(existsSync(join(dir, 'never.csv'))).toBe(false);
  });
});
