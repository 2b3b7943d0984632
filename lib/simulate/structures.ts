import type { Random } from './random.js';

/** A sample structure: polylines (nm coordinates) that emitters are drawn onto. */
export interface Structure {
  /** Each filament is a polyline of points [x0, y0, x1, y1, ...] in nm. */
  filaments: Float64Array[];
}

/** Options for microtubule-like structures: bundles of curved filaments a few tens of nm apart. */
export interface FilamentOptions {
  kind: 'filaments';
  /** Number of bundles, drawn uniformly from [min, max]. Default [3, 6]. */
  bundles?: [number, number];
  /** Filaments per bundle, drawn uniformly from [min, max]. Default [1, 3]. */
  filamentsPerBundle?: [number, number];
  /** Distance between neighbouring filaments of a bundle, nm, uniform in [min, max]. Default [30, 80]. */
  spacingNm?: [number, number];
  /** Persistence length of the filaments' direction, nm (smaller = more curved). Default 4000. */
  persistenceNm?: number;
  /** Longest filament, nm. Default 12000. */
  maxLengthNm?: number;
}

export interface UniformOptions {
  kind: 'uniform';
}

export type StructureOptions = FilamentOptions | UniformOptions;

const STEP_NM = 20;

/**
 * Draws a bundle of filaments: a curved centre line (direction performs a random walk, i.e. a worm-like chain with
 * the given persistence length), and members offset perpendicular to it by distances that drift slowly along
 * the bundle, so that filaments approach and separate like bundled microtubules.
 */
function drawBundle(
  rng: Random,
  box: { x0: number; y0: number; x1: number; y1: number },
  members: number,
  spacing: number,
  persistenceNm: number,
  maxLengthNm: number,
): Float64Array[] {
  const sx = rng.range(box.x0, box.x1);
  const sy = rng.range(box.y0, box.y1);
  const theta0 = rng.range(0, 2 * Math.PI);
  const angleStd = Math.sqrt((2 * STEP_NM) / persistenceNm);
  const half = (direction: number): number[] => {
    const pts: number[] = [];
    let x = sx;
    let y = sy;
    let theta = theta0 + (direction < 0 ? Math.PI : 0);
    for (let len = 0; len < maxLengthNm / 2; len += STEP_NM) {
      x += STEP_NM * Math.cos(theta);
      y += STEP_NM * Math.sin(theta);
      if (x < box.x0 || x > box.x1 || y < box.y0 || y > box.y1) break;
      pts.push(x, y);
      theta += angleStd * rng.normal();
    }
    return pts;
  };
  const forward = half(1);
  const backward = half(-1);
  const centre: number[] = [];
  for (let i = backward.length - 2; i >= 0; i -= 2) centre.push(backward[i], backward[i + 1]);
  centre.push(sx, sy, ...forward);
  const n = centre.length / 2;
  if (n < 2) return [];
  const out: Float64Array[] = [];
  for (let m = 0; m < members; m++) {
    const base = (m - (members - 1) / 2) * spacing;
    // Slow sinusoidal drift of the offset (period several um), amplitude a fraction of the spacing.
    const amp = members > 1 ? rng.range(0.1, 0.5) * spacing : 0;
    const period = rng.range(2000, 8000);
    const phase = rng.range(0, 2 * Math.PI);
    const line = new Float64Array(n * 2);
    for (let i = 0; i < n; i++) {
      const a = Math.max(0, i - 1);
      const b = Math.min(n - 1, i + 1);
      const tx = centre[2 * b] - centre[2 * a];
      const ty = centre[2 * b + 1] - centre[2 * a + 1];
      const tn = Math.hypot(tx, ty) || 1;
      const off = base + amp * Math.sin((2 * Math.PI * i * STEP_NM) / period + phase);
      line[2 * i] = centre[2 * i] - (ty / tn) * off;
      line[2 * i + 1] = centre[2 * i + 1] + (tx / tn) * off;
    }
    out.push(line);
  }
  return out;
}

/** Draws a structure inside [marginNm, extent - marginNm] of a field of the given size. */
export function drawStructure(
  rng: Random,
  options: FilamentOptions,
  fieldWidthNm: number,
  fieldHeightNm: number,
  marginNm: number,
): Structure {
  const [bMin, bMax] = options.bundles ?? [3, 6];
  const [fMin, fMax] = options.filamentsPerBundle ?? [1, 3];
  const [sMin, sMax] = options.spacingNm ?? [30, 80];
  const persistence = options.persistenceNm ?? 4000;
  const maxLength = options.maxLengthNm ?? 12000;
  const box = { x0: marginNm, y0: marginNm, x1: fieldWidthNm - marginNm, y1: fieldHeightNm - marginNm };
  const filaments: Float64Array[] = [];
  const bundles = bMin + rng.int(bMax - bMin + 1);
  for (let b = 0; b < bundles; b++) {
    const members = fMin + rng.int(fMax - fMin + 1);
    filaments.push(...drawBundle(rng, box, members, rng.range(sMin, sMax), persistence, maxLength));
  }
  return { filaments };
}

/** Cumulative segment lengths over all filaments, so points can be drawn uniformly per unit length. */
export class StructureSampler {
  private readonly segments: { line: Float64Array; i: number }[] = [];
  private readonly cumulative: number[] = [];
  readonly totalLengthNm: number;

  constructor(structure: Structure) {
    let total = 0;
    for (const line of structure.filaments) {
      for (let i = 0; i + 3 < line.length; i += 2) {
        const len = Math.hypot(line[i + 2] - line[i], line[i + 3] - line[i + 1]);
        if (len <= 0) continue;
        total += len;
        this.segments.push({ line, i });
        this.cumulative.push(total);
      }
    }
    this.totalLengthNm = total;
  }

  /** A point drawn uniformly along the filaments, displaced by isotropic Gaussian jitter (label size). */
  sample(rng: Random, jitterNm: number): [number, number] {
    const target = rng.uniform() * this.totalLengthNm;
    let lo = 0;
    let hi = this.cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.cumulative[mid] < target) lo = mid + 1;
      else hi = mid;
    }
    const { line, i } = this.segments[lo];
    const t = rng.uniform();
    const x = line[i] + t * (line[i + 2] - line[i]) + jitterNm * rng.normal();
    const y = line[i + 1] + t * (line[i + 3] - line[i + 1]) + jitterNm * rng.normal();
    return [x, y];
  }
}
