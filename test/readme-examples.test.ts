// README.md's API programs run as written, twice in a row, in fresh projects that depend on this checkout (linked as
// node_modules/smlm-rt): the ESM one as reconstruct.mjs in a "type": "module" project, the CommonJS one as
// reconstruct.js in a project made the way `npm init -y` makes it (CommonJS). Both on the shipped example stack,
// copied in as movie.tif. test/packed-install.test.ts runs the ESM one from the packed tarball too.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, tempDir } from './helpers/paths.js';
import { readmeExamples } from './helpers/readme-examples.js';

const scratch = tempDir('smlm-rt-readme-');
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A project folder with the example stack as movie.tif, smlm-rt linked in, and `program` saved as `file`. */
function project(name: string, packageJson: object, file: string, program: string): string {
  const dir = join(scratch, name);
  mkdirSync(join(dir, 'node_modules'), { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify(packageJson));
  symlinkSync(REPO_ROOT, join(dir, 'node_modules', 'smlm-rt'), 'dir');
  copyFileSync(join(REPO_ROOT, 'examples', 'microtubules.tif'), join(dir, 'movie.tif'));
  writeFileSync(join(dir, file), program);
  return dir;
}

/** Runs `node file` in `dir` twice; each run must exit 0 and leave a 512x512 float TIFF (over 1 MB) in sr.tif. */
function runTwice(dir: string, file: string): void {
  for (const run of [1, 2]) {
    const result = spawnSync(process.execPath, [file], { cwd: dir, encoding: 'utf8', timeout: 120_000 });
    expect(result.status, `run ${run} of ${file}:\n${result.stdout}\n${result.stderr}`).toBe(0);
    expect(statSync(join(dir, 'sr.tif')).size).toBeGreaterThan(512 * 512 * 4);
  }
}

describe("README.md's API programs", () => {
  const { esm, commonjs } = readmeExamples();

  it('the ESM program runs twice in a "type": "module" project', () => {
    const dir = project('esm', { name: 'esm-app', version: '1.0.0', private: true, type: 'module' }, 'reconstruct.mjs', esm);
    runTwice(dir, 'reconstruct.mjs');
  }, 300_000);

  it('the CommonJS program runs twice in a project as `npm init -y` makes it', () => {
    const dir = project('cjs', { name: 'cjs-app', version: '1.0.0', main: 'index.js', license: 'ISC' }, 'reconstruct.js', commonjs);
    runTwice(dir, 'reconstruct.js');
  }, 300_000);

  it('the ESM program is what the README says it is: ESM, with close() in a finally and force: true', () => {
    expect(esm).toMatch(/^import \{ Reconstructor, readTiffStack, writeFloatTiff \} from 'smlm-rt';/);
    expect(esm).toMatch(/\} finally \{\n\s+await rec\.close\(\);/);
    expect(esm).toMatch(/force: true/);
  });
});
