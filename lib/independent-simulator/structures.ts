/**
 * Sample structures of the independent simulator, as fixed label positions (binding sites) that blink later:
 *
 * - bundles of 2-4 worm-like-chain filaments (like the "Bundled Tubes" benchmark): a centre line whose tangent angle
 *   diffuses with variance step / persistence length (the 2-D worm-like chain), and members on parallel curves at
 *   cumulative offsets of 20-60 nm; labels sit on a tube around each member's axis (projected offset radius x
 *   cos(phi)) plus a Gaussian label displacement;
 * - optional rings (nuclear-pore-like: evenly spaced corners, several labels each) and clusters (Gaussian blobs).
 *
 * Filaments run in and out of the field like real ones; labels outside the field still shine into its edge, but only
 * labels inside it count for the density and the ground truth.
 */
import { SmlmError } from '../errors.js';
import type { IndependentRng } from './rng.js';

export interface FilamentBundleOptions {
  /** Bundles per field, inclusive range. */
  bundles: [number, number];
  /** Filaments per bundle, inclusive range. */
  membersPerBundle: [number, number];
  /** Distance between neighbouring members, nm, uniform range. */
  spacingNm: [number, number];
  /** Persistence length of the bundle's centre line, nm, uniform range. */
  persistenceNm: [number, number];
  /** Contour length of a bundle, nm, uniform range. */
  lengthNm: [number, number];
  /** Radius of the labelled tube around each member's axis, nm (microtubule + antibodies ~ 15-20). */
  tubeRadiusNm: number;
  /** Labels per um of member contour. */
  labelsPerUm: number;
}

export interface RingOptions {
  count: number;
  radiusNm: number;
  /** Corners per ring (8 for a nuclear pore). */
  corners: number;
  labelsPerCorner: number;
}

export interface ClusterOptions {
  count: number;
  /** Gaussian sigma of a cluster, nm. */
  sigmaNm: number;
  labelsPerCluster: number;
}

export interface StructureSpec {
  filaments?: FilamentBundleOptions;
  rings?: RingOptions;
  clusters?: ClusterOptions;
  /** Standard deviation of each label's displacement from its site, nm. */
  labelJitterNm: number;
}

/** One drawn bundle: its members' axes as polylines [x0, y0, x1, y1, ...] nm and the neighbour spacings. */
export interface DrawnBundle {
  members: Float64Array[];
  /** spacingsNm[i] = offset between member i and member i + 1. */
  spacingsNm: number[];
}

export interface DrawnStructure {
  bundles: DrawnBundle[];
  /** Label positions, nm (field coordinates; some outside the field). */
  labelX: Float64Array;
  labelY: Float64Array;
}

/** Polyline step along a centre line, nm. */
const STEP_NM = 10;

function badRange(name: string, r: [number, number]): SmlmError {
  return new SmlmError('E_BAD_OPTIONS', `independent simulator structure: ${name} must be [min, max] with 0 <= min <= max, got ${JSON.stringify(r)}`);
}

function checkRange(name: string, r: [number, number], positive = false): void {
  if (!Array.isArray(r) || r.length !== 2 || !(r[0] >= 0 && r[1] >= r[0]) || (positive && !(r[0] > 0))) throw badRange(name, r);
}

/** A worm-like chain of `lengthNm` whose middle point is uniform in the field, so every bundle crosses it. */
function drawCentreLine(rng: IndependentRng, fieldWNm: number, fieldHNm: number, persistenceNm: number, lengthNm: number): Float64Array {
  const n = Math.max(2, Math.round(lengthNm / STEP_NM) + 1);
  const line = new Float64Array(2 * n);
  const midX = rng.between(0, fieldWNm);
  const midY = rng.between(0, fieldHNm);
  let x = 0;
  let y = 0;
  let angle = rng.between(0, 2 * Math.PI);
  const angleStep = Math.sqrt(STEP_NM / persistenceNm);
  for (let i = 0; i < n; i++) {
    line[2 * i] = x;
    line[2 * i + 1] = y;
    x += STEP_NM * Math.cos(angle);
    y += STEP_NM * Math.sin(angle);
    angle += angleStep * rng.gaussian();
  }
  const m = n >> 1;
  const [sx, sy] = [midX - line[2 * m], midY - line[2 * m + 1]];
  for (let i = 0; i < n; i++) {
    line[2 * i] += sx;
    line[2 * i + 1] += sy;
  }
  return line;
}

/** The curve at perpendicular offset `offset` (nm, to the left of the direction of travel) from a centre line. */
function parallelCurve(centre: Float64Array, offset: number): Float64Array {
  const n = centre.length / 2;
  const out = new Float64Array(centre.length);
  for (let i = 0; i < n; i++) {
    const a = Math.max(0, i - 1);
    const b = Math.min(n - 1, i + 1);
    const tx = centre[2 * b] - centre[2 * a];
    const ty = centre[2 * b + 1] - centre[2 * a + 1];
    const len = Math.hypot(tx, ty) || 1;
    out[2 * i] = centre[2 * i] - (offset * ty) / len;
    out[2 * i + 1] = centre[2 * i + 1] + (offset * tx) / len;
  }
  return out;
}

function polylineLength(line: Float64Array): number {
  let total = 0;
  for (let i = 2; i < line.length; i += 2) total += Math.hypot(line[i] - line[i - 2], line[i + 1] - line[i - 1]);
  return total;
}

/**
 * Draws the structure for a field of fieldWNm x fieldHNm nm: bundles centred in the field that may run out of it,
 * rings and clusters centred in it. Throws E_BAD_OPTIONS for invalid ranges.
 */
export function drawStructure(rng: IndependentRng, spec: StructureSpec, fieldWNm: number, fieldHNm: number): DrawnStructure {
  const xs: number[] = [];
  const ys: number[] = [];
  const jitter = spec.labelJitterNm;
  if (!(jitter >= 0)) throw new SmlmError('E_BAD_OPTIONS', `labelJitterNm must be >= 0, got ${jitter}`);
  const addLabel = (x: number, y: number) => {
    xs.push(x + jitter * rng.gaussian());
    ys.push(y + jitter * rng.gaussian());
  };
  const bundles: DrawnBundle[] = [];
  const f = spec.filaments;
  if (f) {
    checkRange('bundles', f.bundles);
    checkRange('membersPerBundle', f.membersPerBundle, true);
    checkRange('spacingNm', f.spacingNm);
    checkRange('persistenceNm', f.persistenceNm, true);
    checkRange('lengthNm', f.lengthNm, true);
    if (!(f.tubeRadiusNm >= 0) || !(f.labelsPerUm > 0)) throw new SmlmError('E_BAD_OPTIONS', `tubeRadiusNm must be >= 0 and labelsPerUm > 0, got ${f.tubeRadiusNm}, ${f.labelsPerUm}`);
    const count = rng.integerBetween(f.bundles[0], f.bundles[1]);
    for (let k = 0; k < count; k++) {
      const members = rng.integerBetween(f.membersPerBundle[0], f.membersPerBundle[1]);
      const centre = drawCentreLine(rng, fieldWNm, fieldHNm, rng.between(f.persistenceNm[0], f.persistenceNm[1]), rng.between(f.lengthNm[0], f.lengthNm[1]));
      const spacingsNm = Array.from({ length: members - 1 }, () => rng.between(f.spacingNm[0], f.spacingNm[1]));
      // Offsets are cumulative spacings, centred on the bundle's centre line.
      const offsets = [0];
      for (const s of spacingsNm) offsets.push(offsets[offsets.length - 1] + s);
      const mid = offsets[offsets.length - 1] / 2;
      const lines = offsets.map((o) => parallelCurve(centre, o - mid));
      bundles.push({ members: lines, spacingsNm });
      for (const line of lines) {
        const labels = Math.round((polylineLength(line) / 1000) * f.labelsPerUm);
        const segments = line.length / 2 - 1;
        for (let l = 0; l < labels; l++) {
          // Uniform along the polyline (its segments are ~equally long), then around the tube.
          const s = rng.between(0, segments);
          const i = Math.min(segments - 1, Math.floor(s));
          const t = s - i;
          const ax = line[2 * i] + t * (line[2 * i + 2] - line[2 * i]);
          const ay = line[2 * i + 1] + t * (line[2 * i + 3] - line[2 * i + 1]);
          const dx = line[2 * i + 2] - line[2 * i];
          const dy = line[2 * i + 3] - line[2 * i + 1];
          const len = Math.hypot(dx, dy) || 1;
          const r = f.tubeRadiusNm * Math.cos(rng.between(0, 2 * Math.PI));
          addLabel(ax - (r * dy) / len, ay + (r * dx) / len);
        }
      }
    }
  }
  const rings = spec.rings;
  if (rings) {
    for (let k = 0; k < rings.count; k++) {
      const cx = rng.between(0, fieldWNm);
      const cy = rng.between(0, fieldHNm);
      const turn = rng.between(0, 2 * Math.PI);
      for (let c = 0; c < rings.corners; c++) {
        const a = turn + (2 * Math.PI * c) / rings.corners;
        for (let l = 0; l < rings.labelsPerCorner; l++) addLabel(cx + rings.radiusNm * Math.cos(a), cy + rings.radiusNm * Math.sin(a));
      }
    }
  }
  const clusters = spec.clusters;
  if (clusters) {
    for (let k = 0; k < clusters.count; k++) {
      const cx = rng.between(0, fieldWNm);
      const cy = rng.between(0, fieldHNm);
      for (let l = 0; l < clusters.labelsPerCluster; l++) addLabel(cx + clusters.sigmaNm * rng.gaussian(), cy + clusters.sigmaNm * rng.gaussian());
    }
  }
  return { bundles, labelX: Float64Array.from(xs), labelY: Float64Array.from(ys) };
}
