import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { evaluateFiles } from '../lib/cli/evaluate.js';
import { writeFloatTiff } from '../lib/io/tiff-write.js';
import { SmlmError } from '../lib/errors.js';
import { writeThunderstormCsv, type Emitter } from '../lib/simulate/csv.js';

const dir = mkdtempSync(join(tmpdir(), 'smlm-eval-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const emitter = (xNm: number, yNm: number): Emitter => ({ id: 1, frame: 1, xNm, yNm, sigmaNm: 110, photons: 1000, offsetPhotons: 0, bkgStdPhotons: 0 });

describe('smlm-rt evaluate (evaluateFiles)', () => {
  it('reads the TIFF pixel size and scores against the CSV with hand-computed figures', async () => {
    // 4x2 image at 12.5 nm; G = [1,0,0,0, 0,0,1,0]; P puts 2 on each GT pixel and 2 on pixel 1.
    const image = Float32Array.from([2, 2, 0, 0, 0, 0, 2, 0]);
    await writeFloatTiff(join(dir, 'sr.tif'), image, 4, 2, { pixelSizeNm: 12.5, force: true });
    writeThunderstormCsv(join(dir, 'gt.csv'), [emitter(5, 5), emitter(80, 20), emitter(30, 15)]); // third: pixel (2,1)
    const r = await evaluateFiles(join(dir, 'sr.tif'), join(dir, 'gt.csv'), { sigma: [0] });
    expect(r.pixelNm).toBeCloseTo(12.5, 6);
    expect(r.emitters).toBe(3);
    expect(r.inside).toBe(2);
    // G = [1,0,0,0, 0,0,1,0], P = [2,2,0,0, 0,0,2,0]: a = 4/12 = 1/3; aP - G = [-1/3, 2/3, 0,0, 0,0,-1/3,0]
    // err^2 = 6/9, ||G||^2 = 2 -> NMSE 1/3; PSNR = 10 log10(1 / ((6/9)/8)).
    expect(r.results[0].scale).toBeCloseTo(1 / 3, 6);
    expect(r.results[0].scaled.nmse).toBeCloseTo(1 / 3, 6);
    expect(r.results[0].scaled.psnr).toBeCloseTo(10 * Math.log10(12), 5);
  });

  it('E_NON_FINITE_PIXELS, naming the file and pixel, for an image with NaN or infinite values (not NaN figures)', async () => {
    writeThunderstormCsv(join(dir, 'one.csv'), [emitter(5, 5)]);
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      const path = join(dir, 'non-finite.tif');
      await writeFloatTiff(path, Float32Array.from([1, bad, 0, 0]), 2, 2, { pixelSizeNm: 12.5, force: true });
      try {
        await evaluateFiles(path, join(dir, 'one.csv'), { sigma: [0, 1] });
        expect.unreachable();
      } catch (err) {
        expect((err as SmlmError).code).toBe('E_NON_FINITE_PIXELS');
        expect((err as SmlmError).message).toBe(`${path} has a non-finite pixel (${bad}) in frame 0 at (x=1, y=0)`);
      }
    }
  });
});
