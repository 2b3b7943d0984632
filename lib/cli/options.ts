import { extname } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { parseFrameRange, type FrameRange } from '../io/frame-range.js';
import { PLAUSIBLE_CAMERA_PIXEL_NM } from '../io/pixel-size.js';
import { gpuOnlyOptionsGiven } from '../options.js';
import { MAX_GAIN_SPREAD_PERCENT, MAX_READ_NOISE_ELECTRONS } from '../simulate/conditions.js';

/** A commander argument parser for integers in [min, max]; a bad value is a usage error (exit code 2). */
export function integerOption(min: number, max: number): (value: string) => number {
  return (value: string) => {
    const n = Number(value);
    if (!/^\s*-?\d+\s*$/.test(value) || !Number.isInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`expected an integer from ${min} to ${max}, got "${value}"`);
    }
    return n;
  };
}

/** A usage error (exit code 2), printed like commander's own. */
function usageError(command: Command, message: string, code: string): never {
  command.error(`error: ${message}`, { exitCode: 2, code: `smlm-rt.${code}` });
}

/**
 * `-o` is the quantitative result, a 32-bit float TIFF. A name ending in .png (or .jpg) would get a TIFF under a PNG
 * name, which viewers then refuse or misread; a PNG in its place would lose the data. So it is refused, pointing at
 * --png, which writes the 8-bit preview.
 */
export function checkOutputIsTiff(output: string, command: Command): void {
  const ext = extname(output).toLowerCase();
  if (['.png', '.jpg', '.jpeg'].includes(ext)) {
    usageError(command, `-o writes a 32-bit float TIFF, not ${ext.slice(1).toUpperCase()}: use -o <name>.tif for the image and --png ${output} for a preview`, 'outputNotTiff');
  }
}

/** --device and --precision choose GPU settings; with --backend cpu they would be ignored, so they are refused. */
export function checkGpuOnlyOptions(opts: { backend: string; device?: number; precision?: string }, command: Command): void {
  const given = gpuOnlyOptionsGiven(opts.backend, opts.device, opts.precision).map((name) => `--${name}`);
  if (given.length > 0) usageError(command, `${given.join(' and ')} only apply to GPU backends; --backend cpu always computes in fp32 on the CPU`, 'gpuOptionOnCpu');
}

/**
 * A commander argument parser for numbers in [min, max]; a bad value is a usage error (exit code 2) that names the
 * quantity (`what`) and its unit.
 */
export function numberOption(min: number, max: number, what: string, unit = ''): (value: string) => number {
  return (value: string) => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n < min || n > max) throw new InvalidArgumentError(`expected ${what} from ${min} to ${max}${unit}, got "${value}"`);
    return n;
  };
}

/** --pixel-size: a camera pixel size in nm, 10..10000. */
export const pixelSizeOption = numberOption(PLAUSIBLE_CAMERA_PIXEL_NM.min, PLAUSIBLE_CAMERA_PIXEL_NM.max, 'a camera pixel size', ' nm');

/** --read-noise <electrons>: a camera's read noise, electrons rms, from 0 to MAX_READ_NOISE_ELECTRONS. */
export const readNoiseOption = numberOption(0, MAX_READ_NOISE_ELECTRONS, 'a read noise in electrons rms');

/** --gain-spread <percent>: an sCMOS chip's pixel gain spread (photo-response non-uniformity), rms %, from 0 to MAX_GAIN_SPREAD_PERCENT. */
export const gainSpreadOption = numberOption(0, MAX_GAIN_SPREAD_PERCENT, 'a pixel gain spread in rms %');

/** --frames first:last (1-based, inclusive; either end may be left out). */
export function frameRangeOption(value: string): FrameRange {
  try {
    return parseFrameRange(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}
