import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decode } from 'fast-png';
import { describe, expect, it } from 'vitest';
import { colormapAt, colormapLut } from '../lib/io/colormap.js';
import { contrastLimits, encodePreviewPng, renderPreview, writePngPreview } from '../lib/io/png.js';
import { tempDir } from './helpers/paths.js';

/** WCAG relative luminance of an sRGB byte triple. */
function luminance(r: number, g: number, b: number): number {
  const lin = (c: number) => {
    const v = c / 255;
    return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
}

describe('colormap', () => {
  const lut = colormapLut();
  const entry = (i: number) => [lut[3 * i], lut[3 * i + 1], lut[3 * i + 2]] as const;

  it('has 256 entries whose brightness rises steadily from near-black to near-white', () => {
    expect(lut.length).toBe(768);
    const lums = Array.from({ length: 256 }, (_, i) => luminance(...entry(i)));
    expect(lums[0]).toBeLessThan(0.01);
    expect(lums[255]).toBeGreaterThan(0.8);
    // Strictly increasing over steps of 4 entries (8-bit rounding can tie neighbours).
    for (let i = 4; i < 256; i += 4) expect(lums[i]).toBeGreaterThan(lums[i - 4]);
  });

  it('runs violet -> red/orange -> pale yellow (a magma-like hue path)', () => {
    const [r0, g0, b0] = entry(40);
    expect(b0).toBeGreaterThan(g0); // violet: more blue than green
    expect(r0).toBeGreaterThan(g0);
    const [r1, g1, b1] = entry(150);
    expect(r1).toBeGreaterThan(g1);
    expect(r1).toBeGreaterThan(b1); // red/orange
    const [r2, g2, b2] = entry(245);
    expect(Math.min(r2, g2)).toBeGreaterThan(b2); // yellowish
    expect(colormapAt(-1)).toEqual(colormapAt(0));
    expect(colormapAt(2)).toEqual(colormapAt(1));
  });
});

describe('preview contrast and rendering', () => {
  it('uses percentiles, so one hot pixel does not darken the rest', () => {
    const image = Float32Array.from({ length: 10_000 }, (_, i) => i % 100);
    image[0] = 1e6;
    const [low, high] = contrastLimits(image);
    expect(low).toBe(0);
    expect(high).toBe(99);
  });

  it('falls back to the maximum for very sparse images, and renders an empty image black', () => {
    const sparse = new Float32Array(100_000);
    sparse[5] = 3;
    expect(contrastLimits(sparse)).toEqual([0, 3]);
    const rgb = renderPreview(new Float32Array(4), 2, 2);
    expect(Array.from(rgb.subarray(0, 3))).toEqual(Array.from(colormapLut().subarray(0, 3)));
  });

  it('E_BAD_OPTIONS for inverted percentiles', () => {
    expect(() => contrastLimits(new Float32Array(4), { lowPercentile: 50, highPercentile: 10 })).toThrowError(/percentiles/);
  });

  it('encodes a PNG that decodes to the rendered colours', () => {
    const image = Float32Array.from({ length: 12 * 10 }, (_, i) => i);
    const png = decode(encodePreviewPng(image, 12, 10));
    expect([png.width, png.height, png.channels, png.depth]).toEqual([12, 10, 3, 8]);
    expect(Array.from(png.data)).toEqual(Array.from(renderPreview(image, 12, 10)));
    const lut = colormapLut();
    expect(Array.from(png.data.subarray(0, 3))).toEqual(Array.from(lut.subarray(0, 3))); // lowest value -> first colour
    expect(Array.from(png.data.subarray(png.data.length - 3))).toEqual(Array.from(lut.subarray(765))); // highest -> last
  });

  it('writePngPreview: E_OUTPUT_EXISTS without force', async () => {
    const path = join(tempDir(), 'p.png');
    writeFileSync(path, 'keep');
    await expect(writePngPreview(path, new Float32Array(4), 2, 2)).rejects.toMatchObject({ code: 'E_OUTPUT_EXISTS' });
    await writePngPreview(path, new Float32Array(4), 2, 2, { force: true });
    expect(readFileSync(path).subarray(1, 4).toString()).toBe('PNG');
  });
});
