/**
 * Stacks of the independent simulator (lib/independent-simulator) for the benchmarks and scripts: a spec (name,
 * conditions, seed, frames) -> the stack and its ground truth, cached on disk under .cache/independent-stacks (git-
 * ignored) because a 361-frame stack takes several seconds to draw on a 2-core machine. The cache key hashes the
 * options and the simulator's own source files, so changing either draws the stack afresh.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { simulateIndependentStack, type IndependentConditions, type IndependentSimulationOptions, type TruthRow } from '../lib/independent-simulator/index.js';
import { packageRoot } from '../lib/model/registry.js';
import type { Stack } from '../lib/types.js';

export interface IndependentStackSpec {
  /** Short name; validation stacks start with "validation-" (scripts/select_unet.py selects on those). */
  name: string;
  conditions: IndependentConditions;
  seed: number;
  frames: number;
}

export interface LoadedIndependentStack {
  stack: Stack & { data: Uint16Array; pixelSizeNm: number };
  truth: TruthRow[];
}

export function independentOptions(spec: IndependentStackSpec): IndependentSimulationOptions {
  return { ...spec.conditions, seed: spec.seed, frames: spec.frames };
}

export function defaultCacheDir(): string {
  return join(packageRoot(), '.cache', 'independent-stacks');
}

/** A digest of the simulator's code (the folder this module's compiled or source twin imports). */
function simulatorDigest(): string {
  const dir = fileURLToPath(new URL('../lib/independent-simulator/', import.meta.url));
  const hash = createHash('sha256');
  for (const f of readdirSync(dir)
    .filter((n) => /\.(js|ts)$/.test(n) && !n.endsWith('.d.ts'))
    .sort())
    hash.update(f).update(readFileSync(join(dir, f)));
  return hash.digest('hex');
}

let digest: string | undefined;

/** Loads a stack from the cache or simulates (and caches) it. `cacheDir` null: never touch the disk. */
export function loadIndependentStack(spec: IndependentStackSpec, cacheDir: string | null = defaultCacheDir()): LoadedIndependentStack {
  const options = independentOptions(spec);
  if (cacheDir === null) {
    const sim = simulateIndependentStack(options);
    return { stack: sim.stack, truth: sim.truth };
  }
  digest ??= simulatorDigest();
  const key = createHash('sha256').update(digest).update(JSON.stringify(options)).digest('hex').slice(0, 16);
  const prefix = join(cacheDir, `${spec.name}-${key}`);
  if (existsSync(`${prefix}.json`) && existsSync(`${prefix}.u16`)) {
    const meta = JSON.parse(readFileSync(`${prefix}.json`, 'utf8')) as { frames: number; height: number; width: number; pixelSizeNm: number; truth: TruthRow[] };
    const bytes = readFileSync(`${prefix}.u16`);
    if (bytes.byteLength === meta.frames * meta.height * meta.width * 2) {
      const data = new Uint16Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
      return { stack: { data, frames: meta.frames, height: meta.height, width: meta.width, pixelSizeNm: meta.pixelSizeNm }, truth: meta.truth };
    }
  }
  const sim = simulateIndependentStack(options);
  mkdirSync(cacheDir, { recursive: true });
  const { data, frames, height, width, pixelSizeNm } = sim.stack;
  // Written beside and renamed into place, the .json last: a half-written entry is never read as whole.
  writeFileSync(`${prefix}.u16.tmp`, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  renameSync(`${prefix}.u16.tmp`, `${prefix}.u16`);
  writeFileSync(`${prefix}.json.tmp`, JSON.stringify({ frames, height, width, pixelSizeNm, truth: sim.truth }));
  renameSync(`${prefix}.json.tmp`, `${prefix}.json`);
  return { stack: sim.stack, truth: sim.truth };
}
