/**
 * A TIFF that is still being written (a camera recording to disk): its pages are read as they appear, for
 * `smlm-rt reconstruct --follow`. Writers add a page by writing its IFD and pixels and then linking it from the
 * previous IFD's next-offset (or the header); so the chain is walked again, on every look at the file, from the link
 * of the last page read. A page counts as complete only when its IFD, its tag values and all its pixel data lie
 * inside the file as it is at that look; until then it is waited for. Following ends when the file has not grown for
 * `idleMs`, or when the signal fires (Ctrl-C): what was read is kept. A last page still incomplete then is a torn
 * page (the writer stopped mid-page) and is left out, saying so (`incomplete`).
 *
 * Classic TIFF and BigTIFF, either byte order; pages as openTiffStack reads them (uint8, uint16, float32,
 * single-channel, any compression geotiff decodes). ImageJ's one-IFD layout of > 4 GB stacks is not followed (its
 * frames would be counted by a description written before they were).
 */
import { open, type FileHandle } from 'node:fs/promises';
import { allocateArray } from '../allocation.js';
import { SmlmError } from '../errors.js';
import type { PixelArray, Stack } from '../types.js';
import { TiffByteReader } from './tiff-byte-reader.js';
import { BIG, CLASSIC, type IfdLayout } from './tiff-ifd-chain.js';
import { Ifd, TAG } from './tiff-ifd.js';
import { parseImageJDescription, pixelSizeNmFromTiff, rationalValue } from './tiff-metadata.js';
import { readPageLayout, SAMPLE_BYTES, type PageLayout, type TiffSampleType } from './tiff-page.js';
import { TiffPixelReader } from './tiff-pixels.js';
import { channelCount, MAX_DESCRIPTION_BYTES } from './tiff-read.js';

export interface FollowOptions {
  /** Following ends when the file has not grown for this long, ms. */
  idleMs: number;
  /** How often the file is looked at, ms. Default: idleMs / 4, at most 250. */
  pollMs?: number;
  /** Ends following (what was read is kept); while waiting for the first page: E_ABORTED. */
  signal?: AbortSignal;
}

/** A growing TIFF stack: its frame format (from its first page) and the frames read as they appear. */
export interface GrowingTiffStack {
  readonly path: string;
  readonly height: number;
  readonly width: number;
  readonly sampleType: TiffSampleType;
  /** Camera pixel pitch in the sample plane, when the file says. */
  readonly pixelSizeNm?: number;
  /** Frames yielded so far. */
  readonly framesRead: number;
  /** Why following stopped: the file stopped growing, or the signal fired. Set when `frames()` has ended. */
  readonly stoppedBy?: 'idle' | 'signal';
  /** Set when following ended with a page that was never complete: which page, and why. It was not read. */
  readonly incomplete?: string;
  /**
   * Chunks of at most `maxFrames` frames, in page order, as pages become complete; ends when the file has not grown
   * for idleMs or the signal fires. Call once.
   */
  frames(maxFrames: number): AsyncGenerator<Stack>;
  /** Closes the file. Idempotent. */
  close(): Promise<void>;
}

function corrupt(path: string, why: string): SmlmError {
  return new SmlmError('E_TIFF_CORRUPT', `${path}: damaged or truncated TIFF (${why})`, { path });
}

/** Waits `ms`, or less when the signal fires. */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * A page that stays incomplete while the file grows past it by this many of its frames' bytes (and 1 MiB) is not
 * being written any more: it is damaged, and following fails with its error instead of waiting for it forever.
 */
const STALL_FRAMES = 4;
/** The reader's messages for a page that reaches past the end of the file (tiff-page.ts, tiff-ifd.ts). */
const PAST_THE_END = /past the end of the file|cut short/;
const STALL_SLACK_BYTES = 1024 * 1024;

class Follower implements GrowingTiffStack {
  framesRead = 0;
  stoppedBy: 'idle' | 'signal' | undefined;
  incomplete: string | undefined;
  height = 0;
  width = 0;
  sampleType: TiffSampleType = 'uint16';
  pixelSizeNm: number | undefined;
  private littleEndian = true;
  private layout: IfdLayout = CLASSIC;
  /** Where the offset of the next page's IFD is stored: the header's field, then the last complete page's IFD's. */
  private linkAt = -1;
  private readonly visited = new Set<number>();
  private pageCount = 0;
  /** Complete pages not read yet. */
  private ready: PageLayout[] = [];
  /** The page waited for: its IFD offset, the file size when it was first seen incomplete, and why it is. */
  private waiting: { ifd: number; sizeThen: number; why: string } | undefined;
  private size = 0;
  private closed = false;

  constructor(
    readonly path: string,
    private readonly handle: FileHandle,
    private readonly options: FollowOptions,
  ) {}

  get pollMs(): number {
    return this.options.pollMs ?? Math.max(10, Math.min(250, this.options.idleMs / 4));
  }

  /** Waits for the header and the first complete page; E_EMPTY_STACK when none appears before the file goes idle. */
  async start(): Promise<void> {
    const { signal, idleMs } = this.options;
    let lastSize = -1;
    let lastGrowth = performance.now();
    for (;;) {
      await this.look();
      if (this.ready.length > 0) return;
      if (signal?.aborted) throw new SmlmError('E_ABORTED', `${this.path}: stopped (interrupted) before a complete page appeared`, { path: this.path });
      if (this.size !== lastSize) {
        lastSize = this.size;
        lastGrowth = performance.now();
      } else if (performance.now() - lastGrowth >= idleMs) {
        const why = this.waiting ? `; page 0 is incomplete (${this.waiting.why})` : '';
        throw new SmlmError('E_EMPTY_STACK', `${this.path}: no complete page appeared before the file stopped growing for ${idleMs / 1000} s${why}`, { path: this.path });
      }
      await sleep(this.pollMs, signal);
    }
  }

  async *frames(maxFrames: number): AsyncGenerator<Stack> {
    const { signal, idleMs } = this.options;
    let lastSize = this.size;
    let lastGrowth = performance.now();
    for (;;) {
      while (this.ready.length > 0) {
        if (signal?.aborted) break;
        yield await this.read(this.ready.splice(0, Math.max(1, maxFrames)));
      }
      if (signal?.aborted) {
        this.stoppedBy = 'signal';
        break;
      }
      await this.look();
      if (this.ready.length > 0) continue;
      if (this.size !== lastSize) {
        lastSize = this.size;
        lastGrowth = performance.now();
      } else if (performance.now() - lastGrowth >= idleMs) {
        this.stoppedBy = 'idle';
        break;
      }
      await sleep(this.pollMs, signal);
    }
    if (this.waiting) this.incomplete = `page ${this.pageCount} (IFD at byte ${this.waiting.ifd}) was incomplete when following stopped (${this.waiting.why})`;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.handle.close().catch(() => undefined);
  }

  /** Looks at the file once: reads its size and adds the pages that have become complete to `ready`. */
  private async look(): Promise<void> {
    if (this.closed) throw new SmlmError('E_CLOSED', `${this.path}: this followed TIFF was closed`, { path: this.path });
    const size = (await this.handle.stat()).size;
    this.size = size;
    // A fresh reader each time: the bytes of the last link change when the writer adds a page.
    let reader: TiffByteReader;
    if (this.linkAt < 0) {
      if (size < 16) {
        if (size >= 4) await this.checkSignature(); // not a TIFF at all: say so at once
        if (size < 8) return;
      }
      reader = await this.readHeader(size);
      if (this.linkAt < 0) return;
    } else {
      reader = new TiffByteReader(this.handle, this.littleEndian);
    }
    const { countBytes, entryBytes, offsetBytes } = this.layout;
    for (;;) {
      if (this.linkAt + offsetBytes > size) return;
      const offset = await reader.uint(this.linkAt, offsetBytes as 4 | 8);
      if (offset === 0) return;
      if (this.visited.has(offset)) throw corrupt(this.path, `the IFD chain loops: page ${this.pageCount} points back to an earlier page's IFD at byte ${offset}`);
      if (offset + countBytes > size) return this.wait(offset, size, 'its IFD is not in the file yet');
      const entries = await reader.uint(offset, countBytes as 2 | 8);
      const nextAt = offset + countBytes + entries * entryBytes;
      if (entries === 0) return this.wait(offset, size, 'its IFD has no entries yet');
      if (nextAt + offsetBytes > size) return this.wait(offset, size, 'its IFD is not all in the file yet');
      const block = Buffer.from(await reader.bytes(offset + countBytes, entries * entryBytes));
      const page = this.pageCount;
      let layout: PageLayout;
      let ifd: Ifd;
      try {
        ifd = Ifd.parse(reader, this.layout, entries, block, size, this.path, page);
        layout = await readPageLayout(ifd, size, this.path);
      } catch (err) {
        // Tag values or pixels past the current end: complete later, unless the file grows far past it (stalled).
        // Any other damage (a strip too small for its pixels, a wrong type) no growth can mend.
        if (err instanceof SmlmError && err.code === 'E_TIFF_CORRUPT' && PAST_THE_END.test(err.message))
          return this.wait(offset, size, /damaged or truncated TIFF \((.*)\)$/s.exec(err.message)?.[1] ?? err.message, err);
        throw err;
      }
      if (page === 0) await this.firstPage(ifd, layout);
      else this.checkLikeFirst(layout, page);
      this.visited.add(offset);
      this.ready.push(layout);
      this.pageCount++;
      this.linkAt = nextAt;
      this.waiting = undefined;
    }
  }

  private async checkSignature(): Promise<void> {
    const header = Buffer.alloc(4);
    await this.handle.read(header, 0, 4, 0);
    const le = header[0] === 0x49 && header[1] === 0x49 && (header[2] === 42 || header[2] === 43) && header[3] === 0;
    const be = header[0] === 0x4d && header[1] === 0x4d && header[2] === 0 && (header[3] === 42 || header[3] === 43);
    if (!(le || be)) throw new SmlmError('E_NOT_TIFF', `${this.path}: not a TIFF file (no TIFF signature)`, { path: this.path });
    this.littleEndian = le;
  }

  /** Reads the header (signature, classic or BigTIFF); sets linkAt once the header is whole. */
  private async readHeader(size: number): Promise<TiffByteReader> {
    await this.checkSignature();
    const reader = new TiffByteReader(this.handle, this.littleEndian);
    const big = (await reader.uint(2, 2)) === 43;
    const layout = big ? BIG : CLASSIC;
    if (size < layout.firstOffsetAt + layout.offsetBytes) return reader;
    if (big && (await reader.uint(4, 2)) !== 8) throw corrupt(this.path, 'the BigTIFF header states an offset size other than 8 bytes');
    this.layout = layout;
    this.linkAt = layout.firstOffsetAt;
    return reader;
  }

  /** Remembers the page waited for; fails when it stays incomplete while the file grows far past it. */
  private wait(ifd: number, size: number, why: string, error?: SmlmError): void {
    if (this.waiting?.ifd !== ifd) this.waiting = { ifd, sizeThen: size, why };
    this.waiting.why = why;
    // Before the first page is read its frame size is unknown: page 0 is waited for until the file goes idle.
    if (this.pageCount === 0) return;
    const frameBytes = this.height * this.width * SAMPLE_BYTES[this.sampleType];
    if (size - this.waiting.sizeThen > STALL_FRAMES * frameBytes + STALL_SLACK_BYTES) {
      throw error ?? corrupt(this.path, `page ${this.pageCount} (IFD at byte ${ifd}) stayed incomplete while the file grew by ${size - this.waiting.sizeThen} bytes: ${why}`);
    }
  }

  private async firstPage(ifd: Ifd, layout: PageLayout): Promise<void> {
    const description = await ifd.text(TAG.ImageDescription, MAX_DESCRIPTION_BYTES);
    const channels = channelCount(parseImageJDescription(description), description);
    if (channels > 1) {
      throw new SmlmError('E_UNSUPPORTED_SAMPLE_FORMAT', `${this.path}: a stack with ${channels} channels; smlm-rt reconstructs one channel at a time`, { path: this.path, channels });
    }
    const xResolution = rationalValue(await ifd.rational(TAG.XResolution));
    const resolutionUnit = await ifd.uint(TAG.ResolutionUnit, 2);
    this.pixelSizeNm = pixelSizeNmFromTiff({ description, xResolution, resolutionUnit });
    this.height = layout.height;
    this.width = layout.width;
    this.sampleType = layout.sampleType;
  }

  private checkLikeFirst(layout: PageLayout, page: number): void {
    if (layout.width !== this.width || layout.height !== this.height) {
      throw new SmlmError('E_FRAME_SIZE_MISMATCH', `${this.path}: page ${page} is ${layout.width} x ${layout.height} but page 0 is ${this.width} x ${this.height}; all frames must have one size`, {
        path: this.path,
        page,
      });
    }
    if (layout.sampleType !== this.sampleType) {
      throw new SmlmError('E_UNSUPPORTED_SAMPLE_FORMAT', `${this.path}: page ${page} is ${layout.sampleType} but page 0 is ${this.sampleType}; mixed sample formats are not supported`, {
        path: this.path,
        page,
      });
    }
  }

  /** Reads complete pages into one chunk. */
  private async read(pages: PageLayout[]): Promise<Stack> {
    const { width, height, sampleType, path } = this;
    const count = pages.length;
    const pixels = new TiffPixelReader(this.handle, path, this.littleEndian, { kind: 'pages', pages }, sampleType, width, height);
    const Type = sampleType === 'uint8' ? Uint8Array : sampleType === 'uint16' ? Uint16Array : Float32Array;
    try {
      pixels.checkPlausible(0, count);
      const data = allocateArray<PixelArray>(Type, count * width * height, 'E_BAD_OPTIONS', `a chunk of ${count} frames of ${width} x ${height} px of ${path}`);
      await pixels.readFrames(0, count, data, 0);
      this.framesRead += count;
      return { data, frames: count, height, width, pixelSizeNm: this.pixelSizeNm };
    } catch (err) {
      if (err instanceof SmlmError) throw err;
      throw corrupt(path, `it cannot be read: ${(err instanceof Error ? err.message : String(err)).slice(0, 200)}`);
    }
  }
}

/**
 * Opens a TIFF that is being written and waits for its first complete page (checking the signature as soon as the
 * file has one). Throws E_FILE_NOT_FOUND, E_NOT_TIFF, E_EMPTY_STACK (no complete page before the file stopped
 * growing for idleMs), E_ABORTED (the signal fired first), E_TIFF_CORRUPT, E_UNSUPPORTED_SAMPLE_FORMAT. The file is
 * closed on every error; otherwise call `close()`.
 */
export async function followTiffStack(path: string, options: FollowOptions): Promise<GrowingTiffStack> {
  if (!(options.idleMs > 0)) throw new SmlmError('E_BAD_OPTIONS', `the idle time must be a positive number of ms, got ${String(options.idleMs)}`);
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new SmlmError('E_FILE_NOT_FOUND', `${path}: cannot open (${code ?? String(err)})`, { path }, { cause: err });
  }
  const follower = new Follower(path, handle, options);
  try {
    if ((await handle.stat()).isDirectory()) throw new SmlmError('E_FILE_NOT_FOUND', `${path}: is a directory, not a file`, { path });
    await follower.start();
    return follower;
  } catch (err) {
    await follower.close();
    if (err instanceof SmlmError) throw err;
    throw corrupt(path, `it cannot be read: ${(err instanceof Error ? err.message : String(err)).slice(0, 200)}`);
  }
}
