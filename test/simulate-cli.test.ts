import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readTiffStack } from '../lib/io/tiff-read.js';
import { drawPixelMaps } from '../lib/simulate/camera.js';
import { checkConditions, simulatedConditions, simulationOptionsFor } from '../lib/simulate/conditions.js';
import { parseThunderstormCsv } from '../lib/simulate/csv.js';
import { Random } from '../lib/simulate/random.js';
import { simulateStack } from '../lib/simulate/simulate.js';
import { REPO_ROOT, tempDir } from './helpers/paths.js';

const CLI = join(REPO_ROOT, 'dist', 'lib', 'cli', 'main.js');
const dir = tempDir('smlm-rt-simulate-');
function smlm(args: string[]) {
  const run = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

const SCMOS = { baselineAdu: 400, aduPerPhoton: 2, backgroundPhotons: 40, photonsMedian: 2500, psfSigmaNm: 125, densityPerUm2: 2, pixelSizeNm: 107, camera: 'scmos' as const };

describe('sCMOS camera in lib/simulate', () => {
  it('per-pixel maps: offsets, gains and read noise spread as asked, from their own seed', () => {
    const camera = { emGain: 1, electronsPerAdu: 1, baselineAdu: 100, readNoiseAdu: 2, pixelVariation: { offsetSdAdu: 3, gainSdRelative: 0.05, readNoiseSdRelative: 0.3 } };
    const maps = drawPixelMaps(camera, 20000, (s) => new Random(s))!;
    const mean = (a: Float64Array) => a.reduce((x, y) => x + y, 0) / a.length;
    const sd = (a: Float64Array) => {
      const m = mean(a);
      return Math.sqrt(a.reduce((x, y) => x + (y - m) ** 2, 0) / a.length);
    };
    expect(mean(maps.offsetAdu)).toBeCloseTo(100, 0);
    expect(sd(maps.offsetAdu)).toBeCloseTo(3, 1);
    expect(sd(maps.gainFactor)).toBeCloseTo(0.05, 2);
    expect(drawPixelMaps({ ...camera, pixelVariation: undefined }, 10, (s) => new Random(s))).toBeUndefined();
  });
  it('a stack without pixel variation is what it was before the option existed; with it, pixels keep their offsets', () => {
    const plain = simulateStack({ frames: 2, seed: 5 });
    const again = simulateStack({ frames: 2, seed: 5, camera: { pixelVariation: undefined } });
    expect(Buffer.from(again.stack.data.buffer).equals(Buffer.from(plain.stack.data.buffer))).toBe(true);
    const dark = simulateStack({ frames: 50, seed: 5, densityPerUm2: 0, backgroundPhotons: 0, camera: { emGain: 1, electronsPerAdu: 1, baselineAdu: 100, pixelVariation: { offsetSdAdu: 10 } } });
    // No light: every pixel sits at its own offset in every frame.
    const pixels = 64 * 64;
    let varies = 0;
    for (let i = 0; i < pixels; i++) if (dark.stack.data[i] !== dark.stack.data[49 * pixels + i]) varies++;
    expect(varies).toBe(0);
    expect(new Set(dark.stack.data.subarray(0, pixels)).size).toBeGreaterThan(20);
  });
});

describe('conditions -> simulation options', () => {
  it('maps the camera: EMCCD through EM gain, sCMOS without, the same ADU per photon', () => {
    const s = simulationOptionsFor(SCMOS);
    expect(s.camera).toMatchObject({ emGain: 1, electronsPerAdu: 0.5, baselineAdu: 400, readNoiseAdu: 3 });
    const e = simulationOptionsFor({ ...SCMOS, camera: 'emccd' });
    expect((e.camera!.emGain as number) / (e.camera!.electronsPerAdu as number)).toBeCloseTo(2, 9);
    expect(s.photons).toEqual({ kind: 'uniform', min: (2 / 3) * 2500, max: (4 / 3) * 2500 });
  });
  it('and back: the conditions a simulation holds, for either camera', () => {
    const scmos = simulatedConditions(simulationOptionsFor(SCMOS));
    for (const key of ['baselineAdu', 'aduPerPhoton', 'backgroundPhotons', 'photonsMedian', 'psfSigmaNm', 'densityPerUm2', 'pixelSizeNm'] as const) {
      expect(scmos[key]).toBeCloseTo(SCMOS[key], 9);
    }
    expect([scmos.camera, scmos.readNoiseAdu]).toEqual(['scmos', 3]);
    const emccd = simulatedConditions(simulationOptionsFor({ ...SCMOS, camera: 'emccd' }));
    expect([emccd.camera, emccd.readNoiseAdu]).toEqual(['emccd', undefined]);
    expect(emccd.aduPerPhoton).toBeCloseTo(2, 9);
  });
  it("the benchmark's conditions where options are left out; a log-normal's median, not its mean", () => {
    expect(simulatedConditions({})).toEqual({ baselineAdu: 100, aduPerPhoton: 2, backgroundPhotons: 20, photonsMedian: 1500, psfSigmaNm: 110, densityPerUm2: 5.5, pixelSizeNm: 100, camera: 'emccd' });
    // mean 2000, sd 1500: cv 0.75, median 2000 / 1.25.
    expect(simulatedConditions({ photons: { kind: 'lognormal', mean: 2000, std: 1500 } }).photonsMedian).toBeCloseTo(1600, 9);
  });
  it('E_BAD_OPTIONS for missing or wrong keys', () => {
    expect(() => checkConditions({ ...SCMOS, camera: 'ccd' })).toThrow(/camera/);
    const { psfSigmaNm: _, ...missing } = SCMOS;
    expect(() => checkConditions(missing)).toThrow(/psfSigmaNm/);
  });
});

describe('smlm-rt simulate', () => {
  it('writes the stack and stack.csv beside it at the conditions of --like, options overriding', async () => {
    const like = join(dir, 'conditions.json');
    writeFileSync(like, JSON.stringify({ ...SCMOS, extraKey: 'ignored' }));
    const out = join(dir, 'sim.tif');
    const run = smlm(['simulate', '-o', out, '--like', like, '--frames', '5', '--size', '32x48', '--background', '10', '--seed', '9']);
    expect(run.code, run.stderr).toBe(0);
    const stack = await readTiffStack(out);
    expect([stack.frames, stack.height, stack.width]).toEqual([5, 32, 48]);
    expect(stack.pixelSizeNm).toBeCloseTo(107, 6);
    const truth = parseThunderstormCsv(readFileSync(join(dir, 'sim.csv'), 'utf8'));
    expect(truth.length).toBeGreaterThan(0);
    // offset [photon] = baseline / ADU per photon; bkgstd = sqrt(background) (the option's 10, not the file's 40).
    expect(truth[0].offsetPhotons).toBeCloseTo(200, 6);
    expect(truth[0].bkgStdPhotons).toBeCloseTo(Math.sqrt(10), 4);
    expect(truth.every((e) => e.sigmaNm >= 0.95 * 125 - 1e-9 && e.sigmaNm <= 1.05 * 125 + 1e-9)).toBe(true);
    // Same options and seed: the same stack.
    const again = join(dir, 'again.tif');
    expect(smlm(['simulate', '-o', again, '--like', like, '--frames', '5', '--size', '32x48', '--background', '10', '--seed', '9']).code).toBe(0);
    expect(readFileSync(again).equals(readFileSync(out))).toBe(true);
  });

  it('never overwrites without --force, checking both outputs before writing either', () => {
    const out = join(dir, 'kept.tif');
    writeFileSync(join(dir, 'kept.csv'), 'precious');
    const run = smlm(['simulate', '-o', out, '--frames', '2']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/E_OUTPUT_EXISTS: .*kept\.csv/);
    expect(() => readFileSync(out)).toThrow();
    expect(smlm(['simulate', '-o', out, '--frames', '2', '--force']).code).toBe(0);
    expect(readFileSync(join(dir, 'kept.csv'), 'utf8')).toMatch(/^"id","frame"/);
  });

  it('takes one side for a square frame (the default model pads 62 px to 64)', async () => {
    const out = join(dir, 'square.tif');
    const run = smlm(['simulate', '-o', out, '--frames', '2', '--size', '62', '--seed', '3']);
    expect(run.code, run.stderr).toBe(0);
    const stack = await readTiffStack(out);
    expect([stack.height, stack.width]).toEqual([62, 62]);
  });

  it('usage errors exit 2', () => {
    expect(smlm(['simulate', '-o', join(dir, 'x.tif'), '--camera', 'ccd']).code).toBe(2);
    expect(smlm(['simulate', '-o', join(dir, 'x.tif'), '--size', '3x3']).code).toBe(2);
    expect(smlm(['simulate', '-o', join(dir, 'x.tif'), '--size', '64x']).code).toBe(2);
  });
});
