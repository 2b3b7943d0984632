import { describe, expect, it } from 'vitest';
import { isSmlmError } from '../lib/errors.js';
import { compareImages, gaussianBlur, groundTruthImage, MAX_BLUR_SIGMA } from '../lib/metrics.js';

describe('groundTruthImage', () => {
  it('bins positions on the grid with no half-pixel shift and drops outside ones', () => {
    const g = groundTruthImage(
      [
        { xNm: 0, yNm: 0 },
        { xNm: 12.49, yNm: 0 },
        { xNm: 12.5, yNm: 12.5 },
        { xNm: 37.6, yNm: 0.1 },
        { xNm: -0.1, yNm: 5 },
        { xNm: 50, yNm: 5 },
      ],
      4,
      2,
      12.5,
    );
    expect(Array.from(g)).toEqual([2, 0, 0, 1, 0, 1, 0, 0]);
  });
});

describe('gaussianBlur', () => {
  it('spreads a spike with the normalized kernel of radius round(4 sigma)', () => {
    const img = new Float64Array(11 * 11);
    img[5 * 11 + 5] = 1;
    const out = gaussianBlur(img, 11, 11, 1);
    // 1-D kernel: exp(-k^2/2) / sum_{k=-4..4} exp(-k^2/2); sum = 2.5066272...
    const s = [0, 1, 2, 3, 4].reduce((a, k) => a + (k === 0 ? 1 : 2) * Math.exp(-(k * k) / 2), 0);
    expect(out[5 * 11 + 5]).toBeCloseTo(1 / (s * s), 12);
    expect(out[5 * 11 + 6]).toBeCloseTo(Math.exp(-0.5) / (s * s), 12);
    expect(out[5 * 11 + 10]).toBe(0); // 5 px away: outside the kernel
    expect(out.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
  });
});

describe('gaussianBlur sigma bounds', () => {
  it('E_BAD_OPTIONS for a sigma above MAX_BLUR_SIGMA or not a number, instead of allocating a kernel of 8e9 taps', () => {
    const img = new Float64Array(16).fill(1);
    for (const sigma of [1e9, MAX_BLUR_SIGMA + 0.5, Number.POSITIVE_INFINITY, Number.NaN]) {
      try {
        gaussianBlur(img, 4, 4, sigma);
        expect.unreachable();
      } catch (err) {
        expect(isSmlmError(err, 'E_BAD_OPTIONS'), String(sigma)).toBe(true);
      }
    }
    // The bound itself is accepted; the blurred image keeps what stays inside it (zero padding outside).
    const blurred = gaussianBlur(img, 4, 4, MAX_BLUR_SIGMA);
    expect(blurred.every((v) => v > 0 && v < 1)).toBe(true);
  });
});

describe('compareImages', () => {
  it('matches hand-computed NMSE and PSNR, scaled and unscaled', () => {
    // G = [2, 0, 1, 0], P = [1, 1, 0, 0]: <P,G> = 2, <P,P> = 2 -> a = 1.
    // aP - G = [-1, 1, -1, 0]: err^2 = 3, ||G||^2 = 5 -> NMSE 0.6; PSNR = 10 log10(4 / (3/4)) = 7.2699 dB.
    const r = compareImages([1, 1, 0, 0], [2, 0, 1, 0], 2, 2);
    expect(r.scale).toBeCloseTo(1, 12);
    expect(r.scaled.nmse).toBeCloseTo(0.6, 12);
    expect(r.scaled.psnr).toBeCloseTo(10 * Math.log10(16 / 3), 10);
    // P = [2, 2, 0, 0]: a = 4/8 = 0.5 -> same scaled figures; unscaled: [0, 2, -1, 0] -> 5/5 = 1, PSNR 10 log10(4/(5/4)).
    const q = compareImages([2, 2, 0, 0], [2, 0, 1, 0], 2, 2);
    expect(q.scale).toBeCloseTo(0.5, 12);
    expect(q.scaled.nmse).toBeCloseTo(0.6, 12);
    expect(q.unscaled.nmse).toBeCloseTo(1, 12);
    expect(q.unscaled.psnr).toBeCloseTo(10 * Math.log10(16 / 5), 10);
  });

  it('a perfect prediction up to scale has NMSE 0; blur forgives a one-pixel shift', () => {
    const g = groundTruthImage([{ xNm: 100, yNm: 100 }], 16, 16, 12.5);
    expect(compareImages(g.map((v) => 3 * v), g, 16, 16).scaled.nmse).toBeCloseTo(0, 12);
    const shifted = groundTruthImage([{ xNm: 112.5, yNm: 100 }], 16, 16, 12.5);
    const sharp = compareImages(shifted, g, 16, 16, 0).scaled.nmse;
    const blurred = compareImages(shifted, g, 16, 16, 1).scaled.nmse;
    expect(sharp).toBeCloseTo(1, 12);
    expect(blurred).toBeLessThan(0.5);
    expect(blurred).toBeGreaterThan(0);
  });

  it('rejects mismatched sizes and empty ground truth', () => {
    for (const f of [() => compareImages([1, 2], [1, 2, 3, 4], 2, 2), () => compareImages([1, 2, 3, 4], [0, 0, 0, 0], 2, 2)]) {
      try {
        f();
        expect.unreachable();
      } catch (err) {
        expect(isSmlmError(err, 'E_BAD_OPTIONS')).toBe(true);
      }
    }
  });

  it('E_NON_FINITE_PIXELS for NaN or infinite values in either image, with the position', () => {
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY]) {
      for (const [p, g] of [
        [[1, 0, 0, bad], [1, 0, 0, 0]],
        [[1, 0, 0, 0], [1, 0, 0, bad]],
      ]) {
        try {
          compareImages(p, g, 2, 2, 1);
          expect.unreachable();
        } catch (err) {
          expect(isSmlmError(err, 'E_NON_FINITE_PIXELS')).toBe(true);
          expect((err as { details: unknown }).details).toEqual({ x: 1, y: 1 });
        }
      }
    }
  });
});
