import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from './paths.js';

const CLI = join(REPO_ROOT, 'dist', 'lib', 'cli', 'main.js');

/**
 * Runs the CLI with `args` and sends it Ctrl-C (SIGINT) once, as soon as its progress line shows; a second Ctrl-C is
 * left to kill the process, as in a shell. Resolves with the exit code and stderr.
 */
export async function interruptAtProgress(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args], { env });
  let stderr = '';
  let interrupted = false;
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    if (!interrupted && stderr.includes('frames ')) {
      interrupted = true;
      child.kill('SIGINT');
    }
  });
  const code = await new Promise<number | null>((done) => child.on('close', done));
  return { code, stderr };
}
