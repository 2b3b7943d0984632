import { SmlmError } from '../../lib/errors.js';
import type { Stack } from '../../lib/types.js';

/** Frames first..first+count-1 of a stack, as a view of its data. */
export function framesOf(stack: Stack, first: number, count: number): Stack {
  const pixels = stack.height * stack.width;
  return { ...stack, frames: count, data: stack.data.subarray(first * pixels, (first + count) * pixels) };
}

/** What a promise rejects with; a promise that resolves fails the test. */
export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

/** The SmlmError a promise rejects with; resolving, or rejecting with anything else, fails the test. */
export async function smlmRejection(promise: Promise<unknown>): Promise<SmlmError> {
  const err = await rejection(promise);
  if (err instanceof SmlmError) return err;
  throw err;
}
