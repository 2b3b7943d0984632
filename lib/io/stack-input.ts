/**
 * What the commands take as a stack: a TIFF file, a folder of TIFF files, or a glob of them (`frames/*.tif`), read as
 * one FrameSource. Also where a file's absurd pixel calibration is caught: reported, and the source is given
 * without it (so a model's or the user's pixel size applies instead).
 */
import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { SmlmError } from '../errors.js';
import type { FrameSource } from './frame-source.js';
import { naturalCompare } from './natural-sort.js';
import { plausibleFilePixelSize } from './pixel-size.js';
import { openTiffFiles } from './tiff-files.js';
import { openTiffStack } from './tiff-read.js';

export interface StackInput {
  source: FrameSource;
  /** The files read (one for a TIFF stack), in frame order. */
  paths: readonly string[];
  /** Set when the file states a pixel size outside 10 nm..10 um: says so, and that it was ignored. */
  pixelSizeNote?: string;
  close(): Promise<void>;
}

const TIFF_NAME = /\.tiff?$/i;
const GLOB_CHARS = /[*?[]/;

/** A glob pattern of one path component (*, ?, [abc]) as a regular expression. */
function globToRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i];
    if (ch === '*') re += '[^/]*';
    else if (ch === '?') re += '[^/]';
    else if (ch === '[') {
      const end = pattern.indexOf(']', i + 1);
      if (end < 0) re += '\\[';
      else {
        re += `[${pattern
          .slice(i + 1, end)
          .replace(/^!/, '^')
          .replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else re += ch.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

async function listFolder(folder: string, keep: (name: string) => boolean): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(folder);
  } catch (err) {
    throw new SmlmError('E_FILE_NOT_FOUND', `${folder}: cannot list (${(err as NodeJS.ErrnoException).code ?? String(err)})`, { path: folder }, { cause: err });
  }
  return names
    .filter((n) => !n.startsWith('.') && keep(n))
    .sort(naturalCompare)
    .map((n) => join(folder, n));
}

/**
 * The TIFF files a path names: itself (a file), the .tif/.tiff files of a folder, or the files matching a glob in
 * its last component (`acq/frame_*.tif`; the folder part is literal), both in natural order.
 */
export async function resolveStackPaths(path: string): Promise<string[]> {
  const name = basename(path);
  if (
    GLOB_CHARS.test(name) &&
    !(await stat(path).then(
      () => true,
      () => false,
    ))
  ) {
    const re = globToRegExp(name);
    const files = await listFolder(dirname(path), (n) => re.test(n));
    if (files.length === 0) throw new SmlmError('E_FILE_NOT_FOUND', `no file matches ${path}`, { path });
    return files;
  }
  const isFolder = await stat(path).then(
    (s) => s.isDirectory(),
    () => false,
  );
  if (!isFolder) return [path];
  const files = await listFolder(path, (n) => TIFF_NAME.test(n));
  if (files.length === 0) throw new SmlmError('E_EMPTY_STACK', `${path}: the folder holds no .tif or .tiff files`, { path });
  return files;
}

/** Opens a TIFF stack, a folder of TIFFs or a glob of them as one source (see resolveStackPaths). */
export async function openStackInput(path: string): Promise<StackInput> {
  const paths = await resolveStackPaths(path);
  const opened = paths.length === 1 && paths[0] === path ? await openTiffStack(path) : await openTiffFiles(paths);
  const { pixelSizeNm, ignored } = plausibleFilePixelSize(opened.pixelSizeNm);
  let source: FrameSource = opened;
  if (ignored) {
    // A view of the source without the absurd calibration.
    source = { frames: opened.frames, height: opened.height, width: opened.width, pixelSizeNm, chunks: (n: number) => opened.chunks(n) };
  }
  return { source, paths, pixelSizeNote: ignored && `${path}: ${ignored}`, close: () => opened.close() };
}
