#!/usr/bin/env node
// Builds the CUDA addon with cmake-js from CMakeLists.txt (flags: native/build-config.cmake) and leaves it at
// build/Release/smlm_rt.node, where node-gyp-build looks first. Every way of building goes through here:
// `npm run build:native`, the install step (scripts/install-native.mjs), prebuilds (scripts/prebuild.mjs) and
// node-gyp (binding.gyp's action), so that there is one build description.
//
//   node scripts/build-native.mjs [--out <cmake build dir>] [--archs 90] [--debug] [--no-tensorrt]
//
// --archs (or SMLM_RT_CUDA_ARCHS) narrows the GPU architectures for fast iteration (default: sm_75..sm_90 + PTX).
// --no-tensorrt leaves the TensorRT backend out even where TensorRT is installed (an addon linked to TensorRT needs
// its libraries at load time, so binaries for other machines, i.e. prebuilds, are built without it).
import { spawnSync } from 'node:child_process';
import { accessSync, constants, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, dirname, isAbsolute, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import nativeEnv from '../lib/native/native-env.cjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const log = (msg) => console.log(`smlm-rt: ${msg}`);
const exe = (name) => (process.platform === 'win32' ? `${name}.exe` : name);

/** An executable file? */
function isExecutable(path) {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** The first executable `name` in the folders of env.PATH, or null (what `command -v` finds). */
export function findOnPath(name, env = process.env, executable = isExecutable) {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    if (executable(candidate)) return candidate;
  }
  return null;
}

/**
 * The nvcc to build with, in the order a user expects:
 *   1. CUDACXX, when set (a path, or a name looked up on PATH; it is an error when it names nothing);
 *   2. nvcc on PATH;
 *   3. CUDA_PATH/bin/nvcc, then CUDA_HOME/bin/nvcc, when set (an error when set but holding no nvcc);
 *   4. /usr/local/cuda/bin/nvcc.
 * Returns { path, source } (source says which rule found it), or null when there is no nvcc at all. The build hands
 * that same path to CMake (CMAKE_CUDA_COMPILER), so what is reported is what compiles. `env`, `executable` and
 * `defaultNvcc` are parameters for tests.
 */
export function findNvcc({ env = process.env, executable = isExecutable, defaultNvcc = '/usr/local/cuda/bin/nvcc' } = {}) {
  const cudacxx = env.CUDACXX?.trim();
  if (cudacxx) {
    const path = isAbsolute(cudacxx) || cudacxx.includes('/') ? resolve(cudacxx) : findOnPath(cudacxx, env, executable);
    if (!path || !executable(path)) {
      throw new Error(`CUDACXX is set to "${env.CUDACXX}", which is not an executable file: point it at nvcc, or unset it`);
    }
    return { path, source: 'CUDACXX' };
  }
  const onPath = findOnPath(exe('nvcc'), env, executable);
  if (onPath) return { path: onPath, source: 'PATH' };
  for (const name of ['CUDA_PATH', 'CUDA_HOME']) {
    const dir = env[name]?.trim();
    if (!dir) continue;
    const path = join(dir, 'bin', exe('nvcc'));
    if (!executable(path)) {
      throw new Error(`${name} is set to "${env[name]}", but ${path} is not an executable file: point it at a CUDA toolkit, or unset it`);
    }
    return { path, source: name };
  }
  if (executable(defaultNvcc)) return { path: defaultNvcc, source: 'the default toolkit location' };
  return null;
}

/** The cmake-js CLI as Node resolves it from the package at `dir` (hoisted or not), or null when it is not installed. */
export function resolveCmakeJs(dir = root) {
  try {
    const pkg = createRequire(join(dir, 'package.json')).resolve('cmake-js/package.json');
    const cli = join(dirname(pkg), 'bin', 'cmake-js');
    return existsSync(cli) ? cli : null;
  } catch {
    return null;
  }
}

/**
 * What a source build needs, found: { nvcc, nvccSource, cmakeJs, cmake }. Throws with the reason when something is
 * missing (the first missing thing, in the order a user would install them). `executable` and `defaultNvcc`: see findNvcc.
 */
export function buildPrerequisites({ env = process.env, dir = root, executable = isExecutable, defaultNvcc } = {}) {
  const nvcc = findNvcc({ env, executable, defaultNvcc });
  if (!nvcc) throw new Error('no CUDA compiler (nvcc) found (looked at CUDACXX, PATH, CUDA_PATH, CUDA_HOME and /usr/local/cuda/bin)');
  const cmakeJs = resolveCmakeJs(dir);
  if (!cmakeJs) {
    throw new Error(
      `cmake-js cannot be resolved from ${dir}: a source build needs ${nativeEnv.SOURCE_BUILD_TOOLS.join(', ')} (smlm-rt's devDependencies; in a project: npm install --no-save ${nativeEnv.SOURCE_BUILD_TOOLS.join(' ')})`,
    );
  }
  const cmake = findOnPath(exe('cmake'), env, executable);
  if (!cmake) throw new Error(`CMake (>= 3.20) is not on PATH; nvcc was found (${nvcc.path}): install CMake to build the CUDA addon`);
  return { nvcc: nvcc.path, nvccSource: nvcc.source, cmakeJs, cmake };
}

/** The CUDA compiler an existing CMake build folder was configured with (CMakeCache.txt), or null. */
export function cachedCudaCompiler(outDir) {
  try {
    const match = /^CMAKE_CUDA_COMPILER:[A-Z]+=(.*)$/m.exec(readFileSync(join(outDir, 'CMakeCache.txt'), 'utf8'));
    return match ? match[1].trim() : null;
  } catch {
    return null;
  }
}

/** Runs the build; returns the path of the built addon or throws with the reason. */
export function buildNative({ out = 'build', archs, debug = false, tensorrt = true, stdio = 'inherit' } = {}) {
  const { nvcc, nvccSource, cmakeJs } = buildPrerequisites();
  const config = debug ? 'Debug' : 'Release';
  const outDir = resolve(root, out);
  // CMake is told the same nvcc twice over: CUDACXX for a first configure, CMAKE_CUDA_COMPILER (below) because an
  // existing build folder's cache would otherwise keep the compiler it found first.
  const env = { ...process.env, CUDACXX: nvcc, PATH: `${dirname(nvcc)}${delimiter}${process.env.PATH ?? ''}` };
  if (archs) env.SMLM_RT_CUDA_ARCHS = archs;
  const common = ['--out', outDir, ...(debug ? ['--debug'] : [])];
  // CMake keeps the compiler of a folder's first configure; asked for another one, it deletes its cache and
  // reconfigures without the cmake-js variables (napi.h is then not found). Start such a folder afresh instead.
  const cached = cachedCudaCompiler(outDir);
  if (cached && resolve(cached) !== resolve(nvcc)) {
    log(`${outDir} was configured with ${cached}: configuring it afresh for ${nvcc}`);
    rmSync(join(outDir, 'CMakeCache.txt'), { force: true });
    rmSync(join(outDir, 'CMakeFiles'), { recursive: true, force: true });
  }
  log(`building the CUDA addon with ${nvcc} (from ${nvccSource}; architectures: ${env.SMLM_RT_CUDA_ARCHS || 'all supported'})...`);
  // Configure every time (cheap, and the build below stays incremental): `cmake-js compile` skips configuring an
  // existing build folder, which would keep a previous run's architectures or TensorRT choice.
  const steps = [
    ['configure', ...common, `--CDCMAKE_CUDA_COMPILER=${nvcc}`, `--CDSMLMRT_TENSORRT=${tensorrt ? 'ON' : 'OFF'}`],
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
  // In an installed package nobody rebuilds incrementally: drop CMake's intermediates (about 33 MB), keep the addon.
  if (nativeEnv.isInstalledPackage(root)) removeAllBut(join(root, 'build'), target);
  log(`built ${target}`);
  return target;
}

/** Deletes everything under `dir` except the file `keep` (and the folders leading to it). */
function removeAllBut(dir, keep) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (path === keep) continue;
    if (entry.isDirectory() && keep.startsWith(path + sep)) removeAllBut(path, keep);
    else rmSync(path, { recursive: true, force: true });
  }
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
