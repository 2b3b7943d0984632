import { describe, expect, it } from 'vitest';
import { localizeDetections } from '../lib/localize-detections.js';
import type { LocalizationHead } from '../lib/model/head.js';

/** Spatial integration of detections into localizations (lib/localize-detections.ts), on hand-made raw detections. */

const logit = (p: number) => Math.log(p / (1 - p));
/** Raw sx/sy value whose decoded uncertainty is `cells` cell units (0.01 + 3 sigmoid(v)). */
const rawSigma = (cells: number) => logit((cells - 0.01) / 3);

function head(grid: number): LocalizationHead {
  return { kind: 'localization', channels: ['p', 'dx', 'dy', 'sx', 'sy'], maxOffset: 1, ...(grid === 1 ? {} : { grid }), render: { sigma: 1, radius: 3, minProbability: 0.01 } };
}

interface Cell {
  R: number;
  C: number;
  p: number;
  dx?: number;
  dy?: number;
  sx?: number;
  sy?: number;
}

/** One frame of raw detections [5 g^2, H, W]: every cell empty (p exactly 0) except `cells`. */
function detections(height: number, width: number, g: number, cells: Cell[]): Float32Array {
  const plane = height * width;
  const q = g * g * plane;
  const raw = new Float32Array(5 * q);
  raw.fill(-Infinity, 0, q); // sigmoid(-inf) = 0: empty cells add nothing to a neighbourhood
  for (const cell of cells) {
    const r = Math.floor(cell.R / g);
    const c = Math.floor(cell.C / g);
    const at = ((cell.R - r * g) * g + (cell.C - c * g)) * plane + r * width + c;
    raw[at] = logit(cell.p);
    raw[at + q] = Math.atanh(cell.dx ?? 0);
    raw[at + 2 * q] = Math.atanh(cell.dy ?? 0);
    raw[at + 3 * q] = rawSigma(cell.sx ?? 0.5);
    raw[at + 4 * q] = rawSigma(cell.sy ?? 0.5);
  }
  return raw;
}

const NM = 100;

describe('localizeDetections: spatial integration over 3x3 detection cells', () => {
  it('an emitter split over two cells (g = 2) gives one localization at the p-weighted position, confidence the sum', () => {
    const cells = [
      { R: 3, C: 4, p: 0.3, dx: 0.4, sx: 0.2, sy: 0.6 },
      { R: 3, C: 5, p: 0.45, dx: -0.2, sx: 0.4, sy: 0.2 },
    ];
    const locs = localizeDetections(detections(4, 4, 2, cells), 1, 4, 4, { head: head(2), cameraPixelNm: NM });
    expect(locs).toHaveLength(1);
    const xs = [(4 + 0.5 + 0.4) / 2, (5 + 0.5 - 0.2) / 2];
    expect(locs[0].xNm).toBeCloseTo(((0.3 * xs[0] + 0.45 * xs[1]) / 0.75) * NM, 3);
    expect(locs[0].yNm).toBeCloseTo(((3 + 0.5) / 2) * NM, 3);
    expect(locs[0].confidence).toBeCloseTo(0.75, 6);
    expect(locs[0].sxNm).toBeCloseTo(((0.3 * 0.2 + 0.45 * 0.4) / 0.75 / 2) * NM, 3);
    expect(locs[0].syNm).toBeCloseTo(((0.3 * 0.6 + 0.45 * 0.2) / 0.75 / 2) * NM, 3);
    expect(locs[0].frame).toBe(1);
  });

  it('an emitter split over four cells (g = 4) with equal p: exactly one localization, the lowest index is the peak', () => {
    const cells = [
      { R: 5, C: 6, p: 0.25, dx: 0.3, dy: 0.3 },
      { R: 5, C: 7, p: 0.25, dx: -0.3, dy: 0.3 },
      { R: 6, C: 6, p: 0.25, dx: 0.3, dy: -0.3 },
      { R: 6, C: 7, p: 0.25, dx: -0.3, dy: -0.3 },
    ];
    const locs = localizeDetections(detections(3, 3, 4, cells), 1, 3, 3, { head: head(4), cameraPixelNm: NM });
    expect(locs).toHaveLength(1);
    // The four positions are symmetric about the shared corner of the cells, (7, 6) in cell units.
    expect(locs[0].xNm).toBeCloseTo((7 / 4) * NM, 3);
    expect(locs[0].yNm).toBeCloseTo((6 / 4) * NM, 3);
    expect(locs[0].confidence).toBeCloseTo(1, 6);
  });

  it('two separated emitters give two localizations, row-major, and a single-cell emitter (g = 1) keeps its position', () => {
    const cells = [
      { R: 6, C: 1, p: 0.9, dx: 0.1, dy: -0.2 },
      { R: 1, C: 1, p: 0.6, dx: -0.5 },
      { R: 1, C: 2, p: 0.2 },
    ];
    const locs = localizeDetections(detections(8, 8, 1, cells), 1, 8, 8, { head: head(1), cameraPixelNm: NM, firstFrame: 5 });
    expect(locs).toHaveLength(2);
    expect(locs.map((l) => l.frame)).toEqual([5, 5]);
    expect(locs[0].confidence).toBeCloseTo(0.8, 6);
    expect(locs[0].xNm).toBeCloseTo(((0.6 * 1.0 + 0.2 * 2.5) / 0.8) * NM, 3);
    expect(locs[1].xNm).toBeCloseTo(1.6 * NM, 3);
    expect(locs[1].yNm).toBeCloseTo(6.3 * NM, 3);
    expect(locs[1].confidence).toBeCloseTo(0.9, 6);
  });

  it('emitters two cells apart are separate peaks; the threshold applies to the neighbourhood sum, not to a cell', () => {
    // Cells 0.4 and 0.35 two columns apart: each is its own peak (neither is in the other's 3x3), the 0.2 between them
    // belongs to both neighbourhoods.
    const cells = [
      { R: 2, C: 2, p: 0.4 },
      { R: 2, C: 3, p: 0.2 },
      { R: 2, C: 4, p: 0.35 },
    ];
    const raw = detections(4, 4, 2, cells);
    const at = (threshold: number) => localizeDetections(raw, 1, 4, 4, { head: head(2), cameraPixelNm: NM, threshold }).map((l) => l.confidence);
    expect(at(0.5).map((s) => +s.toFixed(6))).toEqual([0.6, 0.55]);
    expect(at(0.56).map((s) => +s.toFixed(6))).toEqual([0.6]); // s >= threshold: 0.55 falls out
    expect(at(0.6).map((s) => +s.toFixed(6))).toEqual([0.6]); // equality passes
    expect(at(0.61)).toEqual([]);
    // Below 0.5 per cell everywhere, yet found: single-cell thresholding would have reported nothing.
    expect(Math.max(...cells.map((c) => c.p))).toBeLessThan(0.5);
  });

  it('frames are independent, a non-finite cell counts as empty, and bad thresholds are E_BAD_OPTIONS', () => {
    const one = detections(2, 2, 2, [{ R: 1, C: 1, p: 0.7 }]);
    const two = new Float32Array(2 * one.length);
    two.set(one);
    two.set(detections(2, 2, 2, [{ R: 2, C: 2, p: 0.7 }]), one.length);
    const plane = 4;
    two[one.length + 3 * plane + 1 * 2 + 1 + 4 * plane] = NaN; // frame 2, cell (3, 3): dx of camera pixel (1,1), cell (1,1)
    two[one.length + 3 * plane + 1 * 2 + 1] = logit(0.9); // its p is high but its position is broken
    const locs = localizeDetections(two, 2, 2, 2, { head: head(2), cameraPixelNm: NM });
    expect(locs.map((l) => [l.frame, +l.xNm.toFixed(3), +l.confidence.toFixed(6)])).toEqual([
      [1, 75, 0.7],
      [2, 125, 0.7],
    ]);
    for (const threshold of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => localizeDetections(one, 1, 2, 2, { head: head(2), cameraPixelNm: NM, threshold })).toThrow(expect.objectContaining({ code: 'E_BAD_OPTIONS' }));
    }
  });
});
