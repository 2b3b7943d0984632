// Helpers shared by the install/build scripts (scripts/*.mjs, which run at `npm install` time, before any TypeScript
// is compiled) and the addon loader (lib/native/binding.ts, at run time; tsc copies this file into dist/lib/native/):
// one reading of smlm-rt's environment switches and one "how to build the addon" sentence. Plain CommonJS with
// JSDoc types and no dependencies, so that it runs as it is at install time.
'use strict';
const { readdirSync } = require('node:fs');
const { createRequire } = require('node:module');
const { join, resolve, sep } = require('node:path');

/** Values that turn a switch off (compared trimmed and case-insensitively); anything else turns it on. @type {string[]} */
const OFF_VALUES = ['', '0', 'false', 'no', 'off'];

/**
 * Whether the switch `name` (SMLM_RT_SKIP_NATIVE, SMLM_RT_BUILD_FROM_SOURCE, SMLM_RT_DISABLE_NATIVE) is on:
 * unset, empty, 0, false, no and off mean off; 1, true, yes, on (or any other value) mean on.
 * @param {string} name
 * @param {Record<string, string | undefined>} [env]
 * @returns {boolean}
 */
function envFlag(name, env = process.env) {
  const value = env[name];
  if (value === undefined) return false;
  return !OFF_VALUES.includes(String(value).trim().toLowerCase());
}

/**
 * Whether `root` is smlm-rt installed as a dependency (it lies inside a node_modules folder) rather than a clone of
 * the repository (where `npm run build:native` exists and the dev tooling is installed).
 * @param {string} root
 * @returns {boolean}
 */
function isInstalledPackage(root) {
  return resolve(root).split(sep).includes('node_modules');
}

/**
 * The platform packages that carry a prebuilt addon (sharp's scheme: one package per platform, each an optional
 * dependency of smlm-rt, npm installs only the one whose os/cpu/libc match). Only linux-x64-gnu is built today.
 * @type {string[]}
 */
const PLATFORM_PACKAGES = ['@smlm-rt/linux-x64-gnu'];

/** "gnu" or "musl" on Linux (glibc is the one that reports a version), "" elsewhere. @returns {string} */
function runtimeLibc() {
  if (process.platform !== 'linux') return '';
  const header = /** @type {{ header?: { glibcVersionRuntime?: string } }} */ (process.report?.getReport() ?? {}).header;
  return header?.glibcVersionRuntime ? 'gnu' : 'musl';
}

/**
 * The name of the package that would carry the prebuilt addon for a platform: @smlm-rt/<platform>-<arch>[-<libc>].
 * @param {{ platform?: string, arch?: string, libc?: string }} [target]
 * @returns {string}
 */
function platformPackageName({ platform = process.platform, arch = process.arch, libc = runtimeLibc() } = {}) {
  return `@smlm-rt/${platform}-${arch}${libc ? `-${libc}` : ''}`;
}

/**
 * The path of the prebuilt addon in this platform's package, as Node resolves it from the package at `root`
 * (installed beside it or hoisted), or null when that package is not installed.
 * @param {string} root
 * @param {string} [name]
 * @returns {string | null}
 */
function resolvePlatformAddon(root, name = platformPackageName()) {
  try {
    return createRequire(join(root, 'package.json')).resolve(`${name}/smlm_rt.node`);
  } catch {
    return null;
  }
}

/**
 * Whether a prebuilt addon for this platform is installed for the package at `root`: its platform package, or (a
 * layout older versions shipped, still honoured by the loader's node-gyp-build) prebuilds/<platform>-<arch>/*.node.
 * @param {string} root
 * @param {string} [platform]
 * @param {string} [arch]
 * @returns {boolean}
 */
function hasPrebuild(root, platform = process.platform, arch = process.arch) {
  if (platform === process.platform && arch === process.arch && resolvePlatformAddon(root)) return true;
  const dir = join(root, 'prebuilds', `${platform}-${arch}`);
  try {
    return readdirSync(dir).some((f) => f.endsWith('.node'));
  } catch {
    return false;
  }
}

/** What a source build runs, devDependencies of smlm-rt that an installed copy does not bring along. @type {string[]} */
const SOURCE_BUILD_TOOLS = ['cmake-js', 'node-api-headers', 'node-addon-api'];

/**
 * The command that builds the addon from source for the package at `root`: `npm run build:native` in a clone; in an
 * installed package (which has no install script, so installing never builds), the build tools installed into the
 * project without saving them, then smlm-rt's build script, run from the project's folder. A built addon is loaded
 * before the platform package's prebuild. `installed` can be given, for tests.
 * @param {string} root
 * @param {{ installed?: boolean }} [options]
 * @returns {string}
 */
function buildCommand(root, { installed = isInstalledPackage(root) } = {}) {
  if (!installed) return 'npm run build:native';
  return `npm install --no-save ${SOURCE_BUILD_TOOLS.join(' ')} && node node_modules/smlm-rt/scripts/build-native.mjs`;
}

/**
 * One sentence saying how to get the addon built, for load-failure reasons, install messages and test skips.
 * @param {string} root
 * @param {{ installed?: boolean }} [options]
 * @returns {string}
 */
function howToBuild(root, options = {}) {
  const command = buildCommand(root, options);
  const where = command.includes('node_modules/smlm-rt') ? ' in your project' : '';
  return `Build it from source with \`${command}\`${where} (needs the CUDA toolkit's nvcc, on PATH or in CUDACXX, and CMake >= 3.20).`;
}

module.exports = {
  OFF_VALUES,
  PLATFORM_PACKAGES,
  SOURCE_BUILD_TOOLS,
  envFlag,
  isInstalledPackage,
  platformPackageName,
  resolvePlatformAddon,
  hasPrebuild,
  buildCommand,
  howToBuild,
};
