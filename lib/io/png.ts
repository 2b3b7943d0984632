/**
 * PNG previews of a super-resolution image: percentile contrast (robust to the few very bright pixels a
 * reconstruction has) and the perceptual colormap, encoded with fast-png.
 */
import { encode } from 'fast-png';
import { SmlmError } from '../errors.js';
import { colormapLut } from './colormap.js';
import { writeOutputFile } from './output-file.js';

export interface PreviewOptions {
  /** Value shown black, as a percentile of the image's pixels. Default 0.1. */
  lowPercentile?: number;
  /** Value shown at full brightness, as a percentile. Default 99.9. */
  highPercentile?: number;
}

/** The p-th percentile (0..100) of already sorted values, nearest rank. */
export function percentileOfSorted(sorted: Float32Array, p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.round((p / 100) * (sorted.length - 1))))];
}

/** Contrast limits [low, high] for the preview; high falls back to the maximum when the percentile is empty. */
export function contrastLimits(image: Float32Array, options: PreviewOptions = {}): [number, number] {
  const { lowPercentile = 0.1, highPercentile = 99.9 } = options;
  if (!(lowPercentile >= 0 && highPercentile <= 100 && lowPercentile < highPercentile)) {
    throw new SmlmError('E_BAD_OPTIONS', `preview percentiles must satisfy 0 <= low < high <= 100, got ${lowPercentile} and ${highPercentile}`);
  }
  const sorted = Float32Array.from(image).sort();
  const low = percentileOfSorted(sorted, lowPercentile);
  let high = percentileOfSorted(sorted, highPercentile);
  // Sparse reconstructions can have >99.9 % empty pixels: then stretch to the brightest pixel instead.
  if (!(high > low)) high = sorted[sorted.length - 1];
  return [low, high];
}

/** Maps the image to RGB bytes (height x width x 3). */
export function renderPreview(image: Float32Array, width: number, height: number, options: PreviewOptions = {}): Uint8Array {
  if (image.length !== width * height) throw new SmlmError('E_BAD_OPTIONS', `preview: ${image.length} values for ${width} x ${height}`);
  const [low, high] = contrastLimits(image, options);
  const lut = colormapLut();
  const rgb = new Uint8Array(width * height * 3);
  const scale = high > low ? 255 / (high - low) : 0;
  for (let i = 0; i < image.length; i++) {
    const v = image[i];
    const k = v > low ? Math.min(255, Math.round((v - low) * scale)) : 0;
    rgb[3 * i] = lut[3 * k];
    rgb[3 * i + 1] = lut[3 * k + 1];
    rgb[3 * i + 2] = lut[3 * k + 2];
  }
  return rgb;
}

/** The preview as PNG bytes. */
export function encodePreviewPng(image: Float32Array, width: number, height: number, options: PreviewOptions = {}): Uint8Array {
  return encode({ width, height, data: renderPreview(image, width, height, options), channels: 3, depth: 8 });
}

/** Writes the preview PNG; E_OUTPUT_EXISTS unless `force`. */
export async function writePngPreview(path: string, image: Float32Array, width: number, height: number, options: PreviewOptions & { force?: boolean } = {}): Promise<void> {
  await writeOutputFile(path, encodePreviewPng(image, width, height, options), options.force ?? false);
}
