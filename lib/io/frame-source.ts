import type { PixelArray, Stack } from '../types.js';

/**
 * A stack that is read a chunk of frames at a time, so that stacks larger than memory can be reconstructed: the
 * TIFF reader implements it page by page, and an in-memory stack is wrapped by `stackAsSource`.
 */
export interface FrameSource {
  readonly frames: number;
  readonly height: number;
  readonly width: number;
  /** Camera pixel pitch in the sample plane, when the file says. */
  readonly pixelSizeNm?: number;
  /** Consecutive chunks of at most `framesPerChunk` frames, in frame order, covering every frame once. */
  chunks(framesPerChunk: number): AsyncIterable<Stack>;
  /** Releases what the source holds (a file). Reconstructor.reconstructSource calls it when its call ends. */
  close?(): Promise<void>;
}

function frameSlice(data: PixelArray, start: number, end: number): PixelArray {
  return data.subarray(start, end);
}

/** Wraps an in-memory stack; chunks are views into its data (no copies). */
export function stackAsSource(stack: Stack): FrameSource {
  return {
    frames: stack.frames,
    height: stack.height,
    width: stack.width,
    pixelSizeNm: stack.pixelSizeNm,
    async *chunks(framesPerChunk: number) {
      const pixels = stack.height * stack.width;
      for (let first = 0; first < stack.frames; first += framesPerChunk) {
        const count = Math.min(framesPerChunk, stack.frames - first);
        yield {
          data: frameSlice(stack.data, first * pixels, (first + count) * pixels),
          frames: count,
          height: stack.height,
          width: stack.width,
          pixelSizeNm: stack.pixelSizeNm,
        };
      }
    },
  };
}
