/**
 * One IFD's entries, parsed from the file by smlm-rt itself (classic TIFF and BigTIFF, either byte order), with
 * accessors that trust nothing: every value table must lie inside the file, no table is read beyond the entries its
 * caller needs, and error messages name tags and counts, never a tag's values.
 */
import { SmlmError } from '../errors.js';
import { uintAt, type TiffByteReader } from './tiff-byte-reader.js';
import type { IfdLayout } from './tiff-ifd-chain.js';

/** Bytes of one value of each TIFF field type (TIFF 6.0 and BigTIFF); types not listed cannot be sized. */
const TYPE_BYTES: Record<number, number> = { 1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4, 16: 8, 17: 8, 18: 8 };
/** Unsigned integer types: BYTE, SHORT, LONG, IFD, LONG8, IFD8. */
const UNSIGNED_TYPES = new Set([1, 3, 4, 13, 16, 18]);

export const TAG = {
  ImageWidth: 256,
  ImageLength: 257,
  BitsPerSample: 258,
  Compression: 259,
  ImageDescription: 270,
  StripOffsets: 273,
  SamplesPerPixel: 277,
  RowsPerStrip: 278,
  StripByteCounts: 279,
  XResolution: 282,
  PlanarConfiguration: 284,
  ResolutionUnit: 296,
  Predictor: 317,
  TileWidth: 322,
  TileLength: 323,
  TileOffsets: 324,
  TileByteCounts: 325,
  SampleFormat: 339,
  JPEGTables: 347,
} as const;

const TAG_NAMES = new Map<number, string>(Object.entries(TAG).map(([name, tag]) => [tag, name]));

/** A tag's name for messages ("StripOffsets"), or its number. */
export function tagName(tag: number): string {
  return TAG_NAMES.get(tag) ?? `tag ${tag}`;
}

interface Entry {
  type: number;
  count: number;
  /** Whether the values fit the entry's value field (then valueAt is a position in the IFD's entry bytes). */
  inline: boolean;
  /** Where the value bytes start: in the entry bytes when inline, else the file offset stored in the entry. */
  valueAt: number;
}

export class Ifd {
  private constructor(
    private readonly reader: TiffByteReader,
    private readonly entries: Map<number, Entry>,
    /** The IFD's entry bytes, where inline values are read from (no file read for them). */
    private readonly block: Buffer,
    private readonly fileSize: number,
    /** For messages: "path: damaged ... (page N's <what>)". */
    private readonly path: string,
    readonly page: number,
  ) {}

  /** Parses the `entryCount` entries (`block`, as walkIfdChain read them) of the IFD at `offset`. */
  static parse(reader: TiffByteReader, layout: IfdLayout, entryCount: number, block: Buffer, fileSize: number, path: string, page: number): Ifd {
    if (block.length < entryCount * layout.entryBytes) throw corruptAt(path, page, 'IFD is cut short');
    const le = reader.littleEndian;
    const entries = new Map<number, Entry>();
    for (let i = 0; i < entryCount; i++) {
      const at = i * layout.entryBytes;
      const tag = uintAt(block, at, 2, le);
      const type = uintAt(block, at + 2, 2, le);
      const count = uintAt(block, at + 4, layout.offsetBytes as 4 | 8, le);
      const fieldAt = at + 4 + layout.offsetBytes;
      const bytes = (TYPE_BYTES[type] ?? 0) * count;
      const inline = bytes <= layout.offsetBytes;
      const valueAt = inline ? fieldAt : uintAt(block, fieldAt, layout.offsetBytes as 4 | 8, le);
      // The first entry of a tag wins, as in libtiff; later duplicates are ignored.
      if (!entries.has(tag)) entries.set(tag, { type, count, inline, valueAt });
    }
    return new Ifd(reader, entries, block, fileSize, path, page);
  }

  has(tag: number): boolean {
    return this.entries.has(tag);
  }

  /** The number of values the tag declares (0 when absent). */
  count(tag: number): number {
    return this.entries.get(tag)?.count ?? 0;
  }

  /**
   * The first `max` (at most) values of an unsigned-integer tag, or undefined when the tag is absent.
   * E_TIFF_CORRUPT when the tag has another type or its values lie outside the file.
   */
  async uints(tag: number, max: number): Promise<number[] | undefined> {
    const entry = this.entries.get(tag);
    if (!entry) return undefined;
    const size = this.unsignedSize(tag, entry);
    const n = Math.min(entry.count, max);
    const buf = await this.valueBytes(tag, entry, n * size);
    const values = new Array<number>(n);
    const le = this.reader.littleEndian;
    for (let i = 0; i < n; i++) values[i] = uintAt(buf, i * size, size, le);
    return values;
  }

  /**
   * As uint(), without a promise where the value sits in the entry itself (almost always for single values): opening
   * a 20,000-page stack asks for some 200,000 of them.
   */
  uintNow(tag: number, fallback: number): number | Promise<number> {
    const entry = this.entries.get(tag);
    if (!entry || entry.count === 0) return fallback;
    if (entry.inline && UNSIGNED_TYPES.has(entry.type)) return uintAt(this.block, entry.valueAt, TYPE_BYTES[entry.type] as 1 | 2 | 4 | 8, this.reader.littleEndian);
    return this.uint(tag, fallback);
  }

  /** The first value of an unsigned-integer tag, or `fallback` when the tag is absent or has no values. */
  async uint(tag: number, fallback: number): Promise<number> {
    const entry = this.entries.get(tag);
    if (!entry || entry.count === 0) return fallback;
    const size = this.unsignedSize(tag, entry);
    // Single values are almost always inline: read them from the entry bytes, without a buffer or an array.
    if (entry.inline) return uintAt(this.block, entry.valueAt, size, this.reader.littleEndian);
    return uintAt(await this.valueBytes(tag, entry, size), 0, size, this.reader.littleEndian);
  }

  private unsignedSize(tag: number, entry: Entry): 1 | 2 | 4 | 8 {
    if (!UNSIGNED_TYPES.has(entry.type)) throw this.corrupt(`${tagName(tag)} tag has type ${entry.type}, not an unsigned integer type`);
    return TYPE_BYTES[entry.type] as 1 | 2 | 4 | 8;
  }

  /** The first RATIONAL of a tag as [numerator, denominator], or undefined when absent or not a RATIONAL. */
  async rational(tag: number): Promise<[number, number] | undefined> {
    const entry = this.entries.get(tag);
    if (!entry || entry.type !== 5 || entry.count < 1) return undefined;
    const buf = await this.valueBytes(tag, entry, 8);
    const le = this.reader.littleEndian;
    return [uintAt(buf, 0, 4, le), uintAt(buf, 4, 4, le)];
  }

  /**
   * An ASCII tag as text (UTF-8, as OME-XML is written; trailing NULs dropped), or undefined when absent or not
   * ASCII. At most `maxBytes` are read: a longer one is E_TIFF_CORRUPT.
   */
  async text(tag: number, maxBytes: number): Promise<string | undefined> {
    const entry = this.entries.get(tag);
    if (!entry || entry.type !== 2) return undefined;
    if (entry.count > maxBytes) throw this.corrupt(`${tagName(tag)} tag declares ${entry.count} bytes, more than the ${maxBytes} smlm-rt reads`);
    const buf = await this.valueBytes(tag, entry, entry.count);
    return buf.toString('utf8').replace(/\0+$/, '');
  }

  /** The raw bytes of an UNDEFINED or BYTE tag (e.g. JPEGTables), or undefined when absent. */
  async raw(tag: number, maxBytes: number): Promise<Uint8Array | undefined> {
    const entry = this.entries.get(tag);
    if (!entry) return undefined;
    const bytes = (TYPE_BYTES[entry.type] ?? 0) * entry.count;
    if (bytes > maxBytes) throw this.corrupt(`${tagName(tag)} tag declares ${entry.count} values, more than smlm-rt reads`);
    return Uint8Array.from(await this.valueBytes(tag, entry, bytes));
  }

  corrupt(why: string): SmlmError {
    return corruptAt(this.path, this.page, why);
  }

  private async valueBytes(tag: number, entry: Entry, bytes: number): Promise<Buffer> {
    if (entry.inline) return this.block.subarray(entry.valueAt, entry.valueAt + bytes);
    if (entry.valueAt + bytes > this.fileSize) throw this.corrupt(`${tagName(tag)} values (${entry.count}) lie past the end of the file`);
    const buf = await this.reader.bytes(entry.valueAt, bytes);
    if (buf.length < bytes) throw this.corrupt(`${tagName(tag)} values are cut short`);
    return buf;
  }
}

function corruptAt(path: string, page: number, why: string): SmlmError {
  return new SmlmError('E_TIFF_CORRUPT', `${path}: damaged or truncated TIFF (page ${page}'s ${why})`, { path, page });
}
