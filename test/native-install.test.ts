// The install/build scripts' pure parts (scripts/native-env.cjs, build-native.mjs, check-prebuild.mjs) and the addon
// loader's explanations: environment switches, where nvcc and cmake-js are found, the build hint for a clone and
// for an installed package, the prepublish guard, and what a load failure (e.g. too old a glibc) reports.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { loadAddon, resetAddonCacheForTests } from '../lib/native/binding.js';

const require = createRequire(import.meta.url);
const nativeEnv = require('../scripts/native-env.cjs') as {
  envFlag(name: string, env?: Record<string, string | undefined>): boolean;
};

const scratch = mkdtempSync(join(tmpdir(), 'smlm-rt-install-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Creates the files (relative path -> contents) under a fresh folder of scratch and returns that folder. */
function tree(name: string, files: Record<string, string>): string {
  const dir = join(scratch, name);
  for (const [path, contents] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), contents);
  }
  return dir;
}

describe('envFlag (SMLM_RT_SKIP_NATIVE, SMLM_RT_BUILD_FROM_SOURCE, SMLM_RT_DISABLE_NATIVE)', () => {
  it.each(['', '0', 'false', 'FALSE', 'no', 'No', 'off', ' off ', ' '])('%j is off', (value) => {
    expect(nativeEnv.envFlag('SMLM_RT_SKIP_NATIVE', { SMLM_RT_SKIP_NATIVE: value })).toBe(false);
  });
  it.each(['1', 'true', 'TRUE', 'yes', 'on', '2'])('%j is on', (value) => {
    expect(nativeEnv.envFlag('SMLM_RT_BUILD_FROM_SOURCE', { SMLM_RT_BUILD_FROM_SOURCE: value })).toBe(true);
  });
  it('is off when unset', () => {
    expect(nativeEnv.envFlag('SMLM_RT_DISABLE_NATIVE', {})).toBe(false);
  });
});

describe('explainLoadFailure and loadAddon', () => {
  afterEach(() => {
    delete process.env.SMLM_RT_ADDON;
    delete process.env.SMLM_RT_DISABLE_NATIVE;
    resetAddonCacheForTests();
  });

  it('falls back (ok: false, with the reason) when the addon cannot be loaded; SMLM_RT_DISABLE_NATIVE=0 does not disable it', () => {
    const bogus = join(tree('bogus', { 'smlm_rt.node': 'not an ELF file' }), 'smlm_rt.node');
    process.env.SMLM_RT_ADDON = bogus;
    process.env.SMLM_RT_DISABLE_NATIVE = '0';
    resetAddonCacheForTests();
    const loaded = loadAddon();
    expect(loaded.ok).toBe(false);
    if (!loaded.ok) {
      expect(loaded.reason).not.toMatch(/disabled/);
      expect(loaded.reason).toMatch(/the CUDA addon (was built for another platform|failed to load)/);
      expect(loaded.reason).toMatch(/npm run build:native/);
    }
    process.env.SMLM_RT_DISABLE_NATIVE = 'yes';
    resetAddonCacheForTests();
    expect(loadAddon()).toEqual({ ok: false, reason: 'the CUDA addon is disabled by SMLM_RT_DISABLE_NATIVE.' });
  });
});
