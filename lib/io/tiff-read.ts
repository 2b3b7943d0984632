import { open, type FileHandle } from 'node:fs/promises';
import { allocateArray } from '../allocation.js';
import { SmlmError } from '../errors.js';
import type { PixelArray, Stack } from '../types.js';
import type { FrameSource } from './frame-source.js';
import { TiffByteReader } from './tiff-byte-reader.js';
import { Ifd, TAG } from './tiff-ifd.js';
import { walkIfdChain } from './tiff-ifd-chain.js';
import { parseImageJDescription, pixelSizeNmFromTiff, rationalValue } from './tiff-metadata.js';
import { readPageLayout, SAMPLE_BYTES, type PageLayout, type TiffSampleType } from './tiff-page.js';
import { TiffPixelReader, type FramePlacement } from './tiff-pixels.js';

export type { TiffSampleType } from './tiff-page.js';

/** A multi-page TIFF stack opened for page-by-page reading. Call `close()` when done. */
export interface TiffStackSource extends FrameSource {
  readonly path: string;
  readonly sampleType: TiffSampleType;
  close(): Promise<void>;
}

function corrupt(path: string, why: string, cause?: unknown): SmlmError {
  return new SmlmError('E_TIFF_CORRUPT', `${path}: damaged or truncated TIFF (${why})`, { path }, { cause });
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** A zeroed array of the sample type; E_BAD_OPTIONS (naming `what` and the bytes needed) when it cannot exist. */
function allocate(type: TiffSampleType, length: number, what: string, hint: string): PixelArray {
  const Type = type === 'uint8' ? Uint8Array : type === 'uint16' ? Uint16Array : Float32Array;
  return allocateArray<PixelArray>(Type, length, 'E_BAD_OPTIONS', what, hint);
}

/** Opens the file and checks the TIFF signature; E_FILE_NOT_FOUND / E_NOT_TIFF otherwise. */
async function openChecked(path: string): Promise<{ handle: FileHandle; size: number; littleEndian: boolean }> {
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new SmlmError('E_FILE_NOT_FOUND', `${path}: cannot open (${code ?? errorMessage(err)})`, { path }, { cause: err });
  }
  try {
    const stats = await handle.stat();
    if (stats.isDirectory()) throw new SmlmError('E_FILE_NOT_FOUND', `${path}: is a directory, not a file`, { path });
    const header = Buffer.alloc(4);
    const { bytesRead } = await handle.read(header, 0, 4, 0);
    const le = header[0] === 0x49 && header[1] === 0x49 && (header[2] === 42 || header[2] === 43) && header[3] === 0;
    const be = header[0] === 0x4d && header[1] === 0x4d && header[2] === 0 && (header[3] === 42 || header[3] === 43);
    if (bytesRead < 4 || !(le || be)) throw new SmlmError('E_NOT_TIFF', `${path}: not a TIFF file (no TIFF signature)`, { path });
    return { handle, size: stats.size, littleEndian: le };
  } catch (err) {
    await handle.close();
    if (err instanceof SmlmError) throw err;
    throw new SmlmError('E_FILE_NOT_FOUND', `${path}: cannot read (${errorMessage(err)})`, { path }, { cause: err });
  }
}

/** Bytes of frames per readFrames call when readTiffStack reads a whole stack into one array. */
const WHOLE_STACK_STEP_BYTES = 64 * 1024 * 1024;
/** An ImageJ or OME-XML description longer than this is not one (OME companion files for huge plates stay far below). */
export const MAX_DESCRIPTION_BYTES = 64 * 1024 * 1024;

/** An opened stack and the reader of its pixels (readTiffStack reads through it straight into one array). */
interface OpenedStack {
  source: TiffStackSource;
  pixels: TiffPixelReader;
}

/**
 * Opens a multi-page TIFF stack (ImageJ stacks and hyperstacks, OME-TIFF, plain multi-page; classic TIFF or BigTIFF,
 * either byte order; uint8, uint16 or float32 single-channel pages; uncompressed, or any compression geotiff's
 * decoders handle) for reading page by page. Every page's size and format is checked here, before any pixel is read.
 * The returned source holds the file open until `close()`; Reconstructor.reconstructSource closes it when done.
 *
 * Throws E_FILE_NOT_FOUND, E_NOT_TIFF, E_TIFF_CORRUPT, E_UNSUPPORTED_SAMPLE_FORMAT, E_FRAME_SIZE_MISMATCH, E_EMPTY_STACK.
 */
export async function openTiffStack(path: string): Promise<TiffStackSource> {
  return (await openStack(path)).source;
}

async function openStack(path: string): Promise<OpenedStack> {
  const { handle, size, littleEndian } = await openChecked(path);
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await handle.close().catch(() => undefined);
  };
  try {
    const reader = new TiffByteReader(handle, littleEndian);
    const chain = await walkIfdChain(reader, size, path);
    const pageCount = chain.ifds.length;
    if (pageCount === 0) throw new SmlmError('E_EMPTY_STACK', `${path}: the TIFF has no pages`, { path });
    const ifdOf = (page: number) => {
      const { entries, entryBytes } = chain.ifds[page];
      return Ifd.parse(reader, chain.layout, entries, entryBytes, size, path, page);
    };
    const firstIfd = ifdOf(0);
    const first = await readPageLayout(firstIfd, size, path);
    const description = await firstIfd.text(TAG.ImageDescription, MAX_DESCRIPTION_BYTES);
    const xResolution = rationalValue(await firstIfd.rational(TAG.XResolution));
    const resolutionUnit = await firstIfd.uint(TAG.ResolutionUnit, 2);
    const imagej = parseImageJDescription(description);
    const channels = channelCount(imagej, description);
    if (channels > 1) {
      throw new SmlmError(
        'E_UNSUPPORTED_SAMPLE_FORMAT',
        `${path}: a stack with ${channels} channels; smlm-rt reconstructs one channel at a time (split the channels first, e.g. Fiji's Image > Color > Split Channels)`,
        { path, channels },
      );
    }
    const { width, height, sampleType } = first;
    const announced = imagej?.images !== undefined ? Number(imagej.images) : undefined;
    let frames = pageCount;
    let placement: FramePlacement;
    if (announced !== undefined && Number.isInteger(announced) && announced > pageCount) {
      if (pageCount !== 1) throw corrupt(path, `ImageJ says ${announced} frames but only ${pageCount} pages are present`);
      const offset = imageJContiguousOffset(first, path);
      const frameBytes = width * height * SAMPLE_BYTES[sampleType];
      if (offset + announced * frameBytes > size) throw corrupt(path, `ImageJ says ${announced} frames but the file ends before the last one`);
      frames = announced;
      placement = { kind: 'contiguous', offset };
    } else {
      const pages = [first];
      for (let page = 1; page < pageCount; page++) {
        const layout = await readPageLayout(ifdOf(page), size, path);
        if (layout.width !== width || layout.height !== height) {
          throw new SmlmError(
            'E_FRAME_SIZE_MISMATCH',
            `${path}: page ${page} is ${layout.width} x ${layout.height} but page 0 is ${width} x ${height}; all frames must have one size`,
            { path, page },
          );
        }
        if (layout.sampleType !== sampleType) {
          throw new SmlmError('E_UNSUPPORTED_SAMPLE_FORMAT', `${path}: page ${page} is ${layout.sampleType} but page 0 is ${sampleType}; mixed sample formats are not supported`, { path, page });
        }
        pages.push(layout);
      }
      placement = { kind: 'pages', pages };
    }
    const pixelSizeNm = pixelSizeNmFromTiff({ description, xResolution, resolutionUnit });
    const pixels = new TiffPixelReader(handle, path, littleEndian, placement, sampleType, width, height);
    const checkOpen = () => {
      if (closed) throw new SmlmError('E_CLOSED', `${path}: this TIFF stack was closed`, { path });
    };
    const source: TiffStackSource = {
      path,
      frames,
      height,
      width,
      pixelSizeNm,
      sampleType,
      async *chunks(framesPerChunk: number) {
        for (let firstFrame = 0; firstFrame < frames; firstFrame += framesPerChunk) {
          checkOpen();
          const count = Math.min(framesPerChunk, frames - firstFrame);
          pixels.checkPlausible(firstFrame, count);
          const data = allocate(sampleType, count * width * height, `a chunk of ${count} frames of ${width} x ${height} px of ${path}`, 'read fewer frames per chunk');
          await readFramesTyped(pixels, path, firstFrame, count, data, 0);
          const chunk: Stack = { data, frames: count, height, width, pixelSizeNm };
          yield chunk;
        }
      },
      close,
    };
    return { source, pixels };
  } catch (err) {
    await close();
    throw typed(err, path);
  }
}

/** Errors of the reader's own checks pass through; anything else (an I/O error, a bug) becomes E_TIFF_CORRUPT. */
function typed(err: unknown, path: string): SmlmError {
  if (err instanceof SmlmError) return err;
  return corrupt(path, `it cannot be read: ${errorMessage(err).slice(0, 200)}`, err);
}

/** pixels.readFrames with every error typed. */
async function readFramesTyped(pixels: TiffPixelReader, path: string, first: number, count: number, into: PixelArray, at: number): Promise<void> {
  try {
    pixels.checkPlausible(first, count);
    await pixels.readFrames(first, count, into, at);
  } catch (err) {
    throw typed(err, path);
  }
}

/**
 * ImageJ stores stacks over 4 GB (and some others) as ONE IFD followed by all frames back to back, announcing the
 * real count in its description (`images=N`). Returns the byte offset of frame 0 when the file is laid out so.
 */
function imageJContiguousOffset(first: PageLayout, path: string): number {
  if (first.compression !== 1) throw corrupt(path, 'ImageJ description announces more frames than the file has pages');
  // ImageJ writes that layout with uncompressed strips (it does not write tiles): a tiled page is not one of its stacks.
  if (first.tiled) throw corrupt(path, 'ImageJ description announces more frames than the file has pages, and its one page is tiled');
  return first.offsets[0];
}

/**
 * Channels of a hyperstack (ImageJ `channels=`, OME `SizeC`); 1 when not stated. Slices and time points of one
 * channel are all camera frames and are read as such; several channels would mix colours in one reconstruction.
 */
export function channelCount(imagej: Record<string, string> | undefined, description: string | undefined): number {
  if (imagej?.channels !== undefined) return Number(imagej.channels) || 1;
  if (description?.includes('<OME')) {
    const pixels = /<(?:\w+:)?Pixels\b[^>]*>/.exec(description)?.[0];
    const sizeC = pixels && /\bSizeC="(\d+)"/.exec(pixels)?.[1];
    if (sizeC) return Number(sizeC);
  }
  return 1;
}

/**
 * Reads a whole TIFF stack into memory. For stacks larger than memory use `openTiffStack(...).chunks(n)`: a stack
 * needing more than half of this machine's memory is refused with E_BAD_OPTIONS (saying the bytes) before reading.
 */
export async function readTiffStack(path: string): Promise<Stack> {
  const { source, pixels } = await openStack(path);
  try {
    const { frames, width, height, sampleType } = source;
    const what = `all ${frames} frames of ${width} x ${height} px of ${path}`;
    const data = allocate(sampleType, frames * width * height, what, 'read it a chunk at a time with openTiffStack(path).chunks(n), or reconstruct it with reconstructSource');
    const piece = Math.max(1, Math.floor(WHOLE_STACK_STEP_BYTES / (width * height * SAMPLE_BYTES[sampleType])));
    for (let first = 0; first < frames; first += piece) {
      const count = Math.min(piece, frames - first);
      await readFramesTyped(pixels, path, first, count, data, first * width * height);
    }
    return { data, frames, height, width, pixelSizeNm: source.pixelSizeNm };
  } finally {
    await source.close();
  }
}
