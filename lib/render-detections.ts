/**
 * Rendering a localization head's `detections` onto the output grid: the one TypeScript statement of the rule the
 * CPU backend, the plan reference executor and the tests use (the CUDA engine implements the same rule in
 * native/kernels/localization_head.cu, in gather form). The rule, from the model contract:
 *
 *   g = the head's grid (detection cells per camera pixel and axis); camera pixel (r, c) holds the g x g cells
 *   (R, C) = (r g + i, c g + j), and cell (R, C)'s raw values are v[f, k g g + i g + j, r, c], k = 0..4
 *   (PixelShuffle's input order);  p = sigmoid(v0);  dx = maxOffset tanh(v1);  dy = maxOffset tanh(v2)  (cell units)
 *   muX = (C + 0.5 + dx) u/g,  muY = (R + 0.5 + dy) u/g   (fine pixel j covers [j, j+1) in fine units, u = upsampling)
 *   p < minProbability: skipped.
 *   sigma S == 0: p into fine pixel (floor(muY), floor(muX)) when inside the image.
 *   S > 0: for X in floor(muX) +- R, wx(X) = Phi((X + 1 - muX)/S) - Phi((X - muX)/S), divided by the window's sum
 *          (each detection's weights sum to 1 before the image border clips them); wy likewise;
 *          map[Y, X] += p wx(X) wy(Y) for Y, X inside the image.
 *   S "predicted" (sigmaRange [lo, hi]): as S > 0 with the detection's own widths per axis,
 *          Sx = clamp((0.01 + 3 sigmoid(v3)) u/g, lo, hi), Sy likewise from v4 (its predicted uncertainty, fine px);
 *          a detection whose width is not finite is skipped like one whose position is not.
 *   image = sum over frames of the maps, in frame order.
 */
import { cellsPerPixel, type LocalizationHead } from './model/head.js';
// The simulator's erf (Abramowitz & Stegun 7.1.26, |error| < 1.5e-7, below the fp32 rounding of the rendered sums;
// the GPU uses erff): one definition of it in the project.
import { erf } from './simulate/psf.js';

/** The numbers the renderer needs from a model: its head (with its detection grid g) and its upsampling. */
export interface DetectionGrid {
  head: LocalizationHead;
  upsampling: number;
}

/** Standard normal CDF. */
export function phi(x: number): number {
  return 0.5 * (1 + erf(x / Math.SQRT2));
}

export function sigmoid(v: number): number {
  return 1 / (1 + Math.exp(-v));
}

/** A detection's rendering parameters from its raw p, dx, dy values (fine-grid units for mu). */
export interface DecodedDetection {
  p: number;
  muX: number;
  muY: number;
}

/** Decodes the detection of cell (R, C) of the [gH, gW] cell grid; `finePerCell` is u/g. */
export function decodeDetection(v0: number, v1: number, v2: number, R: number, C: number, maxOffset: number, finePerCell: number): DecodedDetection {
  return { p: sigmoid(v0), muX: (C + 0.5 + maxOffset * Math.tanh(v1)) * finePerCell, muY: (R + 0.5 + maxOffset * Math.tanh(v2)) * finePerCell };
}

/**
 * The rendering width of a detection with raw uncertainty value `v` (v3 or v4) when render.sigma is "predicted": its
 * predicted 1-sigma uncertainty (0.01 + 3 sigmoid(v)) cells, on the fine grid (`finePerCell` = u/g), clamped to [lo, hi].
 */
export function predictedRenderSigma(v: number, finePerCell: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, (0.01 + 3 * sigmoid(v)) * finePerCell));
}

/** Values per frame of `detections`: 5 g^2 channels of height x width. */
export function detectionValuesPerFrame(height: number, width: number, head: LocalizationHead): number {
  const g = cellsPerPixel(head);
  return 5 * g * g * height * width;
}

/**
 * Normalized integrated-Gaussian weights of the window floor(mu) - R .. floor(mu) + R along one axis, into `out`
 * (length 2R+1). A window whose weights underflow to a zero sum (only possible for R = 0 with mu at a pixel's right
 * edge and a large sigma) gives its centre pixel the whole weight, as the detection's own pixel.
 */
export function windowWeights(mu: number, sigma: number, radius: number, out: Float64Array): number {
  const first = Math.floor(mu) - radius;
  let sum = 0;
  let lower = phi((first - mu) / sigma);
  for (let k = 0; k <= 2 * radius; k++) {
    const upper = phi((first + k + 1 - mu) / sigma);
    out[k] = upper - lower;
    sum += out[k];
    lower = upper;
  }
  if (sum > 0) {
    for (let k = 0; k <= 2 * radius; k++) out[k] /= sum;
  } else {
    out.fill(0);
    out[radius] = 1;
  }
  return first;
}

/**
 * Renders one frame's detections (`detections` holds count x 5g^2 x height x width raw values; `frame` picks one) into
 * `map` (outH x outW, zeroed here first). Cells are visited row-major over the [gH, gW] cell grid.
 */
export function renderFrame(detections: Float32Array, frame: number, height: number, width: number, grid: DetectionGrid, map: Float32Array): void {
  const u = grid.upsampling;
  const g = cellsPerPixel(grid.head);
  const finePerCell = u / g;
  const outH = height * u;
  const outW = width * u;
  const { sigma, sigmaRange, radius, minProbability } = grid.head.render;
  const predicted = sigma === 'predicted';
  const [lo, hi] = sigmaRange ?? [0, 0];
  const { maxOffset } = grid.head;
  const plane = height * width;
  const cells = g * g;
  const base = frame * 5 * cells * plane;
  const wx = new Float64Array(2 * radius + 1);
  const wy = new Float64Array(2 * radius + 1);
  map.fill(0, 0, outH * outW);
  for (let R = 0; R < height * g; R++) {
    for (let C = 0; C < width * g; C++) {
      const r = Math.floor(R / g);
      const c = Math.floor(C / g);
      // Channel k g^2 + i g + j of camera pixel (r, c) is quantity k of its cell (i, j).
      const at = base + ((R - r * g) * g + (C - c * g)) * plane + r * width + c;
      const d = decodeDetection(detections[at], detections[at + cells * plane], detections[at + 2 * cells * plane], R, C, maxOffset, finePerCell);
      // `!(p >= min)` also skips NaN (as do the finiteness checks): a broken activation must not poison the image.
      if (!(d.p >= minProbability) || !Number.isFinite(d.muX) || !Number.isFinite(d.muY)) continue;
      const sigmaX = predicted ? predictedRenderSigma(detections[at + 3 * cells * plane], finePerCell, lo, hi) : sigma;
      const sigmaY = predicted ? predictedRenderSigma(detections[at + 4 * cells * plane], finePerCell, lo, hi) : sigma;
      // NaN survives the clamp (Math.max/min propagate it): skip such a detection rather than render NaN weights.
      if (!Number.isFinite(sigmaX) || !Number.isFinite(sigmaY)) continue;
      if (sigmaX === 0) {
        const X = Math.floor(d.muX);
        const Y = Math.floor(d.muY);
        if (X >= 0 && X < outW && Y >= 0 && Y < outH) map[Y * outW + X] += d.p;
        continue;
      }
      const x0 = windowWeights(d.muX, sigmaX, radius, wx);
      const y0 = windowWeights(d.muY, sigmaY, radius, wy);
      for (let ky = 0; ky <= 2 * radius; ky++) {
        const Y = y0 + ky;
        if (Y < 0 || Y >= outH) continue;
        const py = d.p * wy[ky];
        for (let kx = 0; kx <= 2 * radius; kx++) {
          const X = x0 + kx;
          if (X >= 0 && X < outW) map[Y * outW + X] += py * wx[kx];
        }
      }
    }
  }
}

/**
 * Renders `count` frames of detections: each frame's map is added into `image` (outH x outW), frames in order, and
 * copied into `frameMaps` from `frameMapsOffset` when given. The image is the same whether or not maps are kept.
 */
export function renderDetections(
  detections: Float32Array,
  count: number,
  height: number,
  width: number,
  grid: DetectionGrid,
  image: Float32Array,
  frameMaps?: Float32Array,
  frameMapsOffset = 0,
): void {
  const outPixels = height * width * grid.upsampling * grid.upsampling;
  const perFrame = detectionValuesPerFrame(height, width, grid.head);
  if (detections.length < count * perFrame) throw new RangeError(`renderDetections: ${detections.length} values, expected ${count} x ${perFrame / (height * width)} x ${height} x ${width}`);
  if (image.length !== outPixels) throw new RangeError(`renderDetections: image has ${image.length} values, expected ${outPixels}`);
  const map = new Float32Array(outPixels);
  for (let f = 0; f < count; f++) {
    renderFrame(detections, f, height, width, grid, map);
    for (let i = 0; i < outPixels; i++) image[i] += map[i];
    frameMaps?.set(map, frameMapsOffset + f * outPixels);
  }
}
