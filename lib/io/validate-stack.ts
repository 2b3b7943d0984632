import { SmlmError } from '../errors.js';
import type { ModelMetadata } from '../model/metadata.js';
import type { Stack } from '../types.js';
import type { FrameSource } from './frame-source.js';

function isPositiveInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value > 0;
}

/** The frame count, frame size and pixel size of a stack or a frame source. */
type Shape = Pick<Stack, 'frames' | 'height' | 'width' | 'pixelSizeNm'>;

/** "1 frame of 4 x 3 px" / "2 frames of 4 x 3 px". */
function framesOf(frames: number, height: number, width: number): string {
  return `${frames} frame${frames === 1 ? '' : 's'} of ${width} x ${height} px`;
}

// Messages name the checked object with `what`, a noun phrase ("the stack", "the stack (frames 256..299)"), so
// they read the same whatever it is.
function checkShape({ frames, height, width, pixelSizeNm }: Shape, what: string): void {
  if (frames === 0) throw new SmlmError('E_EMPTY_STACK', `${what} has no frames`);
  if (!isPositiveInteger(frames)) throw new SmlmError('E_BAD_OPTIONS', `the frame count of ${what} must be a positive integer, got ${String(frames)}`);
  if (!isPositiveInteger(height) || !isPositiveInteger(width)) {
    throw new SmlmError('E_BAD_OPTIONS', `the height and width of ${what} must be positive integers, got ${String(height)} x ${String(width)}`);
  }
  if (pixelSizeNm !== undefined && !(typeof pixelSizeNm === 'number' && Number.isFinite(pixelSizeNm) && pixelSizeNm > 0)) {
    throw new SmlmError('E_BAD_OPTIONS', `the pixel size of ${what} must be a positive number of nm, got ${String(pixelSizeNm)}`);
  }
}

/** Checks what a frame source announces (its chunks are validated as they arrive). Throws E_EMPTY_STACK or E_BAD_OPTIONS. */
export function validateFrameSource(source: FrameSource, what = 'the source'): void {
  if (source === null || typeof source !== 'object' || typeof source.chunks !== 'function') {
    throw new SmlmError('E_BAD_OPTIONS', `${what} must be an object { frames, height, width, chunks() }`);
  }
  checkShape(source, what);
}

/**
 * Checks a stack's shape and pixels before any backend work, so that a bad input fails fast with a precise code
 * instead of deep inside a backend. `what` names the stack in messages; `firstFrame` is the index of its frame 0 in
 * a longer stack it is a chunk of, so that errors name the frame as the user counts it. Throws E_EMPTY_STACK,
 * E_BAD_OPTIONS or E_NON_FINITE_PIXELS (details: frame, x, y).
 */
export function validateStack(stack: Stack, what = 'the stack', firstFrame = 0): void {
  if (stack === null || typeof stack !== 'object') throw new SmlmError('E_BAD_OPTIONS', `${what} must be an object { data, frames, height, width }`);
  const { data, frames, height, width } = stack;
  if (!(data instanceof Uint8Array || data instanceof Uint16Array || data instanceof Float32Array)) {
    throw new SmlmError('E_BAD_OPTIONS', `the data of ${what} must be a Uint8Array, Uint16Array or Float32Array`);
  }
  checkShape(stack, what);
  const expected = frames * height * width;
  if (data.length !== expected) {
    throw new SmlmError('E_BAD_OPTIONS', `the data of ${what} has ${data.length} values; expected ${expected} for ${framesOf(frames, height, width)}`, {
      expected,
      actual: data.length,
    });
  }
  // Integer data cannot hold NaN/Inf; float data is scanned once, which is cheap next to inference.
  const i = data instanceof Float32Array ? indexOfNonFinite(data) : -1;
  if (i >= 0) {
    const pixelsPerFrame = height * width;
    const frame = firstFrame + Math.floor(i / pixelsPerFrame);
    const y = Math.floor((i % pixelsPerFrame) / width);
    const x = i % width;
    throw new SmlmError('E_NON_FINITE_PIXELS', `${what} has a non-finite pixel (${data[i]}) in frame ${frame} at (x=${x}, y=${y})`, { frame, x, y });
  }
}

/** The index of the first NaN or +-Infinity in `values`, or -1. */
export function indexOfNonFinite(values: ArrayLike<number>): number {
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) return i;
  return -1;
}

/** Throws E_FRAME_SIZE_UNSUPPORTED unless the model can take frames of height x width. */
export function checkFrameSizeForModel(height: number, width: number, metadata: ModelMetadata, modelName: string): void {
  const { sizeMultiple, minSize } = metadata;
  if (height < minSize || width < minSize || height % sizeMultiple !== 0 || width % sizeMultiple !== 0) {
    const hint = sizeMultiple > 1 ? `multiples of ${sizeMultiple}, ` : '';
    throw new SmlmError(
      'E_FRAME_SIZE_UNSUPPORTED',
      `model "${modelName}" takes frames whose sides are ${hint}at least ${minSize} px; got ${width} x ${height} (crop or pad the stack)`,
      { height, width, sizeMultiple, minSize },
    );
  }
}
