import { existsSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { formatLocalizationsCsv, localizeChunkFrames, localizeFile } from '../lib/cli/localize.js';
import { matchLocalizations } from '../lib/localize.js';
import { SmlmError } from '../lib/errors.js';
import { parseThunderstormCsv, readThunderstormCsv } from '../lib/simulate/csv.js';
import { makeKnownModel, writeTempModel } from './helpers/known-model.js';
import { tempDir } from './helpers/paths.js';
import { buildTestTiff, pagesOf } from './helpers/tiff-builder.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const DATA = join(root, '..', 'shared', 'data', 'deepstorm-demo1');
const stack = join(DATA, 'ArtificialDataset_demo1.tif');
const haveData = existsSync(stack);
const haveModel = existsSync(join(root, 'models', 'unet.onnx'));
if (!haveData) console.warn(`skipping the localize end-to-end test: ${stack} is absent`);

describe('smlm-rt localize', () => {
  it('writes CSV that the ThunderSTORM reader reads back', () => {
    const csv = formatLocalizationsCsv([{ frame: 3, xNm: 1234.567, yNm: 89.01, confidence: 0.4567891 }]);
    const back = parseThunderstormCsv(csv);
    expect(back[0].frame).toBe(3);
    expect(back[0].xNm).toBeCloseTo(1234.57, 2);
    expect(back[0].yNm).toBeCloseTo(89.01, 2);
  });

  it('reconstructs 64 frames at a time, fewer when their kept maps would pass 64 MiB, never none', () => {
    expect(localizeChunkFrames(64, 64, 8)).toBe(64); // 512 x 512 maps: 1 MiB each
    expect(localizeChunkFrames(256, 256, 8)).toBe(4); // 2048 x 2048 maps: 16 MiB each
    expect(localizeChunkFrames(2048, 2048, 8)).toBe(1); // 16384 x 16384 maps: 1 GiB for one
    expect(localizeChunkFrames(16, 16, 2)).toBe(64);
  });

  it('E_NON_FINITE_PIXELS names the frame counted in the whole stack, past the first 64-frame chunk', async () => {
    const path = join(tempDir(), 'nan-at-70.tif');
    writeFileSync(path, buildTestTiff(pagesOf(100, 2, 2, (f, y, x) => (f === 70 && y === 0 && x === 1 ? Number.POSITIVE_INFINITY : 1 + x + y)), { kind: 'float32' }));
    try {
      await localizeFile(path, { backend: 'cpu', model: writeTempModel(makeKnownModel()), threshold: 0.1, radius: 1 });
      expect.unreachable();
    } catch (err) {
      expect((err as SmlmError).code).toBe('E_NON_FINITE_PIXELS');
      expect((err as SmlmError).details).toEqual({ frame: 70, x: 1, y: 0 });
      expect((err as SmlmError).message).toMatch(/ in frame 70 at \(x=1, y=0\)$/);
    }
  });

  it.skipIf(!haveData || !haveModel)('localizes the ThunderSTORM demo stack with the bundled U-Net', async () => {
    const { locs, frames } = await localizeFile(stack, { backend: 'cpu', model: 'unet', threshold: 0.1, radius: 1 });
    const m = matchLocalizations(locs, readThunderstormCsv(join(DATA, 'positions_demo1.csv')), 50);
    expect(frames).toBe(20);
    // High density (~250 emitters per 64x64 frame): a useful localizer finds a good share with few false ones.
    expect(m.recall).toBeGreaterThan(0.4);
    expect(m.precision).toBeGreaterThan(0.4);
    expect(m.rmseNm).toBeLessThan(35);
  });
});
