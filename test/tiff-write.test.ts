import { mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fromArrayBuffer } from 'geotiff';
import { describe, expect, it } from 'vitest';
import { SmlmError } from '../lib/errors.js';
import { readTiffStack } from '../lib/io/tiff-read.js';
import { encodeFloatTiff, encodeStackTiff, pixelsPerMicronRational, writeFloatTiff, writeStackTiff } from '../lib/io/tiff-write.js';
import { tempDir } from './helpers/paths.js';

const dir = tempDir();

function testImage(width: number, height: number): Float32Array {
  return Float32Array.from({ length: width * height }, (_, i) => Math.sin(i) * 1000 + (i % 7) * 1e-3);
}

async function parse(bytes: Uint8Array) {
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  const tiff = await fromArrayBuffer(buffer);
  const image = await tiff.getImage(0);
  const dir = image.getFileDirectory();
  return { tiff, image, dir };
}

describe('encodeFloatTiff, read back by geotiff', () => {
  it('keeps every float exactly, with the right size and sample format', async () => {
    const pixels = testImage(7, 5);
    const { tiff, image, dir } = await parse(encodeFloatTiff(pixels, 7, 5, { pixelSizeNm: 12.5 }));
    expect(await tiff.getImageCount()).toBe(1);
    expect([image.getWidth(), image.getHeight(), image.getBitsPerSample(0), image.getSamplesPerPixel()]).toEqual([7, 5, 32, 1]);
    expect(dir.getValue('SampleFormat')?.[0]).toBe(3);
    const raster = (await image.readRasters({ interleave: true })) as unknown as Float32Array;
    expect(raster).toBeInstanceOf(Float32Array);
    expect(Array.from(raster)).toEqual(Array.from(pixels));
  });

  it('writes the scale as ImageJ does: pixels per micron, ResolutionUnit none, unit=micron in the description', async () => {
    for (const nm of [12.5, 100, 100 / 3, 20]) {
      const { dir } = await parse(encodeFloatTiff(new Float32Array(4), 2, 2, { pixelSizeNm: nm }));
      const x = (await dir.loadValue('XResolution')) as unknown as ArrayLike<number>;
      const y = (await dir.loadValue('YResolution')) as unknown as ArrayLike<number>;
      // Stored to the picometre: the pixel size read back is within 0.001 nm.
      expect(1000 / (x[0] / x[1])).toBeCloseTo(nm, 3);
      expect(1000 / (y[0] / y[1])).toBeCloseTo(nm, 3);
      expect(await dir.loadValue('ResolutionUnit')).toBe(1);
      const description = (await dir.loadValue('ImageDescription')) as string;
      expect(description.startsWith('ImageJ=')).toBe(true);
      expect(description).toContain('unit=micron');
      expect(description).toContain('images=1');
    }
  });

  it('records the display range (min/max) in the description', async () => {
    const { dir } = await parse(encodeFloatTiff(Float32Array.from([0.5, -2, 7.25, 3]), 2, 2, { pixelSizeNm: 10 }));
    const description = (await dir.loadValue('ImageDescription')) as string;
    expect(description).toContain('min=-2\n');
    expect(description).toContain('max=7.25\n');
  });

  it('round-trips through smlm-rt’s own reader with the pixel size', async () => {
    const path = join(dir, 'roundtrip.tif');
    const pixels = testImage(16, 8);
    await writeFloatTiff(path, pixels, 16, 8, { pixelSizeNm: 12.5 });
    const stack = await readTiffStack(path);
    expect({ frames: stack.frames, width: stack.width, height: stack.height }).toEqual({ frames: 1, width: 16, height: 8 });
    expect(stack.pixelSizeNm).toBeCloseTo(12.5, 9);
    expect(Array.from(stack.data)).toEqual(Array.from(pixels));
  });

  it('rational pixels/micron: exact for picometre-precise sizes, within uint32', () => {
    expect(pixelsPerMicronRational(12.5)).toEqual([80, 1]);
    expect(pixelsPerMicronRational(106.7)).toEqual([10000, 1067]);
    const [n, d] = pixelsPerMicronRational(1e6);
    expect(n / d).toBeCloseTo(0.001, 9);
  });

  it('E_BAD_OPTIONS for a wrong size or pixel size', () => {
    expect(() => encodeFloatTiff(new Float32Array(5), 2, 2, { pixelSizeNm: 10 })).toThrow(SmlmError);
    expect(() => encodeFloatTiff(new Float32Array(4), 2, 2, { pixelSizeNm: 0 })).toThrowError(/pixel size/);
  });
});

describe('encodeStackTiff: multi-page stacks', () => {
  it('uint8, uint16 and float32 stacks round-trip through the reader, page by page, with the pixel size', async () => {
    const path = (k: string) => join(dir, `stack-${k}.tif`);
    const n = 3 * 5 * 4;
    const cases = {
      uint8: Uint8Array.from({ length: n }, (_, i) => (i * 7) % 256),
      uint16: Uint16Array.from({ length: n }, (_, i) => (i * 977) % 65536),
      float32: Float32Array.from({ length: n }, (_, i) => i / 3 - 7),
    };
    for (const [kind, data] of Object.entries(cases)) {
      await writeStackTiff(path(kind), { data, frames: 3, height: 5, width: 4, pixelSizeNm: 107 });
      const back = await readTiffStack(path(kind));
      expect(back.data.constructor).toBe(data.constructor);
      expect({ frames: back.frames, height: back.height, width: back.width }).toEqual({ frames: 3, height: 5, width: 4 });
      expect(Array.from(back.data)).toEqual(Array.from(data));
      expect(back.pixelSizeNm).toBeCloseTo(107, 6);
    }
  });

  it('geotiff sees one IFD per frame and the ImageJ stack description', async () => {
    const bytes = encodeStackTiff({ data: new Uint16Array(4 * 2 * 2), frames: 4, height: 2, width: 2, pixelSizeNm: 100 });
    const { tiff, dir } = await parse(bytes);
    expect(await tiff.getImageCount()).toBe(4);
    const description = (await dir.loadValue('ImageDescription')) as string;
    expect(description).toContain('images=4\n');
    expect(description).toContain('unit=micron');
  });

  it('without a pixel size: no resolution tags, and the reader reports none', async () => {
    const p = join(dir, 'uncalibrated.tif');
    await writeStackTiff(p, { data: new Uint16Array(8), frames: 2, height: 2, width: 2 });
    expect((await readTiffStack(p)).pixelSizeNm).toBeUndefined();
  });
});

describe('writeFloatTiff refuses to overwrite', () => {
  it('E_OUTPUT_EXISTS without force; replaces the file with force', async () => {
    const path = join(dir, 'exists.tif');
    writeFileSync(path, 'precious');
    await expect(writeFloatTiff(path, new Float32Array(4), 2, 2, { pixelSizeNm: 10 })).rejects.toMatchObject({ code: 'E_OUTPUT_EXISTS' });
    expect(readFileSync(path, 'utf8')).toBe('precious');
    expect(readdirSync(dir).filter((name) => name.includes('smlm-rt-partial'))).toEqual([]); // the staged bytes are removed
    await writeFloatTiff(path, new Float32Array(4), 2, 2, { pixelSizeNm: 10, force: true });
    expect(readFileSync(path).subarray(0, 2).toString()).toBe('II');
  });

  it('with force, replaces through a temporary file: nothing else is left in the folder, a symlinked output is written where it points', async () => {
    const folder = join(dir, 'replace');
    mkdirSync(folder);
    writeFileSync(join(folder, 'target.tif'), 'old');
    symlinkSync('target.tif', join(folder, 'link.tif'));
    await writeFloatTiff(join(folder, 'link.tif'), new Float32Array(4), 2, 2, { pixelSizeNm: 10, force: true });
    expect(readFileSync(join(folder, 'target.tif')).subarray(0, 2).toString()).toBe('II');
    expect(readdirSync(folder).sort()).toEqual(['link.tif', 'target.tif']);
  });

  it('E_BAD_OPTIONS for an output path that is empty or names a folder, with or without force; the folder is untouched', async () => {
    const folder = join(dir, 'a-folder');
    mkdirSync(folder);
    for (const path of ['', folder, `${folder}/`]) {
      for (const force of [false, true]) {
        await expect(writeFloatTiff(path, new Float32Array(4), 2, 2, { pixelSizeNm: 10, force })).rejects.toMatchObject({ code: 'E_BAD_OPTIONS' });
      }
    }
    expect(readdirSync(folder)).toEqual([]);
  });

  it('E_FILE_NOT_FOUND when the folder does not exist', async () => {
    await expect(writeFloatTiff(join(dir, 'no', 'such', 'folder.tif'), new Float32Array(4), 2, 2, { pixelSizeNm: 10 })).rejects.toMatchObject({ code: 'E_FILE_NOT_FOUND' });
  });
});
