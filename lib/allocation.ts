/**
 * Large buffers (the output image, kept frame maps, whole stacks) are allocated here, so that one that cannot exist
 * fails with a typed error saying how many bytes it needed instead of a raw RangeError. Typed arrays are committed
 * lazily: an array far beyond physical memory may be created, and the process then swaps or is killed while filling
 * it. So besides what the platform refuses, any array over half of this machine's memory (os.totalmem()) is refused.
 */
import { totalmem } from 'node:os';
import { SmlmError, type SmlmErrorCode } from './errors.js';

/** The share of this machine's memory that one array may take at most ("half" in the messages below). */
const MAX_SHARE_OF_MEMORY = 0.5;

/** The most bytes one buffer may take here: half of this machine's memory. */
export function maxArrayBytes(): number {
  return totalmem() * MAX_SHARE_OF_MEMORY;
}

interface TypedArrayType<T> {
  new (length: number): T;
  readonly BYTES_PER_ELEMENT: number;
}

/** Bytes for people: 512 B, 64.0 KiB, 19.5 GiB, 2.33 TiB. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toPrecision(3)} ${units[unit]}`;
}

function allocationError(code: SmlmErrorCode, what: string, bytes: number, why: string, hint: string | undefined, cause?: unknown): SmlmError {
  return new SmlmError(code, `cannot allocate ${what}: ${formatBytes(bytes)} is more than ${why}${hint ? `; ${hint}` : ''}`, { bytes }, { cause });
}

/**
 * allocateArray's size check without allocating (for a buffer a backend session allocates later, checked before any
 * work): the same error when `length` elements would take more than half of this machine's memory; returns the bytes.
 */
export function checkArrayFits(Type: { readonly BYTES_PER_ELEMENT: number }, length: number, code: SmlmErrorCode, what: string, hint?: string): number {
  const bytes = length * Type.BYTES_PER_ELEMENT;
  if (!(bytes <= maxArrayBytes())) throw allocationError(code, what, bytes, `half of this machine's memory (${formatBytes(totalmem())})`, hint);
  return bytes;
}

/**
 * A zeroed typed array of `length` elements, or SmlmError(`code`) naming `what` (a noun phrase, e.g. "the 512 x 512
 * px output image"), the bytes needed, and `hint` when given; details carry `bytes`.
 */
export function allocateArray<T>(Type: TypedArrayType<T>, length: number, code: SmlmErrorCode, what: string, hint?: string): T {
  const bytes = checkArrayFits(Type, length, code, what, hint);
  try {
    return new Type(length);
  } catch (err) {
    if (err instanceof RangeError) throw allocationError(code, what, bytes, `one array can hold here (${err.message})`, hint, err);
    throw err;
  }
}

/**
 * How many frames of `bytesPerFrame` to hold at once: at most `maxFrames` and at most `maxBytes` together, but
 * always at least one (a single frame larger than `maxBytes` still goes, alone).
 */
export function framesWithin(bytesPerFrame: number, maxBytes: number, maxFrames: number): number {
  return Math.max(1, Math.min(maxFrames, Math.floor(maxBytes / bytesPerFrame)));
}
