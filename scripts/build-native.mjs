#!/usr/bin/env node
// Builds the CUDA addon with cmake-js from CMakeLists.txt (flags: native/build-config.cmake) and leaves it at
// build/Release/smlm_rt.node, where node-gyp-build looks first. Every way of building goes through here:
// `npm run build:native`, the install step (scripts/install-native.mjs), prebuilds (scripts/prebuild.mjs) and
// node-gyp (binding.gyp's action), so that there is one build description.
//
//   node scripts/build-native.mjs [--out <cmake build dir>] [--archs 90] [--debug] [--no-tensorrt]
//
// --archs (or SMLMRT_CUDA_ARCHS) narrows the GPU architectures for fast iteration (default: sm_75..sm_90 + PTX).
// --no-tensorrt leaves the TensorRT backend out even where TensorRT is installed (an addon linked to TensorRT needs
// its libraries at load time, so binaries for other machines, i.e. prebuilds, are built without it).
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const log = (msg) => console.log(`smlm-rt: ${msg}`);

/** nvcc from CUDACXX, CUDA_PATH, the default toolkit location or PATH; null when there is none. */
export function findNvcc() {
  const candidates = [
    process.env.CUDACXX,
    process.env.CUDA_PATH && join(process.env.CUDA_PATH, 'bin', 'nvcc'),
    process.env.CUDA_HOME && join(process.env.CUDA_HOME, 'bin', 'nvcc'),
    '/usr/local/cuda/bin/nvcc',
  ];
  for (const candidate of candidates) if (candidate && existsSync(candidate)) return candidate;
  const which = spawnSync('sh', ['-c', 'command -v nvcc'], { encoding: 'utf8' });
  return which.status === 0 ? which.stdout.trim() : null;
}

/** Runs the build; returns the path of the built addon or throws with the reason. */
export function buildNative({ out = 'build', archs, debug = false, tensorrt = true, stdio = 'inherit' } = {}) {
  const nvcc = findNvcc();
  if (!nvcc) throw new Error('no CUDA compiler (nvcc) found: install the CUDA toolkit or set CUDACXX');
  const cmakeJs = join(root, 'node_modules', 'cmake-js', 'bin', 'cmake-js');
  if (!existsSync(cmakeJs)) throw new Error('cmake-js is not installed (a production install without dev dependencies)');
  const config = debug ? 'Debug' : 'Release';
  const outDir = resolve(root, out);
  const env = { ...process.env, CUDACXX: nvcc, PATH: `${dirname(nvcc)}:${process.env.PATH ?? ''}` };
  if (archs) env.SMLMRT_CUDA_ARCHS = archs;
  const common = ['--out', outDir, ...(debug ? ['--debug'] : [])];
  log(`building the CUDA addon with ${nvcc} (architectures: ${env.SMLMRT_CUDA_ARCHS || 'all supported'})...`);
  // Configure every time (cheap, and the build below stays incremental): `cmake-js compile` skips configuring an
  // existing build folder, which would keep a previous run's architectures or TensorRT choice.
  const steps = [
    ['configure', ...common, `--CDSMLMRT_TENSORRT=${tensorrt ? 'ON' : 'OFF'}`],
    ['build', ...common],
  ];
  for (const step of steps) {
    const result = spawnSync(process.execPath, [cmakeJs, ...step], { cwd: root, stdio, env });
    if (result.status !== 0) throw new Error(`cmake-js ${step[0]} failed (exit ${result.status ?? result.signal})`);
  }
  const built = join(outDir, config, 'smlm_rt.node');
  if (!existsSync(built)) throw new Error(`the build finished but ${built} is missing`);
  // node-gyp-build loads build/Release/*.node (or build/Debug): put the addon there whatever --out was.
  const target = join(root, 'build', config, 'smlm_rt.node');
  if (resolve(built) !== resolve(target)) {
    mkdirSync(dirname(target), { recursive: true });
    copyFileSync(built, target);
  }
  log(`built ${target}`);
  return target;
}

if (resolve(process.argv[1] ?? '') === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: { out: { type: 'string' }, archs: { type: 'string' }, debug: { type: 'boolean' }, 'no-tensorrt': { type: 'boolean' } },
  });
  try {
    buildNative({ out: values.out, archs: values.archs, debug: values.debug, tensorrt: !values['no-tensorrt'] });
  } catch (err) {
    console.error(`smlm-rt: ${err.message}`);
    process.exit(1);
  }
}
