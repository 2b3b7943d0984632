import { expect } from 'vitest';
import { isSmlmError, type SmlmError } from '../../lib/errors.js';

/** Runs `fn`, expects it to throw E_MODEL_INVALID whose message holds every fragment, and returns that error. */
export function expectModelInvalid(fn: () => unknown, ...fragments: string[]): SmlmError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(isSmlmError(caught, 'E_MODEL_INVALID'), String(caught)).toBe(true);
  for (const f of fragments) expect((caught as SmlmError).message).toContain(f);
  return caught as SmlmError;
}
