/**
 * Image-level accuracy of a super-resolution reconstruction against ground truth, as the Deep-STORM paper and the
 * paper smlm-rt implements define it (data/README.md):
 *
 *   G = ground-truth image: emitter counts on the output grid (fine pixel j covers [p*j, p*(j+1)) nm, x = column);
 *   P = prediction, scaled by its least-squares factor a = <P,G> / <P,P> (also reported unscaled, a = 1);
 *   NMSE = ||aP - G||^2 / ||G||^2;  PSNR = 10 log10(max(G)^2 / mean((aP - G)^2)).
 *
 * Optionally both images are first blurred with the same Gaussian (sigma in fine pixels; kernel radius round(4 sigma),
 * normalized, zero padding outside the image), which forgives sub-pixel misplacement.
 */
import { SmlmError } from './errors.js';
import { indexOfNonFinite } from './io/validate-stack.js';

/** A position to put on the ground-truth grid (nm, x = column). */
export interface Position {
  xNm: number;
  yNm: number;
}

/**
 * Counts positions per output pixel (width x height pixels of `pixelNm`); positions outside the grid are dropped.
 * @returns row-major Float64Array
 */
export function groundTruthImage(positions: Iterable<Position>, width: number, height: number, pixelNm: number): Float64Array {
  if (!(Number.isInteger(width) && width > 0 && Number.isInteger(height) && height > 0)) {
    throw new SmlmError('E_BAD_OPTIONS', `ground-truth image size must be positive integers, got ${width}x${height}`);
  }
  if (!(pixelNm > 0)) throw new SmlmError('E_BAD_OPTIONS', `pixel size must be > 0 nm, got ${pixelNm}`);
  const image = new Float64Array(width * height);
  for (const p of positions) {
    const c = Math.floor(p.xNm / pixelNm);
    const r = Math.floor(p.yNm / pixelNm);
    if (c >= 0 && c < width && r >= 0 && r < height) image[r * width + c] += 1;
  }
  return image;
}

/**
 * One pass of a separable filter with an odd-length kernel, along x (`horizontal`) or y, zeros outside the image.
 * Taps are summed in kernel order, skipping those that fall outside.
 */
function filterPass(src: Float64Array, width: number, height: number, kernel: Float64Array, horizontal: boolean): Float64Array {
  const radius = (kernel.length - 1) / 2;
  const [extent, step] = horizontal ? [width, 1] : [height, width];
  const out = new Float64Array(width * height);
  for (let r = 0; r < height; r++) {
    for (let c = 0; c < width; c++) {
      const i = r * width + c;
      const at = horizontal ? c : r;
      let acc = 0;
      for (let k = Math.max(-radius, -at); k <= Math.min(radius, extent - 1 - at); k++) acc += kernel[k + radius] * src[i + k * step];
      out[i] = acc;
    }
  }
  return out;
}

/**
 * The largest blur sigma accepted, in output pixels (1.25 um at 12.5 nm pixels): far beyond any blur that forgives
 * misplacement, and it bounds the kernel (radius 400, 801 taps) and so the run time of one blur.
 */
export const MAX_BLUR_SIGMA = 100;

/**
 * Separable Gaussian blur (radius round(4 sigma), normalized kernel, zeros outside). sigma <= 0 returns a copy;
 * a sigma that is not a number or above MAX_BLUR_SIGMA is E_BAD_OPTIONS.
 */
export function gaussianBlur(image: ArrayLike<number>, width: number, height: number, sigma: number): Float64Array {
  if (!(typeof sigma === 'number' && sigma <= MAX_BLUR_SIGMA)) {
    throw new SmlmError('E_BAD_OPTIONS', `blur sigma must be a number of output pixels up to ${MAX_BLUR_SIGMA}, got ${String(sigma)}`, { sigma });
  }
  const src = Float64Array.from(image);
  if (!(sigma > 0)) return src;
  const radius = Math.round(4 * sigma);
  const kernel = new Float64Array(2 * radius + 1);
  let sum = 0;
  for (let i = -radius; i <= radius; i++) sum += kernel[i + radius] = Math.exp(-(i * i) / (2 * sigma * sigma));
  for (let i = 0; i < kernel.length; i++) kernel[i] /= sum;
  return filterPass(filterPass(src, width, height, kernel, true), width, height, kernel, false);
}

export interface ErrorFigures {
  /** ||aP - G||^2 / ||G||^2 (a fraction; x100 for %). */
  nmse: number;
  /** 10 log10(max(G)^2 / mean((aP - G)^2)), dB. */
  psnr: number;
}

export interface ImageComparison {
  /** Prediction multiplied by its least-squares factor first. */
  scaled: ErrorFigures;
  /** Prediction as is. */
  unscaled: ErrorFigures;
  /** The least-squares factor a = <P,G>/<P,P> (0 for an all-zero prediction). */
  scale: number;
  /** Blur sigma in output pixels that both images got. */
  sigma: number;
}

function figures(p: Float64Array, g: Float64Array, a: number): ErrorFigures {
  let err2 = 0;
  let g2 = 0;
  let gMax = -Infinity;
  for (let i = 0; i < g.length; i++) {
    const e = a * p[i] - g[i];
    err2 += e * e;
    g2 += g[i] * g[i];
    if (g[i] > gMax) gMax = g[i];
  }
  return { nmse: err2 / g2, psnr: 10 * Math.log10((gMax * gMax) / (err2 / g.length)) };
}

/** E_NON_FINITE_PIXELS when an image holds NaN or +-Infinity: every figure computed from it would be NaN. */
function checkFinite(image: ArrayLike<number>, width: number, name: string): void {
  const i = indexOfNonFinite(image);
  if (i < 0) return;
  const [x, y] = [i % width, Math.floor(i / width)];
  throw new SmlmError('E_NON_FINITE_PIXELS', `the ${name} has a non-finite pixel (${image[i]}) at (x=${x}, y=${y})`, { x, y });
}

/**
 * Compares a prediction with a ground-truth image of the same size (row-major), after blurring both with
 * `sigma` output pixels (0 = no blur). Throws E_BAD_OPTIONS on size mismatch or an all-zero ground truth,
 * E_NON_FINITE_PIXELS when either image holds NaN or infinite values.
 */
export function compareImages(prediction: ArrayLike<number>, groundTruth: ArrayLike<number>, width: number, height: number, sigma = 0): ImageComparison {
  if (prediction.length !== width * height || groundTruth.length !== width * height) {
    throw new SmlmError('E_BAD_OPTIONS', `image sizes differ: prediction ${prediction.length} px, ground truth ${groundTruth.length} px, expected ${width}x${height}`);
  }
  checkFinite(prediction, width, 'prediction');
  checkFinite(groundTruth, width, 'ground truth');
  const p = gaussianBlur(prediction, width, height, sigma);
  const g = gaussianBlur(groundTruth, width, height, sigma);
  let pg = 0;
  let pp = 0;
  let any = false;
  for (let i = 0; i < g.length; i++) {
    pg += p[i] * g[i];
    pp += p[i] * p[i];
    if (g[i] !== 0) any = true;
  }
  if (!any) throw new SmlmError('E_BAD_OPTIONS', 'the ground-truth image is empty (no positions inside the image): NMSE is undefined');
  const scale = pp > 0 ? pg / pp : 0;
  return { scaled: figures(p, g, scale), unscaled: figures(p, g, 1), scale, sigma };
}
