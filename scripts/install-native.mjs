#!/usr/bin/env node
// The CUDA addon step of a clone's own `npm install` (run by `prepare`, which npm runs for the project being installed
// and for git dependencies, never for a package installed from the registry or a tarball: the published package has
// no install script, so installing it never compiles anything and npm has no install script to warn about; its
// prebuilt addon comes in a platform package such as @smlm-rt/linux-x64-gnu). Order of preference:
//   1. this platform's prebuilt addon is installed (its platform package)               -> nothing to do;
//   2. what a source build needs (nvcc, CMake, cmake-js) on this machine               -> build from source (build-native.mjs);
//   3. neither                                                                          -> skip, saying why: the CPU backend still works.
// A failed source build never fails `npm install`: the addon is optional, and `smlm-rt info` says why it is missing.
// `npm pack` and `npm publish` also run `prepare`: they build no addon. SMLM_RT_SKIP_NATIVE=1 skips the addon;
// SMLM_RT_BUILD_FROM_SOURCE=1 builds even where a prebuild is installed (0, false, no, off or an empty value mean off:
// lib/native/native-env.cjs).
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildNative, buildPrerequisites } from './build-native.mjs';
import nativeEnv from '../lib/native/native-env.cjs';

const { envFlag, hasPrebuild, howToBuild, platformPackageName } = nativeEnv;
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const log = (msg) => console.log(`smlm-rt: ${msg}`);

if (['pack', 'publish'].includes(process.env.npm_command ?? '')) process.exit(0);

if (envFlag('SMLM_RT_SKIP_NATIVE')) {
  log('SMLM_RT_SKIP_NATIVE is set: not building the CUDA addon (CPU backend only).');
  process.exit(0);
}

if (hasPrebuild(root) && !envFlag('SMLM_RT_BUILD_FROM_SOURCE')) {
  log(`using the prebuilt CUDA addon of ${platformPackageName()} (needs only the NVIDIA driver; SMLM_RT_BUILD_FROM_SOURCE=1 builds from source instead).`);
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
