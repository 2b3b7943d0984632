import { describe, expect, it } from 'vitest';
import { isSmlmError } from '../lib/errors.js';
import {
  airyDensity,
  airyEncircledEnergy,
  airyFirstZeroNm,
  BENCHMARK_LIKE_EMCCD,
  besselJ0,
  besselJ1,
  drawBackgroundMap,
  drawScmosMaps,
  drawStructure,
  exposeEmccd,
  exposeScmos,
  formatTruthCsv,
  gaussianEquivalentSigmaNm,
  IndependentRng,
  lnGamma,
  meanGaussianEquivalentSigmaNm,
  psfProfile,
  renderEmitter,
  SCMOS_107NM,
  simulateIndependentStack,
  type EmccdCamera,
  type IndependentSimulationOptions,
  type ScmosCamera,
} from '../lib/independent-simulator/index.js';
import { groundTruthImage } from '../lib/metrics.js';
import { parseThunderstormCsv } from '../lib/simulate/csv.js';
import { moments } from './helpers/moments.js';

const OPTICS = { wavelengthNm: 670, numericalAperture: 1.3 };

function draws(n: number, draw: () => number): Float64Array {
  return Float64Array.from({ length: n }, draw);
}

/** One emitter per frame, always on, at a random position: a cluster of one label with no spread. */
function singleEmitter(seed: number, frames: number, camera: IndependentSimulationOptions['camera'], photons = 1e5, background = 0): IndependentSimulationOptions {
  const w = 32;
  return {
    ...BENCHMARK_LIKE_EMCCD,
    seed,
    frames,
    width: w,
    height: w,
    structure: { clusters: { count: 1, sigmaNm: 0, labelsPerCluster: 1 }, labelJitterNm: 0 },
    densityPerUm2: 1 / (w * 0.1 * (w * 0.1)),
    freeEmitterFraction: 0,
    broadeningNm: [0, 0],
    photons: { median: photons, logSigma: 0 },
    background: { meanPhotons: background, gradient: 0, haze: 0, flicker: 0 },
    camera,
  };
}

describe('IndependentRng', () => {
  it('is reproducible per seed, differs between seeds, and stays inside (0, 1)', () => {
    const a = new IndependentRng(42);
    const b = new IndependentRng(42);
    const c = new IndependentRng(43);
    const xa = Array.from({ length: 8 }, () => a.uniform());
    expect(Array.from({ length: 8 }, () => b.uniform())).toEqual(xa);
    expect(Array.from({ length: 8 }, () => c.uniform())).not.toEqual(xa);
    const u = draws(100_000, () => a.uniform());
    expect(Math.min(...u)).toBeGreaterThan(0);
    expect(Math.max(...u)).toBeLessThan(1);
    const m = moments(u);
    expect(m.mean).toBeCloseTo(0.5, 2);
    expect(m.variance).toBeCloseTo(1 / 12, 3);
  });

  it('draws normal, Poisson, gamma and log-normal values with the right moments', () => {
    const rng = new IndependentRng(7);
    const g = moments(draws(100_000, () => rng.gaussian()));
    expect(g.mean).toBeCloseTo(0, 1);
    expect(g.variance).toBeCloseTo(1, 1);
    for (const lambda of [0.3, 5, 30, 39.9, 40, 200, 5000]) {
      const p = moments(draws(40_000, () => rng.poisson(lambda)));
      expect(Math.abs(p.mean - lambda)).toBeLessThan(5 * Math.sqrt(lambda / 40_000) + 1e-9);
      expect(p.variance / lambda).toBeGreaterThan(0.95);
      expect(p.variance / lambda).toBeLessThan(1.05);
    }
    expect(rng.poisson(0)).toBe(0);
    for (const shape of [0.4, 1, 3, 50]) {
      const m = moments(draws(40_000, () => rng.gammaVariate(shape, 2)));
      expect(m.mean / (2 * shape)).toBeCloseTo(1, 1);
      expect(m.variance / (4 * shape)).toBeGreaterThan(0.93);
      expect(m.variance / (4 * shape)).toBeLessThan(1.07);
    }
    const logs = moments(draws(40_000, () => Math.log(rng.logNormal(1500, 0.25))));
    expect(Math.exp(logs.mean)).toBeCloseTo(1500, -1);
    expect(Math.sqrt(logs.variance)).toBeCloseTo(0.25, 2);
  });

  it('computes ln Gamma', () => {
    expect(lnGamma(0.5)).toBeCloseTo(0.5 * Math.log(Math.PI), 10);
    expect(lnGamma(1)).toBeCloseTo(0, 10);
    expect(lnGamma(11)).toBeCloseTo(Math.log(3628800), 10);
  });
});

describe('Airy PSF', () => {
  it('has Bessel functions matching tabulated values', () => {
    expect(besselJ1(1)).toBeCloseTo(0.4400505857, 7);
    expect(besselJ1(2.5)).toBeCloseTo(0.4970941025, 7);
    expect(besselJ1(7)).toBeCloseTo(-0.0046828235, 7);
    expect(besselJ1(-1)).toBeCloseTo(-0.4400505857, 7);
    expect(besselJ0(2)).toBeCloseTo(0.2238907791, 7);
    expect(besselJ0(10)).toBeCloseTo(-0.2459357645, 7);
  });

  it('has its first dark ring at 0.61 lambda / NA and Rayleigh encircled energy', () => {
    const zero = airyFirstZeroNm(OPTICS);
    expect(zero).toBeCloseTo((0.6098 * 670) / 1.3, 0);
    expect(airyDensity(zero, OPTICS) / airyDensity(0, OPTICS)).toBeLessThan(1e-6);
    expect(airyDensity(0.8 * zero, OPTICS) / airyDensity(0, OPTICS)).toBeGreaterThan(1e-3);
    // 83.8 % of the light lies inside the first dark ring.
    expect(airyEncircledEnergy(zero, OPTICS)).toBeCloseTo(0.838, 3);
    // Density integrates to the encircled energy (midpoint rule over rings).
    let mass = 0;
    const dr = 0.5;
    for (let r = dr / 2; r < zero; r += dr) mass += airyDensity(r, OPTICS) * 2 * Math.PI * r * dr;
    expect(mass).toBeCloseTo(0.838, 3);
  });

  it('renders a pixel-integrated emitter of total mass 1, with and without broadening', () => {
    for (const b of [0, 17, 60]) {
      const img = new Float64Array(64 * 64);
      renderEmitter(img, 64, 64, 100, 3237, 2961, 1, psfProfile(OPTICS, b));
      const total = img.reduce((s, v) => s + v, 0);
      expect(Math.abs(total - 1)).toBeLessThan(2e-3);
    }
  });

  it('is broader with broadening, and its Gaussian-equivalent sigma is what a fit finds', () => {
    // Least-squares fit of a Gaussian profile to the radial PSF over the core (r < first zero), sigma on a 0.5 nm grid.
    const fitSigma = (b: number): number => {
      const p = psfProfile(OPTICS, b);
      let best = [Infinity, 0];
      for (let s = 60; s < 200; s += 0.5) {
        let num = 0;
        let den = 0;
        const gs: number[] = [];
        const ps: number[] = [];
        for (let r = 0; r < airyFirstZeroNm(OPTICS); r += 5) {
          const gv = Math.exp(-(r * r) / (2 * s * s));
          gs.push(gv);
          ps.push(p.at(r * r));
          num += gv * p.at(r * r) * r;
          den += gv * gv * r;
        }
        const a = num / den;
        let err = 0;
        for (let i = 0; i < gs.length; i++) err += (a * gs[i] - ps[i]) ** 2 * i;
        if (err < best[0]) best = [err, s];
      }
      return best[1];
    };
    const s0 = fitSigma(0);
    const s40 = fitSigma(40);
    expect(Math.abs(s0 / gaussianEquivalentSigmaNm(OPTICS) - 1)).toBeLessThan(0.08);
    expect(s40).toBeGreaterThan(s0 + 3);
    expect(Math.abs(s40 / gaussianEquivalentSigmaNm(OPTICS, 40) - 1)).toBeLessThan(0.08);
  });

  it('refuses bad optics', () => {
    expect(() => psfProfile({ wavelengthNm: 0, numericalAperture: 1.3 }, 0)).toThrow(/wavelengthNm/);
    expect(() => psfProfile(OPTICS, -1)).toThrow(/broadening/);
  });
});

describe('cameras', () => {
  it('sCMOS: mean offset + gain photons and variance gain^2 (photons + read^2), per pixel', () => {
    const camera: ScmosCamera = { ...(SCMOS_107NM.camera as ScmosCamera), readNoiseMedianElectrons: 3, gainSpread: 0.1, offsetSpreadAdu: 20 };
    const w = 4;
    const maps = drawScmosMaps(camera, w, w);
    expect(drawScmosMaps(camera, w, w)).toEqual(maps);
    const frames = 20_000;
    const photons = new Float64Array(w * w).fill(100);
    const out = new Uint16Array(frames * w * w);
    const rng = new IndependentRng(3);
    for (let f = 0; f < frames; f++) exposeScmos(rng, photons, maps, out, f * w * w);
    for (const i of [0, 5, 15]) {
      const v = Float64Array.from({ length: frames }, (_, f) => out[f * w * w + i]);
      const m = moments(v);
      const g = maps.gainAduPerElectron[i];
      const expectVar = g * g * (100 + maps.readNoiseElectrons[i] ** 2) + 1 / 12;
      expect(Math.abs(m.mean - (maps.offsetAdu[i] + g * 100))).toBeLessThan(5 * Math.sqrt(expectVar / frames));
      expect(m.variance / expectVar).toBeGreaterThan(0.95);
      expect(m.variance / expectVar).toBeLessThan(1.05);
    }
    // The maps vary across the chip.
    expect(moments(maps.offsetAdu).variance).toBeGreaterThan(100);
    expect(moments(maps.gainAduPerElectron).variance).toBeGreaterThan(0);
  });

  it('EMCCD: mean baseline + ADU/photon x photons, excess noise factor ~2', () => {
    const camera: EmccdCamera = { kind: 'emccd', emGain: 300, electronsPerAdu: 100, baselineAdu: 100, readNoiseElectrons: 0 };
    const n = 100_000;
    const photons = new Float64Array(n).fill(50);
    const out = new Uint16Array(n);
    exposeEmccd(new IndependentRng(9), photons, camera, out, 0);
    const m = moments(out);
    const aduPerPhoton = 3;
    expect(m.mean).toBeCloseTo(100 + 50 * aduPerPhoton, 0);
    const excess = m.variance / (aduPerPhoton * aduPerPhoton * 50);
    expect(excess).toBeGreaterThan(1.9);
    expect(excess).toBeLessThan(2.1);
  });

  it('clips to uint16', () => {
    const out = new Uint16Array(2);
    exposeEmccd(new IndependentRng(1), Float64Array.of(0, 1e6), { kind: 'emccd', emGain: 1000, electronsPerAdu: 1, baselineAdu: 0, readNoiseElectrons: 0 }, out, 0);
    expect(Array.from(out)).toEqual([0, 65535]);
  });
});

describe('structures and background', () => {
  it('draws bundles of 2-4 worm-like filaments at their drawn spacing', () => {
    const rng = new IndependentRng(11);
    const spec = BENCHMARK_LIKE_EMCCD.structure;
    const s = drawStructure(rng, spec, 6400, 6400);
    expect(s.bundles.length).toBeGreaterThanOrEqual(4);
    for (const bundle of s.bundles) {
      expect(bundle.members.length).toBeGreaterThanOrEqual(2);
      expect(bundle.members.length).toBeLessThanOrEqual(4);
      for (let m = 0; m + 1 < bundle.members.length; m++) {
        const spacing = bundle.spacingsNm[m];
        expect(spacing).toBeGreaterThanOrEqual(20);
        expect(spacing).toBeLessThanOrEqual(60);
        // Distance from member m's points (every 10th, away from the ends) to member m+1's polyline.
        const a = bundle.members[m];
        const b = bundle.members[m + 1];
        const n = a.length / 2;
        const dists: number[] = [];
        for (let i = 20; i < n - 20; i += 10) {
          let best = Infinity;
          for (let j = Math.max(0, i - 30); j < Math.min(n - 1, i + 30); j++) {
            const [x0, y0, x1, y1] = [b[2 * j], b[2 * j + 1], b[2 * j + 2], b[2 * j + 3]];
            const [dx, dy] = [x1 - x0, y1 - y0];
            const t = Math.max(0, Math.min(1, ((a[2 * i] - x0) * dx + (a[2 * i + 1] - y0) * dy) / (dx * dx + dy * dy)));
            best = Math.min(best, Math.hypot(a[2 * i] - x0 - t * dx, a[2 * i + 1] - y0 - t * dy));
          }
          dists.push(best);
        }
        const median = dists.sort((p, q) => p - q)[dists.length >> 1];
        expect(Math.abs(median - spacing)).toBeLessThan(1);
      }
    }
    // Worm-like chain: the centre line bends (the end-to-end distance is shorter than the contour) but is not a coil.
    const line = s.bundles[0].members[0];
    const contour = (line.length / 2 - 1) * 10;
    const e2e = Math.hypot(line[line.length - 2] - line[0], line[line.length - 1] - line[1]);
    expect(e2e).toBeLessThan(contour);
    expect(e2e).toBeGreaterThan(0.3 * contour);
  });

  it('makes a non-uniform, non-negative background of the requested mean', () => {
    const map = drawBackgroundMap(new IndependentRng(5), 64, 48, { meanPhotons: 20, gradient: 0.3, haze: 0.3, flicker: 0 });
    const m = moments(map);
    expect(m.mean).toBeCloseTo(20, 6);
    expect(Math.sqrt(m.variance) / m.mean).toBeGreaterThan(0.05);
    expect(Math.min(...map)).toBeGreaterThan(0);
  });
});

describe('simulateIndependentStack', () => {
  it('is deterministic per seed', () => {
    const o = { ...BENCHMARK_LIKE_EMCCD, seed: 21, frames: 3 };
    const a = simulateIndependentStack(o);
    const b = simulateIndependentStack(o);
    const c = simulateIndependentStack({ ...o, seed: 22 });
    expect(b.stack.data).toEqual(a.stack.data);
    expect(b.truth).toEqual(a.truth);
    expect(c.stack.data).not.toEqual(a.stack.data);
  });

  it('puts a bright emitter where its ground truth says: centroid at x/px - 0.5, histogram in fine pixel floor(x/12.5)', () => {
    const camera: ScmosCamera = { ...(SCMOS_107NM.camera as ScmosCamera), readNoiseMedianElectrons: 1 };
    let checked = 0;
    for (let seed = 1; seed < 40 && checked < 3; seed++) {
      const o = singleEmitter(seed, 1, camera);
      const sim = simulateIndependentStack({ ...o, pixelSizeNm: 100 });
      expect(sim.truth.length).toBe(1);
      const { xNm, yNm } = sim.truth[0];
      const w = sim.stack.width;
      let mass = 0;
      let cx = 0;
      let cy = 0;
      for (let i = 0; i < w * w; i++) {
        const v = sim.stack.data[i] - sim.scmosMaps!.offsetAdu[i];
        mass += v;
        cx += v * (i % w);
        cy += v * Math.floor(i / w);
      }
      // Emitters near the edge lose part of their PSF; the cluster centre is uniform in the field, so skip those.
      if (xNm < 800 || xNm > 2400 || yNm < 800 || yNm > 2400) continue;
      expect(cx / mass).toBeCloseTo(xNm / 100 - 0.5, 1);
      expect(cy / mass).toBeCloseTo(yNm / 100 - 0.5, 1);
      const gt = groundTruthImage(sim.truth, w * 8, w * 8, 12.5);
      expect(gt[Math.floor(yNm / 12.5) * w * 8 + Math.floor(xNm / 12.5)]).toBe(1);
      expect(gt.reduce((s, v) => s + v, 0)).toBe(1);
      checked++;
    }
    expect(checked).toBe(3);
  });

  it('keeps a noise-free rendered emitter centred exactly (no camera)', () => {
    const img = new Float64Array(32 * 32);
    renderEmitter(img, 32, 32, 107, 1718.3, 1555.9, 1, psfProfile(OPTICS, 25));
    let [m, cx, cy] = [0, 0, 0];
    for (let i = 0; i < img.length; i++) {
      m += img[i];
      cx += img[i] * (i % 32);
      cy += img[i] * Math.floor(i / 32);
    }
    expect(Math.abs(cx / m - (1718.3 / 107 - 0.5))).toBeLessThan(0.005);
    expect(Math.abs(cy / m - (1555.9 / 107 - 0.5))).toBeLessThan(0.005);
  });

  it('meets the density and the photon distribution, with PSF and counts as configured', () => {
    const frames = 30;
    const sim = simulateIndependentStack({ ...BENCHMARK_LIKE_EMCCD, seed: 31, frames });
    const perFrame = sim.truth.length / frames;
    expect(perFrame / (5.5 * 6.4 * 6.4)).toBeGreaterThan(0.95);
    expect(perFrame / (5.5 * 6.4 * 6.4)).toBeLessThan(1.05);
    const logs = moments(sim.truth.map((t) => Math.log(t.photons)));
    expect(Math.exp(logs.mean) / 1450).toBeGreaterThan(0.98);
    expect(Math.exp(logs.mean) / 1450).toBeLessThan(1.02);
    expect(Math.sqrt(logs.variance)).toBeCloseTo(0.2, 2);
    for (const t of sim.truth) {
      expect(t.xNm).toBeGreaterThanOrEqual(0);
      expect(t.xNm).toBeLessThan(6400);
      expect(t.frame).toBeGreaterThanOrEqual(1);
      expect(t.frame).toBeLessThanOrEqual(frames);
    }
    // Frames differ in emitter count (random activation), ids run 1..n.
    const counts = new Set(Array.from({ length: frames }, (_, f) => sim.truth.filter((t) => t.frame === f + 1).length));
    expect(counts.size).toBeGreaterThan(3);
    expect(sim.truth.map((t) => t.id)).toEqual(sim.truth.map((_, i) => i + 1));
    // Benchmark-like conditions: Gaussian-equivalent sigma ~110 nm, pixel median near the benchmark's 164 ADU.
    expect(meanGaussianEquivalentSigmaNm(BENCHMARK_LIKE_EMCCD)).toBeCloseTo(110, -1);
    expect(meanGaussianEquivalentSigmaNm(SCMOS_107NM)).toBeCloseTo(125, -1);
    const sorted = Uint16Array.from(sim.stack.data).sort();
    expect(sorted[sorted.length >> 1]).toBeGreaterThan(140);
    expect(sorted[sorted.length >> 1]).toBeLessThan(200);
  });

  it('writes ground truth that a ThunderSTORM reader reads back', () => {
    const sim = simulateIndependentStack({ ...BENCHMARK_LIKE_EMCCD, seed: 41, frames: 2 });
    const back = parseThunderstormCsv(formatTruthCsv(sim.truth));
    expect(back.length).toBe(sim.truth.length);
    expect(back[3].frame).toBe(sim.truth[3].frame);
    expect(back[3].xNm).toBeCloseTo(sim.truth[3].xNm, 3);
    expect(back[3].photons).toBeCloseTo(sim.truth[3].photons, 3);
  });

  it('refuses invalid options with E_BAD_OPTIONS', () => {
    const base = { ...BENCHMARK_LIKE_EMCCD, seed: 1, frames: 1 };
    const cases: Partial<IndependentSimulationOptions>[] = [
      { frames: 0 },
      { pixelSizeNm: -1 },
      { freeEmitterFraction: 2 },
      { broadeningNm: [10, 5] },
      { camera: { kind: 'emccd', emGain: 0.5, electronsPerAdu: 1, baselineAdu: 0, readNoiseElectrons: 0 } },
      // Too few labels for the density.
      { structure: { clusters: { count: 1, sigmaNm: 10, labelsPerCluster: 3 }, labelJitterNm: 0 }, freeEmitterFraction: 0 },
    ];
    for (const c of cases) {
      let err: unknown;
      try {
        simulateIndependentStack({ ...base, ...c });
      } catch (e) {
        err = e;
      }
      expect(isSmlmError(err, 'E_BAD_OPTIONS'), JSON.stringify(c)).toBe(true);
    }
  });
});
