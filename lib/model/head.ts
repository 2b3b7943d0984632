import { SmlmError } from '../errors.js';

/**
 * The model's output head, metadata key `smlm.head` (a JSON object). Absent or {"kind":"maps"}: the network writes
 * `maps` [N,1,uH,uW], clamped at zero and summed over frames. {"kind":"localization", ...}: the network writes
 * `detections` [N,5*g*g,H,W] at camera resolution (raw p, dx, dy, sx, sy of each of the g x g detection cells of a camera
 * pixel, g = `grid`), which smlm-rt renders onto the output grid itself (lib/render-detections.ts says exactly how).
 */
export interface MapsHead {
  kind: 'maps';
}

/** The channel order of `detections`; fixed by the contract, written into the metadata so that a reader can check it. */
export const LOCALIZATION_CHANNELS = ['p', 'dx', 'dy', 'sx', 'sy'] as const;

export interface LocalizationRender {
  /**
   * Gaussian sigma of each detection on the output grid, fine pixels; 0 = all of p into one fine pixel. "predicted":
   * each detection is rendered with its own widths, its predicted uncertainty on the fine grid clamped to sigmaRange
   * (the posterior mean of an emitter's position is spread by its uncertainty, so an uncertain detection renders wider).
   */
  sigma: number | 'predicted';
  /** [lo, hi] fine pixels, 0 < lo <= hi <= 4: the clamp of predicted widths. Required with "predicted", absent otherwise. */
  sigmaRange?: [number, number];
  /** Half-width of the rendering window, whole fine pixels (the window is 2*radius+1 wide). */
  radius: number;
  /** Detections with p below this are not rendered (they cost time and add almost nothing). */
  minProbability: number;
}

export interface LocalizationHead {
  kind: 'localization';
  channels: typeof LOCALIZATION_CHANNELS;
  /** dx = maxOffset * tanh(raw): the largest offset from a detection cell's centre, in cells (camera pixels when g = 1). */
  maxOffset: number;
  /**
   * Detection cells per camera pixel and axis (g): channel k*g*g + i*g + j of `detections` is quantity k of cell (i, j),
   * offsets and sigmas are in cell units. Absent = 1, one detection per camera pixel (kept absent by parse and
   * serialize so that g = 1 models read and write exactly as before the key existed); read it with cellsPerPixel().
   */
  grid?: number;
  render: LocalizationRender;
}

export type ModelHead = MapsHead | LocalizationHead;

/** Ranges accepted for a localization head. Beyond them a model is more likely broken than deliberate. */
export const LOCALIZATION_LIMITS = {
  /** (0, 2]: an offset beyond two camera pixels would mean the detection belongs to another pixel. */
  maxOffset: { above: 0, max: 2 },
  sigma: { min: 0, max: 4 },
  /** Predicted widths are clamped into (0, 4] fine px: a zero width would need the point rule per detection. */
  sigmaRange: { above: 0, max: 4 },
  /** Integer: the GPU gather kernel loops over (2R+1)^2 fine pixels' worth of camera pixels; 8 bounds it. */
  radius: { min: 0, max: 8 },
  /** [0, 1): p is a sigmoid, so a threshold of 1 or more would render nothing. */
  minProbability: { min: 0, below: 1 },
  /** Powers of two up to 8, so that g divides the (power-of-two) upsampling and a cell is whole fine pixels. */
  grid: [1, 2, 4, 8],
} as const;

function reject(key: string, message: string, source: string): SmlmError {
  return new SmlmError('E_MODEL_INVALID', `${source}: metadata "${key}" ${message}`, { source });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function exactKeys(object: Record<string, unknown>, allowed: readonly string[], where: string, key: string, source: string): void {
  const extra = Object.keys(object).filter((k) => !allowed.includes(k));
  if (extra.length) throw reject(key, `has unknown field(s) ${extra.map((k) => `"${k}"`).join(', ')} in ${where} (allowed: ${allowed.join(', ')})`, source);
}

/**
 * Validates the parsed JSON of `smlm.head` strictly (unknown fields, wrong channel order and out-of-range numbers are
 * E_MODEL_INVALID): a model whose head is misread would render plausible-looking but wrong images.
 */
export function parseModelHead(value: unknown, key: string, source: string, upsampling?: number): ModelHead {
  if (!isObject(value)) throw reject(key, 'must be a JSON object', source);
  if (value.kind === 'maps') {
    exactKeys(value, ['kind'], 'the head', key, source);
    return { kind: 'maps' };
  }
  if (value.kind !== 'localization') throw reject(key, `has kind ${JSON.stringify(value.kind)}; expected "maps" or "localization"`, source);
  exactKeys(value, ['kind', 'channels', 'grid', 'maxOffset', 'render'], 'the head', key, source);
  const channels = value.channels;
  if (!Array.isArray(channels) || channels.length !== LOCALIZATION_CHANNELS.length || channels.some((c, i) => c !== LOCALIZATION_CHANNELS[i])) {
    throw reject(key, `channels must be ${JSON.stringify(LOCALIZATION_CHANNELS)}, got ${JSON.stringify(channels)}`, source);
  }
  const { maxOffset } = value;
  if (typeof maxOffset !== 'number' || !(maxOffset > LOCALIZATION_LIMITS.maxOffset.above && maxOffset <= LOCALIZATION_LIMITS.maxOffset.max)) {
    throw reject(key, `maxOffset must be a number in (0, 2] camera pixels, got ${JSON.stringify(maxOffset)}`, source);
  }
  const grid = value.grid === undefined ? 1 : value.grid;
  if (typeof grid !== 'number' || !(LOCALIZATION_LIMITS.grid as readonly number[]).includes(grid)) {
    throw reject(key, `grid must be one of ${LOCALIZATION_LIMITS.grid.join(', ')} detection cells per camera pixel, got ${JSON.stringify(value.grid)}`, source);
  }
  // A cell must be whole fine pixels: the renderers place cell centres at (C + 0.5) * (u / g) fine units.
  if (upsampling !== undefined && upsampling % grid !== 0) {
    throw reject(key, `grid ${grid} must divide the model's upsampling ${upsampling}`, source);
  }
  const render = value.render;
  if (!isObject(render)) throw reject(key, 'render must be an object {"sigma","radius","minProbability"} (and "sigmaRange" with sigma "predicted")', source);
  exactKeys(render, ['sigma', 'sigmaRange', 'radius', 'minProbability'], 'render', key, source);
  const { sigma, radius, minProbability } = render;
  const widths = parseRenderWidths(sigma, render.sigmaRange, key, source);
  if (typeof radius !== 'number' || !Number.isInteger(radius) || radius < LOCALIZATION_LIMITS.radius.min || radius > LOCALIZATION_LIMITS.radius.max) {
    throw reject(key, `render.radius must be an integer 0..8 fine pixels, got ${JSON.stringify(radius)}`, source);
  }
  if (typeof minProbability !== 'number' || !(minProbability >= LOCALIZATION_LIMITS.minProbability.min && minProbability < LOCALIZATION_LIMITS.minProbability.below)) {
    throw reject(key, `render.minProbability must be a number in [0, 1), got ${JSON.stringify(minProbability)}`, source);
  }
  return { kind: 'localization', channels: LOCALIZATION_CHANNELS, ...(value.grid === undefined ? {} : { grid }), maxOffset, render: { ...widths, radius, minProbability } };
}

/** render.sigma and render.sigmaRange: a fixed width without a range, or "predicted" with one. */
function parseRenderWidths(sigma: unknown, sigmaRange: unknown, key: string, source: string): Pick<LocalizationRender, 'sigma' | 'sigmaRange'> {
  if (sigma === 'predicted') {
    const { above, max } = LOCALIZATION_LIMITS.sigmaRange;
    const valid =
      Array.isArray(sigmaRange) && sigmaRange.length === 2 && sigmaRange.every((v) => typeof v === 'number') && sigmaRange[0] > above && sigmaRange[0] <= sigmaRange[1] && sigmaRange[1] <= max;
    if (!valid) throw reject(key, `render.sigmaRange must be [lo, hi] fine pixels with 0 < lo <= hi <= 4 when render.sigma is "predicted", got ${JSON.stringify(sigmaRange)}`, source);
    return { sigma, sigmaRange: [sigmaRange[0], sigmaRange[1]] };
  }
  if (typeof sigma !== 'number' || !(sigma >= LOCALIZATION_LIMITS.sigma.min && sigma <= LOCALIZATION_LIMITS.sigma.max)) {
    throw reject(key, `render.sigma must be a number in [0, 4] fine pixels or "predicted", got ${JSON.stringify(sigma)}`, source);
  }
  if (sigmaRange !== undefined) throw reject(key, `render.sigmaRange is only allowed with render.sigma "predicted" (sigma is ${sigma})`, source);
  return { sigma };
}

/** g, the detection cells per camera pixel and axis, of a localization head (1 when its metadata has no `grid`). */
export function cellsPerPixel(head: LocalizationHead): number {
  return head.grid ?? 1;
}

/** The localization head of a model's metadata, or undefined for a maps model (no head key or kind "maps"). */
export function localizationHeadOf(meta: { head?: ModelHead }): LocalizationHead | undefined {
  return meta.head?.kind === 'localization' ? meta.head : undefined;
}
