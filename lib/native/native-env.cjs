// Helpers shared by the install/build scripts (scripts/*.mjs, which run at `npm install` time, before any TypeScript
// is compiled) and the addon loader (lib/native/binding.ts, at run time; tsc copies this file into dist/lib/native/):
// one reading of smlm-rt's environment switches and one "how to build the addon" sentence. Plain CommonJS with
// JSDoc types and no dependencies, so that it runs as it is at install time.
'use strict';
const { readdirSync } = require('node:fs');
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
 * Whether `root` ships a prebuilt addon for this platform (prebuilds/<platform>-<arch>/*.node).
 * @param {string} root
 * @param {string} [platform]
 * @param {string} [arch]
 * @returns {boolean}
 */
function hasPrebuild(root, platform = process.platform, arch = process.arch) {
  const dir = join(root, 'prebuilds', `${platform}-${arch}`);
  try {
    return readdirSync(dir).some((f) => f.endsWith('.node'));
  } catch {
    return false;
  }
}

/**
 * The command that builds the addon from source for the package at `root`: `npm run build:native` in a clone;
 * `npm rebuild smlm-rt` (run in the project that depends on smlm-rt) in an installed package, with
 * SMLM_RT_BUILD_FROM_SOURCE=1 in front where the package has a prebuild for this platform (the install step would
 * otherwise keep using the prebuild). `installed` and `prebuild` can be given, for tests.
 * @param {string} root
 * @param {{ installed?: boolean, prebuild?: boolean }} [options]
 * @returns {string}
 */
function buildCommand(root, { installed = isInstalledPackage(root), prebuild = hasPrebuild(root) } = {}) {
  if (!installed) return 'npm run build:native';
  return prebuild ? 'SMLM_RT_BUILD_FROM_SOURCE=1 npm rebuild smlm-rt' : 'npm rebuild smlm-rt';
}

/**
 * One sentence saying how to get the addon built, for load-failure reasons, install messages and test skips.
 * @param {string} root
 * @param {{ installed?: boolean, prebuild?: boolean }} [options]
 * @returns {string}
 */
function howToBuild(root, options = {}) {
  const command = buildCommand(root, options);
  const where = command.includes('npm rebuild') ? ' in your project' : '';
  return `Build it from source with \`${command}\`${where} (needs the CUDA toolkit's nvcc, on PATH or in CUDACXX, and CMake >= 3.20).`;
}

module.exports = { OFF_VALUES, envFlag, isInstalledPackage, hasPrebuild, buildCommand, howToBuild };
