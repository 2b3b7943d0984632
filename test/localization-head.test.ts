import { describe, expect, it } from 'vitest';
import { localizeDetections } from '../lib/localize-detections.js';
import { cellsPerPixel, type LocalizationHead } from '../lib/model/head.js';
import { METADATA_KEYS, parseModelMetadata, serializeModelMetadata } from '../lib/model/metadata.js';
import { groundTruthImage } from '../lib/metrics.js';
import { renderDetections, type DetectionGrid } from '../lib/render-detections.js';
import { localizationHead, testMetadata } from '../benchmarks/random-models.js';
import { headRefusal } from './helpers/head-refusal.js';

const good = { kind: 'localization', channels: ['p', 'dx', 'dy', 'sx', 'sy'], maxOffset: 1, render: { sigma: 1, radius: 4, minProbability: 0.01 } };

describe('smlm.head metadata', () => {
  it('absent means a maps model; maps and localization heads round-trip', () => {
    expect(parseModelMetadata(testMetadata(), 'm').head).toBeUndefined();
    expect(parseModelMetadata({ ...testMetadata(), [METADATA_KEYS.head]: '{"kind":"maps"}' }, 'm').head).toEqual({ kind: 'maps' });
    const meta = parseModelMetadata({ ...testMetadata(), [METADATA_KEYS.head]: JSON.stringify(good) }, 'm');
    expect(meta.head).toEqual(good);
    expect(parseModelMetadata(serializeModelMetadata(meta), 'm')).toEqual(meta);
  });

  it('refuses malformed heads with the reason', () => {
    expect(headRefusal(good)).toBe('accepted');
    expect(headRefusal({ kind: 'peaks' })).toContain('expected "maps" or "localization"');
    expect(headRefusal({ kind: 'maps', extra: 1 })).toContain('"extra"');
    expect(headRefusal({ ...good, channels: ['p', 'dy', 'dx', 'sx', 'sy'] })).toContain('channels');
    expect(headRefusal({ ...good, unknown: true })).toContain('"unknown"');
    for (const maxOffset of [0, -1, 2.5, '1']) expect(headRefusal({ ...good, maxOffset })).toContain('maxOffset');
    expect(headRefusal({ ...good, maxOffset: 2 })).toBe('accepted');
    for (const sigma of [-0.1, 4.01, null]) expect(headRefusal({ ...good, render: { ...good.render, sigma } })).toContain('render.sigma');
    for (const radius of [-1, 9, 1.5]) expect(headRefusal({ ...good, render: { ...good.render, radius } })).toContain('render.radius');
    for (const minProbability of [-0.01, 1, 2]) expect(headRefusal({ ...good, render: { ...good.render, minProbability } })).toContain('render.minProbability');
    expect(headRefusal({ ...good, render: { ...good.render, gamma: 1 } })).toContain('"gamma"');
    expect(headRefusal({ ...good, render: 3 })).toContain('render must be an object');
    expect(() => parseModelMetadata({ ...testMetadata(), [METADATA_KEYS.head]: '[1]' }, 'm')).toThrow(/smlm\.head/);
  });
});

/** Raw values that decode exactly enough: p = sigmoid(v0), d = maxOffset tanh(v). */
const logit = (p: number) => Math.log(p / (1 - p));
const atanh = (x: number) => 0.5 * Math.log((1 + x) / (1 - x));

/** One frame of detections (5 x h x w) with one emitter at (xNm, yNm) (camera pixel 100 nm) and everything else p ~ 0. */
function oneEmitter(h: number, w: number, xNm: number, yNm: number, p: number, maxOffset: number): Float32Array {
  const det = new Float32Array(5 * h * w);
  det.fill(-30, 0, h * w);
  const c = Math.floor(xNm / 100);
  const r = Math.floor(yNm / 100);
  const i = r * w + c;
  det[i] = logit(p);
  det[h * w + i] = atanh((xNm / 100 - (c + 0.5)) / maxOffset);
  det[2 * h * w + i] = atanh((yNm / 100 - (r + 0.5)) / maxOffset);
  det[3 * h * w + i] = logit((0.2 - 0.01) / 3);
  det[4 * h * w + i] = logit((0.3 - 0.01) / 3);
  return det;
}

describe('the grid convention, end to end', () => {
  const h = 8;
  const w = 10;
  const u = 8; // 12.5 nm fine pixels
  const positions = [
    { xNm: 431.3, yNm: 267.9 },
    { xNm: 500.4, yNm: 399.7 }, // just either side of camera-pixel borders (dx -0.496, dy +0.497)
    { xNm: 12.6, yNm: 787.4 }, // near the image edge
    { xNm: 649.9, yNm: 113.1 },
  ];
  for (const pos of positions) {
    it(`an emitter at (${pos.xNm}, ${pos.yNm}) nm lands in fine pixel floor(x / 12.5) and is centred there`, () => {
      const det = oneEmitter(h, w, pos.xNm, pos.yNm, 0.9, 1);
      const truth = groundTruthImage([pos], w * u, h * u, 12.5);
      const sharp: DetectionGrid = { head: localizationHead({ maxOffset: 1, sigma: 0, radius: 0, minProbability: 0.01 }), upsampling: u };
      const image = new Float32Array(w * u * h * u);
      renderDetections(det, 1, h, w, sharp, image);
      // sigma 0: all of p in the ground-truth histogram's pixel for the same position.
      const at = truth.indexOf(1);
      expect(at).toBe(Math.floor(pos.yNm / 12.5) * w * u + Math.floor(pos.xNm / 12.5));
      expect(image[at]).toBeCloseTo(0.9, 5);
      expect(image.reduce((s, v) => s + v, 0)).toBeCloseTo(0.9, 5);

      // sigma > 0: the mass-weighted centre of the rendering is the position (away from the border).
      const soft: DetectionGrid = { head: localizationHead({ maxOffset: 1, sigma: 1.3, radius: 5, minProbability: 0.01 }), upsampling: u };
      const blurred = new Float32Array(image.length);
      renderDetections(det, 1, h, w, soft, blurred);
      let m = 0;
      let mx = 0;
      let my = 0;
      for (let Y = 0; Y < h * u; Y++) {
        for (let X = 0; X < w * u; X++) {
          const v = blurred[Y * w * u + X];
          m += v;
          mx += v * (X + 0.5);
          my += v * (Y + 0.5);
        }
      }
      const clipped = pos.xNm < 12.5 * 6 || pos.yNm > 800 - 12.5 * 6;
      if (!clipped) {
        expect(m).toBeCloseTo(0.9, 5);
        expect((mx / m) * 12.5).toBeCloseTo(pos.xNm, 1);
        expect((my / m) * 12.5).toBeCloseTo(pos.yNm, 1);
      } else {
        expect(m).toBeLessThan(0.9);
      }
      // Its brightest pixel is the emitter's own fine pixel.
      expect(blurred.indexOf(Math.max(...blurred))).toBe(at);

      // localize reads the same position, p and uncertainties back from the detections.
      const [loc, ...rest] = localizeDetections(det, 1, h, w, { head: sharp.head, cameraPixelNm: 100, firstFrame: 3 });
      expect(rest).toHaveLength(0);
      expect(loc.frame).toBe(3);
      expect(loc.xNm).toBeCloseTo(pos.xNm, 2);
      expect(loc.yNm).toBeCloseTo(pos.yNm, 2);
      expect(loc.confidence).toBeCloseTo(0.9, 5);
      expect(loc.sxNm).toBeCloseTo(20, 3);
      expect(loc.syNm).toBeCloseTo(30, 3);
    });
  }

  it('skips detections below minProbability and below the localize threshold', () => {
    const det = oneEmitter(h, w, 431.3, 267.9, 0.2, 1);
    const grid: DetectionGrid = { head: localizationHead({ maxOffset: 1, sigma: 1, radius: 3, minProbability: 0.25 }), upsampling: u };
    const image = new Float32Array(w * u * h * u);
    renderDetections(det, 1, h, w, grid, image);
    expect(image.every((v) => v === 0)).toBe(true);
    expect(localizeDetections(det, 1, h, w, { head: grid.head, cameraPixelNm: 100 })).toHaveLength(0);
    expect(localizeDetections(det, 1, h, w, { head: grid.head, cameraPixelNm: 100, threshold: 0.15 })).toHaveLength(1);
  });
});

describe('smlm.head grid (g x g detection cells per camera pixel)', () => {
  it('accepts 1, 2, 4 and 8, round-trips it, and leaves a head without it as g = 1', () => {
    for (const grid of [1, 2, 4, 8]) {
      const meta = parseModelMetadata({ ...testMetadata(), [METADATA_KEYS.head]: JSON.stringify({ ...good, grid }) }, 'm');
      expect(meta.head).toEqual({ ...good, grid });
      expect(cellsPerPixel(meta.head as LocalizationHead)).toBe(grid);
      expect(parseModelMetadata(serializeModelMetadata(meta), 'm')).toEqual(meta);
    }
    // No key in, no key out: g = 1 models keep their exact metadata.
    const plain = parseModelMetadata({ ...testMetadata(), [METADATA_KEYS.head]: JSON.stringify(good) }, 'm');
    expect(serializeModelMetadata(plain)[METADATA_KEYS.head]).not.toContain('grid');
    expect(cellsPerPixel(plain.head as LocalizationHead)).toBe(1);
  });

  it('refuses other grids and a grid that does not divide the upsampling', () => {
    for (const grid of [0, 3, 16, 1.5, '2', null]) expect(headRefusal({ ...good, grid })).toContain('grid must be one of 1, 2, 4, 8');
    const props = { ...testMetadata({ upsampling: 4, outputPixelNm: 25 }), [METADATA_KEYS.head]: JSON.stringify({ ...good, grid: 8 }) };
    expect(() => parseModelMetadata(props, 'm')).toThrow(/grid 8 must divide the model's upsampling 4/);
    expect(parseModelMetadata({ ...props, [METADATA_KEYS.head]: JSON.stringify({ ...good, grid: 4 }) }, 'm').head).toMatchObject({ grid: 4 });
  });
});

/**
 * One frame of grid-g detections (5g^2 x h x w) with emitters at the given nm positions (camera pixel 100 nm, cell
 * 100/g nm), each in its own cell, sx 20 nm and sy 30 nm; every other cell p ~ 0. Written with the contract's channel
 * order k g^2 + i g + j for cell (r g + i, c g + j), independently of the renderer's indexing.
 */
function emittersInCells(h: number, w: number, g: number, positions: { xNm: number; yNm: number }[], p: number, maxOffset: number): Float32Array {
  const plane = h * w;
  const cells = g * g;
  const det = new Float32Array(5 * cells * plane);
  det.fill(-30, 0, cells * plane);
  const cellNm = 100 / g;
  for (const { xNm, yNm } of positions) {
    const C = Math.floor(xNm / cellNm);
    const R = Math.floor(yNm / cellNm);
    const channel = (k: number) => (k * cells + (R % g) * g + (C % g)) * plane + Math.floor(R / g) * w + Math.floor(C / g);
    det[channel(0)] = logit(p);
    det[channel(1)] = atanh((xNm / cellNm - (C + 0.5)) / maxOffset);
    det[channel(2)] = atanh((yNm / cellNm - (R + 0.5)) / maxOffset);
    det[channel(3)] = logit((20 / cellNm - 0.01) / 3);
    det[channel(4)] = logit((30 / cellNm - 0.01) / 3);
  }
  return det;
}

describe('the grid convention with g > 1, end to end', () => {
  const h = 8;
  const w = 10;
  const u = 8;
  // Two emitters 30 nm apart in one camera pixel (different cells for g >= 2), one beside a cell border, one near the edge.
  const positions = [
    { xNm: 431.3, yNm: 267.9 },
    { xNm: 461.3, yNm: 240.2 },
    { xNm: 550.2, yNm: 349.8 },
    { xNm: 7.1, yNm: 790.6 },
  ];
  for (const g of [2, 4]) {
    it(`g = ${g}: each cell detection lands in fine pixel floor(x / 12.5), and localize reads it back in nm`, () => {
      const det = emittersInCells(h, w, g, positions, 0.8, 1);
      const sharp: DetectionGrid = { head: localizationHead({ maxOffset: 1, sigma: 0, radius: 0, minProbability: 0.01, grid: g }), upsampling: u };
      const image = new Float32Array(w * u * h * u);
      renderDetections(det, 1, h, w, sharp, image);
      const truth = groundTruthImage(positions, w * u, h * u, 12.5);
      for (let i = 0; i < image.length; i++) expect(image[i]).toBeCloseTo(0.8 * truth[i], 5);
      for (const pos of positions) expect(image[Math.floor(pos.yNm / 12.5) * w * u + Math.floor(pos.xNm / 12.5)]).toBeCloseTo(0.8, 5);

      // sigma > 0: an emitter away from the others and the border keeps its mass and is centred where it is.
      const soft: DetectionGrid = { head: localizationHead({ maxOffset: 1, sigma: 1.3, radius: 5, minProbability: 0.01, grid: g }), upsampling: u };
      const alone = emittersInCells(h, w, g, [positions[2]], 0.8, 1);
      const blurred = new Float32Array(image.length);
      renderDetections(alone, 1, h, w, soft, blurred);
      let m = 0;
      let mx = 0;
      let my = 0;
      blurred.forEach((v, i) => {
        m += v;
        mx += v * ((i % (w * u)) + 0.5);
        my += v * (Math.floor(i / (w * u)) + 0.5);
      });
      expect(m).toBeCloseTo(0.8, 5);
      expect((mx / m) * 12.5).toBeCloseTo(positions[2].xNm, 1);
      expect((my / m) * 12.5).toBeCloseTo(positions[2].yNm, 1);

      // localize integrates 3x3 cells: the two emitters 30 nm apart sit in neighbouring cells and are read as one
      // localization at their mean (each p 0.8, so the sum is 1.6); the separated ones come back where they are.
      const locs = localizeDetections(det, 1, h, w, { head: sharp.head, cameraPixelNm: 100 });
      expect(locs).toHaveLength(positions.length - 1);
      const pair = locs.find((l) => Math.abs(l.xNm - (positions[0].xNm + positions[1].xNm) / 2) < 0.01 && Math.abs(l.yNm - (positions[0].yNm + positions[1].yNm) / 2) < 0.01);
      expect(pair?.confidence).toBeCloseTo(1.6, 5);
      for (const pos of positions.slice(2)) {
        const loc = locs.find((l) => Math.abs(l.xNm - pos.xNm) < 0.01 && Math.abs(l.yNm - pos.yNm) < 0.01);
        expect(loc, `${pos.xNm}, ${pos.yNm}`).toBeDefined();
        expect(loc!.confidence).toBeCloseTo(0.8, 5);
        expect(loc!.sxNm).toBeCloseTo(20, 3);
        expect(loc!.syNm).toBeCloseTo(30, 3);
      }
    });
  }

  it('reads g = 2 detections as g = 2, not as four g = 1 heads: the wrong grid puts them elsewhere', () => {
    const det = emittersInCells(h, w, 2, [positions[0]], 0.8, 1);
    const image = new Float32Array(w * u * h * u);
    renderDetections(det.subarray(0, 5 * h * w), 1, h, w, { head: localizationHead({ maxOffset: 1, sigma: 0, radius: 0, minProbability: 0.01 }), upsampling: u }, image);
    expect(image[Math.floor(positions[0].yNm / 12.5) * w * u + Math.floor(positions[0].xNm / 12.5)]).toBe(0);
  });
});
