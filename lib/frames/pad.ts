/**
 * Padding frames to a size the model takes (sides a multiple of its size_multiple, at least its min_size), and
 * cropping its output back. Padding mirrors the frame at its bottom and right edges (symmetric: the edge pixel is
 * repeated, then the next inward...), so the padded strip has the frame's own background and noise — a constant
 * strip would read as a flat, noiseless region, which the per-frame min-max normalization and the network were never
 * shown. Pads wider than the frame fall back to repeating the edge pixel.
 */
import type { ModelMetadata } from '../model/metadata.js';
import type { PixelArray } from '../types.js';

/** The smallest frame size >= (height, width) that the model takes. */
export function acceptedSize(height: number, width: number, meta: Pick<ModelMetadata, 'sizeMultiple' | 'minSize'>): { height: number; width: number } {
  const fit = (n: number) => Math.ceil(Math.max(n, meta.minSize) / meta.sizeMultiple) * meta.sizeMultiple;
  return { height: fit(height), width: fit(width) };
}

/** Source index for padded index p of an axis of n pixels (symmetric mirror, then clamp). */
function mirror(p: number, n: number): number {
  if (p < n) return p;
  const m = 2 * n - 1 - p;
  return m >= 0 ? m : 0;
}

/** Pads frames (height x width) to (toHeight x toWidth) at the bottom and right; same array type. */
export function padFrames(data: PixelArray, frames: number, height: number, width: number, toHeight: number, toWidth: number): PixelArray {
  const out = new (data.constructor as new (n: number) => PixelArray)(frames * toHeight * toWidth);
  const cols = Int32Array.from({ length: toWidth }, (_, c) => mirror(c, width));
  for (let f = 0; f < frames; f++) {
    for (let r = 0; r < toHeight; r++) {
      const src = f * height * width + mirror(r, height) * width;
      const dst = (f * toHeight + r) * toWidth;
      for (let c = 0; c < toWidth; c++) out[dst + c] = data[src + cols[c]];
    }
  }
  return out;
}

/** Copies the top-left (height x width) of each of `count` images of (fromHeight x fromWidth) into `out`. */
export function cropImages(images: Float32Array, count: number, fromHeight: number, fromWidth: number, height: number, width: number, out: Float32Array): void {
  for (let k = 0; k < count; k++) {
    for (let r = 0; r < height; r++) {
      const src = (k * fromHeight + r) * fromWidth;
      out.set(images.subarray(src, src + width), (k * height + r) * width);
    }
  }
}
