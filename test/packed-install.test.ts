// Installs smlm-rt the way a user does, from packed tarballs instead of the registry: the main package and its
// linux-x64 platform package (@smlm-rt/linux-x64-gnu, carrying the addon built here), into an empty ESM project, with
// a plain `npm install` (offline where npm's cache has the dependencies) and none of this repository's npm settings.
// Then: npm printed no config or install-script warning about smlm-rt, nothing was built, node_modules is within the
// 100 MB promised in README.md, `smlm-rt info --json` loaded the addon from the platform package and runs the cpu
// backend on that addon's plan executor (native/cpu/: no GPU or driver needed), and README.md's ESM program runs twice
// on the example stack, on that executor.
// Needs a built addon (npm/linux-x64-gnu/smlm_rt.node from `npm run build:prebuild`, or build/Release/smlm_rt.node
// from `npm run build:native`, both need nvcc): skips, saying why, where there is none. Takes 1-3 minutes.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync, lstatSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, tempDir } from './helpers/paths.js';
import { readmeExamples } from './helpers/readme-examples.js';
import { publishedManifest } from '../scripts/pack-manifest.mjs';

/** README.md's promise for a consumer's node_modules. */
const MAX_NODE_MODULES_BYTES = 100 * 1024 * 1024;
const PLATFORM_DIR = join(REPO_ROOT, 'npm', 'linux-x64-gnu');

function builtAddon(): string | undefined {
  return [join(PLATFORM_DIR, 'smlm_rt.node'), join(REPO_ROOT, 'build', 'Release', 'smlm_rt.node')].find((p) => existsSync(p));
}

function skipReason(): string | undefined {
  if (process.platform !== 'linux' || process.arch !== 'x64') return `the only platform package is linux-x64-gnu; this is ${process.platform}-${process.arch}`;
  if (builtAddon()) return undefined;
  const nvcc = spawnSync('nvcc', ['--version']).status === 0;
  return nvcc ? 'no built addon to package: run `npm run build:native` first' : 'no built addon to package and no nvcc to build one (the CUDA toolkit is not installed)';
}

/** The environment of a user's shell: none of the npm_* variables `npm test` sets from this repository's config. */
function userEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^npm_/i.test(key)));
}

function npm(args: string[], cwd: string): string {
  const result = spawnSync('npm', args, { cwd, env: userEnv(), encoding: 'utf8', timeout: 180_000 });
  if (result.status !== 0) throw new Error(`npm ${args.join(' ')} failed (${result.status}):\n${result.stdout}\n${result.stderr}`);
  return `${result.stdout}\n${result.stderr}`;
}

/** Bytes of every file under `dir` (links counted as links, as `du --apparent-size` does). */
function treeBytes(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    total += entry.isDirectory() ? treeBytes(path) : lstatSync(path).size;
  }
  return total;
}

const reason = skipReason();
if (reason) console.warn(`test/packed-install.test.ts skipped: ${reason}`);

describe.skipIf(reason !== undefined)('npm install of the packed package and its platform package', () => {
  const scratch = tempDir('smlm-rt-packed-');
  const app = join(scratch, 'app');
  let installLog = '';
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  beforeAll(() => {
    const { version } = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    // The platform package as `npm run build:prebuild` leaves it, staged so that the repository is not written to.
    const platform = join(scratch, 'platform');
    mkdirSync(platform);
    const manifest = JSON.parse(readFileSync(join(PLATFORM_DIR, 'package.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(platform, 'package.json'), JSON.stringify({ ...manifest, version }));
    copyFileSync(join(PLATFORM_DIR, 'README.md'), join(platform, 'README.md'));
    copyFileSync(builtAddon()!, join(platform, 'smlm_rt.node'));
    npm(['pack', '--pack-destination', scratch], platform);
    // dist/ and vendor/ are up to date (test/global-setup.ts); --ignore-scripts: `prepare` would rebuild them while
    // other test files use them, and `prepack` would rewrite package.json while they read it. So the manifest is made
    // the way `prepack` makes it (scripts/pack-manifest.mjs), in an unpacked copy that is packed again.
    const staged = join(scratch, 'main');
    mkdirSync(staged);
    npm(['pack', '--ignore-scripts', '--pack-destination', staged], REPO_ROOT);
    execFileSync('tar', ['-xzf', `smlm-rt-${version}.tgz`], { cwd: staged });
    const unpacked = join(staged, 'package');
    writeFileSync(join(unpacked, 'package.json'), JSON.stringify(publishedManifest(JSON.parse(readFileSync(join(unpacked, 'package.json'), 'utf8')))));
    npm(['pack', '--ignore-scripts', '--pack-destination', scratch], unpacked);
    const tarballs = readdirSync(scratch).filter((f) => f.endsWith('.tgz'));
    expect(tarballs.sort()).toEqual([`smlm-rt-${version}.tgz`, `smlm-rt-linux-x64-gnu-${version}.tgz`].sort());
    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true, type: 'module' }));
    installLog = npm(['install', '--prefer-offline', '--no-audit', '--no-fund', ...tarballs.map((t) => join(scratch, t))], app);
  }, 240_000);

  it('installs without config warnings, without install-script warnings about smlm-rt, and builds nothing', () => {
    expect(installLog).not.toMatch(/Unknown (project|user|env|cli) config/);
    const scriptWarnings = installLog.split('\n').filter((line) => /install-scripts/.test(line));
    expect(scriptWarnings.filter((line) => /smlm-rt/.test(line))).toEqual([]);
    expect(existsSync(join(app, 'node_modules', 'smlm-rt', 'build'))).toBe(false);
    expect(existsSync(join(app, 'node_modules', 'onnxruntime-node'))).toBe(false);
  });

  it('keeps node_modules within 100 MB', () => {
    const bytes = treeBytes(join(app, 'node_modules'));
    console.log(`packed install: node_modules ${(bytes / 1e6).toFixed(1)} MB (${(bytes / 2 ** 20).toFixed(1)} MiB)`);
    expect(bytes).toBeLessThanOrEqual(MAX_NODE_MODULES_BYTES);
  });

  it("loads the addon from the platform package and runs the cpu backend on that addon's plan executor", () => {
    const out = execFileSync(join(app, 'node_modules', '.bin', 'smlm-rt'), ['info', '--json'], { cwd: app, env: userEnv(), encoding: 'utf8' });
    const info = JSON.parse(out) as { backends: Array<{ name: string; usable: boolean; compiled: boolean; detail: string; addonPath?: string; runtime?: string }> };
    const prebuilt = realpathSync(join(app, 'node_modules', '@smlm-rt', 'linux-x64-gnu', 'smlm_rt.node'));
    const cuda = info.backends.find((b) => b.name === 'cuda')!;
    expect(cuda.compiled, cuda.detail).toBe(true);
    expect(realpathSync(cuda.addonPath!)).toBe(prebuilt);
    const cpu = info.backends.find((b) => b.name === 'cpu')!;
    expect(cpu.usable).toBe(true);
    expect(cpu.runtime, cpu.detail).toBe('plan');
    expect(cpu.detail).toMatch(/^plan \d.*picked by auto/);
    expect(realpathSync(cpu.addonPath!)).toBe(prebuilt);
  });

  it("runs README.md's ESM program twice on the example stack", () => {
    copyFileSync(join(REPO_ROOT, 'examples', 'microtubules.tif'), join(app, 'movie.tif'));
    writeFileSync(join(app, 'reconstruct.js'), readmeExamples().esm);
    for (const run of [1, 2]) {
      const result = spawnSync(process.execPath, ['reconstruct.js'], { cwd: app, env: userEnv(), encoding: 'utf8', timeout: 240_000 });
      expect(result.status, `run ${run}:\n${result.stdout}\n${result.stderr}`).toBe(0);
      expect(result.stdout).toMatch(/^100 \/ 100$/m);
      expect(statSync(join(app, 'sr.tif')).size).toBeGreaterThan(512 * 512 * 4);
    }
  }, 500_000);
});
