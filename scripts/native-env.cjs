// Helpers shared by the install/build scripts (scripts/*.mjs, which run at `npm install` time, before any TypeScript
// is compiled) and the addon loader (lib/native/binding.ts, at run time; tsc copies this file into dist/scripts/):
// one reading of smlm-rt's environment switches. Plain CommonJS with JSDoc types and no dependencies, so that it runs
// as it is at install time.
'use strict';

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

module.exports = { OFF_VALUES, envFlag };
