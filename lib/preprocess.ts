import type { Normalization } from './model/metadata.js';
import type { PixelArray } from './types.js';

/**
 * Normalizes frames exactly as the model saw them in training (Deep-STORM's scheme, parameters from the model's
 * metadata): each frame is min-max scaled to [0, 1] on its own, then z-scored with the dataset constants,
 *
 *   out = ((x - min) / (max - min) - mean) / std.
 *
 * A constant frame (max == min) has no defined min-max scaling; we define its scaled value as 0 everywhere (an empty,
 * background-only frame), so every output pixel is -mean / std. This keeps the output finite and, for a model trained
 * on background, yields (close to) an empty map instead of amplifying noise.
 *
 * @param data      the whole stack's pixels, frame-major
 * @param firstFrame index of the first frame to normalize
 * @param frameCount how many frames to normalize
 * @param pixelsPerFrame height * width
 * @param out       receives frameCount * pixelsPerFrame values (float32)
 */
export function normalizeFrames(
  data: PixelArray,
  firstFrame: number,
  frameCount: number,
  pixelsPerFrame: number,
  normalization: Normalization,
  out: Float32Array,
): void {
  if (out.length < frameCount * pixelsPerFrame) throw new RangeError('normalizeFrames: output buffer too small');
  const { mean, std } = normalization;
  for (let f = 0; f < frameCount; f++) {
    const src = (firstFrame + f) * pixelsPerFrame;
    const dst = f * pixelsPerFrame;
    let min = Infinity;
    let max = -Infinity;
    for (let i = 0; i < pixelsPerFrame; i++) {
      const v = data[src + i];
      if (v < min) min = v;
      if (v > max) max = v;
    }
    const range = max - min;
    // out = (x - min) * gain + offset, folded so the inner loop is one multiply-add.
    const gain = range > 0 ? 1 / (range * std) : 0;
    const offset = -mean / std;
    for (let i = 0; i < pixelsPerFrame; i++) out[dst + i] = (data[src + i] - min) * gain + offset;
  }
}
