import { InvalidArgumentError } from 'commander';
import { parseFrameRange, type FrameRange } from '../io/frame-range.js';
import { PLAUSIBLE_CAMERA_PIXEL_NM } from '../io/pixel-size.js';

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

/** --pixel-size: a camera pixel size in nm, 10..10000 (usage error otherwise). */
export function pixelSizeOption(value: string): number {
  const n = Number(value);
  const { min, max } = PLAUSIBLE_CAMERA_PIXEL_NM;
  if (value.trim() === '' || !Number.isFinite(n) || n < min || n > max) throw new InvalidArgumentError(`expected a camera pixel size from ${min} to ${max} nm, got "${value}"`);
  return n;
}

/** --frames first:last (1-based, inclusive; either end may be left out). */
export function frameRangeOption(value: string): FrameRange {
  try {
    return parseFrameRange(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}
