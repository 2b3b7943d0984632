#!/usr/bin/env node
// Makes the prebuilt addon that `npm pack` ships, so that users need no CUDA toolkit (the CUDA runtime is linked
// statically; only the NVIDIA driver is needed at run time). prebuildify cannot drive cmake-js, so this script builds
// with build-native.mjs (all architectures) and copies the result where node-gyp-build looks for prebuilds:
//   prebuilds/<platform>-<arch>/smlm-rt.napi.<libc>.node
// ("napi": loadable by every Node version with Node-API 8; node-gyp-build matches the libc tag on Linux).
import { copyFileSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildNative } from './build-native.mjs';
import { MAX_GLIBC, readGlibcRequirement } from './check-prebuild.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

if (process.env.SMLM_RT_CUDA_ARCHS) {
  console.error('smlm-rt: SMLM_RT_CUDA_ARCHS is set; a prebuild must carry every architecture. Unset it.');
  process.exit(1);
}
try {
  // Without TensorRT: a prebuild must load on machines that have only the driver (see build-native.mjs).
  const built = buildNative({ out: 'build', tensorrt: false });
  const libc = process.platform === 'linux' ? (existsSync('/etc/alpine-release') ? '.musl' : '.glibc') : '';
  const dir = join(root, 'prebuilds', `${process.platform}-${process.arch}`);
  mkdirSync(dir, { recursive: true });
  const target = join(dir, `smlm-rt.napi${libc}.node`);
  copyFileSync(built, target);
  console.log(`smlm-rt: prebuild ${target} (${(statSync(target).size / 1e6).toFixed(1)} MB)`);
  const glibc = libc === '.glibc' ? readGlibcRequirement(target) : undefined;
  if (glibc) {
    // What users' systems need (docs/native-build.md); `npm publish` refuses more than MAX_GLIBC (check-prebuild.mjs).
    console.log(`smlm-rt: it needs glibc >= ${glibc.version} (${glibc.symbols.slice(0, 3).join(', ')}${glibc.symbols.length > 3 ? ', ...' : ''}); at most ${MAX_GLIBC} may be published`);
  }
} catch (err) {
  console.error(`smlm-rt: prebuild failed: ${err.message}`);
  process.exit(1);
}
