#!/usr/bin/env node
// npm's install step for the CUDA addon. Order of preference:
//   1. a prebuilt binary for this platform in prebuilds/ (shipped in the npm package)  -> nothing to do;
//   2. a CUDA compiler on this machine                                                 -> build from source with cmake-js;
//   3. neither                                                                          -> skip: the CPU backend still works.
// A failed source build never fails `npm install`: the addon is optional, and `smlm-rt info` says why it is missing.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const log = (msg) => console.log(`smlm-rt: ${msg}`);

if (process.env.SMLM_RT_SKIP_NATIVE) {
  log('SMLM_RT_SKIP_NATIVE is set: not building the CUDA addon (CPU backend only).');
  process.exit(0);
}

const prebuildDir = join(root, 'prebuilds', `${process.platform}-${process.arch}`);
if (existsSync(prebuildDir) && readdirSync(prebuildDir).some((f) => f.endsWith('.node')) && !process.env.SMLM_RT_BUILD_FROM_SOURCE) {
  log(`using the prebuilt CUDA addon in ${prebuildDir}`);
  process.exit(0);
}

function findNvcc() {
  const candidates = [process.env.CUDACXX, process.env.CUDA_PATH && join(process.env.CUDA_PATH, 'bin', 'nvcc'), '/usr/local/cuda/bin/nvcc'];
  for (const c of candidates) if (c && existsSync(c)) return c;
  const which = spawnSync('sh', ['-c', 'command -v nvcc'], { encoding: 'utf8' });
  return which.status === 0 ? which.stdout.trim() : null;
}

const nvcc = findNvcc();
if (!nvcc) {
  log('no CUDA compiler (nvcc) found: skipping the CUDA addon; the CPU backend works without it.');
  process.exit(0);
}
const cmakeJs = join(root, 'node_modules', 'cmake-js', 'bin', 'cmake-js');
if (!existsSync(cmakeJs)) {
  log('cmake-js is not installed (production install without dev dependencies): skipping the source build of the CUDA addon.');
  process.exit(0);
}
log(`building the CUDA addon with ${nvcc} (this takes a few minutes)...`);
const env = { ...process.env, CUDACXX: nvcc };
const build = spawnSync(process.execPath, [cmakeJs, 'compile', '--out', 'build'], { cwd: root, stdio: 'inherit', env });
if (build.status !== 0) {
  log('the CUDA addon failed to build (see above); continuing with the CPU backend only. `smlm-rt info` reports this.');
}
process.exit(0);
