import { seededRandom } from '../../benchmarks/random-models.js';
import type { Stack } from '../../lib/types.js';

/** Camera-like uint16 frames for compiler tests: background with shot-noise-ish jitter plus a few bright blobs. */
export function cameraLikeStack(frames: number, height: number, width: number, seed: number): Stack {
  const rand = seededRandom(seed);
  const data = new Uint16Array(frames * height * width);
  for (let f = 0; f < frames; f++) {
    const spots = Array.from({ length: 4 }, () => [rand() * height, rand() * width, 500 + 2000 * rand()]);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        let v = 100 + 30 * rand();
        for (const [sy, sx, a] of spots) v += a * Math.exp(-((y - sy) ** 2 + (x - sx) ** 2) / 2);
        data[(f * height + y) * width + x] = Math.round(v);
      }
    }
  }
  return { data, frames, height, width };
}
