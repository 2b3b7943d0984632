import { readFileSync, writeFileSync } from 'node:fs';
import { SmlmError } from '../errors.js';

/** One emitter / localization in ThunderSTORM's column convention. Frame is 1-based; x is the column, in nm. */
export interface Emitter {
  id: number;
  frame: number;
  xNm: number;
  yNm: number;
  sigmaNm: number;
  photons: number;
  /** ThunderSTORM's "offset [photon]": the camera baseline expressed in photons. */
  offsetPhotons: number;
  /** ThunderSTORM's "bkgstd [photon]": standard deviation of the background, photons. */
  bkgStdPhotons: number;
}

export const THUNDERSTORM_COLUMNS = ['id', 'frame', 'x [nm]', 'y [nm]', 'sigma [nm]', 'intensity [photon]', 'offset [photon]', 'bkgstd [photon]'] as const;

const FIELD: Record<(typeof THUNDERSTORM_COLUMNS)[number], keyof Emitter> = {
  id: 'id',
  frame: 'frame',
  'x [nm]': 'xNm',
  'y [nm]': 'yNm',
  'sigma [nm]': 'sigmaNm',
  'intensity [photon]': 'photons',
  'offset [photon]': 'offsetPhotons',
  'bkgstd [photon]': 'bkgStdPhotons',
};

function fmt(v: number): string {
  return Number.isInteger(v) ? String(v) : String(Math.round(v * 1e5) / 1e5);
}

/** Serializes emitters as ThunderSTORM CSV (quoted header, one row per emitter). */
export function formatThunderstormCsv(emitters: readonly Emitter[]): string {
  const lines = [THUNDERSTORM_COLUMNS.map((c) => `"${c}"`).join(',')];
  for (const e of emitters) lines.push(THUNDERSTORM_COLUMNS.map((c) => fmt(e[FIELD[c]])).join(','));
  return lines.join('\n') + '\n';
}

/** A cell's text without surrounding blanks and one pair of double quotes (ThunderSTORM quotes its header). */
function unquote(cell: string): string {
  return cell.trim().replace(/^"(.*)"$/, '$1').trim();
}

/**
 * Parses ThunderSTORM-style CSV text. `frame`, `x [nm]` and `y [nm]` are required; other known columns are read when
 * present (0 otherwise); unknown columns are ignored. Cells may be quoted ("1"). Throws E_BAD_OPTIONS on malformed
 * content, naming the line and column: a missing or empty cell is an error, not a 0.
 */
export function parseThunderstormCsv(text: string, source = 'csv'): Emitter[] {
  // Line numbers as an editor shows them; blank lines are skipped but still counted.
  const lines = text
    .split(/\r?\n/)
    .map((content, i) => ({ content, number: i + 1 }))
    .filter((l) => l.content.trim().length > 0);
  if (lines.length === 0) throw new SmlmError('E_BAD_OPTIONS', `${source}: empty CSV, expected a ThunderSTORM header`, { source });
  const header = lines[0].content.split(',').map(unquote);
  const index = new Map<keyof Emitter, number>();
  header.forEach((h, i) => {
    const field = (FIELD as Record<string, keyof Emitter | undefined>)[h];
    if (field) index.set(field, i);
  });
  for (const required of ['frame', 'xNm', 'yNm'] as const) {
    if (!index.has(required)) {
      throw new SmlmError('E_BAD_OPTIONS', `${source}: CSV lacks the column for ${required}; expected ThunderSTORM columns "frame","x [nm]","y [nm]"`, { source });
    }
  }
  const out: Emitter[] = [];
  for (let row = 1; row < lines.length; row++) {
    const line = lines[row].number;
    const cells = lines[row].content.split(',');
    const get = (field: keyof Emitter): number => {
      const i = index.get(field);
      if (i === undefined) return 0;
      const bad = (why: string) => new SmlmError('E_BAD_OPTIONS', `${source}: line ${line}, column ${i + 1} ("${header[i]}"): ${why}`, { source, line, column: i + 1 });
      if (i >= cells.length) throw bad('missing, the line has fewer cells than the header');
      const cell = unquote(cells[i]);
      // Number('') is 0: an empty cell must not read as a position or frame of 0.
      if (cell === '') throw bad('empty, expected a number');
      const v = Number(cell);
      if (!Number.isFinite(v)) throw bad(`"${cell}" is not a number`);
      return v;
    };
    out.push({
      id: index.has('id') ? get('id') : row,
      frame: get('frame'),
      xNm: get('xNm'),
      yNm: get('yNm'),
      sigmaNm: get('sigmaNm'),
      photons: get('photons'),
      offsetPhotons: get('offsetPhotons'),
      bkgStdPhotons: get('bkgStdPhotons'),
    });
  }
  return out;
}

/** Reads a ThunderSTORM CSV file; E_FILE_NOT_FOUND if it cannot be read. */
export function readThunderstormCsv(path: string): Emitter[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new SmlmError('E_FILE_NOT_FOUND', `cannot read ${path}`, { path }, { cause: err });
  }
  return parseThunderstormCsv(text, path);
}

/** Writes a ThunderSTORM CSV file. */
export function writeThunderstormCsv(path: string, emitters: readonly Emitter[]): void {
  writeFileSync(path, formatThunderstormCsv(emitters));
}
