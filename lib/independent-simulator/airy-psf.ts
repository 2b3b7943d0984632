/**
 * The independent simulator's PSF: a scalar Airy pattern (wavelength, numerical aperture), optionally convolved with
 * a 2-D Gaussian of width `broadeningNm` (per-emitter defocus / label-size blur), integrated over each camera pixel by
 * 3x3-point Gauss-Legendre quadrature. Its shape differs from the main simulator's integrated Gaussian: a narrower
 * core, a dark ring at 0.61 lambda/NA and wings that fall off as 1/r^3 instead of exponentially.
 *
 * Geometry (../shared/data/README.md): camera pixel i covers [i*px, (i+1)*px) nm, x is the column.
 */
import { SmlmError } from '../errors.js';
import { besselJ0, besselJ1 } from './bessel.js';

export interface Optics {
  /** Emission wavelength, nm. */
  wavelengthNm: number;
  numericalAperture: number;
}

/** First zero of J1, so the Airy pattern's first dark ring is at AIRY_ZERO / (2 pi) * lambda / NA = 0.6098 lambda / NA. */
const AIRY_ZERO = 3.831705970207512;

function checkOptics(o: Optics): void {
  if (!(o.wavelengthNm > 0) || !(o.numericalAperture > 0)) {
    throw new SmlmError('E_BAD_OPTIONS', `optics need wavelengthNm > 0 and numericalAperture > 0, got ${JSON.stringify(o)}`);
  }
}

/** Radius of the first dark ring, nm (0.61 lambda / NA). */
export function airyFirstZeroNm(o: Optics): number {
  return (AIRY_ZERO / (2 * Math.PI)) * (o.wavelengthNm / o.numericalAperture);
}

/**
 * The sigma of the Gaussian that best stands in for this PSF, nm: 0.21 lambda / NA for the in-focus Airy pattern
 * (Zhang, Zerubia & Olivo-Marin, Appl. Opt. 46:1819, 2007, paraxial widefield), combined in quadrature with a
 * Gaussian broadening. For reporting conditions in the units the rest of smlm-rt uses; the simulator never uses it.
 */
export function gaussianEquivalentSigmaNm(o: Optics, broadeningNm = 0): number {
  checkOptics(o);
  const core = (0.21 * o.wavelengthNm) / o.numericalAperture;
  return Math.sqrt(core * core + broadeningNm * broadeningNm);
}

/** Airy intensity at distance r (nm) from the emitter, as a probability density per nm^2 (integrates to 1 over the plane). */
export function airyDensity(rNm: number, o: Optics): number {
  const k = (2 * Math.PI * o.numericalAperture) / o.wavelengthNm;
  const v = k * rNm;
  const amplitude = v < 1e-6 ? 1 : (2 * besselJ1(v)) / v;
  return ((k * k) / (4 * Math.PI)) * amplitude * amplitude;
}

/** Fraction of the Airy pattern's light within radius r (Rayleigh): 1 - J0(v)^2 - J1(v)^2. */
export function airyEncircledEnergy(rNm: number, o: Optics): number {
  const v = ((2 * Math.PI * o.numericalAperture) / o.wavelengthNm) * rNm;
  const j0 = besselJ0(v);
  const j1 = besselJ1(v);
  return 1 - j0 * j0 - j1 * j1;
}

/** Entries of a radial profile table, uniform in r^2 (fine near the core's edge, where the profile changes fastest). */
const TABLE_SIZE = 8192;

/**
 * A radially symmetric PSF density tabulated over r^2 up to `reachNm`, normalized to total 1 inside that disc: the
 * Airy wings beyond the reach (a few % of the light) are folded back into the rendered emitter, so an emitter's
 * photons are all in the image.
 */
export class RadialProfile {
  readonly reachNm: number;
  /** Radius of the first dark ring of the Airy pattern it was made from, nm (sets where the core ends). */
  readonly firstZeroNm: number;
  private readonly table: Float64Array;
  private readonly step: number;

  constructor(densityAt: (rNm: number) => number, reachNm: number, firstZeroNm: number) {
    this.reachNm = reachNm;
    this.firstZeroNm = firstZeroNm;
    this.step = (reachNm * reachNm) / (TABLE_SIZE - 1);
    this.table = new Float64Array(TABLE_SIZE + 1);
    for (let i = 0; i < TABLE_SIZE; i++) this.table[i] = densityAt(Math.sqrt(i * this.step));
    // Mass in the disc: integral of p(r) 2 pi r dr = pi * integral of p over r^2 (trapezoid).
    let mass = 0;
    for (let i = 1; i < TABLE_SIZE; i++) mass += 0.5 * (this.table[i - 1] + this.table[i]) * this.step;
    mass *= Math.PI;
    for (let i = 0; i < TABLE_SIZE; i++) this.table[i] /= mass;
  }

  /** Density per nm^2 at squared distance r2 (nm^2); 0 beyond the reach. */
  at(r2: number): number {
    const pos = r2 / this.step;
    if (pos >= TABLE_SIZE - 1) return 0;
    const i = Math.floor(pos);
    const f = pos - i;
    return this.table[i] + f * (this.table[i + 1] - this.table[i]);
  }
}

/**
 * The Airy density convolved with an isotropic Gaussian of sigma `b` nm, along the x axis (the result is radially
 * symmetric, so that line is the whole profile): p(x) = sum over x', y' of A(x', y') G(x - x') G(y'), on a grid fine
 * enough for both (step <= b/2 and <= 4 nm).
 */
function broadenedDensity(o: Optics, b: number, reachNm: number): (rNm: number) => number {
  if (b <= 0) return (r) => airyDensity(r, o);
  const h = Math.min(4, b / 2);
  const taps = Math.ceil((4 * b) / h);
  const gauss = new Float64Array(2 * taps + 1);
  let gsum = 0;
  for (let t = -taps; t <= taps; t++) gsum += gauss[t + taps] = Math.exp(-((t * h) ** 2) / (2 * b * b));
  for (let t = 0; t < gauss.length; t++) gauss[t] /= gsum;
  // q(x') = sum over y' of A(x', y') G(y'), for x' on the grid from -(reach + 4b) to +(reach + 4b).
  const half = Math.ceil((reachNm + 4 * b) / h) + taps;
  const q = new Float64Array(2 * half + 1);
  for (let i = -half; i <= half; i++) {
    let acc = 0;
    for (let t = -taps; t <= taps; t++) acc += gauss[t + taps] * airyDensity(Math.hypot(i * h, t * h), o);
    q[i + half] = acc;
  }
  return (r) => {
    // p(r) = sum over x' of q(x') G(r - x'), linear interpolation of q between grid points (weights sum to 1).
    const centre = r / h;
    let acc = 0;
    for (let t = -taps; t <= taps; t++) {
      const pos = centre - t + half;
      const i = Math.floor(pos);
      const f = pos - i;
      acc += gauss[t + taps] * (q[i] * (1 - f) + q[i + 1] * f);
    }
    return acc;
  };
}

const profiles = new Map<string, RadialProfile>();

/** Broadening widths are rounded to this grid (nm) so that profiles can be shared between emitters. */
export const BROADENING_STEP_NM = 2;

/** How far the PSF is rendered, in first-dark-ring radii (4 rings: ~96 % of the Airy pattern's light). */
export const REACH_IN_FIRST_ZEROS = 4;

/** The (memoized) radial profile of the PSF with broadening `broadeningNm` (rounded to BROADENING_STEP_NM). */
export function psfProfile(o: Optics, broadeningNm: number): RadialProfile {
  checkOptics(o);
  if (!(broadeningNm >= 0)) throw new SmlmError('E_BAD_OPTIONS', `PSF broadening must be >= 0 nm, got ${broadeningNm}`);
  const b = Math.round(broadeningNm / BROADENING_STEP_NM) * BROADENING_STEP_NM;
  const reach = REACH_IN_FIRST_ZEROS * airyFirstZeroNm(o) + 3 * b;
  const key = `${o.wavelengthNm}|${o.numericalAperture}|${b}`;
  let p = profiles.get(key);
  if (!p) {
    p = new RadialProfile(broadenedDensity(o, b, reach), reach, airyFirstZeroNm(o));
    profiles.set(key, p);
  }
  return p;
}

/** 3-point Gauss-Legendre nodes on [0, 1) and their weights (sum 1): exact for polynomials up to degree 5 per axis. */
const GL_NODES = [0.5 - 0.5 * Math.sqrt(0.6), 0.5, 0.5 + 0.5 * Math.sqrt(0.6)];
const GL_WEIGHTS = [5 / 18, 8 / 18, 5 / 18];

/**
 * Pixels nearer to the emitter than this many first-dark-ring radii get the 3x3 quadrature; farther ones, in the dim
 * wings where a pixel holds < 0.1 % of the light, the 2x2 rule (exact for cubics), which halves the cost of an emitter.
 */
export const CORE_IN_FIRST_ZEROS = 2;

/** 2-point Gauss-Legendre nodes on [0, 1) (weights 1/2 each). */
const GL2_NODES = [0.5 - 0.5 / Math.sqrt(3), 0.5 + 0.5 / Math.sqrt(3)];

/**
 * Adds the expected photons of one emitter at (xNm, yNm) into `image` (height x width, row-major, photons per pixel):
 * photons x the profile's integral over each pixel within its reach.
 */
export function renderEmitter(image: Float64Array, width: number, height: number, pixelNm: number, xNm: number, yNm: number, photons: number, profile: RadialProfile): void {
  const reach = profile.reachNm;
  const c0 = Math.max(0, Math.floor((xNm - reach) / pixelNm));
  const c1 = Math.min(width - 1, Math.floor((xNm + reach) / pixelNm));
  const r0 = Math.max(0, Math.floor((yNm - reach) / pixelNm));
  const r1 = Math.min(height - 1, Math.floor((yNm + reach) / pixelNm));
  const area = pixelNm * pixelNm;
  const reach2 = reach * reach;
  const core2 = (CORE_IN_FIRST_ZEROS * profile.firstZeroNm) ** 2;
  for (let r = r0; r <= r1; r++) {
    const nearY = Math.max(0, r * pixelNm - yNm, yNm - (r + 1) * pixelNm);
    for (let c = c0; c <= c1; c++) {
      const nearX = Math.max(0, c * pixelNm - xNm, xNm - (c + 1) * pixelNm);
      const near2 = nearX * nearX + nearY * nearY;
      if (near2 >= reach2) continue;
      if (near2 >= core2) {
        let wing = 0;
        for (let a = 0; a < 2; a++) {
          const dy = (r + GL2_NODES[a]) * pixelNm - yNm;
          for (let b = 0; b < 2; b++) {
            const dx = (c + GL2_NODES[b]) * pixelNm - xNm;
            wing += profile.at(dx * dx + dy * dy);
          }
        }
        image[r * width + c] += photons * area * 0.25 * wing;
        continue;
      }
      let acc = 0;
      for (let a = 0; a < 3; a++) {
        const dy = (r + GL_NODES[a]) * pixelNm - yNm;
        const dy2 = dy * dy;
        let row = 0;
        for (let b = 0; b < 3; b++) {
          const dx = (c + GL_NODES[b]) * pixelNm - xNm;
          row += GL_WEIGHTS[b] * profile.at(dx * dx + dy2);
        }
        acc += GL_WEIGHTS[a] * row;
      }
      image[r * width + c] += photons * area * acc;
    }
  }
}
