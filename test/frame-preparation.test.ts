import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { padFrames, acceptedSize } from '../lib/frames/pad.js';
import { resampleFrames } from '../lib/frames/resample.js';
import { parseFrameRange } from '../lib/io/frame-range.js';
import { openStackInput } from '../lib/io/stack-input.js';
import { encodeStackTiff } from '../lib/io/tiff-write.js';
import { Reconstructor } from '../lib/reconstructor.js';
import { simulateStack } from '../lib/simulate/index.js';
import { makeKnownModel, writeTempModel } from './helpers/known-model.js';
import { REPO_ROOT, tempDir } from './helpers/paths.js';
import { buildTestTiff, pagesOf } from './helpers/tiff-builder.js';

const knownPath = writeTempModel(makeKnownModel()); // 100 nm camera pixels, 2x upsampling, size multiple 2
const dir = tempDir('smlm-rt-frames-');

function rampStack(frames: number, height: number, width: number, pixelSizeNm?: number) {
  const data = new Uint16Array(frames * height * width);
  for (let i = 0; i < data.length; i++) data[i] = 100 + ((i * 37) % 101);
  return { data, frames, height, width, ...(pixelSizeNm ? { pixelSizeNm } : {}) };
}

describe('resampleFrames', () => {
  it('area averaging to larger pixels keeps the mean and covers the same field', () => {
    const s = rampStack(2, 20, 20); // 20 px of 65 nm = 1300 nm = 13 px of 100 nm
    const r = resampleFrames(s.data, 2, 20, 20, 65, 100);
    expect(r.method).toBe('area');
    expect([r.height, r.width]).toEqual([13, 13]);
    for (let f = 0; f < 2; f++) {
      const inMean = s.data.subarray(f * 400, (f + 1) * 400).reduce((a, b) => a + b, 0) / 400;
      const outMean = r.data.subarray(f * 169, (f + 1) * 169).reduce((a, b) => a + b, 0) / 169;
      expect(outMean).toBeCloseTo(inMean, 2);
    }
  });
  it('keeps the grid exact: output pixel j is centred at (j + 0.5) x the new pixel size', () => {
    // A frame whose value is each pixel's centre x in nm: resampled, it reads the new centres (bilinear: exactly,
    // between input centres; area: within a quarter input pixel, the step function's mean over the output pixel).
    // A grid stretched to fit the field (30 px of 65 nm -> 20 px of 97.5 nm) would be 46 nm off at pixel 18.
    for (const [from, to] of [
      [65, 100],
      [160, 100],
    ]) {
      const width = 30;
      const frame = Float32Array.from({ length: width }, (_, c) => (c + 0.5) * from);
      const r = resampleFrames(frame, 1, 1, width, from, to);
      for (let j = 1; j < r.width - 1; j++) {
        const centre = (j + 0.5) * to;
        if (centre > 0.5 * from && centre < (width - 0.5) * from && (j + 1) * to <= width * from) {
          if (r.method === 'bilinear') expect(r.data[j]).toBeCloseTo(centre, 2);
          else expect(Math.abs(r.data[j] - centre)).toBeLessThanOrEqual(from / 4);
        }
      }
    }
  });
  it('bilinear to smaller pixels: a constant stays constant, a linear ramp stays linear inside', () => {
    const flat = resampleFrames(new Uint16Array(16).fill(7), 1, 4, 4, 160, 100);
    expect(flat.method).toBe('bilinear');
    expect([flat.height, flat.width]).toEqual([6, 6]);
    expect(Array.from(flat.data).every((v) => Math.abs(v - 7) < 1e-6)).toBe(true);
    const ramp = Float32Array.from({ length: 40 }, (_, i) => (i % 20) * 3); // 2 rows of 0, 3, ..., 57
    const r = resampleFrames(ramp, 1, 2, 20, 100, 50);
    // Output centre j sits at input coordinate (j + 0.5) / 2 - 0.5: value 3 * that, away from the clamped edges.
    for (let j = 2; j < 37; j++) expect(r.data[j]).toBeCloseTo(3 * ((j + 0.5) / 2 - 0.5), 4);
  });
});

describe('padFrames', () => {
  it('mirrors the bottom and right edges to the accepted size', () => {
    expect(acceptedSize(62, 62, { sizeMultiple: 4, minSize: 16 })).toEqual({ height: 64, width: 64 });
    expect(acceptedSize(5, 9, { sizeMultiple: 4, minSize: 16 })).toEqual({ height: 16, width: 16 });
    const p = padFrames(Uint16Array.from([1, 2, 3, 4, 5, 6]), 1, 2, 3, 4, 4);
    expect(Array.from(p)).toEqual([1, 2, 3, 3, 4, 5, 6, 6, 4, 5, 6, 6, 1, 2, 3, 3]);
  });
});

describe('Reconstructor: frames as they come', () => {
  let rec: Reconstructor;
  beforeAll(async () => {
    rec = await Reconstructor.create({ model: knownPath, backend: 'cpu' });
  });
  afterAll(async () => rec.close());

  it('pads odd frames, crops the output back: the crop of reconstructing the padded frames by hand', async () => {
    const s = rampStack(3, 3, 5);
    const r = await rec.reconstruct(s, { keepFrameMaps: true });
    expect([r.width, r.height]).toEqual([10, 6]);
    expect(r.preparation.padded).toEqual({ from: { height: 3, width: 5 }, to: { height: 4, width: 6 }, mode: 'reflect' });
    const byHand = await rec.reconstruct({ data: padFrames(s.data, 3, 3, 5, 4, 6), frames: 3, height: 4, width: 6 }, { keepFrameMaps: true });
    for (let y = 0; y < 6; y++) for (let x = 0; x < 10; x++) expect(r.image[y * 10 + x]).toBeCloseTo(byHand.image[y * 12 + x], 5);
    expect(r.frameMaps!.length).toBe(3 * 60);
    expect(r.frameMaps![2 * 60 + 5 * 10 + 9]).toBeCloseTo(byHand.frameMaps![2 * 96 + 5 * 12 + 9], 5);
  });

  it('a frame range reconstructs only those frames, and says where it started', async () => {
    const s = rampStack(6, 4, 4);
    const r = await rec.reconstruct(s, { frames: { from: 2, to: 4 } });
    const sub = await rec.reconstruct({ ...s, data: s.data.slice(16, 64), frames: 3 });
    expect(r.frames).toBe(3);
    expect(r.firstFrame).toBe(2);
    expect(Array.from(r.image)).toEqual(Array.from(sub.image));
    await expect(rec.reconstruct(s, { frames: { from: 7 } })).rejects.toMatchObject({ code: 'E_BAD_OPTIONS' });
    expect(parseFrameRange('100:5000')).toEqual({ from: 100, to: 5000 });
    expect(() => parseFrameRange('5:2')).toThrow(/after/);
  });

  it('pixelSizeNm overrides the stack calibration; an absurd calibration is ignored and reported', async () => {
    const r = await rec.reconstruct(rampStack(1, 8, 8, 160), { pixelSizeNm: 200, resample: 'always' });
    expect(r.preparation).toMatchObject({ cameraPixelNm: 200, pixelSizeSource: 'option' });
    expect(r.resampled).toMatchObject({ fromNm: 200, toNm: 100, to: { height: 16, width: 16 }, method: 'bilinear', where: 'host' });
    expect([r.width, r.height, r.pixelSizeNm]).toEqual([32, 32, 50]);
    const absurd = await rec.reconstruct(rampStack(1, 8, 8, 2));
    expect(absurd.preparation.pixelSizeSource).toBe('model');
    expect(absurd.preparation.ignoredCalibration).toMatch(/outside 10\.\.10000 nm/);
    expect(absurd.resampled).toBeUndefined();
    await expect(rec.reconstruct(rampStack(1, 8, 8), { pixelSizeNm: 5 })).rejects.toMatchObject({ code: 'E_BAD_OPTIONS' });
  });

  it("resample 'auto' (the default) downsamples smaller camera pixels, leaves larger ones, and says so", async () => {
    const small = await rec.reconstruct(rampStack(1, 20, 20, 65));
    expect(small.resampled).toMatchObject({ fromNm: 65, toNm: 100, to: { height: 13, width: 13 }, method: 'area' });
    expect(small.pixelSizeNm).toBe(50);
    const large = await rec.reconstruct(rampStack(1, 8, 8, 160));
    expect(large.resampled).toBeUndefined();
    expect(large.preparation.notResampled).toMatch(/larger than the model's 100 nm; not upsampled/);
    expect(large.pixelSizeNm).toBe(80);
    const never = await rec.reconstruct(rampStack(1, 20, 20, 65), { resample: 'never' });
    expect([never.resampled, never.pixelSizeNm]).toEqual([undefined, 32.5]);
    await expect(rec.reconstruct(rampStack(1, 8, 8), { resample: true as never })).rejects.toMatchObject({ code: 'E_BAD_OPTIONS' });
  });
});

describe('a folder or a glob of single-frame TIFFs is one stack, in natural order', () => {
  const folder = join(dir, 'acq');
  mkdirSync(folder);
  // frame_1 .. frame_12: lexical order would put frame_10 after frame_1.
  for (let k = 1; k <= 12; k++) writeFileSync(join(folder, `frame_${k}.tif`), encodeStackTiff({ data: new Uint16Array(16).fill(k), frames: 1, height: 4, width: 4, pixelSizeNm: 107 }));
  writeFileSync(join(folder, 'notes.txt'), 'not a frame');

  async function framesOf(path: string): Promise<number[]> {
    const input = await openStackInput(path);
    const values: number[] = [];
    for await (const chunk of input.source.chunks(5)) for (let f = 0; f < chunk.frames; f++) values.push(chunk.data[f * 16]);
    await input.close();
    return values;
  }

  it('folder', async () => {
    expect(await framesOf(folder)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    const input = await openStackInput(folder);
    expect(input.source.pixelSizeNm).toBeCloseTo(107, 6);
    await input.close();
  });
  it('glob', async () => {
    expect(await framesOf(join(folder, 'frame_1*.tif'))).toEqual([1, 10, 11, 12]);
  });
  it('frames of another size are refused, naming the file', async () => {
    const mixed = join(dir, 'mixed');
    mkdirSync(mixed);
    writeFileSync(join(mixed, 'a.tif'), encodeStackTiff({ data: new Uint16Array(16), frames: 1, height: 4, width: 4 }));
    writeFileSync(join(mixed, 'b.tif'), encodeStackTiff({ data: new Uint16Array(20), frames: 1, height: 4, width: 5 }));
    await expect(openStackInput(mixed)).rejects.toMatchObject({ code: 'E_FRAME_SIZE_MISMATCH', message: expect.stringContaining('b.tif') });
  });
});

const CLI = join(REPO_ROOT, 'dist', 'lib', 'cli', 'main.js');
function smlm(args: string[]) {
  const run = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

describe('the CLI', () => {
  it('localize without -o writes the CSV to stdout, the summary to stderr', () => {
    const path = join(dir, 'small.tif');
    writeFileSync(
      path,
      buildTestTiff(
        pagesOf(2, 6, 6, (f, y, x) => (x === 3 && y === 3 ? 1000 : 100 + f)),
        { kind: 'uint16' },
      ),
    );
    const run = smlm(['localize', path, '--model', knownPath, '-b', 'cpu', '--frames', '2:2']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout.split('\n')[0]).toBe('"id","frame","x [nm]","y [nm]","confidence"');
    expect(
      run.stdout
        .split('\n')
        .slice(1)
        .filter(Boolean)
        .every((l) => l.split(',')[1] === '2'),
    ).toBe(true);
    expect(run.stderr).toMatch(/localizations in 1 frames/);
  });

  it('reconstruct takes 62x62 frames through the default unet (size multiple 4) and a folder as the stack', () => {
    const folder = join(dir, 'sixty-two');
    mkdirSync(folder);
    for (let k = 1; k <= 2; k++) writeFileSync(join(folder, `f${k}.tif`), encodeStackTiff(rampStack(1, 62, 62, 100)));
    const out = join(dir, 'sr62.tif');
    const run = smlm(['reconstruct', folder, '-o', out, '-b', 'cpu', '--model', 'unet']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/496 x 496 px at 12\.5 nm, 2 frames/);
    expect(run.stderr).toMatch(/padded from 62 x 62 to 64 x 64/);
  });

  it('estimate --json prints one object with the conditions keys; a missing stack is E_FILE_NOT_FOUND', () => {
    const path = join(dir, 'sim.tif');
    const sim = simulateStack({ frames: 200, seed: 11, densityPerUm2: 1, structure: { kind: 'uniform' } });
    writeFileSync(path, encodeStackTiff(sim.stack));
    const run = smlm(['estimate', path, '--json', '--pixel-size', '100']);
    expect(run.code, run.stderr).toBe(0);
    const c = JSON.parse(run.stdout) as Record<string, unknown>;
    for (const key of ['baselineAdu', 'aduPerPhoton', 'backgroundPhotons', 'photonsMedian', 'psfSigmaNm', 'densityPerUm2', 'pixelSizeNm']) expect(typeof c[key], key).toBe('number');
    expect(c.camera).toBe('emccd');
    expect(c.baselineAdu as number).toBeGreaterThan(98);
    expect(c.baselineAdu as number).toBeLessThan(102);
    expect(c.readNoiseSource).toBe('not-applicable');
    expect([c.cameraSource, c.skewSource, c.backgroundSource]).toEqual(['data', 'dark-pixels', 'dark-pixels']);
    // The text says how the kind was decided.
    const text = smlm(['estimate', path, '--pixel-size', '100']);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^camera +EMCCD \(EM gain, excess noise factor 2\) \(from the noise's skew where no emitter shines: 1\.\d+, ~1 without EM gain, ~1\.5 with it\)$/m);
    // --max-frames: the frames read, spread over the stack; a bad count is a usage error.
    const fewer = smlm(['estimate', path, '--json', '--max-frames', '100']);
    expect(fewer.code, fewer.stderr).toBe(0);
    expect((JSON.parse(fewer.stdout) as Record<string, unknown>).framesUsed).toBe(100);
    expect(c.framesUsed).toBe(200);
    const badMaxFrames = smlm(['estimate', path, '--max-frames', '0']);
    expect(badMaxFrames.code).toBe(2);
    expect(badMaxFrames.stderr).toMatch(/--max-frames.*expected an integer from 1/);
    const badReadNoise = smlm(['estimate', path, '--read-noise', '-1']);
    expect(badReadNoise.code).not.toBe(0);
    expect(badReadNoise.stderr).toMatch(/read noise in electrons rms/);
    const badGainSpread = smlm(['estimate', path, '--gain-spread', '25']);
    expect(badGainSpread.code).toBe(2);
    expect(badGainSpread.stderr).toMatch(/--gain-spread.*pixel gain spread in rms % from 0 to 20/);
    const missing = smlm(['estimate', join(dir, 'missing.tif'), '--json']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/E_FILE_NOT_FOUND/);
  });
});
