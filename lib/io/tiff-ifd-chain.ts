/**
 * A TIFF's pages are a chain of IFDs (image file directories), each ending in the offset of the next. A reader that
 * follows that chain without remembering where it has been loops forever on a damaged file whose chain loops back.
 * This walk reads only each IFD's entry count and next offset, remembers every offset it has visited, and stops at
 * the end of the file; the entries themselves are parsed by tiff-ifd.ts.
 */
import type { FileHandle } from 'node:fs/promises';
import { SmlmError } from '../errors.js';
import { TiffByteReader } from './tiff-byte-reader.js';

/** Field sizes of classic TIFF (version 42) and BigTIFF (version 43). */
export interface IfdLayout {
  /** Where the first IFD's offset is stored in the header. */
  firstOffsetAt: number;
  /** Bytes of an IFD's entry count, of one entry, and of an offset. */
  countBytes: number;
  entryBytes: number;
  offsetBytes: number;
}

export const CLASSIC: IfdLayout = { firstOffsetAt: 4, countBytes: 2, entryBytes: 12, offsetBytes: 4 };
export const BIG: IfdLayout = { firstOffsetAt: 8, countBytes: 8, entryBytes: 20, offsetBytes: 8 };

function corrupt(path: string, why: string): SmlmError {
  return new SmlmError('E_TIFF_CORRUPT', `${path}: damaged or truncated TIFF (${why})`, { path });
}

/** Where each page's IFD lies, with its entry count, and the field sizes of the file's TIFF flavour. */
export interface IfdChain {
  layout: IfdLayout;
  bigTiff: boolean;
  /** Each IFD's offset, entry count and entries (a copy of their bytes, in the file's byte order). */
  ifds: Array<{ offset: number; entries: number; entryBytes: Buffer }>;
}

/**
 * Follows the IFD chain of the open TIFF `handle` (whose signature was checked) and returns its number of pages.
 * Throws E_TIFF_CORRUPT when the chain visits an IFD twice (a loop), or an IFD or its next offset lies past the end.
 */
export async function countIfds(handle: FileHandle, fileSize: number, littleEndian: boolean, path: string): Promise<number> {
  return (await walkIfdChain(new TiffByteReader(handle, littleEndian), fileSize, path)).ifds.length;
}

/**
 * Walks the chain as countIfds does and returns where every IFD lies; each IFD's entries lie inside the file.
 * Same errors as countIfds.
 */
export async function walkIfdChain(reader: TiffByteReader, fileSize: number, path: string): Promise<IfdChain> {
  const needHeader = (bytes: number) => {
    if (fileSize < bytes) throw corrupt(path, 'the header is cut short');
  };
  needHeader(8);
  const bigTiff = (await reader.uint(2, 2)) === 43;
  const layout = bigTiff ? BIG : CLASSIC;
  needHeader(layout.firstOffsetAt + layout.offsetBytes);
  // BigTIFF states its offset size (always 8) in the header; anything else is not a BigTIFF this reader can follow.
  if (bigTiff && (await reader.uint(4, 2)) !== 8) throw corrupt(path, 'the BigTIFF header states an offset size other than 8 bytes');
  // Every page's IFD holds at least one entry, so a chain of more IFDs than this would have them overlap.
  const maxPages = Math.floor(fileSize / (layout.countBytes + layout.entryBytes + layout.offsetBytes));
  const seen = new Set<number>();
  const ifds: IfdChain['ifds'] = [];
  let entryTotal = 0;
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
    // IFDs of a sound file do not overlap, so all of them together fit in the file: this bounds the time and memory
    // spent on entries by the file's size, however many pages claim however many entries.
    entryTotal += entries * layout.entryBytes;
    if (entryTotal > fileSize) throw corrupt(path, `the IFDs up to page ${page} hold more entries than the file can (they overlap)`);
    const entryBytes = Buffer.from(await reader.bytes(offset + layout.countBytes, entries * layout.entryBytes));
    ifds.push({ offset, entries, entryBytes });
    offset = await reader.uint(nextAt, layout.offsetBytes as 4 | 8);
  }
  return { layout, bigTiff, ifds };
}
