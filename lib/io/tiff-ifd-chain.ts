/**
 * A TIFF's pages are a chain of IFDs (image file directories), each ending in the offset of the next. geotiff follows
 * that chain without remembering where it has been, so a damaged file whose chain loops back makes it loop forever
 * with growing memory. This walk, done before geotiff is asked for anything, reads only each IFD's entry count and
 * next offset, remembers every offset it has visited, and stops at the end of the file.
 */
import type { FileHandle } from 'node:fs/promises';
import { SmlmError } from '../errors.js';

/** Field sizes of classic TIFF (version 42) and BigTIFF (version 43). */
interface IfdLayout {
  /** Where the first IFD's offset is stored in the header. */
  firstOffsetAt: number;
  /** Bytes of an IFD's entry count, of one entry, and of an offset. */
  countBytes: number;
  entryBytes: number;
  offsetBytes: number;
}

const CLASSIC: IfdLayout = { firstOffsetAt: 4, countBytes: 2, entryBytes: 12, offsetBytes: 4 };
const BIG: IfdLayout = { firstOffsetAt: 8, countBytes: 8, entryBytes: 20, offsetBytes: 8 };

/** Reads small fields through one 64 KiB window: IFDs usually sit close together, so few reads reach the disk. */
class WindowedReader {
  private static readonly WINDOW_BYTES = 64 * 1024;
  private window = Buffer.alloc(0);
  private windowStart = 0;

  constructor(
    private readonly handle: FileHandle,
    readonly littleEndian: boolean,
  ) {}

  /** An unsigned integer of 2, 4 or 8 bytes at `offset`; the caller has checked that it lies inside the file. */
  async uint(offset: number, bytes: 2 | 4 | 8): Promise<number> {
    if (offset < this.windowStart || offset + bytes > this.windowStart + this.window.length) {
      this.window = Buffer.alloc(WindowedReader.WINDOW_BYTES);
      const { bytesRead } = await this.handle.read(this.window, 0, this.window.length, offset);
      this.window = this.window.subarray(0, bytesRead);
      this.windowStart = offset;
    }
    const at = offset - this.windowStart;
    const le = this.littleEndian;
    if (bytes === 2) return le ? this.window.readUInt16LE(at) : this.window.readUInt16BE(at);
    if (bytes === 4) return le ? this.window.readUInt32LE(at) : this.window.readUInt32BE(at);
    // Offsets past 2^53 cannot lie inside any file; Number() keeps them large enough to fail the bounds checks.
    return Number(le ? this.window.readBigUInt64LE(at) : this.window.readBigUInt64BE(at));
  }
}

function corrupt(path: string, why: string): SmlmError {
  return new SmlmError('E_TIFF_CORRUPT', `${path}: damaged or truncated TIFF (${why})`, { path });
}

/**
 * Follows the IFD chain of the open TIFF `handle` (whose signature was checked) and returns its number of pages.
 * Throws E_TIFF_CORRUPT when the chain visits an IFD twice (a loop), or an IFD or its next offset lies past the end.
 */
export async function countIfds(handle: FileHandle, fileSize: number, littleEndian: boolean, path: string): Promise<number> {
  const reader = new WindowedReader(handle, littleEndian);
  const needHeader = (bytes: number) => {
    if (fileSize < bytes) throw corrupt(path, 'the header is cut short');
  };
  needHeader(8);
  const layout = (await reader.uint(2, 2)) === 43 ? BIG : CLASSIC;
  needHeader(layout.firstOffsetAt + layout.offsetBytes);
  // Every page's IFD holds at least one entry, so a chain of more IFDs than this would have them overlap.
  const maxPages = Math.floor(fileSize / (layout.countBytes + layout.entryBytes + layout.offsetBytes));
  const seen = new Set<number>();
  let offset = await reader.uint(layout.firstOffsetAt, layout.offsetBytes as 4 | 8);
  while (offset !== 0) {
    const page = seen.size;
    if (seen.has(offset)) throw corrupt(path, `the IFD chain loops: page ${page - 1} points back to an earlier page's IFD at byte ${offset}`);
    seen.add(offset);
    if (offset + layout.countBytes > fileSize) throw corrupt(path, `page ${page}'s IFD at byte ${offset} lies past the end of the file`);
    if (page >= maxPages) throw corrupt(path, `the IFD chain is longer than the file can hold (${maxPages} pages)`);
    const entries = await reader.uint(offset, layout.countBytes as 2 | 8);
    if (entries === 0) throw corrupt(path, `page ${page}'s IFD at byte ${offset} has no entries`);
    const nextAt = offset + layout.countBytes + entries * layout.entryBytes;
    if (nextAt + layout.offsetBytes > fileSize) throw corrupt(path, `page ${page}'s IFD (${entries} entries at byte ${offset}) runs past the end of the file`);
    offset = await reader.uint(nextAt, layout.offsetBytes as 4 | 8);
  }
  return seen.size;
}
