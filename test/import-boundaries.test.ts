// Which folder may import which: the package's code (lib/) stands alone, the addon's JS side (lib/native) does not
// reach into the backends built on it, the model layer does not depend on the compiler, and the maintenance
// scripts and benchmarks do not borrow from each other's or the tests' helpers.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from './helpers/paths.js';

function sourceFiles(dir: string): string[] {
  return readdirSync(join(REPO_ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && /\.(ts|mts|cts|js|mjs|cjs)$/.test(e.name) && !e.name.endsWith('.d.ts'))
    .map((e) => relative(REPO_ROOT, join(e.parentPath, e.name)));
}

/** Repository-relative targets of a file's relative imports (static and dynamic, require too). */
function importsOf(file: string): string[] {
  const text = readFileSync(join(REPO_ROOT, file), 'utf8');
  const specs = [...text.matchAll(/(?:from\s+|import\(\s*|require\(\s*)['"](\.{1,2}\/[^'"]+)['"]/g)].map((m) => m[1]);
  return specs.map((s) => relative(REPO_ROOT, resolve(REPO_ROOT, dirname(file), s)));
}

const RULES: { from: string; mustNotImport: string[] }[] = [
  { from: 'lib', mustNotImport: ['scripts/', 'benchmarks/', 'test/'] },
  { from: 'lib/native', mustNotImport: ['lib/backends/'] },
  { from: 'lib/model', mustNotImport: ['lib/engine/'] },
  { from: 'scripts', mustNotImport: ['benchmarks/', 'test/'] },
  { from: 'benchmarks', mustNotImport: ['test/'] },
];

describe('import boundaries', () => {
  for (const rule of RULES) {
    it(`${rule.from}/ imports nothing from ${rule.mustNotImport.join(', ')}`, () => {
      const files = sourceFiles(rule.from);
      expect(files.length).toBeGreaterThan(0);
      const broken = files.flatMap((f) =>
        importsOf(f)
          .filter((t) => rule.mustNotImport.some((p) => t.startsWith(p)))
          .map((t) => `${f} -> ${t}`),
      );
      expect(broken).toEqual([]);
    });
  }

  it('the check sees imports (a known one is found)', () => {
    expect(importsOf('lib/native/binding.ts')).toContain('lib/native/native-env.cjs');
    expect(importsOf('lib/backends/select.ts')).toContain('lib/backends/cuda.js');
  });
});
