import { describe, expect, it } from 'vitest';
import { normalizeFrames } from '../lib/preprocess.js';

const norm = { kind: 'minmax-zscore' as const, mean: 0.5, std: 0.25 };

describe('normalizeFrames (per-frame min-max, then z-score)', () => {
  it('matches hand-computed values', () => {
    // min 10, max 40: scaled [0, 1/3, 2/3, 1] -> (s - 0.5) / 0.25 = [-2, -2/3, 2/3, 2]
    const out = new Float32Array(4);
    normalizeFrames(Uint16Array.from([10, 20, 30, 40]), 0, 1, 4, norm, out);
    expect(out[0]).toBeCloseTo(-2, 6);
    expect(out[1]).toBeCloseTo(-2 / 3, 6);
    expect(out[2]).toBeCloseTo(2 / 3, 6);
    expect(out[3]).toBeCloseTo(2, 6);
  });

  it('scales each frame by its own min and max', () => {
    // frame 0: [0, 100] -> [-2, 2]; frame 1: [5, 7] -> [-2, 2]; the Deep-STORM constants give other numbers.
    const out = new Float32Array(4);
    normalizeFrames(Uint8Array.from([0, 100, 5, 7]), 0, 2, 2, norm, out);
    expect(Array.from(out)).toEqual([-2, 2, -2, 2]);
    const ds = { kind: 'minmax-zscore' as const, mean: 0.19608, std: 0.17764 };
    normalizeFrames(Float32Array.from([1, 3]), 0, 1, 2, ds, out);
    expect(out[0]).toBeCloseTo(-0.19608 / 0.17764, 5);
    expect(out[1]).toBeCloseTo((1 - 0.19608) / 0.17764, 5);
  });

  it('starts at firstFrame and writes only frameCount frames', () => {
    const out = new Float32Array(6).fill(99);
    normalizeFrames(Uint16Array.from([0, 1, 10, 20, 7, 9]), 1, 1, 2, norm, out);
    expect(Array.from(out)).toEqual([-2, 2, 99, 99, 99, 99]);
  });

  it('maps a constant frame to -mean/std everywhere (defined as an all-zero scaled frame)', () => {
    const out = new Float32Array(3);
    normalizeFrames(Uint16Array.from([7, 7, 7]), 0, 1, 3, norm, out);
    expect(Array.from(out)).toEqual([-2, -2, -2]);
    expect(out.every(Number.isFinite)).toBe(true);
  });

  it('rejects an output buffer that is too small', () => {
    expect(() => normalizeFrames(Uint16Array.from([1, 2, 3, 4]), 0, 2, 2, norm, new Float32Array(3))).toThrow(RangeError);
  });
});
