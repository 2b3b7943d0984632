/**
 * Resampling camera frames to another pixel size (a model trained at 100 nm pixels sees a 160 nm camera's frames at
 * 100 nm). Separable, on the host, for every backend (GPU backends get the resampled frames; doing it on the device
 * would save the host pass and the larger upload, a possible later step):
 *  - to larger pixels (downsampling): area averaging, each output pixel the mean of the input area it covers, so
 *    that no photon is skipped and the noise averages as it would on a coarser camera;
 *  - to smaller pixels (upsampling): bilinear interpolation at the output pixel centres.
 * Either way the frame covers the same field: pixel i covers [i * pixelNm, (i + 1) * pixelNm).
 */
import type { PixelArray } from '../types.js';

export type ResampleMethod = 'area' | 'bilinear';

/** For each output index, the input indices and weights (weights sum to 1). */
interface AxisWeights {
  start: Int32Array;
  count: Int32Array;
  index: Int32Array;
  weight: Float64Array;
}

/** Output pixels covering the same field: round(n * fromNm / toNm), at least 1. */
export function resampledLength(n: number, fromNm: number, toNm: number): number {
  return Math.max(1, Math.round((n * fromNm) / toNm));
}

/**
 * Output pixel j covers [j * toNm, (j + 1) * toNm) exactly, so that coordinates on the resampled grid are exact (a grid
 * stretched to fit the field would be off by up to half a pixel at its far edge). An output pixel reaching past the
 * field's end averages the part inside it.
 */
function axisWeights(nIn: number, nOut: number, fromNm: number, toNm: number, method: ResampleMethod): AxisWeights {
  const index: number[] = [];
  const weight: number[] = [];
  const start = new Int32Array(nOut);
  const count = new Int32Array(nOut);
  // Input pixels per output pixel.
  const scale = toNm / fromNm;
  for (let j = 0; j < nOut; j++) {
    start[j] = index.length;
    if (method === 'area') {
      const a = Math.min(j * scale, nIn - 1);
      const b = Math.min((j + 1) * scale, nIn);
      for (let i = Math.floor(a); i < Math.min(nIn, Math.ceil(b)); i++) {
        const overlap = Math.min(b, i + 1) - Math.max(a, i);
        if (overlap > 0) {
          index.push(i);
          weight.push(overlap / (b - a));
        }
      }
    } else {
      const x = Math.min(nIn - 1, Math.max(0, (j + 0.5) * scale - 0.5));
      const i0 = Math.floor(x);
      const i1 = Math.min(nIn - 1, i0 + 1);
      const t = x - i0;
      index.push(i0, i1);
      weight.push(1 - t, t);
    }
    count[j] = index.length - start[j];
  }
  return { start, count, index: Int32Array.from(index), weight: Float64Array.from(weight) };
}

/**
 * Resamples `frames` frames of height x width from `fromNm` to `toNm` pixels. Returns float32 frames (averaged
 * values are not integers) and the method used.
 */
export function resampleFrames(
  data: PixelArray,
  frames: number,
  height: number,
  width: number,
  fromNm: number,
  toNm: number,
): { data: Float32Array; height: number; width: number; method: ResampleMethod } {
  const method: ResampleMethod = toNm > fromNm ? 'area' : 'bilinear';
  const outH = resampledLength(height, fromNm, toNm);
  const outW = resampledLength(width, fromNm, toNm);
  const wx = axisWeights(width, outW, fromNm, toNm, method);
  const wy = axisWeights(height, outH, fromNm, toNm, method);
  const out = new Float32Array(frames * outH * outW);
  const rows = new Float64Array(height * outW);
  for (let f = 0; f < frames; f++) {
    const src = f * height * width;
    // Along x, every input row...
    for (let r = 0; r < height; r++) {
      for (let j = 0; j < outW; j++) {
        let s = 0;
        for (let k = wx.start[j]; k < wx.start[j] + wx.count[j]; k++) s += wx.weight[k] * data[src + r * width + wx.index[k]];
        rows[r * outW + j] = s;
      }
    }
    // ...then along y.
    const dst = f * outH * outW;
    for (let i = 0; i < outH; i++) {
      for (let j = 0; j < outW; j++) {
        let s = 0;
        for (let k = wy.start[i]; k < wy.start[i] + wy.count[i]; k++) s += wy.weight[k] * rows[wy.index[k] * outW + j];
        out[dst + i * outW + j] = s;
      }
    }
  }
  return { data: out, height: outH, width: outW, method };
}
