import { SmlmError } from '../errors.js';

/**
 * Camera pixel sizes (in the sample plane) that a file may plausibly state. Outside this, the calibration is wrong
 * (a 1 nm default, a calibration in the wrong unit, a scanner's dpi) and is reported and ignored rather than trusted.
 */
export const PLAUSIBLE_CAMERA_PIXEL_NM = { min: 10, max: 10_000 } as const;

/** E_BAD_OPTIONS unless `value` is a pixel size in the plausible range. */
export function checkPixelSizeNm(value: unknown, name = 'pixel size'): asserts value is number {
  const { min, max } = PLAUSIBLE_CAMERA_PIXEL_NM;
  if (!(typeof value === 'number' && Number.isFinite(value) && value >= min && value <= max)) {
    throw new SmlmError('E_BAD_OPTIONS', `${name} must be a camera pixel size from ${min} to ${max} nm, got ${String(value)}`);
  }
}

/** The file's pixel size when plausible; otherwise undefined and, for a stated but absurd value, why it was ignored. */
export function plausibleFilePixelSize(fileNm: number | undefined): { pixelSizeNm?: number; ignored?: string } {
  if (fileNm === undefined) return {};
  const { min, max } = PLAUSIBLE_CAMERA_PIXEL_NM;
  if (fileNm >= min && fileNm <= max) return { pixelSizeNm: fileNm };
  return { ignored: `the file's calibration of ${fileNm.toPrecision(4)} nm per camera pixel is outside ${min}..${max} nm and was ignored` };
}
