/**
 * Compiles the sources to dist/ once, before any test file runs. The CLI tests and the lazy-loading test run the
 * compiled code in child processes; when each test file built dist/ itself, one file's build could rewrite a module
 * while another file's child process was loading it (seen as "command.register is not a function"). Where
 * TypeScript is not installed (the GPU host gets dist/ prebuilt from scripts/gpu-host/pack.sh), dist/ is used as is.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './helpers/paths.js';

export default function buildDist(): void {
  const tsc = join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  if (!existsSync(tsc)) return;
  const build = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: REPO_ROOT, encoding: 'utf8' });
  if (build.status !== 0) throw new Error(`tsc failed:\n${build.stdout}${build.stderr}`);
  // The WebAssembly onnxruntime the cpu backend falls back to (vendor/, made by `npm run build` from a devDependency).
  const vendor = spawnSync(process.execPath, [join(REPO_ROOT, 'scripts', 'vendor-onnxruntime-web.mjs')], { cwd: REPO_ROOT, encoding: 'utf8' });
  if (vendor.status !== 0) throw new Error(`scripts/vendor-onnxruntime-web.mjs failed:\n${vendor.stdout}${vendor.stderr}`);
}
