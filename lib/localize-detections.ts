/**
 * Localizations straight from a localization head's `detections` (model contract, lib/model/head.ts): every detection
 * cell (R, C) of the [gH, gW] cell grid (g x g cells per camera pixel, channel k g^2 + i g + j of camera pixel (r, c)
 * for cell (r g + i, c g + j)) whose p = sigmoid(v0) reaches the threshold is one emitter at
 * x_nm = (C + 0.5 + dx) / g * cameraPixelNm, y_nm = (R + 0.5 + dy) / g * cameraPixelNm, with its predicted 1-sigma
 * uncertainty sx = (0.01 + 3 sigmoid(v3)) / g camera pixels (sy likewise): offsets and sigmas are in cell units.
 * No peak finding: the network has already decided where the emitters are.
 */
import { SmlmError } from './errors.js';
import type { Localization } from './localize.js';
import { cellsPerPixel, type LocalizationHead } from './model/head.js';
import { detectionValuesPerFrame, sigmoid } from './render-detections.js';

/** A localization from a detection: `confidence` is p, the expected number of emitters in its detection cell. */
export interface DetectionLocalization extends Localization {
  /** 1-sigma localization uncertainty predicted by the network, nm. */
  sxNm: number;
  syNm: number;
}

/** p at or above which a detection is reported when the caller does not say. */
export const DEFAULT_DETECTION_THRESHOLD = 0.5;

export interface DetectionLocalizeOptions {
  head: LocalizationHead;
  cameraPixelNm: number;
  /** Default DEFAULT_DETECTION_THRESHOLD. */
  threshold?: number;
  /** 1-based frame number of the first frame in `detections`. Default 1. */
  firstFrame?: number;
}

/** count x 5g^2 x height x width raw detections -> localizations with p >= threshold, frame by frame, cells row-major. */
export function localizeDetections(detections: Float32Array, count: number, height: number, width: number, options: DetectionLocalizeOptions): DetectionLocalization[] {
  const threshold = options.threshold ?? DEFAULT_DETECTION_THRESHOLD;
  if (!(threshold > 0 && threshold <= 1)) throw new SmlmError('E_BAD_OPTIONS', `detection threshold must be in (0, 1], got ${threshold}`);
  if (!(options.cameraPixelNm > 0)) throw new SmlmError('E_BAD_OPTIONS', `cameraPixelNm must be > 0, got ${options.cameraPixelNm}`);
  const plane = height * width;
  const g = cellsPerPixel(options.head);
  const cells = g * g;
  const perFrame = detectionValuesPerFrame(height, width, options.head);
  if (detections.length < count * perFrame) throw new SmlmError('E_BAD_OPTIONS', `detections hold ${detections.length} values, expected ${count} x ${5 * cells} x ${height} x ${width}`);
  const { maxOffset } = options.head;
  // Cell units -> nm: one cell is cameraPixelNm / g.
  const nmPerCell = options.cameraPixelNm / g;
  const first = options.firstFrame ?? 1;
  const out: DetectionLocalization[] = [];
  for (let f = 0; f < count; f++) {
    const base = f * perFrame;
    for (let R = 0; R < height * g; R++) {
      for (let C = 0; C < width * g; C++) {
        const r = Math.floor(R / g);
        const c = Math.floor(C / g);
        const i = base + ((R - r * g) * g + (C - c * g)) * plane + r * width + c;
        const p = sigmoid(detections[i]);
        if (!(p >= threshold)) continue;
        out.push({
          frame: first + f,
          xNm: (C + 0.5 + maxOffset * Math.tanh(detections[i + cells * plane])) * nmPerCell,
          yNm: (R + 0.5 + maxOffset * Math.tanh(detections[i + 2 * cells * plane])) * nmPerCell,
          confidence: p,
          sxNm: (0.01 + 3 * sigmoid(detections[i + 3 * cells * plane])) * nmPerCell,
          syNm: (0.01 + 3 * sigmoid(detections[i + 4 * cells * plane])) * nmPerCell,
        });
      }
    }
  }
  return out;
}
