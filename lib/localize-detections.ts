/**
 * Localizations straight from a localization head's `detections` (model contract, lib/model/head.ts): every camera
 * pixel whose p = sigmoid(v0) reaches the threshold is one emitter at x_nm = (c + 0.5 + dx) * cameraPixelNm,
 * y_nm = (r + 0.5 + dy) * cameraPixelNm, with its predicted 1-sigma uncertainty sx = 0.01 + 3 sigmoid(v3) camera
 * pixels (sy likewise). No peak finding: the network has already decided where the emitters are.
 */
import { SmlmError } from './errors.js';
import type { Localization } from './localize.js';
import type { LocalizationHead } from './model/head.js';
import { sigmoid } from './render-detections.js';

/** A localization from a detection: `confidence` is p, the expected number of emitters in its camera pixel. */
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

/** count x 5 x height x width raw detections -> localizations with p >= threshold, frame by frame, row-major. */
export function localizeDetections(detections: Float32Array, count: number, height: number, width: number, options: DetectionLocalizeOptions): DetectionLocalization[] {
  const threshold = options.threshold ?? DEFAULT_DETECTION_THRESHOLD;
  if (!(threshold > 0 && threshold <= 1)) throw new SmlmError('E_BAD_OPTIONS', `detection threshold must be in (0, 1], got ${threshold}`);
  if (!(options.cameraPixelNm > 0)) throw new SmlmError('E_BAD_OPTIONS', `cameraPixelNm must be > 0, got ${options.cameraPixelNm}`);
  const plane = height * width;
  if (detections.length < count * 5 * plane) throw new SmlmError('E_BAD_OPTIONS', `detections hold ${detections.length} values, expected ${count} x 5 x ${height} x ${width}`);
  const { maxOffset } = options.head;
  const nm = options.cameraPixelNm;
  const first = options.firstFrame ?? 1;
  const out: DetectionLocalization[] = [];
  for (let f = 0; f < count; f++) {
    const base = f * 5 * plane;
    for (let r = 0; r < height; r++) {
      for (let c = 0; c < width; c++) {
        const i = base + r * width + c;
        const p = sigmoid(detections[i]);
        if (!(p >= threshold)) continue;
        out.push({
          frame: first + f,
          xNm: (c + 0.5 + maxOffset * Math.tanh(detections[i + plane])) * nm,
          yNm: (r + 0.5 + maxOffset * Math.tanh(detections[i + 2 * plane])) * nm,
          confidence: p,
          sxNm: (0.01 + 3 * sigmoid(detections[i + 3 * plane])) * nm,
          syNm: (0.01 + 3 * sigmoid(detections[i + 4 * plane])) * nm,
        });
      }
    }
  }
  return out;
}
