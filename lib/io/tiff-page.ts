/**
 * What one TIFF page is (size, sample type, compression) and where its pixels lie (its strips or tiles), read from
 * its IFD and checked against the file before any pixel is read: a page whose blocks lie past the end, or whose
 * uncompressed blocks cannot hold the pixels it declares, is E_TIFF_CORRUPT here, not a huge allocation later.
 */
import { SmlmError } from '../errors.js';
import { TAG, type Ifd } from './tiff-ifd.js';

export type TiffSampleType = 'uint8' | 'uint16' | 'float32';

export const SAMPLE_BYTES: Record<TiffSampleType, number> = { uint8: 1, uint16: 2, float32: 4 };

/** More strips or tiles than this in one page is not a camera frame (a 2^24-row page of 1-row strips, 4096^2 tiles). */
const MAX_BLOCKS_PER_PAGE = 1 << 24;

export interface PageLayout {
  page: number;
  width: number;
  height: number;
  sampleType: TiffSampleType;
  /** TIFF Compression: 1 = none. */
  compression: number;
  predictor: number;
  tiled: boolean;
  /** Strips are `width` wide and RowsPerStrip high (the last one may hold fewer rows); tiles are whole tiles. */
  blockWidth: number;
  blockHeight: number;
  blocksAcross: number;
  blocksDown: number;
  /** Byte offset and byte count of each block, row-major; a 0-byte block is a sparse one (all zeros). */
  offsets: readonly number[];
  byteCounts: readonly number[];
  /** Sum of byteCounts: what the file stores for this page. */
  storedBytes: number;
}

function sampleTypeOf(spp: number, bits: number, format: number, path: string, page: number): TiffSampleType {
  const describe = () => `${format === 1 ? 'uint' : format === 2 ? 'int' : format === 3 ? 'float' : `format ${format} `}${bits}`;
  if (spp !== 1) {
    throw new SmlmError('E_UNSUPPORTED_SAMPLE_FORMAT', `${path}: page ${page} has ${spp} samples per pixel (RGB/multichannel); smlm-rt needs single-channel frames`, { path, page, samples: spp });
  }
  if (format === 1 && bits === 8) return 'uint8';
  if (format === 1 && bits === 16) return 'uint16';
  if (format === 3 && bits === 32) return 'float32';
  throw new SmlmError('E_UNSUPPORTED_SAMPLE_FORMAT', `${path}: page ${page} holds ${describe()} pixels; smlm-rt reads uint8, uint16 and float32`, { path, page, bits, format });
}

/**
 * Reads and checks page `ifd.page`'s layout. Throws E_TIFF_CORRUPT (no size, no or short strip table, blocks past
 * the end of the file, uncompressed blocks too small for the declared size) or E_UNSUPPORTED_SAMPLE_FORMAT.
 */
export async function readPageLayout(ifd: Ifd, fileSize: number, path: string): Promise<PageLayout> {
  const page = ifd.page;
  const width = await ifd.uintNow(TAG.ImageWidth, 0);
  const height = await ifd.uintNow(TAG.ImageLength, 0);
  if (!(width > 0 && height > 0)) throw ifd.corrupt(`size is ${width} x ${height}`);
  // SampleFormat is optional in TIFF; absent means unsigned integer. BitsPerSample's default is 1 (bilevel).
  const sampleType = sampleTypeOf(await ifd.uintNow(TAG.SamplesPerPixel, 1), await ifd.uintNow(TAG.BitsPerSample, 1), await ifd.uintNow(TAG.SampleFormat, 1), path, page);
  const compression = await ifd.uintNow(TAG.Compression, 1);
  const predictor = await ifd.uintNow(TAG.Predictor, 1);
  const tiled = ifd.has(TAG.TileOffsets);
  const blocks = tiled ? 'tiles' : 'strips';
  const blockWidth = tiled ? await ifd.uintNow(TAG.TileWidth, 0) : width;
  const blockHeight = tiled ? await ifd.uintNow(TAG.TileLength, 0) : Math.min(await ifd.uintNow(TAG.RowsPerStrip, height), height);
  if (!(blockWidth > 0 && blockHeight > 0)) throw ifd.corrupt(`${blocks} are ${blockWidth} x ${blockHeight} px`);
  const blocksAcross = Math.ceil(width / blockWidth);
  const blocksDown = Math.ceil(height / blockHeight);
  const needed = blocksAcross * blocksDown;
  if (needed > MAX_BLOCKS_PER_PAGE) throw ifd.corrupt(`size of ${width} x ${height} px in ${blocks} of ${blockWidth} x ${blockHeight} takes ${needed} ${blocks}, more than smlm-rt reads`);
  const offsetTag = tiled ? TAG.TileOffsets : TAG.StripOffsets;
  const countTag = tiled ? TAG.TileByteCounts : TAG.StripByteCounts;
  if (!ifd.has(offsetTag) || !ifd.has(countTag) || ifd.count(offsetTag) !== ifd.count(countTag)) throw ifd.corrupt(`${blocks.slice(0, -1)} table is missing or inconsistent`);
  if (ifd.count(offsetTag) < needed) {
    throw ifd.corrupt(`size of ${width} x ${height} px takes ${needed} ${blocks}, but it has ${ifd.count(offsetTag)}`);
  }
  // Only the blocks the page's size needs are read: a table claiming 2^29 entries costs nothing beyond them.
  const offsets = (await ifd.uints(offsetTag, needed))!;
  const byteCounts = (await ifd.uints(countTag, needed))!;
  let storedBytes = 0;
  for (let i = 0; i < needed; i++) {
    if (offsets[i] + byteCounts[i] > fileSize) throw ifd.corrupt('pixel data ends past the end of the file');
    storedBytes += byteCounts[i];
  }
  const layout: PageLayout = { page, width, height, sampleType, compression, predictor, tiled, blockWidth, blockHeight, blocksAcross, blocksDown, offsets, byteCounts, storedBytes };
  if (compression === 1) checkBlocksHoldPixels(layout, ifd);
  return layout;
}

/** Rows of block row `y`: strips hold their rows (the last may hold fewer), tiles are always whole tiles. */
export function rowsOfBlock(layout: PageLayout, y: number): number {
  return layout.tiled ? layout.blockHeight : Math.min(layout.blockHeight, layout.height - y * layout.blockHeight);
}

/**
 * E_TIFF_CORRUPT unless every block of an uncompressed page holds the bytes of its pixels. A 0-byte block is a
 * sparse one (as GDAL writes them), read as zeros.
 */
function checkBlocksHoldPixels(layout: PageLayout, ifd: Ifd): void {
  const blocks = layout.tiled ? 'tiles' : 'strips';
  for (let y = 0; y < layout.blocksDown; y++) {
    const needed = rowsOfBlock(layout, y) * layout.blockWidth * SAMPLE_BYTES[layout.sampleType];
    for (let x = 0; x < layout.blocksAcross; x++) {
      const index = y * layout.blocksAcross + x;
      const held = layout.byteCounts[index];
      if (held !== 0 && held < needed) {
        throw ifd.corrupt(`size of ${layout.width} x ${layout.height} px needs ${needed} bytes in ${blocks.slice(0, -1)} ${index}, which holds ${held}`);
      }
    }
  }
}
