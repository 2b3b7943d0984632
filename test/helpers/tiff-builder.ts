/**
 * Writes small uncompressed multi-page TIFFs for tests, independent of lib/io/tiff-write.ts, so reader tests do not
 * trust the project's own writer: any sample type, per-page sizes, either byte order, optional description and
 * resolution tags, ImageJ's "one IFD + contiguous frames" layout, several strips per page (so that strip tables
 * lie out of line, in the file's byte order), and deflate-compressed strips with or without the horizontal predictor.
 */
import { deflateSync } from 'node:zlib';

export type SampleKind = 'uint8' | 'uint16' | 'float32' | 'int16' | 'float64' | 'uint32';

export interface TestPage {
  width: number;
  height: number;
  /** Pixel values, row-major; samplesPerPixel values per pixel. */
  values: ArrayLike<number>;
}

export interface TestTiffOptions {
  kind: SampleKind;
  bigEndian?: boolean;
  samplesPerPixel?: number;
  /** On the first page only, as ImageJ and OME do. */
  description?: string;
  /** [num, den] pixels per unit, and the TIFF unit (1 none, 2 inch, 3 cm). */
  resolution?: { x: [number, number]; unit: number };
  /** Write only the first page's IFD; all pages' pixels follow it back to back (ImageJ's >4 GB layout). */
  contiguous?: boolean;
  /** BigTIFF (version 43: 8-byte offsets and counts, 20-byte IFD entries). Not with `resolution`. */
  bigTiff?: boolean;
  /** A broken file: the last IFD's next-IFD offset points back at page `loopTo`'s IFD instead of ending the chain. */
  loopTo?: number;
  /** Store each page as one tile of the page's size (TileWidth/TileLength/TileOffsets/TileByteCounts), not a strip. */
  tiled?: boolean;
  /** Rows per strip (default: the page's height, one strip). Several strips put the strip tables out of line. */
  rowsPerStrip?: number;
  /** Compress each strip with zlib (TIFF Compression 8), optionally after the horizontal predictor (Predictor 2). */
  deflate?: boolean;
  predictor?: 2;
}

const KIND: Record<SampleKind, { bits: number; format: number; bytes: number }> = {
  uint8: { bits: 8, format: 1, bytes: 1 },
  uint16: { bits: 16, format: 1, bytes: 2 },
  uint32: { bits: 32, format: 1, bytes: 4 },
  int16: { bits: 16, format: 2, bytes: 2 },
  float32: { bits: 32, format: 3, bytes: 4 },
  float64: { bits: 64, format: 3, bytes: 8 },
};

function writeSample(view: DataView, at: number, kind: SampleKind, v: number, le: boolean): void {
  switch (kind) {
    case 'uint8': view.setUint8(at, v); break;
    case 'uint16': view.setUint16(at, v, le); break;
    case 'uint32': view.setUint32(at, v, le); break;
    case 'int16': view.setInt16(at, v, le); break;
    case 'float32': view.setFloat32(at, v, le); break;
    case 'float64': view.setFloat64(at, v, le); break;
  }
}

export function buildTestTiff(pages: TestPage[], options: TestTiffOptions): Uint8Array {
  const { kind, bigEndian = false, samplesPerPixel = 1, description, resolution, contiguous = false, bigTiff = false, loopTo, tiled = false, deflate = false, predictor } = options;
  if ((deflate || options.rowsPerStrip) && (tiled || contiguous)) throw new Error('buildTestTiff: rowsPerStrip and deflate are for strip pages');
  if (bigTiff && resolution) throw new Error('buildTestTiff: resolution is not supported with bigTiff');
  const le = !bigEndian;
  const info = KIND[kind];
  // Classic TIFF: 2-byte entry count, 12-byte entries with 4-byte values, 4-byte offsets; BigTIFF: 8, 20, 8, 8.
  const layout = bigTiff ? { header: 16, count: 8, entry: 20, value: 8 } : { header: 8, count: 2, entry: 12, value: 4 };
  const chunks: Uint8Array[] = [];
  let size = layout.header;
  const alloc = (n: number) => {
    const at = size;
    const bytes = new Uint8Array(n + (n & 1));
    chunks.push(bytes);
    size += bytes.length;
    return { at, bytes, view: new DataView(bytes.buffer) };
  };
  // Pixel data first, so IFDs can point back at it: one block per page, or its strips when rowsPerStrip/deflate.
  const stripped = deflate || options.rowsPerStrip !== undefined;
  const strips = pages.map((p) => {
    const rowBytes = p.width * samplesPerPixel * info.bytes;
    const raw = new Uint8Array(rowBytes * p.height);
    const rawView = new DataView(raw.buffer);
    for (let i = 0; i < p.values.length; i++) {
      // The predictor stores each sample as its difference to the one on its left, wrapping like the sample type.
      const left = predictor === 2 && i % (p.width * samplesPerPixel) >= samplesPerPixel ? p.values[i - samplesPerPixel] : 0;
      writeSample(rawView, i * info.bytes, kind, predictor === 2 ? (p.values[i] - left + 2 ** info.bits) % 2 ** info.bits : p.values[i], le);
    }
    const rows = stripped ? (options.rowsPerStrip ?? p.height) : p.height;
    const out: Array<{ at: number; bytes: number }> = [];
    for (let y = 0; y < p.height; y += rows) {
      const part = raw.subarray(y * rowBytes, Math.min(p.height, y + rows) * rowBytes);
      const stored = deflate ? deflateSync(part) : part;
      const { at, bytes } = alloc(stored.length);
      bytes.set(stored);
      out.push({ at, bytes: stored.length });
    }
    return { rows, out };
  });
  const dataOffsets = strips.map((s) => s.out[0].at);
  const descBytes = description === undefined ? undefined : new TextEncoder().encode(`${description}\0`);
  const descAt = descBytes ? alloc(descBytes.length) : undefined;
  descAt?.bytes.set(descBytes!);
  const resAt = resolution ? alloc(8) : undefined;
  if (resAt && resolution) {
    resAt.view.setUint32(0, resolution.x[0], le);
    resAt.view.setUint32(4, resolution.x[1], le);
  }
  // A LONG table: inline (its one value) when it fits the entry's value field, else out of line (its offset).
  const valueFieldBytes = bigTiff ? 8 : 4;
  const inlineTables = new Map<number, number[]>();
  const table = (values: number[]): number => {
    if (values.length === 1) return values[0];
    if (values.length * 4 <= valueFieldBytes) {
      const key = -1 - inlineTables.size;
      inlineTables.set(key, values);
      return key;
    }
    const { at, view } = alloc(values.length * 4);
    values.forEach((v, i) => view.setUint32(4 * i, v, le));
    return at;
  };
  const ifdPages = contiguous ? [0] : pages.map((_, i) => i);
  const ifdOffsets: number[] = [];
  const ifds = ifdPages.map((index) => {
    const p = pages[index];
    const entries: Array<[number, number, number, number]> = [
      [256, 4, 1, p.width],
      [257, 4, 1, p.height],
      [258, 3, 1, info.bits],
      [259, 3, 1, deflate ? 8 : 1],
      [262, 3, 1, samplesPerPixel === 3 ? 2 : 1],
    ];
    if (index === 0 && descAt) entries.push([270, 2, descBytes!.length, descAt.at]);
    const dataBytes = p.width * p.height * samplesPerPixel * info.bytes;
    entries.push([277, 3, 1, samplesPerPixel]);
    if (tiled) entries.push([322, 4, 1, p.width], [323, 4, 1, p.height], [324, 4, 1, dataOffsets[index]], [325, 4, 1, dataBytes]);
    else if (stripped) {
      const { rows, out } = strips[index];
      entries.push([273, 4, out.length, table(out.map((s) => s.at))], [278, 4, 1, rows], [279, 4, out.length, table(out.map((s) => s.bytes))]);
      if (predictor) entries.push([317, 3, 1, predictor]);
    } else entries.push([273, 4, 1, dataOffsets[index]], [278, 4, 1, p.height], [279, 4, 1, dataBytes]);
    if (resAt && resolution) entries.push([282, 5, 1, resAt.at], [283, 5, 1, resAt.at], [296, 3, 1, resolution.unit]);
    entries.push([339, 3, 1, info.format]);
    entries.sort((a, b) => a[0] - b[0]); // TIFF wants entries in tag order
    const ifd = alloc(layout.count + entries.length * layout.entry + layout.value);
    ifdOffsets.push(ifd.at);
    return { ifd, entries };
  });
  const setOffset = (v: DataView, at: number, value: number) => (bigTiff ? v.setBigUint64(at, BigInt(value), le) : v.setUint32(at, value, le));
  ifds.forEach(({ ifd, entries }, k) => {
    const v = ifd.view;
    if (bigTiff) v.setBigUint64(0, BigInt(entries.length), le);
    else v.setUint16(0, entries.length, le);
    entries.forEach(([tag, type, count, value], i) => {
      const at = layout.count + i * layout.entry;
      v.setUint16(at, tag, le);
      v.setUint16(at + 2, type, le);
      setOffset(v, at + 4, count);
      // Values are left-justified in the value field, in either byte order.
      const valueAt = at + 4 + layout.value;
      const typeBytes = ({ 2: 1, 3: 2, 4: 4, 5: 8 } as Record<number, number>)[type];
      if (count * typeBytes > layout.value) setOffset(v, valueAt, value); // out of line: an offset of the file's size
      else if (type === 3 && count === 1) v.setUint16(valueAt, value, le);
      else if (inlineTables.has(value)) inlineTables.get(value)!.forEach((x, j) => v.setUint32(valueAt + 4 * j, x, le));
      else v.setUint32(valueAt, value, le);
    });
    const last = k === ifds.length - 1;
    const next = last ? (loopTo === undefined ? 0 : ifdOffsets[loopTo]) : ifdOffsets[k + 1];
    setOffset(v, layout.count + entries.length * layout.entry, next);
  });
  const out = new Uint8Array(size);
  const header = new DataView(out.buffer);
  out.set(bigEndian ? [0x4d, 0x4d] : [0x49, 0x49], 0);
  if (bigTiff) {
    header.setUint16(2, 43, le);
    header.setUint16(4, 8, le); // offset size
    header.setBigUint64(8, BigInt(ifdOffsets[0]), le);
  } else {
    header.setUint16(2, 42, le);
    header.setUint32(4, ifdOffsets[0], le);
  }
  let at = layout.header;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** Frames of a stack as test pages: value(f, y, x). */
export function pagesOf(frames: number, height: number, width: number, value: (f: number, y: number, x: number) => number): TestPage[] {
  return Array.from({ length: frames }, (_, f) => ({
    width,
    height,
    values: Array.from({ length: height * width }, (_, i) => value(f, Math.floor(i / width), i % width)),
  }));
}

/**
 * A copy of a little-endian classic TIFF (as buildTestTiff writes by default) with `tag`'s value set to `value` in
 * every IFD, for damaged or unusual files. The value is written as 4 bytes, which a SHORT tag reads the same.
 */
export function withTag(bytes: Uint8Array, tag: number, value: number): Buffer {
  const copy = Buffer.from(bytes);
  for (let ifd = copy.readUInt32LE(4); ifd !== 0; ifd = copy.readUInt32LE(ifd + 2 + 12 * copy.readUInt16LE(ifd))) {
    for (let i = 0; i < copy.readUInt16LE(ifd); i++) {
      const at = ifd + 2 + 12 * i;
      if (copy.readUInt16LE(at) === tag) copy.writeUInt32LE(value, at + 8);
    }
  }
  return copy;
}
