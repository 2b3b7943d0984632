/**
 * The independent simulator's own seeded random source. It deliberately shares nothing with lib/simulate/random.ts
 * (a xoshiro128** generator with polar normals, PTRS Poisson and Marsaglia-Tsang gamma): here the generator is
 * L'Ecuyer's combined multiple-recursive MRG32k3a (a different family, exact in double arithmetic), normals come from
 * Box-Muller, Poisson from inversion (small means) and Numerical Recipes' Lorentzian rejection (large means), and
 * gamma from Cheng's GB algorithm. Data drawn with it therefore cannot inherit a quirk of the main simulator's
 * sampling.
 */
import { SmlmError } from '../errors.js';

const M1 = 4294967087;
const M2 = 4294944443;
const A12 = 1403580;
const A13N = 810728;
const A21 = 527612;
const A23N = 1370589;
/** 1 / (M1 + 1): maps the combined state into the open interval (0, 1). */
const NORM = 1 / (M1 + 1);

/** Chris Wellons' "lowbias32" integer hash: spreads consecutive seeds over the whole 32-bit range. */
function hash32(x: number): number {
  x = (x ^ (x >>> 16)) >>> 0;
  x = Math.imul(x, 0x7feb352d) >>> 0;
  x = (x ^ (x >>> 15)) >>> 0;
  x = Math.imul(x, 0x846ca68b) >>> 0;
  return (x ^ (x >>> 16)) >>> 0;
}

/** ln Γ(x) for x > 0: Stirling's series after shifting x above 10 (|error| < 1e-13 there). */
export function lnGamma(x: number): number {
  if (!(x > 0)) throw new SmlmError('E_BAD_OPTIONS', `lnGamma needs x > 0, got ${x}`);
  let shift = 0;
  while (x < 10) {
    shift += Math.log(x);
    x += 1;
  }
  const inv = 1 / x;
  const inv2 = inv * inv;
  // 1/(12x) - 1/(360x^3) + 1/(1260x^5) - 1/(1680x^7)
  const series = inv * (1 / 12 - inv2 * (1 / 360 - inv2 * (1 / 1260 - inv2 / 1680)));
  return (x - 0.5) * Math.log(x) - x + 0.5 * Math.log(2 * Math.PI) + series - shift;
}

/** Poisson means below this are drawn by inversion; exp(-40) is far from underflow. */
const INVERSION_LIMIT = 40;

export class IndependentRng {
  private s10: number;
  private s11: number;
  private s12: number;
  private s20: number;
  private s21: number;
  private s22: number;
  private cachedNormal: number | null = null;

  /** @param seed any integer; equal seeds give equal sequences on every platform (pure double arithmetic). */
  constructor(seed: number) {
    if (!Number.isFinite(seed)) throw new SmlmError('E_BAD_OPTIONS', `seed must be a finite number, got ${seed}`);
    // Six state words from a hash chain of the seed, each reduced below its modulus and never zero.
    let h = hash32((Math.trunc(seed) >>> 0) ^ 0x5bd1e995);
    const word = (m: number): number => {
      h = hash32(h + 0x9e37);
      return (h % (m - 1)) + 1;
    };
    this.s10 = word(M1);
    this.s11 = word(M1);
    this.s12 = word(M1);
    this.s20 = word(M2);
    this.s21 = word(M2);
    this.s22 = word(M2);
  }

  /** Uniform in the open interval (0, 1): never exactly 0 or 1, so logarithms and ratios are safe. */
  uniform(): number {
    let p1 = A12 * this.s11 - A13N * this.s10;
    p1 -= Math.floor(p1 / M1) * M1;
    this.s10 = this.s11;
    this.s11 = this.s12;
    this.s12 = p1;
    let p2 = A21 * this.s22 - A23N * this.s20;
    p2 -= Math.floor(p2 / M2) * M2;
    this.s20 = this.s21;
    this.s21 = this.s22;
    this.s22 = p2;
    return p1 > p2 ? (p1 - p2) * NORM : (p1 - p2 + M1) * NORM;
  }

  /** Uniform in [lo, hi). */
  between(lo: number, hi: number): number {
    return lo + (hi - lo) * this.uniform();
  }

  /** Uniform integer in [lo, hi] (both included). */
  integerBetween(lo: number, hi: number): number {
    return lo + Math.min(hi - lo, Math.floor(this.uniform() * (hi - lo + 1)));
  }

  /** Standard normal (Box-Muller; the sine partner is kept for the next call). */
  gaussian(): number {
    if (this.cachedNormal !== null) {
      const v = this.cachedNormal;
      this.cachedNormal = null;
      return v;
    }
    const radius = Math.sqrt(-2 * Math.log(this.uniform()));
    const angle = 2 * Math.PI * this.uniform();
    this.cachedNormal = radius * Math.sin(angle);
    return radius * Math.cos(angle);
  }

  /**
   * Poisson count of mean `mean` (>= 0). Inversion below INVERSION_LIMIT (about `mean` multiplications, no
   * transcendental function but one exp: the cheapest for background-level means); above, rejection from a
   * Lorentzian (Numerical Recipes' poidev).
   */
  poisson(mean: number): number {
    if (!(mean > 0)) return 0;
    if (mean < INVERSION_LIMIT) {
      // Sequential search of the cumulative distribution.
      let k = 0;
      let p = Math.exp(-mean);
      let cumulative = p;
      const u = this.uniform();
      while (u > cumulative && p > 0) {
        k++;
        p *= mean / k;
        cumulative += p;
      }
      return k;
    }
    const sq = Math.sqrt(2 * mean);
    const logMean = Math.log(mean);
    const g = mean * logMean - lnGamma(mean + 1);
    for (;;) {
      let y: number;
      let em: number;
      do {
        y = Math.tan(Math.PI * this.uniform());
        em = sq * y + mean;
      } while (em < 0);
      em = Math.floor(em);
      const t = 0.9 * (1 + y * y) * Math.exp(em * logMean - lnGamma(em + 1) - g);
      if (this.uniform() <= t) return em;
    }
  }

  /** Gamma variate of shape `shape` (> 0) and scale `scale`: Cheng's GB (shape > 1), exponential (1), Ahrens-Dieter GS (< 1). */
  gammaVariate(shape: number, scale: number): number {
    if (!(shape > 0)) throw new SmlmError('E_BAD_OPTIONS', `gamma shape must be > 0, got ${shape}`);
    if (shape === 1) return -Math.log(this.uniform()) * scale;
    if (shape < 1) return this.gammaBelowOne(shape) * scale;
    const a = 1 / Math.sqrt(2 * shape - 1);
    const b = shape - Math.LN2 * 2;
    const c = shape + 1 / a;
    const d = 1 + Math.log(4.5);
    for (;;) {
      const u1 = this.uniform();
      const u2 = this.uniform();
      const v = a * Math.log(u1 / (1 - u1));
      const x = shape * Math.exp(v);
      const z = u1 * u1 * u2;
      const r = b + c * v - x;
      if (r + d - 4.5 * z >= 0 || r >= Math.log(z)) return x * scale;
    }
  }

  /** Ahrens & Dieter (1974) GS algorithm for 0 < shape < 1. */
  private gammaBelowOne(shape: number): number {
    const b = 1 + shape / Math.E;
    for (;;) {
      const p = b * this.uniform();
      if (p <= 1) {
        const x = Math.pow(p, 1 / shape);
        if (this.uniform() <= Math.exp(-x)) return x;
      } else {
        const x = -Math.log((b - p) / shape);
        if (this.uniform() <= Math.pow(x, shape - 1)) return x;
      }
    }
  }

  /** Log-normal variate exp(mu + sigma N(0,1)) given its median exp(mu) and log-space sigma. */
  logNormal(median: number, logSigma: number): number {
    return median * Math.exp(logSigma * this.gaussian());
  }
}
