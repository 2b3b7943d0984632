#!/usr/bin/env node
// Makes the prebuilt addon that this platform's package ships (sharp's scheme: npm/<platform>-<arch>-<libc>/, published
// as @smlm-rt/<platform>-<arch>-<libc>, an optional dependency of smlm-rt), so that users need no CUDA toolkit (the CUDA
// runtime is linked statically; only the NVIDIA driver is needed at run time). Builds with build-native.mjs (all
// architectures, Node-API 8: loadable by every Node version) and copies the result to npm/<...>/smlm_rt.node, then
// sets that package's version to smlm-rt's.
import { copyFileSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildNative } from './build-native.mjs';
import { MAX_GLIBC, readGlibcRequirement } from './check-prebuild.mjs';
import nativeEnv from '../lib/native/native-env.cjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

if (process.env.SMLM_RT_CUDA_ARCHS) {
  console.error('smlm-rt: SMLM_RT_CUDA_ARCHS is set; a prebuild must carry every architecture. Unset it.');
  process.exit(1);
}
const name = nativeEnv.platformPackageName();
const dir = join(root, 'npm', name.replace('@smlm-rt/', ''));
if (!existsSync(join(dir, 'package.json'))) {
  console.error(`smlm-rt: there is no platform package for this platform (${name}); the ones that exist: npm/*/package.json.`);
  process.exit(1);
}
try {
  // Without TensorRT: a prebuild must load on machines that have only the driver (see build-native.mjs).
  const built = buildNative({ out: 'build', tensorrt: false });
  const target = join(dir, 'smlm_rt.node');
  copyFileSync(built, target);
  const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const platformPackage = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify({ ...platformPackage, version }, null, 2)}\n`);
  console.log(`smlm-rt: prebuild ${target} (${(statSync(target).size / 1e6).toFixed(1)} MB), ${name}@${version}`);
  const glibc = name.endsWith('-gnu') ? readGlibcRequirement(target) : undefined;
  if (glibc) {
    // What users' systems need (docs/native-build.md); `npm publish` refuses more than MAX_GLIBC (check-prebuild.mjs).
    console.log(`smlm-rt: it needs glibc >= ${glibc.version} (${glibc.symbols.slice(0, 3).join(', ')}${glibc.symbols.length > 3 ? ', ...' : ''}); at most ${MAX_GLIBC} may be published`);
  }
} catch (err) {
  console.error(`smlm-rt: prebuild failed: ${err.message}`);
  process.exit(1);
}
