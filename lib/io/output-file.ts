import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { access, link, open, realpath, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { SmlmError } from '../errors.js';

function outputExists(path: string): SmlmError {
  return new SmlmError('E_OUTPUT_EXISTS', `${path} already exists; pass --force (force: true) to overwrite it`, { path });
}

function errnoCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException).code;
}

/** E_BAD_OPTIONS unless `path` can name an output file: not empty, not ending in a separator, not an existing folder. */
async function checkOutputPath(path: string): Promise<void> {
  if (typeof path !== 'string' || path.trim() === '') throw new SmlmError('E_BAD_OPTIONS', 'the output path is empty; give a file name', { path });
  const isFolder = path.endsWith('/') || path.endsWith(sep) || (await stat(path).then((s) => s.isDirectory(), () => false));
  if (isFolder) throw new SmlmError('E_BAD_OPTIONS', `${path} names a folder; give the output a file name`, { path });
}

/**
 * Throws E_BAD_OPTIONS when `path` cannot name a file (empty, a folder), E_OUTPUT_EXISTS when it exists and `force`
 * is not set, E_FILE_NOT_FOUND when its folder is missing or not writable; lets callers fail before hours of work.
 */
export async function checkOutputWritable(path: string, force: boolean): Promise<void> {
  await checkOutputPath(path);
  if (!force) {
    const exists = await access(path, constants.F_OK).then(
      () => true,
      () => false,
    );
    if (exists) throw outputExists(path);
  }
  const folder = dirname(path);
  const folderOk = await access(folder, constants.W_OK).then(
    () => true,
    () => false,
  );
  if (!folderOk) throw new SmlmError('E_FILE_NOT_FOUND', `cannot write ${path}: folder ${folder} does not exist or is not writable`, { path });
}

/**
 * What file a path names, comparable between paths: device and inode when it exists (so links and differently
 * spelled paths to one file compare equal), else the absolute path with its folder's symlinks resolved.
 */
async function fileIdentity(path: string): Promise<string> {
  try {
    const { dev, ino } = await stat(path, { bigint: true });
    return `inode ${dev}:${ino}`;
  } catch {
    const absolute = resolve(path);
    const folder = await realpath(dirname(absolute)).catch(() => dirname(absolute));
    return `path ${join(folder, basename(absolute))}`;
  }
}

/** Whether two paths name the same file (existing or not). */
export async function sameFile(a: string, b: string): Promise<boolean> {
  return (await fileIdentity(a)) === (await fileIdentity(b));
}

/**
 * E_BAD_OPTIONS when the output `path` is one of the `inputs` (the same file under any name): writing the result
 * there would destroy the input, so this is refused even with --force, before any work.
 */
export async function checkOutputIsNotInput(path: string, inputs: ReadonlyArray<string | undefined>): Promise<void> {
  for (const input of inputs) {
    if (input !== undefined && (await sameFile(path, input))) {
      throw new SmlmError('E_BAD_OPTIONS', `the output ${path} is the input ${input}; writing there would destroy it (give the output another name)`, { path, input });
    }
  }
}

/** Where bytes for `target` are staged: a hidden, unique name in the target's own folder, so rename() is atomic. */
function temporaryPathFor(target: string): string {
  // Shortened so that a long output name cannot push the temporary name past the file system's name limit.
  const stem = basename(target).slice(0, 100);
  return join(dirname(target), `.${stem}.${randomBytes(6).toString('hex')}.smlm-rt-partial`);
}

/** A symlinked output is written where the link points (as an in-place write would), not replaced by a file. */
async function resolvedTarget(path: string): Promise<string> {
  try {
    return await realpath(path);
  } catch {
    return path;
  }
}

/**
 * Moves the finished temporary file onto `target` without replacing an existing file: link() fails with EEXIST
 * atomically, so a file that appeared since checkOutputWritable is not clobbered either. File systems without hard
 * links fall back to a check then rename (a file created in between those two steps would be replaced).
 */
async function publishWithoutOverwrite(temporary: string, target: string): Promise<void> {
  try {
    await link(temporary, target);
    await unlink(temporary).catch(() => undefined);
    return;
  } catch (err) {
    if (errnoCode(err) === 'EEXIST') throw outputExists(target);
    if (!['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS'].includes(errnoCode(err) ?? '')) throw err;
  }
  const exists = await access(target, constants.F_OK).then(
    () => true,
    () => false,
  );
  if (exists) throw outputExists(target);
  await rename(temporary, target);
}

function cannotWrite(path: string, err: unknown): SmlmError {
  return new SmlmError('E_FILE_NOT_FOUND', `cannot write ${path} (${errnoCode(err) ?? (err as Error).message})`, { path }, { cause: err });
}

/** Writes and flushes all bytes, so that the rename below never publishes a file the disk does not hold yet. */
async function writeAndClose(handle: FileHandle, bytes: Uint8Array): Promise<void> {
  try {
    await handle.writeFile(bytes);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Writes bytes to `path`, refusing to replace an existing file unless `force`. The bytes go to a temporary file in
 * the same folder first, which is then renamed onto `path`: a write that fails (disk full, quota, I/O error) removes
 * the temporary file and leaves an existing `path` untouched, and no half-written output is ever left behind.
 * Throws E_BAD_OPTIONS (not a file name), E_OUTPUT_EXISTS or E_FILE_NOT_FOUND (cannot be written).
 */
export async function writeOutputFile(path: string, bytes: Uint8Array, force: boolean): Promise<void> {
  await checkOutputPath(path);
  const target = force ? await resolvedTarget(path) : path;
  const temporary = temporaryPathFor(target);
  let handle: FileHandle;
  try {
    // 'wx': the temporary name is never an existing file, not even one created meanwhile.
    handle = await open(temporary, 'wx');
  } catch (err) {
    throw cannotWrite(path, err);
  }
  try {
    await writeAndClose(handle, bytes);
    if (force) await rename(temporary, target);
    else await publishWithoutOverwrite(temporary, target);
  } catch (err) {
    await unlink(temporary).catch(() => undefined);
    throw err instanceof SmlmError ? err : cannotWrite(path, err);
  }
}
