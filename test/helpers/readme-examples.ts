/**
 * The programs of README.md's "The API in ten lines" section, as written there: the ESM one (first ```js block) and
 * the CommonJS one (second), for tests that run them in fresh projects.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './paths.js';

export interface ReadmeExamples {
  esm: string;
  commonjs: string;
}

export function readmeExamples(readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8')): ReadmeExamples {
  const start = readme.indexOf('## The API in ten lines');
  if (start < 0) throw new Error('README.md has no "The API in ten lines" section');
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, end < 0 ? undefined : end);
  const blocks = [...section.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]);
  if (blocks.length < 2) throw new Error(`README.md's API section has ${blocks.length} js code block(s); expected the ESM and the CommonJS program`);
  return { esm: blocks[0], commonjs: blocks[1] };
}
