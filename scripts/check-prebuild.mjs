#!/usr/bin/env node
// npm's prepublishOnly step (`npm publish` only: `npm pack` does not run it and needs no CUDA toolkit). Refuses to
// publish unless the platform package npm/linux-x64-gnu/ (@smlm-rt/linux-x64-gnu, an optional dependency of this very
// version) holds the prebuilt CUDA addon of this version, made the way a prebuild must be (every GPU architecture, no
// TensorRT) and loadable on glibc MAX_GLIBC: without it, users who install the package get no GPU backend unless they
// build it. Make one with `npm run build:prebuild` (needs nvcc, no GPU), publish npm/linux-x64-gnu, then smlm-rt.
//
//   node scripts/check-prebuild.mjs        exit 0 and a summary, or exit 1 and what is wrong
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The newest glibc a prebuild may need (docs/native-build.md): Ubuntu 22.04, Debian 12, RHEL 9 and newer. */
export const MAX_GLIBC = '2.34';

const compareVersions = (a, b) => {
  const pa = a.split('.').map(Number), pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) if ((pa[i] ?? 0) !== (pb[i] ?? 0)) return (pa[i] ?? 0) - (pb[i] ?? 0);
  return 0;
};

/**
 * The newest GLIBC_x.y a binary needs, from `objdump -T` output: { version, symbols } (the symbols that need it), or
 * null when it needs no versioned glibc symbol.
 */
export function glibcRequirement(objdumpText) {
  let version = null;
  let symbols = [];
  for (const line of objdumpText.split('\n')) {
    const match = /\(GLIBC_([\d.]+)\)\s+(\S+)\s*$/.exec(line) ?? /\bGLIBC_([\d.]+)\s+(\S+)\s*$/.exec(line);
    if (!match || !/\*UND\*/.test(line)) continue;
    const order = version === null ? 1 : compareVersions(match[1], version);
    if (order > 0) [version, symbols] = [match[1], [match[2]]];
    else if (order === 0) symbols.push(match[2]);
  }
  return version === null ? null : { version, symbols };
}

/** The glibc requirement of the binary at `path` (objdump -T), or undefined where objdump is not installed. */
export function readGlibcRequirement(path) {
  const result = spawnSync('objdump', ['-T', path], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (result.error || result.status !== 0) return undefined;
  return glibcRequirement(result.stdout);
}

/** The architectures a prebuild must carry: SMLMRT_DEFAULT_CUDA_ARCHS of native/build-config.cmake, comma-separated. */
export function defaultCudaArchs(root = here) {
  const match = /set\(SMLMRT_DEFAULT_CUDA_ARCHS\s+"([^"]+)"\)/.exec(readFileSync(join(root, 'native', 'build-config.cmake'), 'utf8'));
  return match ? match[1].replace(/;/g, ',') : undefined;
}

/** The addon's `features` as a fresh node process loads it: { features } or { error } (the load error's first line). */
function loadFeatures(path) {
  const script = 'process.stdout.write(JSON.stringify(require(process.argv[1]).features))';
  const result = spawnSync(process.execPath, ['-e', script, resolve(path)], { encoding: 'utf8' });
  if (result.status === 0) {
    try {
      return { features: JSON.parse(result.stdout) };
    } catch {
      return { error: `it printed no features (${result.stdout.slice(0, 200)})` };
    }
  }
  return { error: (result.stderr.split('\n').find((l) => /Error|error/.test(l)) ?? result.stderr.split('\n')[0] ?? '').trim() };
}

/** The platform package that must carry a prebuild at publish time, and its folder in the repository. */
export const PUBLISHED_PLATFORM = { name: '@smlm-rt/linux-x64-gnu', dir: join('npm', 'linux-x64-gnu') };

/**
 * What is wrong with the linux-x64 prebuild of the package at `root` (in its platform package, PUBLISHED_PLATFORM):
 * { problems: string[], summary?: string }. `load` and `glibc` are parameters for tests.
 */
export function checkPrebuild(root = here, { load = loadFeatures, glibc = readGlibcRequirement } = {}) {
  const main = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const { version } = main;
  const dir = join(root, PUBLISHED_PLATFORM.dir);
  const problems = [];
  const platform = existsSync(join(dir, 'package.json')) ? JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) : undefined;
  if (platform?.name !== PUBLISHED_PLATFORM.name) return { problems: [`${PUBLISHED_PLATFORM.dir}/package.json is missing or is not ${PUBLISHED_PLATFORM.name}`] };
  if (platform.version !== version) problems.push(`${PUBLISHED_PLATFORM.name} is version ${platform.version}, smlm-rt ${version}: make them equal`);
  const wanted = main.optionalDependencies?.[PUBLISHED_PLATFORM.name];
  if (wanted !== version) problems.push(`package.json's optionalDependencies must list ${PUBLISHED_PLATFORM.name} at exactly ${version} (it has ${wanted ?? 'none'})`);
  const path = join(dir, 'smlm_rt.node');
  if (!existsSync(path)) return { problems: [...problems, `there is no prebuilt addon ${relative(root, path)} (the platform package would ship without one)`] };
  const loaded = load(path);
  if (loaded.error) {
    problems.push(`${relative(root, path)} does not load here: ${loaded.error}`);
    return { problems };
  }
  const f = loaded.features ?? {};
  if (f.version !== version) problems.push(`${relative(root, path)} was built from smlm-rt ${f.version ?? '(unknown)'}, not ${version}`);
  if (f.tensorrt) problems.push(`${relative(root, path)} was built with TensorRT, whose libraries users do not have`);
  const archs = defaultCudaArchs(root);
  if (archs && f.cudaArchitectures !== archs) problems.push(`${relative(root, path)} carries GPU architectures ${f.cudaArchitectures}, not all of ${archs}`);
  const needs = glibc(path);
  if (needs && compareVersions(needs.version, MAX_GLIBC) > 0) {
    problems.push(
      `${relative(root, path)} needs glibc ${needs.version} (${needs.symbols.slice(0, 5).join(', ')}), newer than the ${MAX_GLIBC} ` +
        'the documentation promises: build it on an older system (docs/native-build.md)',
    );
  }
  const glibcText = needs === undefined ? 'glibc requirement not checked (no objdump)' : `needs glibc >= ${needs?.version ?? '(any)'}`;
  return { problems, summary: `${relative(root, path)}: smlm-rt ${f.version}, architectures ${f.cudaArchitectures}, ${glibcText}` };
}

if (resolve(process.argv[1] ?? '') === fileURLToPath(import.meta.url)) {
  const { problems, summary } = checkPrebuild();
  if (problems.length > 0) {
    console.error(`smlm-rt: not publishing: ${PUBLISHED_PLATFORM.name} must carry the prebuilt CUDA addon for linux-x64 of this version.`);
    for (const problem of problems) console.error(`  - ${problem}`);
    console.error(`Make it with \`npm run build:prebuild\` (needs the CUDA toolkit and CMake, no GPU; about 2 minutes), \`npm publish ${PUBLISHED_PLATFORM.dir}\`, then publish again.`);
    process.exit(1);
  }
  console.log(`smlm-rt: prebuild ok: ${summary}`);
}
