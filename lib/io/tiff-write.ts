/**
 * A minimal baseline-TIFF encoder for one 32-bit float image, written here because geotiff's writer cannot set the
 * resolution tags and the ImageJ description that make Fiji show the physical scale. Layout (little-endian):
 *   header (8 B) | IFD | XResolution, YResolution (RATIONAL) | ImageDescription (ASCII) | pixels (one strip)
 * Scale follows ImageJ's own convention: ResolutionUnit = none, XResolution = pixels per micron, `unit=micron` in
 * the description (ImageJ reads the unit from there; other readers see the plain tags).
 */
import { SmlmError } from '../errors.js';
import { writeOutputFile } from './output-file.js';

const TYPE = { ASCII: 2, SHORT: 3, LONG: 4, RATIONAL: 5 } as const;

interface Entry {
  tag: number;
  type: number;
  count: number;
  /** Inline value (SHORT/LONG, count 1) or bytes stored after the IFD. */
  value: number | Uint8Array;
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** pixels per micron for a pixel size in nm, as an exact-as-possible uint32 rational [num, den]. */
export function pixelsPerMicronRational(pixelSizeNm: number): [number, number] {
  // 1000 / pixelSizeNm = 1e6 / (pixel size in pm); picometre precision is far below any real pixel size.
  let num = 1_000_000;
  let den = Math.max(1, Math.round(pixelSizeNm * 1000));
  const g = gcd(num, den);
  num /= g;
  den /= g;
  while (den > 0xffffffff || num > 0xffffffff) {
    num = Math.round(num / 2);
    den = Math.round(den / 2);
  }
  return [num, den];
}

function rationalBytes([num, den]: [number, number]): Uint8Array {
  const bytes = new Uint8Array(8);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, num, true);
  view.setUint32(4, den, true);
  return bytes;
}

function formatNumber(v: number): string {
  return Number.isFinite(v) ? String(Math.fround(v)) : '0';
}

/** The ImageJ description: single image, calibrated in microns, display range = the image's range. */
export function imageJDescription(pixelSizeNm: number, min: number, max: number): string {
  const um = pixelSizeNm / 1000;
  return ['ImageJ=1.54f', 'images=1', 'unit=micron', `spacing=${um}`, `min=${formatNumber(min)}`, `max=${formatNumber(max)}`, ''].join('\n');
}

export interface FloatTiffOptions {
  /** Output pixel pitch in nm (written as the physical scale). */
  pixelSizeNm: number;
}

/** Encodes a height x width float32 image (row-major) as a single-page uncompressed TIFF. */
export function encodeFloatTiff(image: Float32Array, width: number, height: number, { pixelSizeNm }: FloatTiffOptions): Uint8Array {
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0) || image.length !== width * height) {
    throw new SmlmError('E_BAD_OPTIONS', `cannot encode a ${width} x ${height} TIFF from ${image.length} values`);
  }
  if (!(Number.isFinite(pixelSizeNm) && pixelSizeNm > 0)) throw new SmlmError('E_BAD_OPTIONS', `pixel size must be a positive number of nm, got ${pixelSizeNm}`);
  const pixelBytes = image.length * 4;
  if (pixelBytes > 0xffffffff - 4096) throw new SmlmError('E_BAD_OPTIONS', `a ${width} x ${height} float image does not fit a classic TIFF (4 GB)`);
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < image.length; i++) {
    if (image[i] < min) min = image[i];
    if (image[i] > max) max = image[i];
  }
  const description = new TextEncoder().encode(`${imageJDescription(pixelSizeNm, min, max)}\0`);
  const resolution = rationalBytes(pixelsPerMicronRational(pixelSizeNm));
  const entries: Entry[] = [
    { tag: 256, type: TYPE.LONG, count: 1, value: width }, // ImageWidth
    { tag: 257, type: TYPE.LONG, count: 1, value: height }, // ImageLength
    { tag: 258, type: TYPE.SHORT, count: 1, value: 32 }, // BitsPerSample
    { tag: 259, type: TYPE.SHORT, count: 1, value: 1 }, // Compression: none
    { tag: 262, type: TYPE.SHORT, count: 1, value: 1 }, // PhotometricInterpretation: BlackIsZero
    { tag: 270, type: TYPE.ASCII, count: description.length, value: description }, // ImageDescription
    { tag: 273, type: TYPE.LONG, count: 1, value: 0 }, // StripOffsets (patched below)
    { tag: 277, type: TYPE.SHORT, count: 1, value: 1 }, // SamplesPerPixel
    { tag: 278, type: TYPE.LONG, count: 1, value: height }, // RowsPerStrip: one strip
    { tag: 279, type: TYPE.LONG, count: 1, value: pixelBytes }, // StripByteCounts
    { tag: 282, type: TYPE.RATIONAL, count: 1, value: resolution }, // XResolution
    { tag: 283, type: TYPE.RATIONAL, count: 1, value: resolution }, // YResolution
    { tag: 296, type: TYPE.SHORT, count: 1, value: 1 }, // ResolutionUnit: none (ImageJ: unit from description)
    { tag: 339, type: TYPE.SHORT, count: 1, value: 3 }, // SampleFormat: IEEE float
  ];
  const ifdOffset = 8;
  const ifdSize = 2 + entries.length * 12 + 4;
  let extraOffset = ifdOffset + ifdSize;
  const extraOffsets = new Map<Entry, number>();
  for (const e of entries) {
    if (e.value instanceof Uint8Array) {
      extraOffsets.set(e, extraOffset);
      extraOffset += e.value.length + (e.value.length & 1); // word-align each value
    }
  }
  const pixelOffset = (extraOffset + 15) & ~15;
  entries.find((e) => e.tag === 273)!.value = pixelOffset;

  const out = new Uint8Array(pixelOffset + pixelBytes);
  const view = new DataView(out.buffer);
  out.set([0x49, 0x49], 0); // "II": little-endian
  view.setUint16(2, 42, true);
  view.setUint32(4, ifdOffset, true);
  view.setUint16(ifdOffset, entries.length, true);
  entries.forEach((e, k) => {
    const at = ifdOffset + 2 + k * 12;
    view.setUint16(at, e.tag, true);
    view.setUint16(at + 2, e.type, true);
    view.setUint32(at + 4, e.count, true);
    if (e.value instanceof Uint8Array) {
      const offset = extraOffsets.get(e)!;
      view.setUint32(at + 8, offset, true);
      out.set(e.value, offset);
    } else if (e.type === TYPE.SHORT) {
      view.setUint16(at + 8, e.value, true);
    } else {
      view.setUint32(at + 8, e.value, true);
    }
  });
  view.setUint32(ifdOffset + 2 + entries.length * 12, 0, true); // no next IFD
  const pixels = new DataView(out.buffer, pixelOffset, pixelBytes);
  for (let i = 0; i < image.length; i++) pixels.setFloat32(4 * i, image[i], true);
  return out;
}

/** Writes the image as a float32 TIFF with its nm scale; E_OUTPUT_EXISTS unless `force`. */
export async function writeFloatTiff(path: string, image: Float32Array, width: number, height: number, options: FloatTiffOptions & { force?: boolean }): Promise<void> {
  await writeOutputFile(path, encodeFloatTiff(image, width, height, options), options.force ?? false);
}
