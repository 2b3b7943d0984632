#!/usr/bin/env node
// npm's install step for the CUDA addon (also what `npm rebuild smlm-rt` runs). Order of preference:
//   1. a prebuilt binary for this platform in prebuilds/ (shipped in the npm package)  -> nothing to do;
//   2. what a source build needs (nvcc, CMake, cmake-js) on this machine               -> build from source (build-native.mjs);
//   3. neither                                                                          -> skip, saying why: the CPU backend still works.
// A failed source build never fails `npm install`: the addon is optional, and `smlm-rt info` says why it is missing.
// SMLM_RT_SKIP_NATIVE=1 skips the addon; SMLM_RT_BUILD_FROM_SOURCE=1 builds even where a prebuild exists
// (0, false, no, off or an empty value mean off: lib/native/native-env.cjs).
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildNative, buildPrerequisites } from './build-native.mjs';
import nativeEnv from '../lib/native/native-env.cjs';

const { envFlag, hasPrebuild, howToBuild } = nativeEnv;
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const log = (msg) => console.log(`smlm-rt: ${msg}`);

if (envFlag('SMLM_RT_SKIP_NATIVE')) {
  log('SMLM_RT_SKIP_NATIVE is set: not building the CUDA addon (CPU backend only).');
  process.exit(0);
}

const prebuildDir = join(root, 'prebuilds', `${process.platform}-${process.arch}`);
if (hasPrebuild(root) && !envFlag('SMLM_RT_BUILD_FROM_SOURCE')) {
  log(`using the prebuilt CUDA addon in ${prebuildDir} (needs only the NVIDIA driver; SMLM_RT_BUILD_FROM_SOURCE=1 builds from source instead).`);
  process.exit(0);
}

try {
  buildPrerequisites();
} catch (err) {
  const built = join(root, 'build', 'Release', 'smlm_rt.node');
  const what = existsSync(built) ? `not rebuilding the CUDA addon (the one built before, ${built}, stays)` : 'skipping the CUDA addon (the CPU backend works without it)';
  log(`${what}: ${err.message}. ${howToBuild(root)}`);
  process.exit(0);
}
try {
  buildNative();
} catch (err) {
  log(`the CUDA addon failed to build (${err.message}); continuing with the CPU backend only. \`smlm-rt info\` reports this.`);
}
process.exit(0);
