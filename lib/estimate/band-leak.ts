/**
 * The emitters' light that reaches the fine-detail filter's band (highpass-noise.ts), measured from the frames'
 * fluctuation spectrum rather than predicted from a PSF model.
 *
 * Why: a PSF narrower than 0.9 camera px puts some of the emitters' light near 0.5 cycles/px, where the filter looks
 * for the camera's noise, and that light raises the noise line's slope. How much depends on the PSF's shape, not only
 * its width. A pixel-integrated Gaussian of the fitted width predicted +7 to +8 % of the slope at sigma 0.78 px and
 * was right for Gaussian PSFs (lib/simulate: +6.5 to +13 % needed over 4 seeds), but an optical PSF's spectrum ends
 * at 2 NA / lambda: the independent simulator's Airy PSF at 160 nm needed -1 to +4 %, and taking the Gaussian's share
 * off read that camera's gain ~7 % low, its background (which goes as 1 / gain^2) up to 27 % high.
 *
 * How: a Welch periodogram (Hann-windowed blocks of BLOCK px, half overlapping) of each frame's departure from its
 * pixels' temporal means. The camera's noise is white (pixels independent; an sCMOS chip's pixel gain spread times
 * the emitters' light too, which the line's own term takes), the emitters' light is not: its power falls with
 * frequency. The noise floor is the spectrum's mean beyond FLOOR_RADIUS cycles/px, near the corner (0.5, 0.5), where
 * a Gaussian PSF's power has fallen as exp(-4 pi^2 sigma^2 f^2) (at sigma 0.72 px to 1/5600 of its level at f = 0)
 * and an optical one's to nothing once its cutoff lies below it (the independent simulator's 160 nm stacks, NA 1.2
 * and 680 nm: 0.56 cycles/px). What the filter's band passes of the rest, sum |H(f)|^2 (S(f) - floor) / sum |H(f)|^2,
 * is what a tile's filtered variance gains from the emitters' light; over the mean level above the background, the
 * slope it adds.
 * Measured on 160 nm stacks without gain spread (200 frames of 48x48 px, 4 seeds each), against the slope the
 * line needed (its slope less the true gain): Gaussian PSF 0.131 / 0.222 / 0.136 / 0.263 ADU per ADU needed, 0.199 /
 * 0.229 / 0.176 / 0.170 measured (the model predicted 0.168 for all); Airy PSF 0.075 / -0.023 / 0.016 / 0.062
 * needed, 0.029 / -0.018 / 0.019 / 0.058 measured (the model 0.138).
 * For sampled PSFs (sigma >= 0.9 px, filter order 6) the leak is negligible (the Gaussian predicts 0.005) and its
 * measurement only noise (-0.05 to +0.08 on 107 nm stacks, the wide band holding much of the light): estimate.ts
 * measures it only for the narrow band of undersampled PSFs.
 */

export interface BandLeak {
  /** What the emitters' light adds to the noise line's slope (ADU^2 per ADU above the background). */
  excessSlope: number;
  /** The band's share of the emitters' light, as the filter's normalised variance sees it, ADU^2. */
  bandSignalAdu2: number;
  /** The white noise floor of the fluctuations (mean pixel variance, window-weighted), ADU^2. */
  floorAdu2: number;
  /** The window-weighted mean level the band's light stands against, ADU. */
  levelAdu: number;
}

/** Block side (a power of two) and the radius (cycles/px) beyond which the spectrum is taken as the noise floor. */
const BLOCK = 32;
const FLOOR_RADIUS = 0.65;
/** At most this many block-frames enter the periodogram (a 256x256 camera's 300 frames would give 67,500). */
const MAX_BLOCK_FRAMES = 16384;
/** Fewest floor bins per block (a 16 px block has 3): fewer say too little about the floor. */
const MIN_FLOOR_BINS = 3;

/** In-place radix-2 FFT of n (a power of two) complex values of (re, im), `stride` apart from `offset`. */
function fft(re: Float64Array, im: Float64Array, n: number, offset: number, stride: number): void {
  for (let i = 1, j = 0; i < n; i++) {
    let bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      const a = offset + i * stride;
      const b = offset + j * stride;
      const r = re[a];
      re[a] = re[b];
      re[b] = r;
      const m = im[a];
      im[a] = im[b];
      im[b] = m;
    }
  }
  for (let len = 2; len <= n; len <<= 1) {
    const angle = (-2 * Math.PI) / len;
    for (let start = 0; start < n; start += len) {
      for (let k = 0; k < len / 2; k++) {
        const wr = Math.cos(angle * k);
        const wi = Math.sin(angle * k);
        const a = offset + (start + k) * stride;
        const b = offset + (start + k + len / 2) * stride;
        const xr = re[b] * wr - im[b] * wi;
        const xi = re[b] * wi + im[b] * wr;
        re[b] = re[a] - xr;
        im[b] = im[a] - xi;
        re[a] += xr;
        im[a] += xi;
      }
    }
  }
}

/** Block corners along one axis: every half block, and one flush with the far edge. */
function blockStarts(length: number, block: number): number[] {
  const starts: number[] = [];
  for (let s = 0; s + block <= length; s += block / 2) starts.push(s);
  if (starts[starts.length - 1] + block < length) starts.push(length - block);
  return starts;
}

/**
 * The emitters' light in the band of the separable high-pass (1 - z^-1)^order (highpass-noise.ts), measured. Frames:
 * float64 ADU, row-major, all width x height; backgroundAdu: the background level (baseline included). Undefined when
 * the frames are too few or too small, or the mean level is not above the background.
 */
export function bandLeak(frames: Float64Array[], width: number, height: number, order: number, backgroundAdu: number): BandLeak | undefined {
  const nT = frames.length;
  let block = BLOCK;
  while (block > Math.min(width, height)) block >>= 1;
  if (nT < 3 || block < 16) return undefined;
  const n = width * height;
  const mean = new Float64Array(n);
  for (const f of frames) for (let i = 0; i < n; i++) mean[i] += f[i] / nT;
  const window = new Float64Array(block * block);
  let windowSquares = 0;
  for (let r = 0; r < block; r++) {
    for (let c = 0; c < block; c++) {
      const w = Math.sin((Math.PI * (r + 0.5)) / block) ** 2 * Math.sin((Math.PI * (c + 0.5)) / block) ** 2;
      window[r * block + c] = w;
      windowSquares += w * w;
    }
  }
  const corners: [number, number][] = [];
  for (const r of blockStarts(height, block)) for (const c of blockStarts(width, block)) corners.push([r, c]);
  const frameStride = Math.max(1, Math.ceil((corners.length * nT) / MAX_BLOCK_FRAMES));

  const power = new Float64Array(block * block);
  const re = new Float64Array(block * block);
  const im = new Float64Array(block * block);
  let level = 0;
  let levelWeight = 0;
  let blockFrames = 0;
  for (const [r0, c0] of corners) {
    for (let r = 0; r < block; r++) {
      for (let c = 0; c < block; c++) {
        const w2 = window[r * block + c] ** 2;
        level += w2 * mean[(r0 + r) * width + c0 + c];
        levelWeight += w2;
      }
    }
    for (let t = 0; t < nT; t += frameStride) {
      const f = frames[t];
      for (let r = 0; r < block; r++) {
        for (let c = 0; c < block; c++) {
          const i = (r0 + r) * width + c0 + c;
          re[r * block + c] = (f[i] - mean[i]) * window[r * block + c];
          im[r * block + c] = 0;
        }
      }
      for (let r = 0; r < block; r++) fft(re, im, block, r * block, 1);
      for (let c = 0; c < block; c++) fft(re, im, block, c, block);
      for (let i = 0; i < power.length; i++) power[i] += re[i] * re[i] + im[i] * im[i];
      blockFrames++;
    }
  }
  // In variance units: white noise of variance v gives v in every bin (the temporal mean removed keeps (T - 1) / T).
  const scale = 1 / (blockFrames * windowSquares * ((nT - 1) / nT));
  let floor = 0;
  let floorBins = 0;
  let passed = 0;
  let response = 0;
  const frequency = (k: number) => Math.min(k, block - k) / block;
  for (let l = 0; l < block; l++) {
    for (let k = 0; k < block; k++) {
      if (Math.hypot(frequency(k), frequency(l)) < FLOOR_RADIUS) continue;
      floor += power[l * block + k] * scale;
      floorBins++;
    }
  }
  if (floorBins < MIN_FLOOR_BINS) return undefined;
  floor /= floorBins;
  for (let l = 0; l < block; l++) {
    for (let k = 0; k < block; k++) {
      const h = (2 * Math.sin((Math.PI * k) / block)) ** (2 * order) * (2 * Math.sin((Math.PI * l) / block)) ** (2 * order);
      passed += h * (power[l * block + k] * scale - floor);
      response += h;
    }
  }
  const bandSignalAdu2 = passed / response;
  const levelAdu = level / levelWeight;
  if (!(levelAdu > backgroundAdu)) return undefined;
  return { excessSlope: bandSignalAdu2 / (levelAdu - backgroundAdu), bandSignalAdu2, floorAdu2: floor, levelAdu };
}
