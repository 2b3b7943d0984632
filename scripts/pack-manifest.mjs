#!/usr/bin/env node
// The package.json that `npm pack` and `npm publish` ship is the repository's without what only a clone uses:
// `prepare`, the clone's build step (tsc, the WebAssembly runtime, the CUDA addon where nvcc exists), and
// `allowScripts`, which tells the clone's npm which dependencies' install scripts to skip (onnxruntime-node's download
// of CUDA binaries from api.nuget.org; npm reads it only from the project being installed). npm runs `prepare` for the
// project being installed and for git dependencies only, but npm 11 lists a dependency's `prepare` among the install
// scripts it warns about, and the published package needs no script at install: everything it runs is in the
// tarball, its addon comes in a platform package. The same idea as pinst: `prepack` strips, `postpack` restores.
//
//   node scripts/pack-manifest.mjs strip     package.json -> package.json.before-pack; package.json as published
//   node scripts/pack-manifest.mjs restore   package.json.before-pack -> package.json
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Scripts that only make sense in a clone of the repository. */
export const CLONE_ONLY_SCRIPTS = ['prepare'];

/** The manifest as published: `pkg` without CLONE_ONLY_SCRIPTS and without allowScripts. */
export function publishedManifest(pkg) {
  const { allowScripts: _cloneOnly, ...published } = pkg;
  const scripts = Object.fromEntries(Object.entries(pkg.scripts ?? {}).filter(([name]) => !CLONE_ONLY_SCRIPTS.includes(name)));
  return { ...published, scripts };
}

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const manifest = join(root, 'package.json');
const backup = join(root, 'package.json.before-pack');

/** Puts the repository's package.json back, if a strip left a backup (also after an interrupted pack). */
function restore() {
  if (existsSync(backup)) renameSync(backup, manifest);
}

function strip() {
  restore();
  const text = readFileSync(manifest, 'utf8');
  writeFileSync(backup, text);
  writeFileSync(manifest, `${JSON.stringify(publishedManifest(JSON.parse(text)), null, 2)}\n`);
}

if (resolve(process.argv[1] ?? '') === fileURLToPath(import.meta.url)) {
  const command = process.argv[2];
  if (command === 'strip') strip();
  else if (command === 'restore') restore();
  else {
    console.error('usage: node scripts/pack-manifest.mjs strip|restore');
    process.exit(2);
  }
}
