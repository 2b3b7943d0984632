/**
 * The frames `estimate` analyses: at most a given number, spread evenly over the stack, of a central window, as float64.
 */
import type { FrameSource } from '../io/frame-source.js';

/** A window of the frames, camera px. */
export interface Region {
  x: number;
  y: number;
  width: number;
  height: number;
}

/**
 * Frames wider or taller than this are analysed in their central window of this side: the conditions are the
 * camera's, the optics' and the sample's, the same over the field, and 300 frames of a 2048x2048 camera as float64
 * would take 10 GB (and the fine-detail and dark-pixel analyses as much again).
 */
export const MAX_ANALYSED_SIDE = 256;
/** At most this many pixels of all frames are analysed (float64: 512 MB), whatever maxFrames asks. */
export const MAX_ANALYSED_PIXELS = 64 * 1024 * 1024;

/** The central window of at most MAX_ANALYSED_SIDE px per side. */
export function analysedRegion(width: number, height: number): Region {
  const w = Math.min(width, MAX_ANALYSED_SIDE);
  const h = Math.min(height, MAX_ANALYSED_SIDE);
  return { x: Math.floor((width - w) / 2), y: Math.floor((height - h) / 2), width: w, height: h };
}

/** Reads at most `max` frames spread evenly over the source, as float64 frames of `region`. */
export async function sampleFrames(source: FrameSource, max: number, region: Region): Promise<Float64Array[]> {
  const stride = Math.max(1, Math.floor(source.frames / max));
  const pixels = source.height * source.width;
  const out: Float64Array[] = [];
  let index = 0;
  // Chunks of at most 16 Mi pixels (64 frames of 512x512, 4 of 2048x2048).
  const perChunk = Math.max(1, Math.min(64, Math.floor((16 * 1024 * 1024) / pixels)));
  for await (const chunk of source.chunks(perChunk)) {
    for (let f = 0; f < chunk.frames; f++, index++) {
      if (index % stride !== 0 || out.length >= max) continue;
      const frame = new Float64Array(region.width * region.height);
      for (let r = 0; r < region.height; r++) {
        const from = f * pixels + (region.y + r) * source.width + region.x;
        for (let c = 0; c < region.width; c++) frame[r * region.width + c] = chunk.data[from + c];
      }
      out.push(frame);
    }
  }
  return out;
}
