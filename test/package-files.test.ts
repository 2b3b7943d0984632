// What `npm pack` puts in the published package (without running any script: --ignore-scripts): what a requested
// source build of the addon needs, the licence, and everything README.md links to under docs/; and what it must not
// have: an install script (npm warns about those, and a build on install is what the platform packages replace).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../lib/model/registry.js';
import { publishedManifest } from '../scripts/pack-manifest.mjs';

const root = packageRoot();
let files: Map<string, number>;

beforeAll(() => {
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const [pack] = JSON.parse(out) as { files: { path: string; size: number }[] }[];
  files = new Map(pack.files.map((f) => [f.path, f.size]));
});

describe('the npm package', () => {
  it('ships the licence and what a source build of the addon needs', () => {
    for (const path of [
      'LICENSE',
      'package.json',
      'CMakeLists.txt',
      'native/build-config.cmake',
      'scripts/build-native.mjs',
      'lib/native/native-env.cjs',
    ]) {
      expect(files.has(path), path).toBe(true);
    }
    expect(readFileSync(join(root, 'LICENSE'), 'utf8')).toMatch(/^MIT License\n\nCopyright \(c\) 2026 the smlm-rt authors\n/);
  });

  it('keeps maintainer-only scripts and tests out, compiled or not', () => {
    for (const path of files.keys()) expect(path).not.toMatch(/^(test\/|scripts\/(prebuild|check-prebuild|install-native)\.mjs$|\.npmrc$|scratch\/|npm\/|prebuilds\/)/);
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

  it('has no install script, takes the addon from optional platform packages, and leaves build tools to source builds', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
      version: string;
      gypfile: boolean;
      dependencies: Record<string, string>;
      devDependencies: Record<string, string>;
      optionalDependencies: Record<string, string>;
      peerDependenciesMeta: Record<string, { optional: boolean }>;
      scripts: Record<string, string>;
    };
    // npm 11 warns about a dependency's preinstall/install/postinstall and prepare: the clone's build step (prepare)
    // is taken out of the manifest `npm pack` ships (scripts/pack-manifest.mjs, run by prepack, undone by postpack).
    for (const name of ['preinstall', 'install', 'postinstall']) expect(pkg.scripts[name], name).toBeUndefined();
    expect(pkg.scripts.prepare).toMatch(/install-native\.mjs/);
    expect(pkg.scripts.prepack).toBe('node scripts/pack-manifest.mjs strip');
    expect(pkg.scripts.postpack).toBe('node scripts/pack-manifest.mjs restore');
    const published = publishedManifest(pkg) as typeof pkg;
    for (const name of ['preinstall', 'install', 'postinstall', 'prepare']) expect(published.scripts[name], name).toBeUndefined();
    // The clone skips onnxruntime-node's download from api.nuget.org through allowScripts, which is not shipped.
    expect((pkg as { allowScripts?: Record<string, boolean> }).allowScripts?.['onnxruntime-node']).toBe(false);
    expect(published).not.toHaveProperty('allowScripts');
    expect(published.scripts.build).toBe(pkg.scripts.build);
    expect(pkg.gypfile).toBe(false); // else npm runs `node-gyp rebuild` for binding.gyp
    expect(pkg.optionalDependencies['@smlm-rt/linux-x64-gnu']).toBe(pkg.version);
    for (const name of ['cmake-js', 'node-api-headers', 'node-addon-api', 'onnxruntime-node']) {
      expect(pkg.dependencies[name], name).toBeUndefined();
      expect(pkg.devDependencies[name], name).toBeDefined();
    }
    expect(pkg.peerDependenciesMeta['onnxruntime-node'].optional).toBe(true);
    // `npm publish` checks the prebuild; `npm pack` must not need nvcc (install-native.mjs skips for pack/publish).
    expect(pkg.scripts.prepublishOnly).toBe('node scripts/check-prebuild.mjs');
  });

  it("ships onnxruntime-web's WebAssembly runtime with its licence, and no other build of it", () => {
    for (const path of ['vendor/onnxruntime-web/ort.node.min.mjs', 'vendor/onnxruntime-web/ort-wasm-simd-threaded.mjs', 'vendor/onnxruntime-web/ort-wasm-simd-threaded.wasm', 'vendor/onnxruntime-web/LICENSE']) {
      expect(files.has(path), path).toBe(true);
    }
    expect([...files.keys()].filter((path) => path.startsWith('vendor/'))).toHaveLength(5); // and the entry point's source map
  });
});
