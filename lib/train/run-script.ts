/** Runs the training script as a child process, streaming its output, stoppable with an AbortSignal. */
import { spawn } from 'node:child_process';
import { SmlmError } from '../errors.js';

/** The training script's exit codes (CONTRACT: 0 ok, 2 usage, 3 no CUDA GPU / no torch). */
const EXIT_USAGE = 2;
const EXIT_NO_GPU = 3;

export interface ScriptRun {
  python: string;
  script: string;
  args: string[];
  /** Receives the script's output as it comes (default: its stdout to ours, its stderr to ours). */
  onStdout?: (text: string) => void;
  onStderr?: (text: string) => void;
  signal?: AbortSignal;
}

/** Keeps the last `max` characters written, for the error message of a failed run. */
function tail(max: number): { add(text: string): void; text(): string } {
  let buf = '';
  return {
    add(text: string) {
      buf = (buf + text).slice(-max);
    },
    text: () => buf.trim(),
  };
}

export function runTrainingScript(run: ScriptRun): Promise<void> {
  const onStdout = run.onStdout ?? ((t: string) => process.stdout.write(t));
  const onStderr = run.onStderr ?? ((t: string) => process.stderr.write(t));
  return new Promise((resolve, reject) => {
    if (run.signal?.aborted) return reject(new SmlmError('E_ABORTED', 'training aborted by the caller'));
    const child = spawn(run.python, [run.script, ...run.args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const last = tail(2000);
    child.stdout.on('data', (d: Buffer) => {
      last.add(d.toString());
      onStdout(d.toString());
    });
    child.stderr.on('data', (d: Buffer) => {
      last.add(d.toString());
      onStderr(d.toString());
    });
    const abort = () => child.kill('SIGINT');
    run.signal?.addEventListener('abort', abort, { once: true });
    child.on('error', (err) => {
      run.signal?.removeEventListener('abort', abort);
      reject(new SmlmError('E_BACKEND_UNAVAILABLE', `cannot run ${run.python} ${run.script} (${(err as NodeJS.ErrnoException).code ?? String(err)})`, { python: run.python }));
    });
    child.on('close', (code, signalName) => {
      run.signal?.removeEventListener('abort', abort);
      if (run.signal?.aborted) return reject(new SmlmError('E_ABORTED', 'training aborted by the caller'));
      if (code === 0) return resolve();
      const lastLine = last.text().split('\n').at(-1) ?? '';
      const what = `${run.script} ${code === null ? `was killed by ${signalName}` : `exited with ${code}`}${lastLine ? `: ${lastLine}` : ''}`;
      if (code === EXIT_NO_GPU) return reject(new SmlmError('E_BACKEND_UNAVAILABLE', what, { exitCode: code }));
      if (code === EXIT_USAGE) return reject(new SmlmError('E_BAD_OPTIONS', what, { exitCode: code }));
      reject(new SmlmError('E_TRAINING_FAILED', what, { exitCode: code, output: last.text() }));
    });
  });
}
