/**
 * Fuzzes the TIFF reader with a fixed seed: mutated classic, BigTIFF and big-endian stacks (entry counts, types,
 * value offsets, next-IFD offsets and loops, truncation, huge sizes, random bytes) go through openTiffStack and
 * every chunk is read. Every failure must be an SmlmError with a TIFF code and a short message, every case must end
 * within a second, and the process's memory must stay bounded (allocations are guarded by the file's size).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SmlmError } from '../lib/errors.js';
import { openTiffStack } from '../lib/io/tiff-read.js';
import { tempDir } from './helpers/paths.js';
import { buildTestTiff, pagesOf, type TestTiffOptions } from './helpers/tiff-builder.js';

const SEED = 20261204;
const CASES = 3000;
const TIFF_CODES = new Set(['E_NOT_TIFF', 'E_TIFF_CORRUPT', 'E_UNSUPPORTED_SAMPLE_FORMAT', 'E_FRAME_SIZE_MISMATCH', 'E_EMPTY_STACK']);
const CASE_LIMIT_MS = 1000;
const RSS_GROWTH_LIMIT = 300 * 1024 * 1024;

/** mulberry32: small, fast, and the same sequence everywhere for one seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const value = (f: number, y: number, x: number) => (31 * f + 7 * y + x) % 251;
const ome = '<OME><Image><Pixels DimensionOrder="XYZCT" SizeC="1" SizeT="3" SizeZ="1" SizeX="8" SizeY="6" PhysicalSizeX="0.1"/></Image></OME>';
const BASES: Array<[string, TestTiffOptions, number]> = [
  ['classic LE', { kind: 'uint16' }, 3],
  ['classic BE', { kind: 'uint16', bigEndian: true }, 3],
  ['BigTIFF LE', { kind: 'uint16', bigTiff: true }, 3],
  ['BigTIFF BE', { kind: 'float32', bigTiff: true, bigEndian: true }, 3],
  ['strips LE', { kind: 'uint16', rowsPerStrip: 2 }, 3],
  ['strips BigTIFF BE', { kind: 'uint16', rowsPerStrip: 2, bigTiff: true, bigEndian: true }, 3],
  ['deflate BE', { kind: 'uint16', deflate: true, predictor: 2, rowsPerStrip: 3, bigEndian: true }, 2],
  ['tiled', { kind: 'uint8', tiled: true }, 2],
  ['ImageJ contiguous BE', { kind: 'uint16', bigEndian: true, contiguous: true, description: 'ImageJ=1.54f\nimages=4\nslices=4\nunit=micron\n', resolution: { x: [10, 1], unit: 1 } }, 4],
  ['OME', { kind: 'uint8', description: ome, resolution: { x: [100000, 1], unit: 3 } }, 3],
];

/** Where each IFD entry of a buildTestTiff file lies, so mutations can aim at counts, types and offsets. */
function entryPositions(bytes: Buffer): { entries: number[]; nextFields: number[]; ifds: number[]; big: boolean; le: boolean } {
  const le = bytes[0] === 0x49;
  const big = (le ? bytes.readUInt16LE(2) : bytes.readUInt16BE(2)) === 43;
  const u = (at: number, n: number) =>
    n === 2
      ? le
        ? bytes.readUInt16LE(at)
        : bytes.readUInt16BE(at)
      : n === 4
        ? le
          ? bytes.readUInt32LE(at)
          : bytes.readUInt32BE(at)
        : Number(le ? bytes.readBigUInt64LE(at) : bytes.readBigUInt64BE(at));
  const [countBytes, entryBytes, offsetBytes] = big ? [8, 20, 8] : [2, 12, 4];
  const entries: number[] = [];
  const nextFields: number[] = [];
  const ifds: number[] = [];
  for (let ifd = u(big ? 8 : 4, offsetBytes); ifd !== 0;) {
    ifds.push(ifd);
    const n = u(ifd, countBytes);
    for (let i = 0; i < n; i++) entries.push(ifd + countBytes + i * entryBytes);
    const next = ifd + countBytes + n * entryBytes;
    nextFields.push(next);
    ifd = u(next, offsetBytes);
  }
  return { entries, nextFields, ifds, big, le };
}

const HUGE = [0, 1, 2, 255, 65535, 65536, 2 ** 28, 2 ** 29, 2 ** 31, 2 ** 32 - 1, 2 ** 40, 2 ** 53, 2 ** 63];

function writeUint(bytes: Buffer, at: number, n: 2 | 4 | 8, v: number, le: boolean): void {
  if (at + n > bytes.length) return;
  if (n === 2) {
    if (le) bytes.writeUInt16LE(v % 65536, at);
    else bytes.writeUInt16BE(v % 65536, at);
  } else if (n === 4) {
    if (le) bytes.writeUInt32LE(v % 2 ** 32, at);
    else bytes.writeUInt32BE(v % 2 ** 32, at);
  } else if (le) bytes.writeBigUInt64LE(BigInt(v) % 2n ** 64n, at);
  else bytes.writeBigUInt64BE(BigInt(v) % 2n ** 64n, at);
}

/** One mutant of `base`: 1-3 mutations of the kinds damaged and hostile files show. */
function mutate(base: Buffer, random: () => number): { bytes: Buffer; kinds: string[] } {
  let bytes = Buffer.from(base);
  const { entries, nextFields, ifds, big, le } = entryPositions(bytes);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)];
  const offsetBytes = big ? 8 : 4;
  const huge = () => (random() < 0.5 ? pick(HUGE) : Math.floor(random() * bytes.length * 2));
  const kinds: string[] = [];
  const rounds = 1 + Math.floor(random() * 3);
  for (let r = 0; r < rounds; r++) {
    const kind = pick(['count', 'type', 'value', 'tag', 'next', 'loop', 'truncate', 'bytes', 'header', 'entryCount'] as const);
    kinds.push(kind);
    const entry = pick(entries);
    switch (kind) {
      case 'count':
        writeUint(bytes, entry + 4, offsetBytes, huge(), le);
        break;
      case 'type':
        writeUint(bytes, entry + 2, 2, Math.floor(random() * 20), le);
        break;
      case 'value':
        writeUint(bytes, entry + 4 + offsetBytes, offsetBytes, huge(), le);
        break;
      case 'tag':
        writeUint(bytes, entry, 2, pick([256, 257, 258, 259, 270, 273, 277, 278, 279, 282, 296, 317, 322, 323, 324, 325, 339, Math.floor(random() * 65536)]), le);
        break;
      case 'next':
        writeUint(bytes, pick(nextFields), offsetBytes, huge(), le);
        break;
      case 'loop': {
        // Point a next-IFD field back at an earlier (or its own) IFD.
        const k = Math.floor(random() * nextFields.length);
        writeUint(bytes, nextFields[k], offsetBytes, ifds[Math.floor(random() * (k + 1))], le);
        break;
      }
      case 'truncate':
        bytes = bytes.subarray(0, Math.floor(random() * bytes.length));
        break;
      case 'bytes':
        for (let i = 0, n = 1 + Math.floor(random() * 8); i < n && bytes.length > 0; i++) bytes[Math.floor(random() * bytes.length)] = Math.floor(random() * 256);
        break;
      case 'header':
        writeUint(bytes, big ? 8 : 4, offsetBytes, huge(), le);
        break;
      case 'entryCount': {
        // The IFD's own entry count (the field just before its first entry).
        const first = entries[0];
        writeUint(bytes, first - (big ? 8 : 2), big ? 8 : 2, huge(), le);
        break;
      }
    }
  }
  return { bytes, kinds };
}

/** Opens the file and reads every chunk; returns the error (undefined when the file was read). */
async function readAll(path: string): Promise<unknown> {
  let source;
  try {
    source = await openTiffStack(path);
    for await (const chunk of source.chunks(2)) void chunk;
    return undefined;
  } catch (err) {
    return err;
  } finally {
    await source?.close();
  }
}

describe('TIFF reader fuzz (fixed seed)', () => {
  it(`${CASES} mutated stacks: only typed TIFF errors, each within ${CASE_LIMIT_MS} ms, memory bounded`, async () => {
    const dir = tempDir('smlm-rt-fuzz-');
    const random = rng(SEED);
    const bases = BASES.map(([name, options, frames]) => [name, Buffer.from(buildTestTiff(pagesOf(frames, 6, 8, value), options))] as const);
    // The unmutated files are all read: the fuzz starts from valid stacks of every flavour.
    for (const [name, bytes] of bases) {
      const path = join(dir, 'base.tif');
      writeFileSync(path, bytes);
      expect(await readAll(path), name).toBeUndefined();
    }
    const rssStart = process.memoryUsage().rss;
    let rssMax = rssStart;
    const untyped: string[] = [];
    const slow: string[] = [];
    const outcomes = new Map<string, number>();
    for (let i = 0; i < CASES; i++) {
      const [name, base] = bases[i % bases.length];
      const { bytes, kinds } = mutate(base, random);
      const path = join(dir, `case.tif`);
      writeFileSync(path, bytes);
      const started = performance.now();
      const err = await readAll(path);
      const ms = performance.now() - started;
      const label = `case ${i} (${name}: ${kinds.join(', ')})`;
      if (ms > CASE_LIMIT_MS) slow.push(`${label}: ${ms.toFixed(0)} ms`);
      const outcome = err === undefined ? 'read' : err instanceof SmlmError ? err.code : 'untyped';
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      if (err !== undefined && !(err instanceof SmlmError && TIFF_CODES.has(err.code) && err.message.length < 1000)) {
        untyped.push(`${label}: ${err instanceof Error ? `${err.name} ${(err as SmlmError).code ?? ''} ${err.message.slice(0, 200)}` : String(err)}`);
        if (!(err instanceof Error)) writeFileSync(join(dir, `untyped-${i}.tif`), bytes);
      }
      if (i % 100 === 0) rssMax = Math.max(rssMax, process.memoryUsage().rss);
    }
    console.log(`[tiff-fuzz] seed ${SEED}: ${JSON.stringify(Object.fromEntries(outcomes))}; RSS grew by at most ${((rssMax - rssStart) / 2 ** 20).toFixed(0)} MiB`);
    expect(untyped).toEqual([]);
    expect(slow).toEqual([]);
    expect(rssMax - rssStart).toBeLessThan(RSS_GROWTH_LIMIT);
    // The mutants reach past the header: some still read, and several kinds of typed error occur.
    expect(outcomes.get('read') ?? 0).toBeGreaterThan(0);
    expect(outcomes.get('E_TIFF_CORRUPT') ?? 0).toBeGreaterThan(CASES / 10);
  }, 120_000);
});
