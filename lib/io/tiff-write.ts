/**
 * Writing TIFFs that Fiji opens at the right scale. The scale follows ImageJ's own convention: ResolutionUnit =
 * none, XResolution = YResolution = pixels per micron, and `unit=micron` in an ImageJ description (ImageJ reads the
 * unit from there; other readers see the plain tags).
 */
import { SmlmError } from '../errors.js';
import type { Stack } from '../types.js';
import { encodeTiff } from './tiff-encode.js';
import { writeOutputFile } from './output-file.js';

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

function formatNumber(v: number): string {
  return Number.isFinite(v) ? String(Math.fround(v)) : '0';
}

function checkPixelSize(pixelSizeNm: number): void {
  if (!(Number.isFinite(pixelSizeNm) && pixelSizeNm > 0)) throw new SmlmError('E_BAD_OPTIONS', `pixel size must be a positive number of nm, got ${pixelSizeNm}`);
}

/** The ImageJ description of a calibrated image or stack; min/max set ImageJ's display range. */
export function imageJDescription(images: number, pixelSizeNm: number, range?: [number, number]): string {
  const lines = ['ImageJ=1.54f', `images=${images}`];
  if (images > 1) lines.push(`slices=${images}`);
  lines.push('unit=micron', `spacing=${pixelSizeNm / 1000}`, 'loop=false');
  if (range) lines.push(`min=${formatNumber(range[0])}`, `max=${formatNumber(range[1])}`);
  return `${lines.join('\n')}\n`;
}

export interface FloatTiffOptions {
  /** Output pixel pitch in nm (written as the physical scale). */
  pixelSizeNm: number;
}

/** Encodes a height x width float32 image (row-major) as a single-page TIFF with its nm scale. */
export function encodeFloatTiff(image: Float32Array, width: number, height: number, { pixelSizeNm }: FloatTiffOptions): Uint8Array {
  checkPixelSize(pixelSizeNm);
  if (image.length !== width * height) throw new SmlmError('E_BAD_OPTIONS', `cannot encode a ${width} x ${height} TIFF from ${image.length} values`);
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < image.length; i++) {
    if (image[i] < min) min = image[i];
    if (image[i] > max) max = image[i];
  }
  return encodeTiff(image, 1, {
    width,
    height,
    sampleType: 'float32',
    description: imageJDescription(1, pixelSizeNm, [min, max]),
    resolution: pixelsPerMicronRational(pixelSizeNm),
  });
}

/** Writes the image as a float32 TIFF with its nm scale; E_OUTPUT_EXISTS unless `force`. */
export async function writeFloatTiff(path: string, image: Float32Array, width: number, height: number, options: FloatTiffOptions & { force?: boolean }): Promise<void> {
  await writeOutputFile(path, encodeFloatTiff(image, width, height, options), options.force ?? false);
}

/** Encodes a stack as an ImageJ multi-page TIFF (uint8/uint16/float32 as given), calibrated when pixelSizeNm is known. */
export function encodeStackTiff(stack: Stack): Uint8Array {
  const sampleType = stack.data instanceof Uint8Array ? 'uint8' : stack.data instanceof Uint16Array ? 'uint16' : 'float32';
  const { pixelSizeNm } = stack;
  if (pixelSizeNm !== undefined) checkPixelSize(pixelSizeNm);
  return encodeTiff(stack.data, stack.frames, {
    width: stack.width,
    height: stack.height,
    sampleType,
    description: pixelSizeNm === undefined ? `ImageJ=1.54f\nimages=${stack.frames}\nslices=${stack.frames}\nloop=false\n` : imageJDescription(stack.frames, pixelSizeNm),
    resolution: pixelSizeNm === undefined ? undefined : pixelsPerMicronRational(pixelSizeNm),
  });
}

/** Writes a stack as a multi-page TIFF; E_OUTPUT_EXISTS unless `force`. */
export async function writeStackTiff(path: string, stack: Stack, options: { force?: boolean } = {}): Promise<void> {
  await writeOutputFile(path, encodeStackTiff(stack), options.force ?? false);
}
