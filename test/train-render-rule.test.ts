import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from './helpers/paths.js';

const SCRIPTS = join(REPO_ROOT, 'scripts');
const python = spawnSync('python3', ['--version'], { encoding: 'utf8' });
const noPython = python.status === 0 ? undefined : 'python3 is not installed';
if (noPython) console.log(`[train-render-rule] rule checks skipped: ${noPython}`);

/** render_rule(...) from scripts/render_rule.py, run by python3 (no torch needed). */
function renderRule(renderSigma: number | null, baseHead: object | null): unknown {
  const call = `import json, sys; sys.path.insert(0, ${JSON.stringify(SCRIPTS)}); from render_rule import render_rule; print(json.dumps(render_rule(${renderSigma ?? 'None'}, ${baseHead ? JSON.stringify(JSON.stringify(baseHead)) : 'None'}, 4, 0.01)))`;
  const run = spawnSync('python3', ['-c', call], { encoding: 'utf8' });
  expect(run.status, run.stderr).toBe(0);
  return JSON.parse(run.stdout);
}

const PREDICTED_BASE = { kind: 'localization', grid: 2, render: { sigma: 'predicted', sigmaRange: [0.3, 4], radius: 4, minProbability: 0.01 } };

describe.skipIf(noPython !== undefined)('the rendering rule train_loc.py exports (scripts/render_rule.py)', () => {
  it("keeps the base model's rule when fine-tuning", () => {
    expect(renderRule(null, PREDICTED_BASE)).toEqual(PREDICTED_BASE.render);
  });
  it('takes --render-sigma over the base, and a fixed 1 fine px without either', () => {
    expect(renderRule(0.5, PREDICTED_BASE)).toEqual({ sigma: 0.5, radius: 4, minProbability: 0.01 });
    expect(renderRule(null, null)).toEqual({ sigma: 1, radius: 4, minProbability: 0.01 });
    expect(renderRule(null, { kind: 'maps' })).toEqual({ sigma: 1, radius: 4, minProbability: 0.01 });
  });
});

describe('the training scripts an installed package runs', () => {
  it('ship with every local module train_loc.py imports (package.json "files")', () => {
    const files = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { files: string[] }).files;
    const shipped = new Set(files);
    const pending = ['train_loc.py'];
    const seen = new Set<string>();
    while (pending.length > 0) {
      const name = pending.pop()!;
      if (seen.has(name)) continue;
      seen.add(name);
      expect(shipped.has(`scripts/${name}`), `scripts/${name} is not in package.json "files"`).toBe(true);
      const source = readFileSync(join(SCRIPTS, name), 'utf8');
      for (const m of source.matchAll(/^\s*(?:from\s+(\w+)\s+import|import\s+(\w+))/gm)) {
        const module = `${m[1] ?? m[2]}.py`;
        if (existsSync(join(SCRIPTS, module))) pending.push(module);
      }
    }
    expect(seen.has('render_rule.py')).toBe(true);
  });
});
