import { InvalidArgumentError } from 'commander';

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
