/**
 * Ctrl-C for long commands: the first SIGINT aborts the work between batches (so outputs are never half-written and
 * the backend is closed), and main() then exits with 130, the shell's code for "ended by SIGINT". The listener is
 * removed when the work ends, so a second Ctrl-C while closing kills the process as usual.
 */
export async function withInterrupt<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const onSigint = () => controller.abort();
  process.once('SIGINT', onSigint);
  try {
    return await work(controller.signal);
  } finally {
    process.removeListener('SIGINT', onSigint);
  }
}

/** The exit status after Ctrl-C: 128 + SIGINT (2). */
export const EXIT_INTERRUPTED = 130;
