/** SMLM-like synthetic stacks for the GPU benchmark and the GPU tests (no trained model or real data needed). */
import type { Stack } from '../lib/types.js';
import { seededRandom } from './random-models.js';

/**
 * A uint16 stack that looks like high-density SMLM: background ~100 ADU with noise, and a few dozen Gaussian spots
 * (sigma ~1.1 px) of 300-2000 ADU per frame. Deterministic from the seed.
 */
export function makeStack(frames: number, height: number, width: number, seed = 7): Stack & { data: Uint16Array } {
  const rand = seededRandom(seed);
  const data = new Uint16Array(frames * height * width);
  const spotsPerFrame = Math.max(4, Math.round((height * width) / 150));
  for (let f = 0; f < frames; f++) {
    const frame = new Float64Array(height * width);
    for (let i = 0; i < frame.length; i++) frame[i] = 100 + 12 * (rand() + rand() + rand() - 1.5);
    for (let s = 0; s < spotsPerFrame; s++) {
      const cy = rand() * height;
      const cx = rand() * width;
      const amplitude = 300 + 1700 * rand();
      const y0 = Math.max(0, Math.floor(cy - 4));
      const y1 = Math.min(height, Math.ceil(cy + 4));
      const x0 = Math.max(0, Math.floor(cx - 4));
      const x1 = Math.min(width, Math.ceil(cx + 4));
      for (let y = y0; y < y1; y++) {
        for (let x = x0; x < x1; x++) {
          const d2 = (y + 0.5 - cy) ** 2 + (x + 0.5 - cx) ** 2;
          frame[y * width + x] += amplitude * Math.exp(-d2 / (2 * 1.1 * 1.1));
        }
      }
    }
    for (let i = 0; i < frame.length; i++) data[f * height * width + i] = Math.min(65535, Math.round(frame[i]));
  }
  return { data, frames, height, width, pixelSizeNm: 100 };
}
