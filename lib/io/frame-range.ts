import { SmlmError } from '../errors.js';
import type { FrameSource } from './frame-source.js';

/**
 * A range of frames, counted from 1 and inclusive at both ends, as ImageJ shows slices and as ThunderSTORM's `frame`
 * column counts them: { from: 100, to: 5000 } is frames 100..5000 (4901 frames). Either end may be left out.
 */
export interface FrameRange {
  from?: number;
  to?: number;
}

/** Parses "a:b", "a:" or ":b" (1-based, inclusive; "100:5000"). Throws E_BAD_OPTIONS on anything else. */
export function parseFrameRange(text: string): FrameRange {
  const m = /^\s*(\d*)\s*:\s*(\d*)\s*$/.exec(text);
  if (!m || (m[1] === '' && m[2] === '')) throw new SmlmError('E_BAD_OPTIONS', `frame range must be FIRST:LAST (1-based, inclusive, either may be left out), got "${text}"`);
  const range: FrameRange = {};
  if (m[1] !== '') range.from = Number(m[1]);
  if (m[2] !== '') range.to = Number(m[2]);
  checkFrameRange(range);
  return range;
}

/** E_BAD_OPTIONS unless `range` is {from?, to?} with positive integers, from <= to. */
export function checkFrameRange(range: FrameRange): void {
  if (range === null || typeof range !== 'object') throw new SmlmError('E_BAD_OPTIONS', `frames must be { from?, to? }, got ${String(range)}`);
  for (const key of ['from', 'to'] as const) {
    const v = range[key];
    if (v !== undefined && !(Number.isInteger(v) && v >= 1)) throw new SmlmError('E_BAD_OPTIONS', `frames.${key} must be an integer >= 1 (frames count from 1), got ${String(v)}`);
  }
  if (range.from !== undefined && range.to !== undefined && range.from > range.to) {
    throw new SmlmError('E_BAD_OPTIONS', `frames.from (${range.from}) is after frames.to (${range.to})`);
  }
}

/** The 0-based [start, end) of `range` in a stack of `frames` frames; E_BAD_OPTIONS when it starts past the end. */
export function resolveFrameRange(range: FrameRange, frames: number): { start: number; end: number } {
  checkFrameRange(range);
  const start = (range.from ?? 1) - 1;
  // A range running past the end is cut at the end (as "100:" would be): the stack's length is often not known upfront.
  const end = Math.min(range.to ?? frames, frames);
  if (start >= frames) throw new SmlmError('E_BAD_OPTIONS', `frame range starts at frame ${start + 1}, but the stack has ${frames} frames`, { frames });
  return { start, end };
}

/**
 * The frames of `range` of `source`, as a FrameSource of their own. Frames before the range are read and dropped (the
 * FrameSource interface reads in order), reading stops after its last frame.
 */
export function selectFrames(source: FrameSource, range: FrameRange): FrameSource & { firstFrame: number } {
  const { start, end } = resolveFrameRange(range, source.frames);
  const pixels = source.height * source.width;
  return {
    frames: end - start,
    height: source.height,
    width: source.width,
    pixelSizeNm: source.pixelSizeNm,
    firstFrame: start + 1,
    async *chunks(framesPerChunk: number) {
      let at = 0;
      // Read in chunks aligned to the range so each yielded chunk is at most framesPerChunk frames.
      for await (const chunk of source.chunks(framesPerChunk)) {
        const lo = Math.max(start, at);
        const hi = Math.min(end, at + chunk.frames);
        if (hi > lo) {
          yield { ...chunk, data: chunk.data.subarray((lo - at) * pixels, (hi - at) * pixels), frames: hi - lo };
        }
        at += chunk.frames;
        if (at >= end) return;
      }
    },
  };
}
