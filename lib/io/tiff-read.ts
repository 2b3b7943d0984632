import { open, type FileHandle } from 'node:fs/promises';
import { fromFile, type GeoTIFF, type GeoTIFFImage } from 'geotiff';
import { allocateArray } from '../allocation.js';
import { SmlmError } from '../errors.js';
import type { PixelArray, Stack } from '../types.js';
import type { FrameSource } from './frame-source.js';
import { countIfds } from './tiff-ifd-chain.js';
import { parseImageJDescription, pixelSizeNmFromTiff, rationalValue } from './tiff-metadata.js';

export type TiffSampleType = 'uint8' | 'uint16' | 'float32';

/** A multi-page TIFF stack opened for page-by-page reading. Call `close()` when done. */
export interface TiffStackSource extends FrameSource {
  readonly path: string;
  readonly sampleType: TiffSampleType;
  close(): Promise<void>;
}

const BYTES: Record<TiffSampleType, number> = { uint8: 1, uint16: 2, float32: 4 };

function corrupt(path: string, why: string, cause?: unknown): SmlmError {
  return new SmlmError('E_TIFF_CORRUPT', `${path}: damaged or truncated TIFF (${why})`, { path }, { cause });
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
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

function sampleTypeOf(image: GeoTIFFImage, path: string, page: number): TiffSampleType {
  const samples = image.getSamplesPerPixel();
  const bits = image.getBitsPerSample(0);
  // SampleFormat is optional in TIFF; absent means unsigned integer.
  const format = image.getFileDirectory().getValue('SampleFormat')?.[0] ?? 1;
  const describe = () => `${format === 1 ? 'uint' : format === 2 ? 'int' : format === 3 ? 'float' : `format ${format} `}${bits}`;
  if (samples !== 1) {
    throw new SmlmError('E_UNSUPPORTED_SAMPLE_FORMAT', `${path}: page ${page} has ${samples} samples per pixel (RGB/multichannel); smlm-rt needs single-channel frames`, { path, page, samples });
  }
  if (format === 1 && bits === 8) return 'uint8';
  if (format === 1 && bits === 16) return 'uint16';
  if (format === 3 && bits === 32) return 'float32';
  throw new SmlmError('E_UNSUPPORTED_SAMPLE_FORMAT', `${path}: page ${page} holds ${describe()} pixels; smlm-rt reads uint8, uint16 and float32`, { path, page, bits, format });
}

/** A zeroed array of the sample type; E_BAD_OPTIONS (naming `what` and the bytes needed) when it cannot exist. */
function allocate(type: TiffSampleType, length: number, what: string, hint: string): PixelArray {
  const Type = type === 'uint8' ? Uint8Array : type === 'uint16' ? Uint16Array : Float32Array;
  return allocateArray<PixelArray>(Type, length, 'E_BAD_OPTIONS', what, hint);
}

/**
 * Checks that every strip/tile of a page lies inside the file (geotiff would silently read zeros past the end) and
 * that an uncompressed page's strips/tiles hold all the pixels it declares: a page claiming 100000 x 100000 pixels
 * over a 64-byte strip is damaged, not a frame to allocate gigabytes for.
 */
async function checkDataInFile(image: GeoTIFFImage, sampleType: TiffSampleType, fileSize: number, path: string, page: number): Promise<void> {
  const dir = image.getFileDirectory();
  const tiled = dir.hasTag('TileOffsets');
  const offsets = (await dir.loadValue(tiled ? 'TileOffsets' : 'StripOffsets')) as ArrayLike<number> | undefined;
  const counts = (await dir.loadValue(tiled ? 'TileByteCounts' : 'StripByteCounts')) as ArrayLike<number> | undefined;
  if (!offsets || !counts || offsets.length !== counts.length) throw corrupt(path, `page ${page} has no valid strip table`);
  for (let i = 0; i < offsets.length; i++) {
    if (Number(offsets[i]) + Number(counts[i]) > fileSize) throw corrupt(path, `page ${page}'s pixel data ends past the end of the file`);
  }
  const uncompressed = (dir.getValue('Compression') ?? 1) === 1;
  if (uncompressed) checkBlocksHoldPixels(image, counts, BYTES[sampleType], path, page);
}

/**
 * E_TIFF_CORRUPT unless an uncompressed page has a strip/tile for every block of its declared size, each with the
 * bytes of its pixels. A 0-byte block is a sparse one (as GDAL writes them), which geotiff fills with zeros.
 */
function checkBlocksHoldPixels(image: GeoTIFFImage, counts: ArrayLike<number>, bytesPerSample: number, path: string, page: number): void {
  const blocks = image.isTiled ? 'tiles' : 'strips';
  const [width, height] = [image.getWidth(), image.getHeight()];
  const [blockWidth, blockHeight] = [image.getTileWidth(), image.getTileHeight()];
  if (!(blockWidth > 0 && blockHeight > 0)) throw corrupt(path, `page ${page} has ${blocks} of ${blockWidth} x ${blockHeight} px`);
  const across = Math.ceil(width / blockWidth);
  const down = Math.ceil(height / blockHeight);
  if (counts.length < across * down) {
    throw corrupt(path, `page ${page} declares ${width} x ${height} px, which takes ${across * down} ${blocks}, but it has ${counts.length}`);
  }
  for (let y = 0; y < down; y++) {
    // Strips hold their rows; tiles are always whole tiles, padded at the image's edges.
    const needed = image.getBlockHeight(y) * blockWidth * bytesPerSample;
    for (let x = 0; x < across; x++) {
      const held = Number(counts[y * across + x]);
      if (held !== 0 && held < needed) {
        throw corrupt(path, `page ${page} declares ${width} x ${height} px, but ${blocks.slice(0, -1)} ${y * across + x} holds ${held} bytes of the ${needed} its pixels need`);
      }
    }
  }
}

interface PageLayout {
  width: number;
  height: number;
  sampleType: TiffSampleType;
}

async function pageLayout(tiff: GeoTIFF, index: number, fileSize: number, path: string): Promise<PageLayout> {
  let image: GeoTIFFImage;
  let width: number;
  let height: number;
  try {
    image = await tiff.getImage(index);
    width = image.getWidth();
    height = image.getHeight();
  } catch (err) {
    throw corrupt(path, `page ${index} cannot be parsed: ${errorMessage(err)}`, err);
  }
  if (!(width > 0 && height > 0)) throw corrupt(path, `page ${index} has size ${width} x ${height}`);
  let sampleType: TiffSampleType;
  try {
    sampleType = sampleTypeOf(image, path, index);
  } catch (err) {
    if (err instanceof SmlmError) throw err;
    throw corrupt(path, `page ${index} has no readable sample format: ${errorMessage(err)}`, err);
  }
  await checkDataInFile(image, sampleType, fileSize, path, index);
  return { width, height, sampleType };
}

/**
 * ImageJ stores stacks over 4 GB (and some others) as ONE IFD followed by all frames back to back, announcing the
 * real count in its description (`images=N`). Returns the byte offset of frame 0 when the file is laid out so.
 */
async function imageJContiguousOffset(tiff: GeoTIFF, path: string): Promise<number> {
  const dir = (await tiff.getImage(0)).getFileDirectory();
  const compression = dir.getValue('Compression') ?? 1;
  if (compression !== 1) throw corrupt(path, 'ImageJ description announces more frames than the file has pages');
  // ImageJ writes that layout with uncompressed strips (it does not write tiles): a tiled page is not one of its stacks.
  if (dir.hasTag('TileOffsets')) throw corrupt(path, 'ImageJ description announces more frames than the file has pages, and its one page is tiled');
  const offsets = (await dir.loadValue('StripOffsets')) as ArrayLike<number>;
  return Number(offsets[0]);
}

/**
 * Opens a multi-page TIFF stack (ImageJ stacks and hyperstacks, OME-TIFF, plain multi-page; uint8, uint16 or float32
 * single-channel pages; any compression geotiff decodes) for reading page by page. Every page's size and format is
 * checked here, before any pixel is read.
 *
 * Throws E_FILE_NOT_FOUND, E_NOT_TIFF, E_TIFF_CORRUPT, E_UNSUPPORTED_SAMPLE_FORMAT, E_FRAME_SIZE_MISMATCH, E_EMPTY_STACK.
 */
export async function openTiffStack(path: string): Promise<TiffStackSource> {
  const { handle, size, littleEndian } = await openChecked(path);
  let tiff: GeoTIFF;
  let pageCount: number;
  try {
    // geotiff would loop forever on an IFD chain that loops back: walk (and check) it first.
    await countIfds(handle, size, littleEndian, path);
    tiff = await fromFile(path);
    pageCount = await tiff.getImageCount();
  } catch (err) {
    await handle.close();
    if (err instanceof SmlmError) throw err;
    throw corrupt(path, `the header cannot be parsed: ${errorMessage(err)}`, err);
  }
  const closeAll = async () => {
    await handle.close().catch(() => undefined);
    await Promise.resolve(tiff.close()).catch(() => undefined);
  };
  try {
    if (pageCount === 0) throw new SmlmError('E_EMPTY_STACK', `${path}: the TIFF has no pages`, { path });
    const first = await pageLayout(tiff, 0, size, path);
    let description: string | undefined;
    let xResolution: number | undefined;
    let resolutionUnit: number | undefined;
    try {
      const dir = (await tiff.getImage(0)).getFileDirectory();
      const desc: unknown = await dir.loadValue('ImageDescription');
      description = typeof desc === 'string' ? desc : undefined;
      xResolution = rationalValue(await dir.loadValue('XResolution'));
      resolutionUnit = (await dir.loadValue('ResolutionUnit')) as number | undefined;
    } catch (err) {
      throw corrupt(path, `page 0's tags cannot be read: ${errorMessage(err)}`, err);
    }
    const imagej = parseImageJDescription(description);
    const channels = channelCount(imagej, description);
    if (channels > 1) {
      throw new SmlmError(
        'E_UNSUPPORTED_SAMPLE_FORMAT',
        `${path}: a stack with ${channels} channels; smlm-rt reconstructs one channel at a time (split the channels first, e.g. Fiji's Image > Color > Split Channels)`,
        { path, channels },
      );
    }
    const announced = imagej?.images !== undefined ? Number(imagej.images) : undefined;
    let frames = pageCount;
    let contiguousOffset: number | undefined;
    if (announced !== undefined && Number.isInteger(announced) && announced > pageCount) {
      if (pageCount !== 1) throw corrupt(path, `ImageJ says ${announced} frames but only ${pageCount} pages are present`);
      contiguousOffset = await imageJContiguousOffset(tiff, path);
      const frameBytes = first.width * first.height * BYTES[first.sampleType];
      if (contiguousOffset + announced * frameBytes > size) throw corrupt(path, `ImageJ says ${announced} frames but the file ends before the last one`);
      frames = announced;
    } else {
      for (let page = 1; page < pageCount; page++) {
        const layout = await pageLayout(tiff, page, size, path);
        if (layout.width !== first.width || layout.height !== first.height) {
          throw new SmlmError(
            'E_FRAME_SIZE_MISMATCH',
            `${path}: page ${page} is ${layout.width} x ${layout.height} but page 0 is ${first.width} x ${first.height}; all frames must have one size`,
            { path, page },
          );
        }
        if (layout.sampleType !== first.sampleType) {
          throw new SmlmError('E_UNSUPPORTED_SAMPLE_FORMAT', `${path}: page ${page} is ${layout.sampleType} but page 0 is ${first.sampleType}; mixed sample formats are not supported`, { path, page });
        }
      }
    }
    const pixelSizeNm = pixelSizeNmFromTiff({ description, xResolution, resolutionUnit });
    const { width, height, sampleType } = first;
    const pixels = width * height;

    async function readPage(page: number, into: PixelArray, at: number): Promise<void> {
      if (contiguousOffset !== undefined) {
        const bytes = pixels * BYTES[sampleType];
        const buf = Buffer.alloc(bytes);
        await handle.read(buf, 0, bytes, contiguousOffset + page * bytes);
        decodeRaw(buf, sampleType, littleEndian, into, at);
        return;
      }
      let raster: ArrayLike<number>;
      try {
        const image = await tiff.getImage(page);
        raster = (await image.readRasters({ interleave: true })) as unknown as ArrayLike<number>;
      } catch (err) {
        const message = errorMessage(err);
        if (/compression/i.test(message)) {
          throw new SmlmError('E_UNSUPPORTED_SAMPLE_FORMAT', `${path}: page ${page} uses a compression smlm-rt cannot decode (${message})`, { path, page }, { cause: err });
        }
        throw corrupt(path, `page ${page} cannot be decoded: ${message}`, err);
      }
      if (raster.length !== pixels) throw corrupt(path, `page ${page} decoded to ${raster.length} values, expected ${pixels}`);
      into.set(raster, at);
    }

    return {
      path,
      frames,
      height,
      width,
      pixelSizeNm,
      sampleType,
      async *chunks(framesPerChunk: number) {
        for (let firstFrame = 0; firstFrame < frames; firstFrame += framesPerChunk) {
          const count = Math.min(framesPerChunk, frames - firstFrame);
          const data = allocate(sampleType, count * pixels, `a chunk of ${count} frames of ${width} x ${height} px of ${path}`, 'read fewer frames per chunk');
          for (let k = 0; k < count; k++) await readPage(firstFrame + k, data, k * pixels);
          const chunk: Stack = { data, frames: count, height, width, pixelSizeNm };
          yield chunk;
        }
      },
      close: closeAll,
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}

/**
 * Channels of a hyperstack (ImageJ `channels=`, OME `SizeC`); 1 when not stated. Slices and time points of one
 * channel are all camera frames and are read as such; several channels would mix colours in one reconstruction.
 */
function channelCount(imagej: Record<string, string> | undefined, description: string | undefined): number {
  if (imagej?.channels !== undefined) return Number(imagej.channels) || 1;
  if (description?.includes('<OME')) {
    const pixels = /<(?:\w+:)?Pixels\b[^>]*>/.exec(description)?.[0];
    const sizeC = pixels && /\bSizeC="(\d+)"/.exec(pixels)?.[1];
    if (sizeC) return Number(sizeC);
  }
  return 1;
}

/** Raw uncompressed samples in the file's byte order -> the typed array, at element offset `at`. */
function decodeRaw(buf: Buffer, type: TiffSampleType, littleEndian: boolean, into: PixelArray, at: number): void {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const n = buf.byteLength / BYTES[type];
  if (type === 'uint8') into.set(buf, at);
  else if (type === 'uint16') for (let i = 0; i < n; i++) into[at + i] = view.getUint16(2 * i, littleEndian);
  else for (let i = 0; i < n; i++) into[at + i] = view.getFloat32(4 * i, littleEndian);
}

/**
 * Reads a whole TIFF stack into memory. For stacks larger than memory use `openTiffStack(...).chunks(n)`: a stack
 * needing more than half of this machine's memory is refused with E_BAD_OPTIONS (saying the bytes) before reading.
 */
export async function readTiffStack(path: string): Promise<Stack> {
  const source = await openTiffStack(path);
  try {
    const pixels = source.width * source.height;
    const what = `all ${source.frames} frames of ${source.width} x ${source.height} px of ${path}`;
    const data = allocate(source.sampleType, source.frames * pixels, what, 'read it a chunk at a time with openTiffStack(path).chunks(n), or reconstruct it with reconstructSource');
    let at = 0;
    for await (const chunk of source.chunks(64)) {
      data.set(chunk.data, at);
      at += chunk.data.length;
    }
    return { data, frames: source.frames, height: source.height, width: source.width, pixelSizeNm: source.pixelSizeNm };
  } finally {
    await source.close();
  }
}
