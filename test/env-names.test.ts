// smlm-rt's environment variables are all named SMLM_RT_* (the C++ side read SMLMRT_* until issue 13); SMLMRT_
// remains only for CMake variables and compile definitions, which no user sets through the environment.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from './helpers/paths.js';

const READS = [/getenv\(\s*"([A-Z0-9_]+)"/g, /setenv\(\s*"([A-Z0-9_]+)"/g, /ENV\{([A-Z0-9_]+)\}/g, /process\.env\.([A-Z0-9_]+)/g, /process\.env\[\s*'([A-Z0-9_]+)'/g];

function files(dir: string): string[] {
  return readdirSync(join(REPO_ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && /\.(cu|cuh|cpp|h|cmake|ts|mjs|cjs|sh|py)$/.test(e.name))
    .map((e) => join(e.parentPath, e.name));
}

describe('environment variable names', () => {
  it("every variable smlm-rt reads is SMLM_RT_* (or a third party's), none SMLMRT_*", () => {
    const names = new Map<string, string>();
    for (const file of [...files('native'), ...files('lib'), ...files('scripts'), ...files('benchmarks'), join(REPO_ROOT, 'CMakeLists.txt')]) {
      const text = readFileSync(file, 'utf8');
      for (const re of READS) for (const m of text.matchAll(re)) names.set(m[1], relative(REPO_ROOT, file));
    }
    expect([...names.keys()]).toContain('SMLM_RT_NO_TUNE');
    const old = [...names].filter(([name]) => name.startsWith('SMLMRT_')).map(([name, file]) => `${name} in ${file}`);
    expect(old).toEqual([]);
  });
});
