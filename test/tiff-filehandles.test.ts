/**
 * No FileHandle of the TIFF reader reaches the garbage collector (Node warns "Closing file descriptor N on garbage
 * collection", DEP0137, and a future Node makes that an error). A child node runs every way a stack can be opened,
 * read, fail, be aborted or be left to reconstructSource, then collects garbage and reports the warnings it saw. A
 * control run drops a FileHandle on purpose, to show that the check sees one.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { makeKnownModel, writeTempModel } from './helpers/known-model.js';
import { REPO_ROOT, tempDir } from './helpers/paths.js';
import { buildTestTiff, pagesOf, withTag } from './helpers/tiff-builder.js';

const dir = tempDir();
const dist = (path: string) => pathToFileURL(join(REPO_ROOT, 'dist', 'lib', path)).href;

const CHILD = `
import { open } from 'node:fs/promises';
const { openTiffStack, readTiffStack } = await import(${JSON.stringify(dist('io/tiff-read.js'))});
const { Reconstructor } = await import(${JSON.stringify(dist('reconstructor.js'))});
const { followTiffStack } = await import(${JSON.stringify(dist('io/tiff-follow.js'))});
const warnings = [];
process.on('warning', (w) => warnings.push(String(w.code ?? '') + ' ' + w.message));
const [good, bad, model, control] = process.argv.slice(2);
const quiet = (p) => p.then(() => undefined, () => undefined);
for (let i = 0; i < 3; i++) {
  await readTiffStack(good);
  await quiet(readTiffStack(bad));
  await quiet(openTiffStack(bad));
  const source = await openTiffStack(good);
  for await (const chunk of source.chunks(1)) break; // stopped early
  await source.close();
  const rec = await Reconstructor.create({ model, backend: 'cpu', batchSize: 1 });
  await rec.reconstructSource(await openTiffStack(good)); // never closed by the caller
  const controller = new AbortController();
  await quiet(rec.reconstructSource(await openTiffStack(good), { signal: controller.signal, onProgress: () => controller.abort() }));
  await rec.close();
  await quiet(rec.reconstructSource(await openTiffStack(good))); // refused: E_CLOSED
  // A followed file: read to the end, failed (no page before it goes idle, a damaged page), aborted while waiting.
  const followed = await followTiffStack(good, { idleMs: 30, pollMs: 5 });
  for await (const chunk of followed.frames(64)) void chunk;
  await followed.close();
  await quiet(followTiffStack(process.argv[1], { idleMs: 30, pollMs: 5 }));
  await quiet(followTiffStack(bad, { idleMs: 30, pollMs: 5 }));
  await quiet(followTiffStack(good, { idleMs: 30, signal: AbortSignal.abort() }).then((s) => s.close()));
}
if (control === 'control') await open(good, 'r'); // dropped on purpose
for (let i = 0; i < 5; i++) {
  globalThis.gc();
  await new Promise((resolve) => setTimeout(resolve, 20));
}
console.log(JSON.stringify(warnings));
`;

function run(control: boolean): string[] {
  const script = join(dir, 'child.mjs');
  writeFileSync(script, CHILD);
  const good = join(dir, 'good.tif');
  writeFileSync(
    good,
    buildTestTiff(
      pagesOf(300, 4, 4, (f, y, x) => f + y + x),
      { kind: 'uint16' },
    ),
  );
  const bad = join(dir, 'bad.tif');
  writeFileSync(
    bad,
    withTag(
      buildTestTiff(
        pagesOf(2, 4, 4, () => 1),
        { kind: 'uint16' },
      ),
      279,
      3,
    ),
  );
  const model = writeTempModel(makeKnownModel());
  const child = spawnSync(process.execPath, ['--expose-gc', script, good, bad, model, control ? 'control' : ''], { encoding: 'utf8', timeout: 60_000 });
  expect(child.status, child.stderr).toBe(0);
  return JSON.parse(child.stdout.trim().split('\n').at(-1)!) as string[];
}

describe('FileHandles of the TIFF reader', () => {
  it('none reaches the garbage collector: reads, errors, early stops, reconstructSource (done, aborted, refused), following', () => {
    expect(run(false)).toEqual([]);
  });

  it('control: a FileHandle dropped on purpose is seen (DEP0137)', () => {
    expect(run(true).some((w) => w.includes('DEP0137') || /garbage collection/.test(w))).toBe(true);
  });
});
