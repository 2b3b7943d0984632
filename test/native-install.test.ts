// The install/build scripts' pure parts (lib/native/native-env.cjs, scripts/build-native.mjs, check-prebuild.mjs) and the addon
// loader's explanations: environment switches, where nvcc and cmake-js are found, the build hint for a clone and
// for an installed package, the prepublish guard, and what a load failure (e.g. too old a glibc) reports.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { packageRoot } from '../lib/model/registry.js';
import { explainLoadFailure, loadAddon, resetAddonCacheForTests } from '../lib/native/binding.js';
import { buildPrerequisites, cachedCudaCompiler, findNvcc, findOnPath, resolveCmakeJs } from '../scripts/build-native.mjs';
import { checkPrebuild, defaultCudaArchs, glibcRequirement, MAX_GLIBC } from '../scripts/check-prebuild.mjs';

const require = createRequire(import.meta.url);
const nativeEnv = require('../lib/native/native-env.cjs') as {
  envFlag(name: string, env?: Record<string, string | undefined>): boolean;
  isInstalledPackage(root: string): boolean;
  hasPrebuild(root: string, platform?: string, arch?: string): boolean;
  platformPackageName(target?: { platform?: string; arch?: string; libc?: string }): string;
  resolvePlatformAddon(root: string, name?: string): string | null;
  buildCommand(root: string, options?: { installed?: boolean }): string;
  howToBuild(root: string, options?: { installed?: boolean }): string;
};
const installedBuild = 'npm install --no-save cmake-js node-api-headers node-addon-api && node node_modules/smlm-rt/scripts/build-native.mjs';

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

describe('the build hint', () => {
  it('is `npm run build:native` in a clone', () => {
    expect(nativeEnv.isInstalledPackage('/home/me/smlm-rt')).toBe(false);
    expect(nativeEnv.buildCommand('/home/me/smlm-rt')).toBe('npm run build:native');
    expect(nativeEnv.howToBuild('/home/me/smlm-rt')).toMatch(/`npm run build:native` \(needs the CUDA toolkit's nvcc/);
  });

  it('is the build tools plus the build script in an installed package (which has no install script to rerun)', () => {
    const installed = '/home/me/app/node_modules/smlm-rt';
    expect(nativeEnv.isInstalledPackage(installed)).toBe(true);
    expect(nativeEnv.buildCommand(installed)).toBe(installedBuild);
    expect(nativeEnv.howToBuild(installed)).toContain(`\`${installedBuild}\` in your project`);
  });

  it("names the platform package sharp's way: @smlm-rt/<platform>-<arch>[-<libc>]", () => {
    expect(nativeEnv.platformPackageName({ platform: 'linux', arch: 'x64', libc: 'gnu' })).toBe('@smlm-rt/linux-x64-gnu');
    expect(nativeEnv.platformPackageName({ platform: 'linux', arch: 'arm64', libc: 'musl' })).toBe('@smlm-rt/linux-arm64-musl');
    expect(nativeEnv.platformPackageName({ platform: 'win32', arch: 'x64', libc: '' })).toBe('@smlm-rt/win32-x64');
    if (process.platform === 'linux' && process.arch === 'x64') expect(nativeEnv.platformPackageName()).toBe('@smlm-rt/linux-x64-gnu');
  });

  it('finds the platform package installed beside smlm-rt (hoisted), and a prebuilds/ folder on disk', () => {
    const name = nativeEnv.platformPackageName();
    const project = tree('hint', {
      'node_modules/smlm-rt/package.json': '{"name":"smlm-rt"}',
      [`node_modules/${name}/package.json`]: `{"name":"${name}","main":"smlm_rt.node"}`,
      [`node_modules/${name}/smlm_rt.node`]: '',
    });
    const pkg = join(project, 'node_modules', 'smlm-rt');
    expect(nativeEnv.resolvePlatformAddon(pkg)).toBe(join(project, 'node_modules', name, 'smlm_rt.node'));
    expect(nativeEnv.hasPrebuild(pkg)).toBe(true);
    expect(nativeEnv.resolvePlatformAddon(pkg, '@smlm-rt/win32-arm64')).toBeNull();
    const old = tree('old/node_modules/smlm-rt', { [`prebuilds/${process.platform}-${process.arch}/smlm-rt.napi.glibc.node`]: '' });
    expect(nativeEnv.hasPrebuild(old)).toBe(true);
    expect(nativeEnv.hasPrebuild(old, 'win32', 'arm64')).toBe(false);
  });
});

describe('explainLoadFailure and loadAddon', () => {
  afterEach(() => {
    delete process.env.SMLM_RT_ADDON;
    delete process.env.SMLM_RT_DISABLE_NATIVE;
    resetAddonCacheForTests();
  });

  const clone = '/home/me/smlm-rt';
  const installed = '/home/me/app/node_modules/smlm-rt';

  // What node's process.dlopen reports for a prebuild made on a newer system (captured from the real loader).
  const glibcError = new Error("/lib/x86_64-linux-gnu/libc.so.6: version `GLIBC_2.36' not found (required by /x/prebuilds/linux-x64/smlm-rt.napi.glibc.node)");

  it('says that the addon needs a newer glibc, which one, and what this system has', () => {
    const reason = explainLoadFailure(glibcError, clone, { glibc: '2.35' });
    expect(reason).toMatch(/^the CUDA addon needs a newer glibc than this system has: it needs GLIBC_2\.36, this system has glibc 2\.35 \(/);
    expect(reason).toMatch(/`npm run build:native`/);
    expect(reason).toMatch(/The CPU backend works without it\.$/);
    expect(explainLoadFailure(glibcError, installed, { glibc: '2.35' })).toContain(`\`${installedBuild}\` in your project`);
  });

  it('names a too old libstdc++ the same way', () => {
    const error = new Error("/lib/x86_64-linux-gnu/libstdc++.so.6: version `GLIBCXX_3.4.32' not found (required by /x/smlm_rt.node)");
    expect(explainLoadFailure(error, clone)).toMatch(/needs a newer libstdc\+\+ than this system has: it needs GLIBCXX_3\.4\.32 \(/);
  });

  it('gives the command that works where the package is: a clone or an installed package', () => {
    const missing = new Error('No native build was found for platform=linux arch=x64 runtime=node abi=115 uv=1 libc=glibc node=20.20.2');
    expect(explainLoadFailure(missing, clone)).toMatch(/is not installed: .*Build it from source with `npm run build:native`/);
    expect(explainLoadFailure(missing, installed)).toContain(`Build it from source with \`${installedBuild}\` in your project`);
    expect(explainLoadFailure(new Error('x.node: undefined symbol: foo'), installed)).toContain(`Rebuild it with \`${installedBuild}\` in your project.`);
    expect(explainLoadFailure(new Error('x.node: invalid ELF header'), clone)).toMatch(/another platform .*Rebuild it with `npm run build:native`\./);
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

describe('findNvcc', () => {
  // A fake file system: only these paths are executable files.
  const fake = (...paths: string[]) => (path: string) => paths.includes(path);
  const PATH = '/opt/bin:/usr/bin';

  it('takes CUDACXX first', () => {
    const executable = fake('/cuda/12/bin/nvcc', '/opt/bin/nvcc', '/usr/local/cuda/bin/nvcc');
    expect(findNvcc({ env: { CUDACXX: '/cuda/12/bin/nvcc', PATH }, executable })).toEqual({ path: '/cuda/12/bin/nvcc', source: 'CUDACXX' });
  });

  it('looks a CUDACXX without a folder up on PATH', () => {
    expect(findNvcc({ env: { CUDACXX: 'nvcc', PATH }, executable: fake('/usr/bin/nvcc') })).toEqual({ path: '/usr/bin/nvcc', source: 'CUDACXX' });
  });

  it('fails clearly when CUDACXX names nothing, instead of trying elsewhere', () => {
    expect(() => findNvcc({ env: { CUDACXX: '/nowhere/nvcc', PATH }, executable: fake('/opt/bin/nvcc') })).toThrow(
      /CUDACXX is set to "\/nowhere\/nvcc", which is not an executable file/,
    );
  });

  it('then nvcc on PATH, before CUDA_PATH and /usr/local/cuda', () => {
    const executable = fake('/usr/bin/nvcc', '/cuda/bin/nvcc', '/usr/local/cuda/bin/nvcc');
    expect(findNvcc({ env: { PATH, CUDA_PATH: '/cuda' }, executable })).toEqual({ path: '/usr/bin/nvcc', source: 'PATH' });
  });

  it('then CUDA_PATH/bin (an error when it holds no nvcc), then CUDA_HOME/bin, then /usr/local/cuda/bin', () => {
    const executable = fake('/cuda/bin/nvcc', '/home/cuda/bin/nvcc', '/usr/local/cuda/bin/nvcc');
    expect(findNvcc({ env: { PATH, CUDA_PATH: '/cuda', CUDA_HOME: '/home/cuda' }, executable })).toEqual({ path: '/cuda/bin/nvcc', source: 'CUDA_PATH' });
    expect(findNvcc({ env: { PATH, CUDA_HOME: '/home/cuda' }, executable })).toEqual({ path: '/home/cuda/bin/nvcc', source: 'CUDA_HOME' });
    expect(() => findNvcc({ env: { PATH, CUDA_PATH: '/stale' }, executable })).toThrow(/CUDA_PATH is set to "\/stale", but \/stale\/bin\/nvcc is not/);
    expect(findNvcc({ env: { PATH }, executable })).toEqual({ path: '/usr/local/cuda/bin/nvcc', source: 'the default toolkit location' });
  });

  it('returns null where there is no nvcc at all, and treats empty variables as unset', () => {
    expect(findNvcc({ env: { PATH, CUDACXX: '', CUDA_PATH: '' }, executable: fake() })).toBeNull();
  });

  it('finds executables on PATH in order', () => {
    expect(findOnPath('cmake', { PATH: '/a::/b:/c' }, fake('/b/cmake', '/c/cmake'))).toBe('/b/cmake');
    expect(findOnPath('cmake', {}, fake('/b/cmake'))).toBeNull();
  });

  it('says truthfully which prerequisite of a source build is missing', () => {
    const dir = join(scratch, 'prerequisites', 'node_modules', 'smlm-rt');
    const env = { PATH: '/usr/bin' };
    expect(() => buildPrerequisites({ env, dir, executable: fake() })).toThrow(/^no CUDA compiler \(nvcc\) found \(looked at CUDACXX, PATH/);
    expect(() => buildPrerequisites({ env, dir, executable: fake('/usr/bin/nvcc') })).toThrow(/^cmake-js cannot be resolved from .*npm install --no-save cmake-js node-api-headers node-addon-api/);
    // This checkout has cmake-js installed: then CMake is what is missing.
    const here = packageRoot();
    expect(() => buildPrerequisites({ env, dir: here, executable: fake('/usr/bin/nvcc') })).toThrow(/^CMake \(>= 3\.20\) is not on PATH; nvcc was found \(\/usr\/bin\/nvcc\)/);
    expect(buildPrerequisites({ env, dir: here, executable: fake('/usr/bin/nvcc', '/usr/bin/cmake') })).toMatchObject({ nvcc: '/usr/bin/nvcc', nvccSource: 'PATH', cmake: '/usr/bin/cmake' });
  });

  it('reads the CUDA compiler an existing build folder was configured with', () => {
    const dir = tree('cmake-cache', { 'CMakeCache.txt': 'FOO:BOOL=ON\nCMAKE_CUDA_COMPILER:FILEPATH=/usr/local/cuda/bin/nvcc\n' });
    expect(cachedCudaCompiler(dir)).toBe('/usr/local/cuda/bin/nvcc');
    expect(cachedCudaCompiler(join(scratch, 'no-such-build'))).toBeNull();
  });
});

describe('resolveCmakeJs', () => {
  it('finds cmake-js hoisted into the project that installed smlm-rt (not only under smlm-rt/node_modules)', () => {
    const project = tree('consumer', {
      'package.json': '{"name":"app"}',
      'node_modules/smlm-rt/package.json': '{"name":"smlm-rt"}',
      'node_modules/cmake-js/package.json': '{"name":"cmake-js","bin":{"cmake-js":"./bin/cmake-js"}}',
      'node_modules/cmake-js/bin/cmake-js': '',
    });
    expect(resolveCmakeJs(join(project, 'node_modules', 'smlm-rt'))).toBe(join(project, 'node_modules', 'cmake-js', 'bin', 'cmake-js'));
  });

  it('returns null where cmake-js is not installed', () => {
    expect(resolveCmakeJs(tree('lonely', { 'package.json': '{"name":"smlm-rt"}' }))).toBeNull();
  });
});

describe('the prepublish guard (check-prebuild.mjs)', () => {
  const main = JSON.stringify({ name: 'smlm-rt', version: '1.2.3', optionalDependencies: { '@smlm-rt/linux-x64-gnu': '1.2.3' } });
  const platform = (version: string) => JSON.stringify({ name: '@smlm-rt/linux-x64-gnu', version });
  const pkg = (name: string, files: Record<string, string> = {}) =>
    tree(name, {
      'package.json': main,
      'npm/linux-x64-gnu/package.json': platform('1.2.3'),
      'native/build-config.cmake': 'set(SMLMRT_DEFAULT_CUDA_ARCHS "75-real;90-real;90-virtual")\n',
      ...files,
    });
  const prebuild = 'npm/linux-x64-gnu/smlm_rt.node';
  const good = { version: '1.2.3', tensorrt: false, cudaArchitectures: '75-real,90-real,90-virtual' };

  it('refuses a package whose linux-x64 platform package has no prebuild', () => {
    expect(checkPrebuild(pkg('no-prebuild')).problems).toEqual([expect.stringMatching(/no prebuilt addon npm\/linux-x64-gnu\/smlm_rt\.node/)]);
  });

  it('refuses a platform package of another version, or one the main package does not depend on at this version', () => {
    const root = pkg('mismatch', { [prebuild]: '', 'npm/linux-x64-gnu/package.json': platform('1.2.2'), 'package.json': '{"name":"smlm-rt","version":"1.2.3"}' });
    const { problems } = checkPrebuild(root, { load: () => ({ features: good }), glibc: () => null });
    expect(problems.join('\n')).toMatch(/@smlm-rt\/linux-x64-gnu is version 1\.2\.2, smlm-rt 1\.2\.3/);
    expect(problems.join('\n')).toMatch(/optionalDependencies must list @smlm-rt\/linux-x64-gnu at exactly 1\.2\.3 \(it has none\)/);
  });

  it('accepts the prebuild of this version, with every architecture, no TensorRT, within the glibc promise', () => {
    const result = checkPrebuild(pkg('good', { [prebuild]: '' }), { load: () => ({ features: good }), glibc: () => ({ version: MAX_GLIBC, symbols: ['dlopen'] }) });
    expect(result.problems).toEqual([]);
    expect(result.summary).toMatch(/smlm-rt 1\.2\.3, architectures 75-real,90-real,90-virtual, needs glibc >= 2\.34/);
  });

  it('refuses a stale, partial, TensorRT-linked or too-new-glibc prebuild, and one that does not load', () => {
    const root = pkg('bad', { [prebuild]: '' });
    const stale = { version: '1.2.2', tensorrt: true, cudaArchitectures: '90' };
    const { problems } = checkPrebuild(root, { load: () => ({ features: stale }), glibc: () => ({ version: '2.36', symbols: ['arc4random'] }) });
    expect(problems.join('\n')).toMatch(/built from smlm-rt 1\.2\.2, not 1\.2\.3/);
    expect(problems.join('\n')).toMatch(/built with TensorRT/);
    expect(problems.join('\n')).toMatch(/architectures 90, not all of 75-real,90-real,90-virtual/);
    expect(problems.join('\n')).toMatch(/needs glibc 2\.36 \(arc4random\)/);
    expect(checkPrebuild(root, { load: () => ({ error: 'invalid ELF header' }) }).problems).toEqual([expect.stringMatching(/does not load here: invalid ELF header/)]);
  });

  it('reads the architectures a prebuild must carry from native/build-config.cmake', () => {
    expect(defaultCudaArchs()).toMatch(/^75-real,.*90-virtual$/);
  });

  it("finds the newest glibc symbol version in objdump -T's output", () => {
    const objdump = [
      '0000000000000000      DF *UND*\t0000000000000000 (GLIBC_2.2.5) free',
      '0000000000000000  w   DF *UND*\t0000000000000000 (GLIBC_2.34) __pthread_key_create',
      '0000000000000000      DF *UND*\t0000000000000000 (GLIBC_2.34) dlopen',
      '0000000000000000      DF *UND*\t0000000000000000  GLIBC_2.33  fstat64',
      '00000000000a1b2c g    DF .text\t0000000000000010  Base        napi_register_module_v1',
    ].join('\n');
    expect(glibcRequirement(objdump)).toEqual({ version: '2.34', symbols: ['__pthread_key_create', 'dlopen'] });
    expect(glibcRequirement('')).toBeNull();
  });
});
