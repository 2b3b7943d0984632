import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SmlmError } from '../lib/errors.js';
import { openTiffStack, readTiffStack } from '../lib/io/tiff-read.js';
import { SHARED_DATA, sharedDataMissingReason, tempDir } from './helpers/paths.js';
import { buildTestTiff, pagesOf, withTag, type TestTiffOptions } from './helpers/tiff-builder.js';

const dir = tempDir();
let fileCount = 0;
function tiffFile(pages: Parameters<typeof buildTestTiff>[0], options: TestTiffOptions): string {
  const path = join(dir, `t${fileCount++}.tif`);
  writeFileSync(path, buildTestTiff(pages, options));
  return path;
}

async function errorCode(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    return err instanceof SmlmError ? err.code : `not an SmlmError: ${(err as Error).stack}`;
  }
  return 'no error';
}

/** Page 0's pixels, parsed straight from the file's first IFD (independent of geotiff). */
function firstPageByHand(bytes: Buffer): number[] {
  const le = bytes[0] === 0x49;
  const u16 = (at: number) => (le ? bytes.readUInt16LE(at) : bytes.readUInt16BE(at));
  const u32 = (at: number) => (le ? bytes.readUInt32LE(at) : bytes.readUInt32BE(at));
  const ifd = u32(4);
  const tags = new Map<number, number>();
  for (let i = 0; i < u16(ifd); i++) {
    const at = ifd + 2 + 12 * i;
    tags.set(u16(at), u16(at + 2) === 3 ? u16(at + 8) : u32(at + 8));
  }
  const offset = tags.get(273)!;
  return Array.from({ length: tags.get(256)! * tags.get(257)! }, (_, i) => u16(offset + 2 * i));
}

describe.runIf(SHARED_DATA)('the ImageJ stacks in ../shared/data', () => {
  for (const name of ['Artificialdataset.tif', 'ArtificialDataset_demo1.tif']) {
    it(`${name}: 20 frames of 64x64 uint16 at 100 nm, pixels as in the file`, async () => {
      const path = join(SHARED_DATA!, 'deepstorm-demo1', name);
      const stack = await readTiffStack(path);
      expect({ frames: stack.frames, height: stack.height, width: stack.width }).toEqual({ frames: 20, height: 64, width: 64 });
      expect(stack.data).toBeInstanceOf(Uint16Array);
      expect(stack.pixelSizeNm).toBeCloseTo(100, 6);
      expect(Array.from(stack.data.subarray(0, 4096))).toEqual(firstPageByHand(readFileSync(path)));
      // Frames differ (it is a movie, not one page repeated).
      expect(Array.from(stack.data.subarray(4096 * 19, 4096 * 20))).not.toEqual(Array.from(stack.data.subarray(0, 4096)));
    });
  }

  it('streams page by page: chunks of 7 frames concatenate to the whole stack', async () => {
    const path = join(SHARED_DATA!, 'deepstorm-demo1', 'Artificialdataset.tif');
    const whole = await readTiffStack(path);
    const source = await openTiffStack(path);
    const sizes: number[] = [];
    const parts: number[] = [];
    for await (const chunk of source.chunks(7)) {
      sizes.push(chunk.frames);
      parts.push(...chunk.data);
    }
    await source.close();
    expect(sizes).toEqual([7, 7, 6]);
    expect(parts).toEqual(Array.from(whole.data));
  });

  it('E_TIFF_CORRUPT for a truncated copy', async () => {
    const bytes = readFileSync(join(SHARED_DATA!, 'deepstorm-demo1', 'Artificialdataset.tif'));
    for (const cut of [100_000, 30_000, 200]) {
      const path = join(dir, `truncated-${cut}.tif`);
      writeFileSync(path, bytes.subarray(0, cut));
      expect(await errorCode(readTiffStack(path))).toBe('E_TIFF_CORRUPT');
    }
  });
});

if (!SHARED_DATA) {
  console.warn(`[tiff-read] ${sharedDataMissingReason()}`);
  it.skip(sharedDataMissingReason(), () => undefined);
}

describe('reading stacks smlm-rt did not write', () => {
  const value = (f: number, y: number, x: number) => 3 * f + 5 * y + x;

  it('uint8, uint16 (both byte orders) and float32 pages, exact values', async () => {
    for (const [kind, bigEndian, Type] of [
      ['uint8', false, Uint8Array],
      ['uint16', false, Uint16Array],
      ['uint16', true, Uint16Array],
      ['float32', true, Float32Array],
    ] as const) {
      const f32 = (fr: number, y: number, x: number) => (kind === 'float32' ? value(fr, y, x) + 0.25 : value(fr, y, x));
      const path = tiffFile(pagesOf(3, 4, 5, f32), { kind, bigEndian });
      const stack = await readTiffStack(path);
      expect(stack.data).toBeInstanceOf(Type);
      expect({ frames: stack.frames, height: stack.height, width: stack.width }).toEqual({ frames: 3, height: 4, width: 5 });
      expect(Array.from(stack.data)).toEqual(pagesOf(3, 4, 5, f32).flatMap((p) => Array.from(p.values)));
      expect(stack.pixelSizeNm).toBeUndefined();
    }
  });

  it('BigTIFF, either byte order', async () => {
    for (const bigEndian of [false, true]) {
      const stack = await readTiffStack(tiffFile(pagesOf(3, 4, 5, value), { kind: 'uint16', bigTiff: true, bigEndian }));
      expect({ frames: stack.frames, height: stack.height, width: stack.width }).toEqual({ frames: 3, height: 4, width: 5 });
      expect(Array.from(stack.data)).toEqual(pagesOf(3, 4, 5, value).flatMap((p) => Array.from(p.values)));
    }
  });

  it('several strips per page (tables out of line, in the file\'s byte order): classic and BigTIFF, either byte order', async () => {
    // 7 rows in strips of 2: 4 strips, the last one short. BigTIFF keeps 2 LONGs inline, so 3 rows per strip tests both.
    for (const bigTiff of [false, true]) {
      for (const bigEndian of [false, true]) {
        for (const rowsPerStrip of [2, 4]) {
          for (const kind of ['uint16', 'float32'] as const) {
            const f = (fr: number, y: number, x: number) => value(fr, y, x) + (kind === 'float32' ? 0.5 : 0);
            const path = tiffFile(pagesOf(3, 7, 5, f), { kind, bigTiff, bigEndian, rowsPerStrip });
            const stack = await readTiffStack(path);
            expect(Array.from(stack.data), `${kind} bigTiff=${bigTiff} bigEndian=${bigEndian} rows=${rowsPerStrip}`).toEqual(pagesOf(3, 7, 5, f).flatMap((p) => Array.from(p.values)));
          }
        }
      }
    }
  });

  it('deflate-compressed strips, with and without the horizontal predictor, either byte order', async () => {
    const wide = (fr: number, y: number, x: number) => (977 * fr + 131 * y + 17 * x) % 65536; // differences wrap
    for (const bigEndian of [false, true]) {
      for (const predictor of [undefined, 2] as const) {
        for (const kind of ['uint8', 'uint16'] as const) {
          const f = (fr: number, y: number, x: number) => (kind === 'uint8' ? wide(fr, y, x) % 256 : wide(fr, y, x));
          const path = tiffFile(pagesOf(2, 9, 6, f), { kind, bigEndian, deflate: true, predictor, rowsPerStrip: 4 });
          const stack = await readTiffStack(path);
          expect(Array.from(stack.data), `${kind} bigEndian=${bigEndian} predictor=${predictor}`).toEqual(pagesOf(2, 9, 6, f).flatMap((p) => Array.from(p.values)));
        }
      }
      const floats = (fr: number, y: number, x: number) => value(fr, y, x) / 8;
      const stack = await readTiffStack(tiffFile(pagesOf(2, 5, 5, floats), { kind: 'float32', bigEndian, deflate: true }));
      expect(Array.from(stack.data)).toEqual(pagesOf(2, 5, 5, floats).flatMap((p) => Array.from(p.values)));
    }
  });

  it('E_TIFF_CORRUPT for a compressed strip that decodes to fewer bytes than its pixels, or does not decode', async () => {
    const bytes = buildTestTiff(pagesOf(1, 8, 8, value), { kind: 'uint16', deflate: true });
    const garbage = Buffer.from(bytes);
    garbage.fill(0x55, 8, 20); // the zlib stream (the pixel data starts at byte 8)
    writeFileSync(join(dir, 'bad-deflate.tif'), garbage);
    expect(await errorCode(readTiffStack(join(dir, 'bad-deflate.tif')))).toBe('E_TIFF_CORRUPT');
    writeFileSync(join(dir, 'short-deflate.tif'), withTag(bytes, 257, 16)); // 16 rows declared, 8 stored
    expect(await errorCode(readTiffStack(join(dir, 'short-deflate.tif')))).toBe('E_TIFF_CORRUPT');
  });

  it('E_UNSUPPORTED_SAMPLE_FORMAT for a compression no decoder knows', async () => {
    const path = join(dir, 'compression-99.tif');
    writeFileSync(path, withTag(buildTestTiff(pagesOf(1, 4, 4, value), { kind: 'uint16' }), 259, 99));
    expect(await errorCode(readTiffStack(path))).toBe('E_UNSUPPORTED_SAMPLE_FORMAT');
  });

  it('tiled pages', async () => {
    const stack = await readTiffStack(tiffFile(pagesOf(2, 16, 16, value), { kind: 'uint16', tiled: true }));
    expect(stack.frames).toBe(2);
    expect(Array.from(stack.data)).toEqual(pagesOf(2, 16, 16, value).flatMap((p) => Array.from(p.values)));
  });

  it("ImageJ's one-IFD contiguous layout (images=N), either byte order", async () => {
    for (const bigEndian of [false, true]) {
      const description = 'ImageJ=1.54f\nimages=5\nslices=5\nunit=micron\n';
      const path = tiffFile(pagesOf(5, 4, 4, value), { kind: 'uint16', bigEndian, description, contiguous: true, resolution: { x: [10, 1], unit: 1 } });
      const stack = await readTiffStack(path);
      expect(stack.frames).toBe(5);
      expect(Array.from(stack.data)).toEqual(pagesOf(5, 4, 4, value).flatMap((p) => Array.from(p.values)));
      expect(stack.pixelSizeNm).toBeCloseTo(100, 9);
    }
  });

  it('E_TIFF_CORRUPT when ImageJ announces more frames than the file holds', async () => {
    // One IFD + contiguous data: 50 frames of 32 bytes cannot fit the file.
    const contiguous = tiffFile(pagesOf(5, 4, 4, value), { kind: 'uint16', description: 'ImageJ=1.54f\nimages=50\n', contiguous: true });
    expect(await errorCode(readTiffStack(contiguous))).toBe('E_TIFF_CORRUPT');
    // Several IFDs but fewer than announced: pages were lost.
    const paged = tiffFile(pagesOf(5, 4, 4, value), { kind: 'uint16', description: 'ImageJ=1.54f\nimages=9\n' });
    expect(await errorCode(readTiffStack(paged))).toBe('E_TIFF_CORRUPT');
  });

  it('E_TIFF_CORRUPT (not a TypeError) when ImageJ announces more frames than pages and the one page is tiled', async () => {
    for (const contiguous of [true, false]) {
      const path = tiffFile(pagesOf(contiguous ? 3 : 1, 16, 16, value), { kind: 'uint16', description: 'ImageJ=1.54f\nimages=3\nslices=3\n', contiguous, tiled: true });
      expect(await errorCode(openTiffStack(path))).toBe('E_TIFF_CORRUPT');
    }
  });

  it('pixel size from OME-XML, from ImageJ unit=nm, and from cm resolution tags; not from 72 dpi', async () => {
    const ome = (attrs: string) => `<?xml version="1.0"?><OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06"><Image ID="Image:0"><Pixels ID="Pixels:0" DimensionOrder="XYZCT" Type="uint16" SizeX="4" SizeY="4" SizeZ="1" SizeC="1" SizeT="2" ${attrs}/></Image></OME>`;
    const cases: Array<[TestTiffOptions, number | undefined]> = [
      [{ kind: 'uint16', description: ome('PhysicalSizeX="0.16" PhysicalSizeY="0.16"') }, 160],
      [{ kind: 'uint16', description: ome('PhysicalSizeX="107" PhysicalSizeXUnit="nm"') }, 107],
      [{ kind: 'uint16', description: 'ImageJ=1.54f\nimages=2\nunit=nm\n', resolution: { x: [1, 100], unit: 1 } }, 100],
      [{ kind: 'uint16', description: 'ImageJ=1.54f\nimages=2\nunit=pixel\n', resolution: { x: [1, 1], unit: 1 } }, undefined],
      [{ kind: 'uint16', resolution: { x: [100_000, 1], unit: 3 } }, 100],
      [{ kind: 'uint16', resolution: { x: [72, 1], unit: 2 } }, undefined],
    ];
    for (const [options, expected] of cases) {
      const stack = await readTiffStack(tiffFile(pagesOf(2, 4, 4, value), options));
      if (expected === undefined) expect(stack.pixelSizeNm).toBeUndefined();
      else expect(stack.pixelSizeNm).toBeCloseTo(expected, 6);
    }
  });
});

describe('TIFF reading errors', () => {
  it('E_FILE_NOT_FOUND for a missing path or a folder', async () => {
    expect(await errorCode(readTiffStack(join(dir, 'does-not-exist.tif')))).toBe('E_FILE_NOT_FOUND');
    const folder = join(dir, 'folder.tif');
    mkdirSync(folder);
    expect(await errorCode(readTiffStack(folder))).toBe('E_FILE_NOT_FOUND');
  });

  it('E_NOT_TIFF for other files', async () => {
    const cases = { 'empty.tif': new Uint8Array(0), 'text.tif': new TextEncoder().encode('hello, not a tiff'), 'png.tif': Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 13, 10, 26, 10, 0, 0]) };
    for (const [name, bytes] of Object.entries(cases)) {
      const path = join(dir, name);
      writeFileSync(path, bytes);
      expect(await errorCode(readTiffStack(path))).toBe('E_NOT_TIFF');
    }
  });

  it('E_TIFF_CORRUPT for a signature with nothing behind it, or pixel data past the end', async () => {
    const headerOnly = join(dir, 'header-only.tif');
    writeFileSync(headerOnly, Uint8Array.from([0x49, 0x49, 42, 0, 0x00, 0x10, 0, 0]));
    expect(await errorCode(readTiffStack(headerOnly))).toBe('E_TIFF_CORRUPT');
    const bytes = buildTestTiff(pagesOf(2, 8, 8, () => 1), { kind: 'uint16' });
    // Point page 0's strip past the end of the file (the IFDs are at the end, the data at the start).
    const path = join(dir, 'strip-past-end.tif');
    const copy = Buffer.from(bytes);
    const ifd = copy.readUInt32LE(4);
    for (let i = 0; i < copy.readUInt16LE(ifd); i++) {
      const at = ifd + 2 + 12 * i;
      if (copy.readUInt16LE(at) === 273) copy.writeUInt32LE(copy.length - 10, at + 8);
    }
    writeFileSync(path, copy);
    expect(await errorCode(readTiffStack(path))).toBe('E_TIFF_CORRUPT');
  });

  it('E_TIFF_CORRUPT, promptly, for an IFD chain that loops back (classic TIFF and BigTIFF, either byte order)', async () => {
    for (const bigTiff of [false, true]) {
      for (const bigEndian of [false, true]) {
        const loopToFirst = tiffFile(pagesOf(3, 4, 4, () => 1), { kind: 'uint16', bigTiff, bigEndian, loopTo: 0 });
        const ontoItself = tiffFile(pagesOf(1, 4, 4, () => 1), { kind: 'uint16', bigTiff, bigEndian, loopTo: 0 });
        for (const path of [loopToFirst, ontoItself]) {
          expect(await errorCode(openTiffStack(path))).toBe('E_TIFF_CORRUPT');
        }
      }
    }
  });

  it('E_TIFF_CORRUPT for an IFD or a next-IFD offset past the end of the file', async () => {
    const bytes = Buffer.from(buildTestTiff(pagesOf(2, 4, 4, () => 1), { kind: 'uint16' }));
    const secondIfd = bytes.length - (2 + 10 * 12 + 4); // the builder writes the IFDs last, 10 entries each
    expect(bytes.readUInt16LE(secondIfd)).toBe(10);
    const nextPastEnd = Buffer.from(bytes);
    nextPastEnd.writeUInt32LE(bytes.length + 100, bytes.length - 4);
    const cutInsideIfd = bytes.subarray(0, bytes.length - 20);
    for (const [name, file] of [['next-past-end.tif', nextPastEnd], ['cut-inside-ifd.tif', cutInsideIfd]] as const) {
      writeFileSync(join(dir, name), file);
      expect(await errorCode(openTiffStack(join(dir, name)))).toBe('E_TIFF_CORRUPT');
    }
  });

  it('E_TIFF_CORRUPT, at open, for an uncompressed page whose strips or tiles cannot hold the pixels it declares', async () => {
    const strips = buildTestTiff(pagesOf(2, 4, 4, () => 1), { kind: 'uint16' });
    const tiles = buildTestTiff(pagesOf(2, 16, 16, () => 1), { kind: 'uint16', tiled: true });
    const huge = withTag(withTag(withTag(strips, 256, 100_000), 257, 100_000), 278, 100_000); // 20 GB over a 32-byte strip
    const cases = {
      'huge.tif': huge,
      'short-strip.tif': withTag(strips, 279, 10),
      'short-tile.tif': withTag(tiles, 325, 10),
      'missing-strips.tif': withTag(strips, 278, 1), // one row per strip: 4 strips needed, 1 present
    };
    for (const [name, bytes] of Object.entries(cases)) {
      writeFileSync(join(dir, name), bytes);
      expect(await errorCode(openTiffStack(join(dir, name))), name).toBe('E_TIFF_CORRUPT');
    }
  });

  it('readTiffStack: E_BAD_OPTIONS stating the bytes when the whole stack cannot be held (a compressed page declaring 10^12 px)', async () => {
    const small = buildTestTiff(pagesOf(1, 2, 2, () => 1), { kind: 'uint8' });
    const path = join(dir, 'huge-compressed.tif');
    writeFileSync(path, withTag(withTag(withTag(withTag(small, 259, 8), 256, 1_000_000), 257, 1_000_000), 278, 1_000_000));
    try {
      await readTiffStack(path);
      expect.unreachable();
    } catch (err) {
      expect((err as SmlmError).code).toBe('E_BAD_OPTIONS');
      expect((err as SmlmError).details.bytes).toBe(1e12);
    }
  });

  it('E_UNSUPPORTED_SAMPLE_FORMAT for int16, uint32, float64 and RGB pages', async () => {
    for (const options of [{ kind: 'int16' }, { kind: 'uint32' }, { kind: 'float64' }, { kind: 'uint8', samplesPerPixel: 3 }] as TestTiffOptions[]) {
      const spp = options.samplesPerPixel ?? 1;
      const pages = [{ width: 4, height: 4, values: new Array(16 * spp).fill(1) }];
      expect(await errorCode(readTiffStack(tiffFile(pages, options)))).toBe('E_UNSUPPORTED_SAMPLE_FORMAT');
    }
  });

  it('E_UNSUPPORTED_SAMPLE_FORMAT for multichannel hyperstacks (ImageJ channels=, OME SizeC); slices x frames of one channel are fine', async () => {
    const pages = pagesOf(4, 4, 4, () => 1);
    const ij = (extra: string) => `ImageJ=1.54f\nimages=4\n${extra}hyperstack=true\n`;
    expect(await errorCode(readTiffStack(tiffFile(pages, { kind: 'uint16', description: ij('channels=2\nframes=2\n') })))).toBe('E_UNSUPPORTED_SAMPLE_FORMAT');
    const ome = '<OME><Image><Pixels DimensionOrder="XYCZT" SizeC="2" SizeT="2" SizeZ="1" SizeX="4" SizeY="4"/></Image></OME>';
    expect(await errorCode(readTiffStack(tiffFile(pages, { kind: 'uint16', description: ome })))).toBe('E_UNSUPPORTED_SAMPLE_FORMAT');
    expect((await readTiffStack(tiffFile(pages, { kind: 'uint16', description: ij('slices=2\nframes=2\n') }))).frames).toBe(4);
  });

  it('E_TIFF_CORRUPT, promptly and without the memory it claims, for a strip table of 2^29 LONG8 entries in a few hundred bytes', async () => {
    const bytes = Buffer.from(buildTestTiff(pagesOf(1, 4, 4, () => 1), { kind: 'uint16', bigTiff: true }));
    // The one IFD: 8-byte count, then 20-byte entries (tag, type, count, value).
    const ifd = Number(bytes.readBigUInt64LE(8));
    for (let i = 0; i < Number(bytes.readBigUInt64LE(ifd)); i++) {
      const at = ifd + 8 + 20 * i;
      const tag = bytes.readUInt16LE(at);
      if (tag === 273 || tag === 279) {
        bytes.writeUInt16LE(16, at + 2); // LONG8
        bytes.writeBigUInt64LE(2n ** 29n, at + 4);
      }
      if (tag === 257) bytes.writeUInt32LE(2 ** 29, at + 12); // as many rows, one per strip
      if (tag === 278) bytes.writeUInt32LE(1, at + 12);
    }
    const path = join(dir, 'huge-strip-table.tif');
    writeFileSync(path, bytes);
    const started = performance.now();
    const err = await openTiffStack(path).catch((e: unknown) => e);
    expect(performance.now() - started).toBeLessThan(1000);
    expect((err as SmlmError).code).toBe('E_TIFF_CORRUPT');
    // The message names the tag and its count, never the values.
    expect((err as SmlmError).message.length).toBeLessThan(300);
  });

  it('E_CLOSED when a closed stack is read; close() twice is fine', async () => {
    const source = await openTiffStack(tiffFile(pagesOf(2, 4, 4, () => 1), { kind: 'uint16' }));
    await source.close();
    await source.close();
    expect(await errorCode((async () => { for await (const _ of source.chunks(1)) void _; })())).toBe('E_CLOSED');
  });

  it('E_FRAME_SIZE_MISMATCH when pages differ in size, before any pixel is read', async () => {
    const pages = [...pagesOf(2, 8, 8, () => 1), ...pagesOf(1, 8, 6, () => 1)];
    expect(await errorCode(openTiffStack(tiffFile(pages, { kind: 'uint16' })))).toBe('E_FRAME_SIZE_MISMATCH');
  });
});
