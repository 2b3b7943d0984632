/**
 * Non-uniform background of the independent simulator, in expected photons per pixel: a smooth linear gradient in a
 * random direction plus a low-frequency haze (a few plane waves of at most two cycles per field), rescaled so the
 * field's mean is the requested level. Real widefield backgrounds (out-of-focus fluorescence, uneven illumination)
 * look like this; the main simulator's background is flat.
 */
import { SmlmError } from '../errors.js';
import type { IndependentRng } from './rng.js';

export interface BackgroundOptions {
  /** Mean over the field, photons per pixel. */
  meanPhotons: number;
  /** Relative amplitude of the gradient: the field's corners differ from the mean by up to this fraction. */
  gradient: number;
  /** Relative amplitude of the haze: its extremes differ from the mean by up to this fraction. */
  haze: number;
  /** Relative standard deviation of a per-frame multiplier of the whole map (illumination flicker). */
  flicker: number;
}

/** Plane waves summed into the haze. */
const HAZE_WAVES = 4;

/** Draws the background map (height x width, row-major, photons per pixel, mean `meanPhotons`, never negative). */
export function drawBackgroundMap(rng: IndependentRng, width: number, height: number, o: BackgroundOptions): Float64Array {
  for (const [name, v] of Object.entries(o)) {
    if (!(Number.isFinite(v) && v >= 0)) throw new SmlmError('E_BAD_OPTIONS', `background ${name} must be a finite number >= 0, got ${v}`);
  }
  const n = width * height;
  const ramp = new Float64Array(n);
  const haze = new Float64Array(n);
  const angle = rng.between(0, 2 * Math.PI);
  const [gx, gy] = [Math.cos(angle) / Math.SQRT2, Math.sin(angle) / Math.SQRT2];
  const waves = Array.from({ length: HAZE_WAVES }, () => ({
    fx: rng.between(-2, 2) / width,
    fy: rng.between(-2, 2) / height,
    phase: rng.between(0, 2 * Math.PI),
    amp: rng.between(0.3, 1),
  }));
  let hazeMax = 0;
  for (let r = 0; r < height; r++) {
    for (let c = 0; c < width; c++) {
      const i = r * width + c;
      // Coordinates in [-1, 1] over the field; |gx X + gy Y| <= 1.
      ramp[i] = gx * ((2 * (c + 0.5)) / width - 1) + gy * ((2 * (r + 0.5)) / height - 1);
      let h = 0;
      for (const w of waves) h += w.amp * Math.cos(2 * Math.PI * (w.fx * (c + 0.5) + w.fy * (r + 0.5)) + w.phase);
      haze[i] = h;
      hazeMax = Math.max(hazeMax, Math.abs(h));
    }
  }
  const map = new Float64Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    map[i] = Math.max(0.05, 1 + o.gradient * ramp[i] + (hazeMax > 0 ? (o.haze * haze[i]) / hazeMax : 0));
    sum += map[i];
  }
  const scale = n > 0 ? (o.meanPhotons * n) / sum : 0;
  for (let i = 0; i < n; i++) map[i] *= scale;
  return map;
}

/** This frame's multiplier of the map: 1 + flicker N(0,1), never below 0. */
export function drawFlicker(rng: IndependentRng, o: BackgroundOptions): number {
  return o.flicker > 0 ? Math.max(0, 1 + o.flicker * rng.gaussian()) : 1;
}
