import { constants } from 'node:fs';
import { access, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { SmlmError } from '../errors.js';

/** Throws E_OUTPUT_EXISTS when `path` exists and `force` is not set; lets callers fail before hours of work. */
export async function checkOutputWritable(path: string, force: boolean): Promise<void> {
  if (!force) {
    const exists = await access(path, constants.F_OK).then(
      () => true,
      () => false,
    );
    if (exists) throw new SmlmError('E_OUTPUT_EXISTS', `${path} already exists; pass --force (force: true) to overwrite it`, { path });
  }
  const folder = dirname(path);
  const folderOk = await access(folder, constants.W_OK).then(
    () => true,
    () => false,
  );
  if (!folderOk) throw new SmlmError('E_FILE_NOT_FOUND', `cannot write ${path}: folder ${folder} does not exist or is not writable`, { path });
}

/**
 * Writes bytes, refusing to replace an existing file unless `force` (the check and the create are one atomic
 * open with O_EXCL, so a file appearing meanwhile is not clobbered either).
 */
export async function writeOutputFile(path: string, bytes: Uint8Array, force: boolean): Promise<void> {
  try {
    await writeFile(path, bytes, { flag: force ? 'w' : 'wx' });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new SmlmError('E_OUTPUT_EXISTS', `${path} already exists; pass --force (force: true) to overwrite it`, { path }, { cause: err });
    throw new SmlmError('E_FILE_NOT_FOUND', `cannot write ${path} (${code ?? (err as Error).message})`, { path }, { cause: err });
  }
}
