import { describe, expect, it } from 'vitest';
import { createProgressReporter, formatDuration, formatProgressLine, progressRates } from '../lib/cli/progress.js';

function fakeStream(isTTY: boolean) {
  const writes: string[] = [];
  return { writes, stream: { isTTY, columns: 100, write: (t: string) => writes.push(t) } };
}

describe('progress formatting', () => {
  it('durations', () => {
    expect(formatDuration(850)).toBe('850 ms');
    expect(formatDuration(12_400)).toBe('12 s');
    expect(formatDuration(125_000)).toBe('2 min 5 s');
    expect(formatDuration(3_723_000)).toBe('1 h 2 min');
    expect(formatDuration(Number.NaN)).toBe('?');
  });

  it('rates and ETA', () => {
    expect(progressRates(50, 200, 2000)).toEqual({ framesPerSecond: 25, etaMs: 6000 });
    expect(Number.isNaN(progressRates(0, 10, 0).etaMs)).toBe(true);
  });

  it('a line with frames, percent, frames/s and ETA, optionally a bar', () => {
    expect(formatProgressLine(50, 200, 2000)).toBe('frames 50/200 (25%)  25.0 frames/s  ETA 6 s');
    expect(formatProgressLine(200, 200, 8000)).toBe('frames 200/200 (100%)  25.0 frames/s  done in 8 s');
    expect(formatProgressLine(5, 10, 1000, 10)).toBe('[#####-----] frames 5/10 (50%)  5.0 frames/s  ETA 1 s');
  });
});

describe('progress reporter', () => {
  it('piped: one plain line per 10 % step, no carriage returns', () => {
    const { writes, stream } = fakeStream(false);
    let t = 0;
    const reporter = createProgressReporter(stream, () => t);
    for (let done = 1; done <= 100; done++) {
      t += 10;
      reporter.update({ framesDone: done, framesTotal: 100 });
    }
    reporter.finish();
    expect(writes.every((w) => w.endsWith('\n') && !w.includes('\r'))).toBe(true);
    expect(writes).toHaveLength(11); // 0 % (first frame) .. 100 %
    expect(writes.at(-1)).toContain('frames 100/100 (100%)');
  });

  it('terminal: redraws one line at most every 100 ms, always the final state, then a newline', () => {
    const { writes, stream } = fakeStream(true);
    let t = 0;
    const reporter = createProgressReporter(stream, () => t);
    for (let done = 1; done <= 50; done++) {
      t += 20;
      reporter.update({ framesDone: done, framesTotal: 50 });
    }
    reporter.finish();
    const draws = writes.filter((w) => w.startsWith('\r'));
    expect(draws.length).toBeLessThanOrEqual(12);
    expect(draws.at(-1)).toContain('frames 50/50 (100%)');
    expect(draws.at(-1)).toContain('[');
    expect(writes.at(-1)).toBe('\n');
  });
});
