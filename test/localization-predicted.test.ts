import { describe, expect, it } from 'vitest';
import type { LocalizationHead, LocalizationRender } from '../lib/model/head.js';
import { METADATA_KEYS, parseModelMetadata, serializeModelMetadata } from '../lib/model/metadata.js';
import { renderDetections } from '../lib/render-detections.js';
import { testMetadata } from '../benchmarks/random-models.js';
import { headRefusal } from './helpers/head-refusal.js';

/** render.sigma "predicted": each detection rendered as wide as its predicted uncertainty (contract update 19:16). */

const predicted = { kind: 'localization', channels: ['p', 'dx', 'dy', 'sx', 'sy'], maxOffset: 1, grid: 2, render: { sigma: 'predicted', sigmaRange: [0.5, 2.5], radius: 4, minProbability: 0.01 } };

describe('smlm.head render.sigma "predicted"', () => {
  it('is accepted with a sigmaRange and round-trips', () => {
    const meta = parseModelMetadata({ ...testMetadata(), [METADATA_KEYS.head]: JSON.stringify(predicted) }, 'm');
    expect(meta.head).toEqual(predicted);
    expect(parseModelMetadata(serializeModelMetadata(meta), 'm')).toEqual(meta);
    expect(headRefusal({ ...predicted, render: { ...predicted.render, sigmaRange: [4, 4] } })).toBe('accepted');
  });

  it('refuses a missing or bad sigmaRange, a range beside a number sigma, and other strings', () => {
    const withRender = (render: Record<string, unknown>) => ({ ...predicted, render: { ...predicted.render, ...render } });
    const { sigmaRange: _, ...noRange } = predicted.render;
    expect(headRefusal({ ...predicted, render: noRange })).toContain('render.sigmaRange must be [lo, hi]');
    for (const sigmaRange of [[0, 1], [-1, 1], [2, 1], [1, 4.5], [1], [1, 2, 3], '1,2', [1, '2'], null]) {
      expect(headRefusal(withRender({ sigmaRange }))).toContain('render.sigmaRange must be [lo, hi]');
    }
    expect(headRefusal(withRender({ sigma: 1 }))).toContain('render.sigmaRange is only allowed with render.sigma "predicted"');
    expect(headRefusal(withRender({ sigma: 1, sigmaRange: undefined }))).toBe('accepted');
    expect(headRefusal(withRender({ sigma: 'Predicted' }))).toContain('render.sigma must be a number in [0, 4] fine pixels or "predicted"');
  });
});

const logit = (p: number) => Math.log(p / (1 - p));

function head(g: number, render: LocalizationRender): LocalizationHead {
  return { kind: 'localization', channels: ['p', 'dx', 'dy', 'sx', 'sy'], maxOffset: 1, grid: g, render };
}

/** One frame [5 g^2, h, w] with a single detection in cell (R, C): p, offsets 0.3 / -0.2 cells, sx / sy in cells. */
function oneDetection(h: number, w: number, g: number, R: number, C: number, p: number, sxCells: number, syCells: number): Float32Array {
  const plane = h * w;
  const q = g * g * plane;
  const det = new Float32Array(5 * q).fill(0);
  det.fill(-30, 0, q);
  const r = Math.floor(R / g);
  const c = Math.floor(C / g);
  const at = ((R - r * g) * g + (C - c * g)) * plane + r * w + c;
  det[at] = logit(p);
  det[at + q] = Math.atanh(0.3);
  det[at + 2 * q] = Math.atanh(-0.2);
  det[at + 3 * q] = logit((sxCells - 0.01) / 3);
  det[at + 4 * q] = logit((syCells - 0.01) / 3);
  return det;
}

function render(det: Float32Array, h: number, w: number, u: number, hd: LocalizationHead): Float32Array {
  const image = new Float32Array(h * u * w * u);
  renderDetections(det, 1, h, w, { head: hd, upsampling: u }, image);
  return image;
}

/** Sums of the image over rows (the x profile) and over columns (the y profile). */
function profiles(image: Float32Array, outW: number): { x: number[]; y: number[] } {
  const outH = image.length / outW;
  const x = new Array<number>(outW).fill(0);
  const y = new Array<number>(outH).fill(0);
  for (let Y = 0; Y < outH; Y++)
    for (let X = 0; X < outW; X++) {
      x[X] += image[Y * outW + X];
      y[Y] += image[Y * outW + X];
    }
  return { x, y };
}

describe('rendering with predicted widths', () => {
  const h = 6;
  const w = 6;
  const u = 8;
  for (const g of [1, 2]) {
    it(`g = ${g}: a detection with sx = 0.2, sy = 0.3 camera px renders 1.6 wide along x and 2.4 along y (u = 8)`, () => {
      // Cell units: sx_px = sx / g, so the same camera-px widths are g times larger in cells.
      const det = oneDetection(h, w, g, 2 * g + 1, 3 * g - 1, 0.8, 0.2 * g, 0.3 * g);
      const radius = 8; // room for 2.4 fine px, and the window stays inside the 48 x 48 image
      const image = render(det, h, w, u, head(g, { sigma: 'predicted', sigmaRange: [0.1, 4], radius, minProbability: 0.01 }));
      // A separable rendering's profiles are those of fixed-width renderings with sigma = 1.6 (x) and 2.4 (y).
      const along = (sigma: number) => profiles(render(det, h, w, u, head(g, { sigma, radius, minProbability: 0.01 })), w * u);
      const got = profiles(image, w * u);
      const x16 = along(1.6).x;
      const y24 = along(2.4).y;
      for (let i = 0; i < w * u; i++) expect(got.x[i]).toBeCloseTo(x16[i], 5);
      for (let i = 0; i < h * u; i++) expect(got.y[i]).toBeCloseTo(y24[i], 5);
      // ...and not those of the other width: the test can tell the axes apart.
      expect(Math.max(...got.x.map((v, i) => Math.abs(v - along(2.4).x[i])))).toBeGreaterThan(0.01);
      expect(got.x.reduce((s, v) => s + v, 0)).toBeCloseTo(0.8, 5);
    });
  }

  it('clamps the widths to sigmaRange: a range [1, 1] renders exactly as a fixed sigma 1', () => {
    const det = oneDetection(h, w, 2, 5, 4, 0.7, 0.05, 2.9); // 0.2 and 11.6 fine px: below and above the range
    const clamped = render(det, h, w, u, head(2, { sigma: 'predicted', sigmaRange: [1, 1], radius: 4, minProbability: 0.01 }));
    const fixed = render(det, h, w, u, head(2, { sigma: 1, radius: 4, minProbability: 0.01 }));
    expect(Array.from(clamped)).toEqual(Array.from(fixed));
    const below = render(det, h, w, u, head(2, { sigma: 'predicted', sigmaRange: [0.5, 3], radius: 6, minProbability: 0.01 }));
    const corners = render(det, h, w, u, head(2, { sigma: 'predicted', sigmaRange: [3, 3], radius: 6, minProbability: 0.01 }));
    // sx clamps up to 0.5 (narrower than 3): the x profile is more peaked; sy clamps down to 3 on both.
    expect(Math.max(...profiles(below, w * u).x)).toBeGreaterThan(Math.max(...profiles(corners, w * u).x) + 0.1);
    expect(profiles(below, w * u).y.map((v) => v.toFixed(6))).toEqual(profiles(corners, w * u).y.map((v) => v.toFixed(6)));
  });

  it('skips a detection whose predicted width is not finite', () => {
    const det = oneDetection(h, w, 1, 2, 2, 0.9, 0.2, 0.3);
    det[4 * h * w + 2 * w + 2] = Number.NaN;
    const image = render(det, h, w, u, head(1, { sigma: 'predicted', sigmaRange: [0.5, 3], radius: 3, minProbability: 0.01 }));
    expect(image.every((v) => v === 0)).toBe(true);
  });
});
