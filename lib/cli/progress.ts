/**
 * Progress output for the CLI: a redrawn bar on a terminal, plain lines (every 10 %) when piped to a file or CI log,
 * where carriage returns would garble the output.
 */
import type { Progress } from '../types.js';

/** "2 min 5 s", "850 ms": short human durations for ETAs and summaries. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '?';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** Frames per second and seconds left, from frames done and time spent; ETA unknown until a frame is done. */
export function progressRates(done: number, total: number, elapsedMs: number): { framesPerSecond: number; etaMs: number } {
  const framesPerSecond = elapsedMs > 0 ? (done * 1000) / elapsedMs : 0;
  const etaMs = framesPerSecond > 0 ? ((total - done) / framesPerSecond) * 1000 : Number.NaN;
  return { framesPerSecond, etaMs };
}

/** "frames 120/361 (33%)  45.2 frames/s  ETA 5 s", optionally led by a bar of `barWidth` cells. */
export function formatProgressLine(done: number, total: number, elapsedMs: number, barWidth = 0): string {
  const fraction = total > 0 ? done / total : 1;
  const { framesPerSecond, etaMs } = progressRates(done, total, elapsedMs);
  const filled = Math.round(fraction * barWidth);
  const bar = barWidth > 0 ? `[${'#'.repeat(filled)}${'-'.repeat(barWidth - filled)}] ` : '';
  const eta = done >= total ? `done in ${formatDuration(elapsedMs)}` : `ETA ${formatDuration(etaMs)}`;
  return `${bar}frames ${done}/${total} (${Math.floor(fraction * 100)}%)  ${framesPerSecond.toFixed(1)} frames/s  ${eta}`;
}

export interface ProgressReporter {
  update(progress: Progress): void;
  /** Ends the bar's line (TTY) or prints the last line if it was not printed yet. */
  finish(): void;
}

export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/** A reporter writing to `stream` (normally stderr, so stdout stays clean for results). */
export function createProgressReporter(stream: ProgressStream, now: () => number = () => performance.now()): ProgressReporter {
  const start = now();
  const tty = stream.isTTY === true;
  let lastDraw = -Infinity;
  let lastDecile = -1;
  let last: Progress | undefined;
  let drawnLast = false;
  const draw = (p: Progress) => {
    const elapsed = now() - start;
    if (tty) {
      const barWidth = Math.max(10, Math.min(30, (stream.columns ?? 80) - 60));
      stream.write(`\r${formatProgressLine(p.framesDone, p.framesTotal, elapsed, barWidth)}\x1b[K`);
    } else {
      stream.write(`${formatProgressLine(p.framesDone, p.framesTotal, elapsed)}\n`);
    }
  };
  return {
    update(p) {
      last = p;
      if (tty) {
        const t = now();
        // Redraw at most 10 times a second; always draw the final state.
        if (t - lastDraw >= 100 || p.framesDone >= p.framesTotal) {
          lastDraw = t;
          draw(p);
          drawnLast = true;
        } else {
          drawnLast = false;
        }
        return;
      }
      const decile = p.framesTotal > 0 ? Math.floor((10 * p.framesDone) / p.framesTotal) : 10;
      if (decile > lastDecile) {
        lastDecile = decile;
        draw(p);
        drawnLast = true;
      } else {
        drawnLast = false;
      }
    },
    finish() {
      if (last && !drawnLast) draw(last);
      if (tty && last) stream.write('\n');
    },
  };
}
