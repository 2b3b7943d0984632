/**
 * Writes large uncompressed uint16 TIFF stacks fast, for the pipeline benchmark and the read-speed test: frames are
 * streamed to disk one at a time (never the whole stack in memory) in either of the layouts cameras and ImageJ write.
 * Pixel values are a cheap per-frame pseudo-random pattern (12-bit, like a camera's), so no two frames are equal.
 */
import { open } from 'node:fs/promises';

export interface StackFileOptions {
  /**
   * 'imagej': all pixel data back to back, then the IFDs (ImageJ's layout: one positioned read serves many pages);
   * 'interleaved': each page's IFD followed by its pixels (Micro-Manager's layout: one read per page).
   */
  layout?: 'imagej' | 'interleaved';
  bigEndian?: boolean;
}

/** Entries of each page's IFD, in tag order: width, height, bits, compression, photometric, strip offset, spp, rows, bytes. */
const ENTRIES = 9;
const IFD_BYTES = 2 + ENTRIES * 12 + 4;

function fillFrame(frame: Uint16Array, seed: number): void {
  let s = (seed * 2654435761 + 1) >>> 0 || 1;
  for (let i = 0; i < frame.length; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    frame[i] = 100 + ((s >>> 0) & 0xfff);
  }
}

function ifdBytes(width: number, height: number, dataAt: number, nextIfd: number, le: boolean): Buffer {
  const ifd = Buffer.alloc(IFD_BYTES);
  const u16 = (v: number, at: number) => (le ? ifd.writeUInt16LE(v, at) : ifd.writeUInt16BE(v, at));
  const u32 = (v: number, at: number) => (le ? ifd.writeUInt32LE(v >>> 0, at) : ifd.writeUInt32BE(v >>> 0, at));
  u16(ENTRIES, 0);
  const entries: Array<[number, number, number]> = [
    [256, 4, width],
    [257, 4, height],
    [258, 3, 16],
    [259, 3, 1],
    [262, 3, 1],
    [273, 4, dataAt],
    [277, 3, 1],
    [278, 4, height],
    [279, 4, width * height * 2],
  ];
  entries.forEach(([tag, type, value], i) => {
    const at = 2 + 12 * i;
    u16(tag, at);
    u16(type, at + 2);
    u32(1, at + 4);
    if (type === 3) u16(value, at + 8);
    else u32(value, at + 8);
  });
  u32(nextIfd, 2 + ENTRIES * 12);
  return ifd;
}

/** Writes `frames` uint16 frames of `height` x `width` px to `path` as a classic TIFF; returns the file's size. */
export async function writeUint16Stack(path: string, frames: number, height: number, width: number, options: StackFileOptions = {}): Promise<number> {
  const { layout = 'imagej', bigEndian = false } = options;
  const le = !bigEndian;
  const frameBytes = width * height * 2;
  // Classic TIFF offsets are 32-bit.
  if (8 + frames * (frameBytes + IFD_BYTES) >= 2 ** 32) throw new Error('writeUint16Stack: over 4 GB needs BigTIFF');
  const dataAt = (f: number) => (layout === 'imagej' ? 8 + f * frameBytes : 8 + f * (IFD_BYTES + frameBytes) + IFD_BYTES);
  const ifdAt = (f: number) => (layout === 'imagej' ? 8 + frames * frameBytes + f * IFD_BYTES : 8 + f * (IFD_BYTES + frameBytes));
  const handle = await open(path, 'w');
  try {
    const header = Buffer.alloc(8);
    header.write(le ? 'II' : 'MM', 0, 'latin1');
    if (le) {
      header.writeUInt16LE(42, 2);
      header.writeUInt32LE(ifdAt(0), 4);
    } else {
      header.writeUInt16BE(42, 2);
      header.writeUInt32BE(ifdAt(0), 4);
    }
    await handle.write(header, 0, 8, 0);
    const frame = new Uint16Array(width * height);
    const bytes = Buffer.from(frame.buffer);
    for (let f = 0; f < frames; f++) {
      fillFrame(frame, f);
      if (!le) bytes.swap16();
      await handle.write(bytes, 0, frameBytes, dataAt(f));
      const ifd = ifdBytes(width, height, dataAt(f), f + 1 < frames ? ifdAt(f + 1) : 0, le);
      await handle.write(ifd, 0, ifd.length, ifdAt(f));
    }
  } finally {
    await handle.close();
  }
  return 8 + frames * (frameBytes + IFD_BYTES);
}

/** Frame f's pixel values as writeUint16Stack writes them, for checking what a reader returns. */
export function expectedFrame(f: number, height: number, width: number): Uint16Array {
  const frame = new Uint16Array(width * height);
  fillFrame(frame, f);
  return frame;
}
