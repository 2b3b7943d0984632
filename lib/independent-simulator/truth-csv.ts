/**
 * The independent simulator's ground truth as text, in ThunderSTORM's column names (what lib/metrics.ts's readers,
 * scripts/evaluation.py and ThunderSTORM itself read by header), written here rather than through
 * lib/simulate/csv.ts so the two simulators share no code.
 */
import { writeFileSync } from 'node:fs';

/** One emitter that was on in one frame and lies inside the field. */
export interface TruthRow {
  /** 1-based, in frame order. */
  id: number;
  /** 1-based frame number. */
  frame: number;
  /** Column coordinate, nm (camera pixel i covers [i*px, (i+1)*px)). */
  xNm: number;
  /** Row coordinate, nm. */
  yNm: number;
  /** Expected detected photons. */
  photons: number;
  /** Gaussian-equivalent PSF sigma of this emitter (its Airy core and its broadening), nm; for reference only. */
  sigmaNm: number;
}

const HEADER = '"id","frame","x [nm]","y [nm]","sigma [nm]","intensity [photon]"';

/** At most four decimals: sub-nm positions survive, files stay small. */
function num(v: number): string {
  return Number.isInteger(v) ? String(v) : String(Number(v.toFixed(4)));
}

export function formatTruthCsv(rows: readonly TruthRow[]): string {
  const lines = [HEADER];
  for (const r of rows) lines.push(`${r.id},${r.frame},${num(r.xNm)},${num(r.yNm)},${num(r.sigmaNm)},${num(r.photons)}`);
  return lines.join('\n') + '\n';
}

export function writeTruthCsv(path: string, rows: readonly TruthRow[]): void {
  writeFileSync(path, formatTruthCsv(rows));
}
