/**
 * Positioned reads of a TIFF's small structures (IFDs, tag values) through one 16 KiB window: an IFD and its value
 * tables usually sit close together, so few reads reach the disk; and where every page's IFD sits before its pixels
 * (Micro-Manager), a small window does not drag a page of pixels along with each IFD. Callers check that what they ask for lies inside
 * the file before asking; this class only reads.
 */
import { readSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';

export class TiffByteReader {
  private static readonly WINDOW_BYTES = 16 * 1024;
  private window: Buffer = Buffer.alloc(0);
  private windowStart = 0;

  constructor(
    private readonly handle: FileHandle,
    readonly littleEndian: boolean,
  ) {}

  /** `length` bytes at `offset` (fewer only where the file ends): a view into the window, or a fresh buffer when larger. */
  async bytes(offset: number, length: number): Promise<Buffer> {
    if (offset >= this.windowStart && offset + length <= this.windowStart + this.window.length) {
      return this.window.subarray(offset - this.windowStart, offset - this.windowStart + length);
    }
    if (length > TiffByteReader.WINDOW_BYTES) return readFully(this.handle, Buffer.alloc(length), 0, length, offset);
    const window = readWindowSync(this.handle, Buffer.allocUnsafe(TiffByteReader.WINDOW_BYTES), offset);
    this.window = window;
    this.windowStart = offset;
    return window.subarray(0, length);
  }

  /** An unsigned integer of 2, 4 or 8 bytes at `offset`, in the file's byte order. */
  async uint(offset: number, bytes: 2 | 4 | 8): Promise<number> {
    // Straight from the window when it holds the field: the chain walk reads thousands of these.
    if (offset >= this.windowStart && offset + bytes <= this.windowStart + this.window.length) {
      return uintAt(this.window, offset - this.windowStart, bytes, this.littleEndian);
    }
    return uintAt(await this.bytes(offset, bytes), 0, bytes, this.littleEndian);
  }
}

/**
 * An unsigned integer of 1, 2, 4 or 8 bytes from `buf` at `at`. Values past 2^53 cannot be offsets or sizes inside
 * any file; Number() keeps them large enough to fail every bounds check.
 */
export function uintAt(buf: Buffer, at: number, bytes: 1 | 2 | 4 | 8, littleEndian: boolean): number {
  if (bytes === 1) return buf[at];
  if (bytes === 2) return littleEndian ? buf.readUInt16LE(at) : buf.readUInt16BE(at);
  if (bytes === 4) return littleEndian ? buf.readUInt32LE(at) : buf.readUInt32BE(at);
  return Number(littleEndian ? buf.readBigUInt64LE(at) : buf.readBigUInt64BE(at));
}

/**
 * Fills `buf` from file position `position` with a synchronous read. Only windows of structure (16 KiB) are read
 * so: the IFD chain must be walked one IFD after the other, and a file with an IFD before every page (Micro-Manager)
 * has thousands of them; an asynchronous read costs a thread-pool round trip (50-250 us on a busy 2-core machine)
 * where a synchronous one from the page cache costs a few, which made opening a 2,000-page stack 5-10x faster.
 */
function readWindowSync(handle: FileHandle, buf: Buffer, position: number): Buffer {
  let done = 0;
  while (done < buf.length) {
    const bytesRead = readSync(handle.fd, buf, done, buf.length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return buf.subarray(0, done);
}

/** The largest single read Node's fs accepts is 2 GiB - 1; larger ranges go in pieces of this size. */
const MAX_READ_BYTES = 1024 * 1024 * 1024;

/**
 * Reads `length` bytes at file position `position` into `buf` at `at`, looping over short reads; returns the part of
 * `buf` filled (shorter only where the file ends).
 */
export async function readFully(handle: FileHandle, buf: Uint8Array, at: number, length: number, position: number): Promise<Buffer> {
  let done = 0;
  while (done < length) {
    const want = Math.min(length - done, MAX_READ_BYTES);
    const { bytesRead } = await handle.read(buf, at + done, want, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return Buffer.from(buf.buffer, buf.byteOffset + at, done);
}
