/**
 * Does ImageJ (whose TIFF opener Fiji uses) open smlm-rt's TIFFs at the right scale? Runs where Java and ImageJ's
 * ij.jar are installed (Debian: `apt-get install imagej`); elsewhere it skips and says why.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeFloatTiff, writeStackTiff } from '../lib/io/tiff-write.js';
import { REPO_ROOT, tempDir } from './helpers/paths.js';

const IJ_JAR = process.env.SMLM_RT_IJ_JAR ?? '/usr/share/java/ij.jar';
const javaOk = spawnSync('java', ['-version'], { encoding: 'utf8' }).status === 0;
const missing = !existsSync(IJ_JAR) ? `ImageJ not found at ${IJ_JAR} (apt-get install imagej, or set SMLM_RT_IJ_JAR)` : !javaOk ? 'no java on PATH' : undefined;

interface ImageJView {
  opened: boolean;
  width: number;
  height: number;
  slices: number;
  bitDepth: number;
  pixelWidth: number;
  pixelHeight: number;
  unit: string;
  value: number;
}

function openInImageJ(x: number, y: number, ...paths: string[]): ImageJView[] {
  const run = spawnSync('java', ['-Djava.awt.headless=true', '-cp', IJ_JAR, join(REPO_ROOT, 'test', 'helpers', 'ImageJCheck.java'), String(x), String(y), ...paths], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (run.status !== 0) throw new Error(`ImageJ check failed: ${run.stderr}`);
  return run.stdout.trim().split('\n').map((line) => JSON.parse(line) as ImageJView);
}

if (missing) {
  console.warn(`[imagej] skipping the ImageJ/Fiji compatibility tests: ${missing}`);
  it.skip(`ImageJ/Fiji compatibility: ${missing}`, () => undefined);
}

describe.runIf(!missing)('ImageJ opens smlm-rt TIFFs at the right scale', () => {
  it('the float result image: 32-bit, pixel size in microns, pixels where smlm-rt put them', async () => {
    const dir = tempDir();
    const path = join(dir, 'sr.tif');
    const width = 40;
    const image = Float32Array.from({ length: width * 24 }, (_, i) => i * 0.25 - 3);
    await writeFloatTiff(path, image, width, 24, { pixelSizeNm: 12.5 });
    const [view] = openInImageJ(7, 5, path);
    expect(view).toMatchObject({ opened: true, width: 40, height: 24, slices: 1, bitDepth: 32, unit: 'micron' });
    expect(view.pixelWidth).toBeCloseTo(0.0125, 9);
    expect(view.pixelHeight).toBeCloseTo(0.0125, 9);
    expect(view.value).toBeCloseTo(image[5 * width + 7], 6); // x = 7, y = 5
  });

  it('a uint16 stack: every slice, 16-bit, calibrated', async () => {
    const path = join(tempDir(), 'stack.tif');
    await writeStackTiff(path, { data: Uint16Array.from({ length: 5 * 8 * 6 }, (_, i) => i * 3), frames: 5, height: 8, width: 6, pixelSizeNm: 106.7 });
    const [view] = openInImageJ(2, 3, path);
    expect(view).toMatchObject({ opened: true, width: 6, height: 8, slices: 5, bitDepth: 16, unit: 'micron', value: (3 * 6 + 2) * 3 });
    expect(view.pixelWidth).toBeCloseTo(0.1067, 9);
  });
});
