import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The team's shared validation data, beside the clone (../shared/data); undefined (tests skip, saying why) if absent. */
export const SHARED_DATA: string | undefined = [resolve(REPO_ROOT, '..', 'shared', 'data'), process.env.SMLM_RT_SHARED_DATA ?? ''].find((p) => p !== '' && existsSync(p));

export function sharedDataMissingReason(): string {
  return `shared data not found at ${resolve(REPO_ROOT, '..', 'shared', 'data')}; skipping tests on the ImageJ stacks`;
}

export function tempDir(prefix = 'smlm-rt-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}
