/**
 * Reads frames of a checked TIFF stack into a typed array. Uncompressed strips (what cameras, ImageJ, Micro-Manager
 * and OME-TIFF writers produce) go straight from the file into the destination with large positioned reads, strips
 * and pages that follow each other in the file coalesced into one read; tiles and compressed blocks are read block
 * by block and decoded with geotiff's decoders (only the decoders: the file's structure is parsed by smlm-rt).
 * Samples are byte-swapped where the file's byte order is not this machine's.
 */
import type { FileHandle } from 'node:fs/promises';
import { availableParallelism, endianness } from 'node:os';
import { getDecoder } from 'geotiff';
import { formatBytes } from '../allocation.js';
import { SmlmError } from '../errors.js';
import type { PixelArray } from '../types.js';
import { readFully } from './tiff-byte-reader.js';
import { rowsOfBlock, SAMPLE_BYTES, type PageLayout, type TiffSampleType } from './tiff-page.js';

/**
 * Contiguous runs are read in pieces of this size, a few at a time: into a freshly allocated frame buffer, pieces of
 * 512 KiB with 2 in flight read as fast as fs.readFile on a 2-core machine, while one 32 MiB read took 3x as long
 * (measured: the kernel's copy into not-yet-touched pages goes faster in cache-sized pieces).
 */
const READ_PIECE_BYTES = 512 * 1024;
const READS_IN_FLIGHT = Math.max(2, Math.min(4, availableParallelism()));
/**
 * A page may declare more pixel bytes than it stores (compression, sparse blocks), but not without bound: beyond
 * this size, a page must store at least 1/MAX_EXPANSION of its bytes (deflate expands at most ~1032x, PackBits 128x),
 * so a few-hundred-byte file cannot make the reader allocate and fill gigabytes.
 */
const SPARSE_PAGE_BYTES = 64 * 1024 * 1024;
const MAX_EXPANSION = 4096;

/** Where a stack's frames lie: one checked layout per page, or ImageJ's one IFD followed by all frames back to back. */
export type FramePlacement = { kind: 'pages'; pages: PageLayout[] } | { kind: 'contiguous'; offset: number };

/** A run of bytes to copy from the file into the destination (byte offsets, both). */
interface Segment {
  from: number;
  to: number;
  bytes: number;
}

export class TiffPixelReader {
  private readonly bytesPerSample: number;
  private readonly frameBytes: number;
  /** Whether samples must be byte-swapped: the file's byte order differs from this machine's. */
  private readonly swap: boolean;

  constructor(
    private readonly handle: FileHandle,
    private readonly path: string,
    littleEndian: boolean,
    private readonly placement: FramePlacement,
    readonly sampleType: TiffSampleType,
    readonly width: number,
    readonly height: number,
  ) {
    this.bytesPerSample = SAMPLE_BYTES[sampleType];
    this.frameBytes = width * height * this.bytesPerSample;
    this.swap = this.bytesPerSample > 1 && littleEndian !== (endianness() === 'LE');
  }

  /**
   * E_TIFF_CORRUPT when one of frames first..first+count-1 declares far more pixel bytes than it stores. Call it
   * before allocating the destination for them.
   */
  checkPlausible(first: number, count: number): void {
    if (this.placement.kind !== 'pages' || this.frameBytes <= SPARSE_PAGE_BYTES) return;
    for (let f = first; f < first + count; f++) {
      const page = this.placement.pages[f];
      if (this.frameBytes > page.storedBytes * MAX_EXPANSION) {
        throw this.corrupt(`page ${f} declares ${formatBytes(this.frameBytes)} of pixels but stores only ${formatBytes(page.storedBytes)}`);
      }
    }
  }

  /**
   * Reads frames first..first+count-1 into `into` from element `at` on. `into` must be zeroed there (a fresh array):
   * sparse blocks are left as they are.
   */
  async readFrames(first: number, count: number, into: PixelArray, at: number): Promise<void> {
    const dest = new Uint8Array(into.buffer, into.byteOffset + at * this.bytesPerSample, count * this.frameBytes);
    const segments: Segment[] = [];
    if (this.placement.kind === 'contiguous') {
      segments.push({ from: this.placement.offset + first * this.frameBytes, to: 0, bytes: count * this.frameBytes });
    } else {
      for (let k = 0; k < count; k++) {
        const page = this.placement.pages[first + k];
        if (page.compression === 1 && !page.tiled) this.stripSegments(page, k * this.frameBytes, segments);
        else await this.readBlocks(page, dest, k * this.frameBytes);
      }
    }
    await this.readSegments(inPieces(coalesce(segments)), dest);
  }

  /** The uncompressed strips of `page` as segments into the frame at byte `frameAt` (sparse strips skipped). */
  private stripSegments(page: PageLayout, frameAt: number, out: Segment[]): void {
    const rowBytes = this.width * this.bytesPerSample;
    for (let s = 0; s < page.blocksDown; s++) {
      if (page.byteCounts[s] === 0) continue;
      out.push({ from: page.offsets[s], to: frameAt + s * page.blockHeight * rowBytes, bytes: rowsOfBlock(page, s) * rowBytes });
    }
  }

  private async readSegments(segments: Segment[], dest: Uint8Array): Promise<void> {
    let next = 0;
    const worker = async () => {
      while (next < segments.length) {
        const { from, to, bytes } = segments[next++];
        const got = await readFully(this.handle, dest, to, bytes, from);
        if (got.length < bytes) throw this.corrupt(`the file ended while reading ${bytes} bytes of pixels at byte ${from}; was it cut short while open?`);
        if (this.swap) this.swapInPlace(got);
      }
    };
    await Promise.all(Array.from({ length: Math.min(READS_IN_FLIGHT, segments.length) }, worker));
  }

  /** Tiles and compressed blocks: each is read whole, decoded when compressed, and its rows copied into the frame. */
  private async readBlocks(page: PageLayout, dest: Uint8Array, frameAt: number): Promise<void> {
    const bps = this.bytesPerSample;
    const kind = page.tiled ? 'tile' : 'strip';
    const decoder = page.compression === 1 ? undefined : await this.decoderFor(page);
    for (let by = 0; by < page.blocksDown; by++) {
      const rows = Math.min(rowsOfBlock(page, by), this.height - by * page.blockHeight);
      for (let bx = 0; bx < page.blocksAcross; bx++) {
        const index = by * page.blocksAcross + bx;
        const stored = page.byteCounts[index];
        if (stored === 0) continue;
        const raw = await readFully(this.handle, new Uint8Array(stored), 0, stored, page.offsets[index]);
        if (raw.length < stored) throw this.corrupt(`page ${page.page}'s ${kind} ${index} is cut short`);
        let block: Uint8Array = raw;
        // geotiff's floating-point predictor (3) already returns samples in this machine's order.
        let inFileOrder = true;
        if (decoder) {
          block = await this.decode(decoder, raw, page, index, kind);
          inFileOrder = page.predictor !== 3;
        }
        const stride = page.blockWidth * bps;
        if (block.length < rows * stride) throw this.corrupt(`page ${page.page}'s ${kind} ${index} holds ${block.length} bytes, fewer than the ${rows * stride} of its pixels`);
        if (this.swap && inFileOrder) this.swapInPlace(Buffer.from(block.buffer, block.byteOffset, rows * stride));
        if (page.predictor === 2) undoHorizontalDifferencing(block, rows, page.blockWidth, this.sampleType);
        const cols = Math.min(page.blockWidth, this.width - bx * page.blockWidth);
        for (let r = 0; r < rows; r++) {
          const to = frameAt + ((by * page.blockHeight + r) * this.width + bx * page.blockWidth) * bps;
          dest.set(block.subarray(r * stride, r * stride + cols * bps), to);
        }
      }
    }
  }

  private async decoderFor(page: PageLayout): Promise<{ decode(buffer: ArrayBuffer): Promise<ArrayBufferLike> }> {
    try {
      // Predictor 2 is undone here, after the byte swap (geotiff's would work in this machine's byte order).
      const params = { tileWidth: page.blockWidth, tileHeight: page.blockHeight, planarConfiguration: 1, bitsPerSample: 8 * this.bytesPerSample, predictor: page.predictor === 2 ? 1 : page.predictor };
      return (await getDecoder(page.compression, params)) as unknown as { decode(buffer: ArrayBuffer): Promise<ArrayBufferLike> };
    } catch (err) {
      throw new SmlmError(
        'E_UNSUPPORTED_SAMPLE_FORMAT',
        `${this.path}: page ${page.page} uses a compression smlm-rt cannot decode (TIFF compression ${page.compression})`,
        { path: this.path, page: page.page, compression: page.compression },
        { cause: err },
      );
    }
  }

  private async decode(decoder: { decode(buffer: ArrayBuffer): Promise<ArrayBufferLike> }, raw: Buffer, page: PageLayout, index: number, kind: string): Promise<Uint8Array> {
    try {
      const copy = raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length) as ArrayBuffer;
      return new Uint8Array(await decoder.decode(copy));
    } catch (err) {
      // The decoder's message may be anything; keep it short.
      const message = (err instanceof Error ? err.message : String(err)).slice(0, 200);
      throw this.corrupt(`page ${page.page}'s ${kind} ${index} cannot be decoded: ${message}`, err);
    }
  }

  private swapInPlace(bytes: Buffer): void {
    if (this.bytesPerSample === 2) bytes.swap16();
    else if (this.bytesPerSample === 4) bytes.swap32();
  }

  private corrupt(why: string, cause?: unknown): SmlmError {
    return new SmlmError('E_TIFF_CORRUPT', `${this.path}: damaged or truncated TIFF (${why})`, { path: this.path }, { cause });
  }
}

/** Merges segments that follow each other both in the file and in the destination into one read. */
function coalesce(segments: Segment[]): Segment[] {
  const out: Segment[] = [];
  for (const s of segments) {
    const last = out[out.length - 1];
    if (last && last.from + last.bytes === s.from && last.to + last.bytes === s.to) last.bytes += s.bytes;
    else out.push({ ...s });
  }
  return out;
}

/** Cuts segments into pieces of at most READ_PIECE_BYTES (a multiple of every sample size, so swaps stay aligned). */
function inPieces(segments: Segment[]): Segment[] {
  const out: Segment[] = [];
  for (const { from, to, bytes } of segments) {
    for (let done = 0; done < bytes; done += READ_PIECE_BYTES) out.push({ from: from + done, to: to + done, bytes: Math.min(READ_PIECE_BYTES, bytes - done) });
  }
  return out;
}

/** TIFF predictor 2: each sample was stored as its difference to the one on its left; undone row by row, in place. */
function undoHorizontalDifferencing(block: Uint8Array, rows: number, width: number, type: TiffSampleType): void {
  const Type = type === 'uint8' ? Uint8Array : type === 'uint16' ? Uint16Array : Uint32Array;
  // The block may not be aligned for wider samples: work on an aligned copy then.
  const aligned = block.byteOffset % Type.BYTES_PER_ELEMENT === 0 ? block : block.slice();
  const samples = new Type(aligned.buffer as ArrayBuffer, aligned.byteOffset, rows * width);
  for (let r = 0; r < rows; r++) {
    for (let c = 1; c < width; c++) samples[r * width + c] += samples[r * width + c - 1];
  }
  if (aligned !== block) block.set(aligned.subarray(0, rows * width * Type.BYTES_PER_ELEMENT));
}
