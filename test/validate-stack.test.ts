import { describe, expect, it } from 'vitest';
import { SmlmError } from '../lib/errors.js';
import { checkFrameSizeForModel, validateStack } from '../lib/io/validate-stack.js';
import type { ModelMetadata } from '../lib/model/metadata.js';
import type { Stack } from '../lib/types.js';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof SmlmError ? err.code : `not an SmlmError: ${String(err)}`;
  }
  return undefined;
}

const good: Stack = { data: new Uint16Array(2 * 3 * 4), frames: 2, height: 3, width: 4 };

describe('validateStack', () => {
  it('accepts a well-formed stack of each pixel type', () => {
    expect(codeOf(() => validateStack(good))).toBeUndefined();
    expect(codeOf(() => validateStack({ ...good, data: new Uint8Array(24) }))).toBeUndefined();
    expect(codeOf(() => validateStack({ ...good, data: new Float32Array(24), pixelSizeNm: 100 }))).toBeUndefined();
  });

  it('E_EMPTY_STACK for zero frames', () => {
    expect(codeOf(() => validateStack({ data: new Uint16Array(0), frames: 0, height: 3, width: 4 }))).toBe('E_EMPTY_STACK');
  });

  it('E_BAD_OPTIONS for wrong data length, sizes, data type or pixel size', () => {
    expect(codeOf(() => validateStack({ ...good, data: new Uint16Array(23) }))).toBe('E_BAD_OPTIONS');
    expect(codeOf(() => validateStack({ ...good, height: 0 }))).toBe('E_BAD_OPTIONS');
    expect(codeOf(() => validateStack({ ...good, width: 2.5 }))).toBe('E_BAD_OPTIONS');
    expect(codeOf(() => validateStack({ ...good, frames: -1 }))).toBe('E_BAD_OPTIONS');
    expect(codeOf(() => validateStack({ ...good, data: new Int16Array(24) as unknown as Uint16Array }))).toBe('E_BAD_OPTIONS');
    expect(codeOf(() => validateStack({ ...good, pixelSizeNm: -5 }))).toBe('E_BAD_OPTIONS');
    expect(codeOf(() => validateStack(null as unknown as Stack))).toBe('E_BAD_OPTIONS');
  });

  it('E_NON_FINITE_PIXELS names the frame and position of a NaN or Inf', () => {
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      const data = new Float32Array(24);
      data[12 + 1 * 4 + 2] = bad; // frame 1, y 1, x 2
      try {
        validateStack({ ...good, data });
        expect.unreachable();
      } catch (err) {
        expect((err as SmlmError).code).toBe('E_NON_FINITE_PIXELS');
        expect((err as SmlmError).details).toEqual({ frame: 1, x: 2, y: 1 });
      }
    }
  });
});

describe('validateStack of a chunk of a longer stack', () => {
  it('names the frame counted from firstFrame, in a message that reads as a sentence', () => {
    const data = new Float32Array(3 * 12);
    data[2 * 12 + 1 * 4 + 2] = Number.NaN; // the chunk's frame 2, y 1, x 2
    try {
      validateStack({ ...good, data, frames: 3 }, 'the stack (frames 256..258)', 256);
      expect.unreachable();
    } catch (err) {
      expect((err as SmlmError).code).toBe('E_NON_FINITE_PIXELS');
      expect((err as SmlmError).details).toEqual({ frame: 258, x: 2, y: 1 });
      expect((err as SmlmError).message).toBe('the stack (frames 256..258) has a non-finite pixel (NaN) in frame 258 at (x=2, y=1)');
    }
  });

  it('shape messages name the part of the stack without gluing a property onto it', () => {
    try {
      validateStack({ ...good, data: new Uint16Array(5), frames: 1 }, 'the stack (frames 0..0)');
      expect.unreachable();
    } catch (err) {
      expect((err as SmlmError).message).toBe('the data of the stack (frames 0..0) has 5 values; expected 12 for 1 frame of 4 x 3 px');
    }
  });
});

describe('checkFrameSizeForModel', () => {
  const meta = { sizeMultiple: 4, minSize: 8 } as ModelMetadata;
  it('accepts sizes that are multiples of sizeMultiple and at least minSize', () => {
    expect(codeOf(() => checkFrameSizeForModel(8, 12, meta, 'm'))).toBeUndefined();
    expect(codeOf(() => checkFrameSizeForModel(64, 256, meta, 'm'))).toBeUndefined();
  });
  it('E_FRAME_SIZE_UNSUPPORTED otherwise', () => {
    expect(codeOf(() => checkFrameSizeForModel(4, 64, meta, 'm'))).toBe('E_FRAME_SIZE_UNSUPPORTED');
    expect(codeOf(() => checkFrameSizeForModel(64, 66, meta, 'm'))).toBe('E_FRAME_SIZE_UNSUPPORTED');
  });
});
