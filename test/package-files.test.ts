// What `npm pack` puts in the published package (without running any script: --ignore-scripts): what an install
// needs to build the addon from source, the licence, and everything README.md links to under docs/.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../lib/model/registry.js';

const root = packageRoot();
let files: Map<string, number>;

beforeAll(() => {
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const [pack] = JSON.parse(out) as { files: { path: string; size: number }[] }[];
  files = new Map(pack.files.map((f) => [f.path, f.size]));
});

describe('the npm package', () => {
  it('ships the licence and what an install needs to build the addon from source', () => {
    for (const path of [
      'LICENSE',
      'package.json',
      'CMakeLists.txt',
      'native/build-config.cmake',
      'scripts/install-native.mjs',
      'scripts/build-native.mjs',
      'lib/native/native-env.cjs',
    ]) {
      expect(files.has(path), path).toBe(true);
    }
    expect(readFileSync(join(root, 'LICENSE'), 'utf8')).toMatch(/^MIT License\n\nCopyright \(c\) 2026 the smlm-rt authors\n/);
  });

  it('keeps maintainer-only scripts and tests out, compiled or not', () => {
    for (const path of files.keys()) expect(path).not.toMatch(/^(test\/|scripts\/(prebuild|check-prebuild)\.mjs$|\.npmrc$|scratch\/)/);
    // The repository's npm scripts run dist/benchmarks and dist/scripts; users need only dist/lib.
    for (const path of files.keys()) expect(path).not.toMatch(/^dist\/(?!lib\/)/);
  });

  it('ships the compiled library, the CLI and what the addon loader needs at run time', () => {
    for (const path of ['dist/lib/index.js', 'dist/lib/index.d.ts', 'dist/lib/cli/main.js', 'dist/lib/native/native-env.cjs']) expect(files.has(path), path).toBe(true);
  });

  it('ships every file under docs/ that README.md links to, and docs/ stays small', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const links = [...readme.matchAll(/\]\((docs\/[^)#\s]+)/g)].map((m) => m[1]);
    expect(links.length).toBeGreaterThan(0);
    for (const link of links) expect(files.has(link), link).toBe(true);
    const docsBytes = [...files].filter(([path]) => path.startsWith('docs/')).reduce((sum, [, size]) => sum + size, 0);
    expect(docsBytes).toBeLessThan(1 << 20);
  });

  it('depends on what a source build runs at install time (cmake-js, node-api-headers, node-addon-api)', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
      scripts: Record<string, string>;
    };
    for (const name of ['cmake-js', 'node-api-headers', 'node-addon-api', 'node-gyp-build']) expect(pkg.dependencies[name], name).toBeDefined();
    // `npm publish` checks the prebuild; `npm pack` (prepack/prepare) must not need nvcc.
    expect(pkg.scripts.prepublishOnly).toBe('node scripts/check-prebuild.mjs');
    expect(pkg.scripts.prepack).toBeUndefined();
  });
});
