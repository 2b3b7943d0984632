/**
 * Localizations straight from a localization head's `detections` (model contract, lib/model/head.ts), by spatial
 * integration over the [gH, gW] detection cell grid (g x g cells per camera pixel; channel k g^2 + i g + j of camera
 * pixel (r, c) holds quantity k of cell (r g + i, c g + j); offsets and sigmas in cell units). Each cell decodes to
 *   p = sigmoid(v0),  x = (C + 0.5 + dx) / g,  y = (R + 0.5 + dy) / g camera px,  sx = (0.01 + 3 sigmoid(v3)) / g px.
 * A cell whose p is the largest of its 3x3 cell neighbourhood (ties: the lower row-major index wins) and whose
 * neighbourhood sum s = sum p reaches the threshold is one emitter: at the p-weighted mean of the neighbourhood's
 * positions, with confidence s and sx, sy the p-weighted means of the neighbourhood's uncertainties.
 * Why integrate: with g >= 2 one emitter's probability is split between neighbouring cells (p ~ 0.5 each or less), so
 * thresholding single cells misses most emitters; the neighbourhood sum is the expected count near the peak.
 * No peak finding on rendered images: the network has already decided where the emitters are.
 */
import { SmlmError } from './errors.js';
import type { Localization } from './localize.js';
import { cellsPerPixel, type LocalizationHead } from './model/head.js';
import { detectionValuesPerFrame, sigmoid } from './render-detections.js';

/** A localization from detections: `confidence` is s, the expected number of emitters in the peak's 3x3 cells. */
export interface DetectionLocalization extends Localization {
  /** 1-sigma localization uncertainty predicted by the network, nm. */
  sxNm: number;
  syNm: number;
}

/** Neighbourhood sum s at or above which a peak is reported when the caller does not say. */
export const DEFAULT_DETECTION_THRESHOLD = 0.5;

export interface DetectionLocalizeOptions {
  head: LocalizationHead;
  cameraPixelNm: number;
  /** Minimum s, the sum of p over the peak cell's 3x3 neighbourhood (expected emitters). Default DEFAULT_DETECTION_THRESHOLD. */
  threshold?: number;
  /** 1-based frame number of the first frame in `detections`. Default 1. */
  firstFrame?: number;
}

/** One frame's decoded cells, row-major over the [gH, gW] cell grid; positions and sigmas in camera px. */
interface DecodedCells {
  p: Float64Array;
  x: Float64Array;
  y: Float64Array;
  sx: Float64Array;
  sy: Float64Array;
}

function decodeCells(detections: Float32Array, base: number, height: number, width: number, g: number, maxOffset: number, cells: DecodedCells): void {
  const plane = height * width;
  const perQuantity = g * g * plane;
  const gW = width * g;
  for (let R = 0; R < height * g; R++) {
    for (let C = 0; C < gW; C++) {
      const r = Math.floor(R / g);
      const c = Math.floor(C / g);
      const at = base + ((R - r * g) * g + (C - c * g)) * plane + r * width + c;
      const k = R * gW + C;
      const x = (C + 0.5 + maxOffset * Math.tanh(detections[at + perQuantity])) / g;
      const y = (R + 0.5 + maxOffset * Math.tanh(detections[at + 2 * perQuantity])) / g;
      const sx = (0.01 + 3 * sigmoid(detections[at + 3 * perQuantity])) / g;
      const sy = (0.01 + 3 * sigmoid(detections[at + 4 * perQuantity])) / g;
      const p = sigmoid(detections[at]);
      // A cell with a non-finite value (a broken activation) counts as empty: it must not poison its neighbours' means.
      const finite = Number.isFinite(p) && Number.isFinite(x) && Number.isFinite(y) && Number.isFinite(sx) && Number.isFinite(sy);
      cells.p[k] = finite ? p : 0;
      cells.x[k] = finite ? x : 0;
      cells.y[k] = finite ? y : 0;
      cells.sx[k] = finite ? sx : 0;
      cells.sy[k] = finite ? sy : 0;
    }
  }
}

/** count x 5g^2 x height x width raw detections -> one localization per integrated peak, frame by frame, peaks row-major. */
export function localizeDetections(detections: Float32Array, count: number, height: number, width: number, options: DetectionLocalizeOptions): DetectionLocalization[] {
  const threshold = options.threshold ?? DEFAULT_DETECTION_THRESHOLD;
  // s sums up to nine probabilities, so thresholds above 1 are meaningful; 0 would report every empty plateau.
  if (!(threshold > 0 && Number.isFinite(threshold))) throw new SmlmError('E_BAD_OPTIONS', `detection threshold must be a finite number > 0, got ${threshold}`);
  if (!(options.cameraPixelNm > 0)) throw new SmlmError('E_BAD_OPTIONS', `cameraPixelNm must be > 0, got ${options.cameraPixelNm}`);
  const g = cellsPerPixel(options.head);
  const perFrame = detectionValuesPerFrame(height, width, options.head);
  if (detections.length < count * perFrame) throw new SmlmError('E_BAD_OPTIONS', `detections hold ${detections.length} values, expected ${count} x ${5 * g * g} x ${height} x ${width}`);
  const gH = height * g;
  const gW = width * g;
  const n = gH * gW;
  const cells: DecodedCells = { p: new Float64Array(n), x: new Float64Array(n), y: new Float64Array(n), sx: new Float64Array(n), sy: new Float64Array(n) };
  const nm = options.cameraPixelNm;
  const first = options.firstFrame ?? 1;
  const out: DetectionLocalization[] = [];
  for (let f = 0; f < count; f++) {
    decodeCells(detections, f * perFrame, height, width, g, options.head.maxOffset, cells);
    const { p } = cells;
    for (let R = 0; R < gH; R++) {
      for (let C = 0; C < gW; C++) {
        const k = R * gW + C;
        const pk = p[k];
        if (!(pk > 0)) continue;
        let peak = true;
        let s = 0;
        let x = 0;
        let y = 0;
        let sx = 0;
        let sy = 0;
        for (let Y = Math.max(0, R - 1); Y <= Math.min(gH - 1, R + 1) && peak; Y++) {
          for (let X = Math.max(0, C - 1); X <= Math.min(gW - 1, C + 1); X++) {
            const m = Y * gW + X;
            const pm = p[m];
            // Ties between equal neighbours go to the lower index, so a split emitter is reported exactly once.
            if (pm > pk || (pm === pk && m < k)) {
              peak = false;
              break;
            }
            s += pm;
            x += pm * cells.x[m];
            y += pm * cells.y[m];
            sx += pm * cells.sx[m];
            sy += pm * cells.sy[m];
          }
        }
        if (!peak || !(s >= threshold)) continue;
        out.push({ frame: first + f, xNm: (x / s) * nm, yNm: (y / s) * nm, confidence: s, sxNm: (sx / s) * nm, syNm: (sy / s) * nm });
      }
    }
  }
  return out;
}
