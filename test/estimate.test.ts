import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatConditions } from '../lib/cli/estimate.js';
import { estimateConditions, type ImagingConditions } from '../lib/estimate/estimate.js';
import { BENCHMARK_LIKE_EMCCD, SCMOS_107NM, settingsInEstimateTerms, simulateIndependentStack, type IndependentConditions } from '../lib/independent-simulator/index.js';
import { readTiffStack } from '../lib/io/tiff-read.js';
import { SCMOS_107NM_GAUSSIAN, SCMOS_160NM_GAUSSIAN, simulatedConditions, simulateStack, type MicroscopeConditions, type SimulationOptions } from '../lib/simulate/index.js';
import { FIT_DEMO_MICROSCOPES } from '../scripts/make-fit-demo.js';
import { NAIVE_107NM, naiveTruth, simulateNaiveStack } from '../lib/naive-simulator.js';
import { SHARED_DATA } from './helpers/paths.js';

/** What a simulation's settings say `estimate` should read (simulatedConditions, settingsInEstimateTerms). */
type Truth = Omit<MicroscopeConditions, 'pixelSizeNm' | 'readNoiseAdu'>;

/** The tolerances: baseline 2 %, gain, background and PSF sigma 15 %, photons 25 % (density: 25 % too). */
const TOLERANCE: Record<keyof Omit<Truth, 'camera'>, number> = {
  baselineAdu: 0.02,
  aduPerPhoton: 0.15,
  backgroundPhotons: 0.15,
  psfSigmaNm: 0.15,
  photonsMedian: 0.25,
  densityPerUm2: 0.25,
};

/** The keys whose estimate misses its tolerance, with the figures, so a failure says what and by how much. */
function misses(e: ImagingConditions, truth: Truth): string[] {
  const out: string[] = [];
  for (const [key, tol] of Object.entries(TOLERANCE) as [keyof typeof TOLERANCE, number][]) {
    const rel = Math.abs(e[key] / truth[key] - 1);
    if (!(rel <= tol)) out.push(`${key} ${e[key].toPrecision(4)} vs ${truth[key]} (${(100 * rel).toFixed(1)} %)`);
  }
  if (e.camera !== truth.camera) out.push(`camera ${e.camera} vs ${truth.camera}`);
  return out;
}

// Uniformly placed emitters at ~1 per um^2: the estimator needs spots it can fit one by one (see lib/estimate).
const CASES: { name: string; options: SimulationOptions; knownMisses?: string[] }[] = [
  {
    name: 'EMCCD, 100 nm (benchmark camera)',
    options: { densityPerUm2: 1 },
  },
  {
    name: 'sCMOS, 107 nm, per-pixel offset/gain/read noise',
    options: { ...SCMOS_107NM_GAUSSIAN, densityPerUm2: 1 },
  },
  {
    name: 'sCMOS, 160 nm, 0.5 ADU per photon',
    options: {
      pixelSizeNm: 160,
      densityPerUm2: 0.6,
      sigmaNm: [140, 160],
      photons: { kind: 'uniform', min: 1000, max: 3000 },
      backgroundPhotons: 15,
      camera: { emGain: 1, electronsPerAdu: 2, baselineAdu: 100, readNoiseAdu: 0.8 },
    },
  },
  {
    // The camera from the fine detail's line without the gain-spread term (an EMCCD's pixels share one gain). A known
    // miss by 0.8 %: over 9 seeds (3, 21-28) its baseline read -1.1 to +2.8 % (2 outside 2 %) and its gain -1.8 to
    // +2.7 % (-1.7 to +3.2 % and the same before the fine tiles pinned the line's level); from the spots' residuals,
    // as before, the baseline read +0.3 to +6.4 % (5 of 9 outside) and the gain +6 to +13 %. (This seed's baseline read +2.2 % before the dark pixel-frames' own line, whose weight here is 0.6 %.)
    name: 'EMCCD, 65 nm, 10 ADU per photon',
    options: { pixelSizeNm: 65, width: 96, height: 96, densityPerUm2: 1, camera: { emGain: 300, electronsPerAdu: 30, baselineAdu: 200 } },
    knownMisses: ['baselineAdu 205.6 vs 200 (2.8 %)'],
  },
  {
    // The objective (PSF sigma 125 nm) behind a 160 nm camera: sigma ~0.78 px, undersampled. The chip's 3 %
    // pixel gain spread offsets each pixel by 3 % of its level, a third of the shot noise at these narrow peaks: the
    // spots' residuals read the gain 21-26 % high, so gain and baseline come from the fine-detail noise model, which
    // accounts for it. (On 48x48-px frames at 0.5/um^2 that model is too uncertain, 22 %, and estimate refuses: below.)
    // A known miss: with emitters placed uniformly rather than on structures the slope reads low: the gain 9.6 % here,
    // 3-13 % on seeds 21-28 (docs/estimate.md: about 1.5 % of it is the leaked light taken off the slope in full where
    // the fit's gain-spread term took part of it, about 3 % the noise in that term's own regressor). The variance at
    // the background is known to 1 % from the dark pixel-frames (withDarkLevel), so the background, which goes as
    // that over the gain squared, carries twice the gain's error: +25.1 % here. Before, the line's own value there,
    // low too, offset part of it (+15.1 %) on these sparse stacks, and went far off on dense ones (below).
    name: 'sCMOS, 160 nm, PSF sigma 125 nm (0.78 px)',
    options: { ...SCMOS_160NM_GAUSSIAN, width: 64, height: 64, densityPerUm2: 1 },
    knownMisses: ['baselineAdu 389.4 vs 400 (2.6 %)', 'backgroundPhotons 50.05 vs 40 (25.1 %)'],
  },
  {
    // Dense: every tile lies far above the background, and the baseline from the fine-detail line's intercept alone
    // was an extrapolation that read this seed's baseline -6.3 % and its background +39.1 %; the dark pixel-frames'
    // variance at the background pins it (withDarkLevel).
    name: 'sCMOS, 160 nm, 2.5 emitters/um^2 placed uniformly (dense)',
    options: { ...SCMOS_160NM_GAUSSIAN, width: 64, height: 64, densityPerUm2: 2.5 },
  },
  {
    // Before: baseline -2.5 %, background +9.3 %.
    name: 'sCMOS, 107 nm, 5 emitters/um^2 placed uniformly (dense)',
    options: { ...SCMOS_107NM_GAUSSIAN, width: 64, height: 64, densityPerUm2: 5 },
  },
];

describe('estimateConditions on stacks simulated with known conditions', () => {
  for (const c of CASES) {
    it(c.name, async () => {
      const sim = simulateStack({ frames: 200, seed: 3, structure: { kind: 'uniform' }, ...c.options });
      const e = await estimateConditions(sim.stack);
      expect(e.pixelSizeNm).toBe(c.options.pixelSizeNm ?? 100);
      expect(e.pixelSizeSource).toBe('file');
      expect(misses(e, simulatedConditions(c.options))).toEqual(c.knownMisses ?? []);
    });
  }

  it('takes the pixel size from the option, and only the frames asked for', async () => {
    const sim = simulateStack({ frames: 120, seed: 4, densityPerUm2: 1, structure: { kind: 'uniform' } });
    const e = await estimateConditions(sim.stack, { pixelSizeNm: 50, frames: { from: 21, to: 120 } });
    expect(e.pixelSizeNm).toBe(50);
    expect(e.pixelSizeSource).toBe('option');
    expect(e.framesTotal).toBe(100);
    // The same spots in px; sigma in nm follows the pixel size given.
    expect(e.psfSigmaNm / 50).toBeCloseTo(e.psfSigmaPx, 6);
  });

  it('models the camera of crowded stacks from their finest detail instead of from merged spots', async () => {
    // Filaments at 2 emitters/um^2 (EMCCD): spots along a filament hide neighbours (before the dense path the spot
    // residuals read the gain 2.8x); the high-pass noise gets baseline and gain, the few single spots the rest.
    const options: SimulationOptions = { frames: 361, seed: 3, densityPerUm2: 2 };
    const crowded = simulateStack(options);
    const e = await estimateConditions(crowded.stack, { maxFrames: 361, camera: 'emccd' });
    expect(e.cameraModel).toBe('highpass');
    expect(e.cameraSource).toBe('option');
    expect(misses(e, simulatedConditions(options))).toEqual([]);
    expect(e.notes).toEqual([]); // a sampled PSF (1.1 px): nothing known limits these figures
  });

  it('a dense sCMOS stack at 160 nm (PSF 0.78 px, Gaussian), the camera kind from its dark pixel-frames', async () => {
    const sim = simulateStack({ ...SCMOS_160NM_GAUSSIAN, frames: 200, seed: 3 });
    const e = await estimateConditions(sim.stack);
    expect(e.cameraModel).toBe('highpass');
    expect([e.cameraSource, e.skewSource]).toEqual(['data', 'dark-pixels']);
    // A Gaussian PSF this narrow leaks light into the high-pass band (+7 % on the gain here), which the estimate
    // measures (band-leak.ts) and takes off: the gain reads -2.3 %, the background +6.1 %.
    expect(misses(e, simulatedConditions(SCMOS_160NM_GAUSSIAN))).toEqual([]);
    // How far such figures can land is said, in the JSON and the text.
    expect(e.notes).toEqual([expect.stringMatching(/^the PSF \(sigma 0\.7\d px\) is narrower than 0\.9 camera px.*gain landed within 13 %.*background.*within 36 %/)]);
    expect(formatConditions(e)).toMatch(/\nnote {14}the PSF \(sigma 0\.7\d px\)/);
    expect(e.photonsSource).toBe('fluctuations');
    expect(formatConditions(e)).toMatch(/emitter photons {3}\d+ \(E\[n\^2\]\/E\[n\] from the frames' fluctuations/);
    // lib/simulate's background is flat: no line of the dark pixel-frames' own, and the text does not mention one.
    expect(e.darkLineWeight).toBe(0);
    expect(formatConditions(e)).not.toMatch(/unevenness/);
  });

  it('analyses the central 256x256 px of larger frames (a 2048x2048 camera would need 10 GB otherwise)', async () => {
    const options: SimulationOptions = { frames: 60, seed: 4, width: 300, height: 280, densityPerUm2: 1, structure: { kind: 'uniform' } };
    const sim = simulateStack(options);
    const e = await estimateConditions(sim.stack);
    expect(e.regionPx).toEqual({ x: 22, y: 12, width: 256, height: 256 });
    expect(e.framesUsed).toBe(60);
    expect(e.photonsSource).toBe('spots');
    expect(formatConditions(e)).toMatch(/emitter photons {3}\d+ \(median\), \d+ \(mean\)/);
    expect(formatConditions(e, sim.stack)).toMatch(/in 60 of 60 frames \(their central 256 x 256 px, from x 22, y 12, of 300 x 280\)/);
    expect(misses(e, simulatedConditions(options))).toEqual([]);
  });

  it('refuses a stack with nothing to fit', async () => {
    const flat = { data: new Uint16Array(10 * 32 * 32).fill(100), frames: 10, height: 32, width: 32 };
    await expect(estimateConditions(flat)).rejects.toMatchObject({ code: 'E_BAD_OPTIONS' });
  });
});

/** README's 160 nm microscope, as scripts/make-fit-demo.ts draws it. */
const SCMOS_160NM = FIT_DEMO_MICROSCOPES.find((m) => m.name === 'scmos-160nm')!.conditions;

describe('estimateConditions on dense stacks of the independent simulator (200 frames)', () => {
  // Too few spots stand alone to model the camera from their residuals: the camera comes from the noise in the
  // frames' finest detail (lib/estimate/highpass-noise.ts), its kind from the pixel-frames no emitter reaches
  // (dark-pixels.ts), PSF and photons from the frames' fluctuations.
  const DENSE: { name: string; conditions: IndependentConditions; knownMisses: string[] }[] = [
    { name: "sCMOS, 107 nm, 4.5 emitters/um^2 (the issue's microscope)", conditions: SCMOS_107NM, knownMisses: [] },
    { name: 'sCMOS, 107 nm, 2 emitters/um^2', conditions: { ...SCMOS_107NM, densityPerUm2: 2 }, knownMisses: [] },
    { name: 'EMCCD, 100 nm, 3 emitters/um^2', conditions: { ...BENCHMARK_LIKE_EMCCD, densityPerUm2: 3 }, knownMisses: [] },
    { name: 'EMCCD, 100 nm, 5 emitters/um^2', conditions: { ...BENCHMARK_LIKE_EMCCD, densityPerUm2: 5 }, knownMisses: [] },
    // PSF sigma ~0.78 px: the camera from a narrower high-pass band (order 14), the PSF from the fluctuations'
    // correlation under the pixel-integrated model. This Airy PSF passes nothing beyond its cutoff: the light that
    // leaks into the band, measured from the frames' spectrum (band-leak.ts), is far less than a Gaussian PSF's, whose
    // share (taken off before it was measured) read the baseline -2.4 % and the background +20.7 % here.
    // The dark pixel-frames' own line (the background's unevenness: ~30 % of the weight) took the gain from +7.8 to
    // +3.2 % here; the baseline reads -1.5 % and the background +10.0 % (before it, -1.4 and +4.8 %).
    { name: 'sCMOS, 160 nm, 2.5 emitters/um^2 (undersampled PSF, the fit demo)', conditions: SCMOS_160NM, knownMisses: [] },
  ];
  for (const c of DENSE) {
    it(c.name, async () => {
      const sim = simulateIndependentStack({ ...c.conditions, seed: 11, frames: 200 });
      const e = await estimateConditions(sim.stack);
      expect(e.cameraModel).toBe('highpass');
      expect([e.cameraSource, e.skewSource, e.cameraDecided]).toEqual(['data', 'dark-pixels', true]);
      expect(misses(e, settingsInEstimateTerms(c.conditions))).toEqual(c.knownMisses);
    });
  }

  it("pins the noise line at the background with the dark pixel-frames' variance where the background is flat, and says so", async () => {
    const sim = simulateStack({ ...SCMOS_107NM_GAUSSIAN, width: 64, height: 64, densityPerUm2: 5, structure: { kind: 'uniform' }, frames: 200, seed: 3 });
    const e = await estimateConditions(sim.stack);
    expect(e.darkLineWeight).toBe(0);
    // 0.76: the fine tiles reach down between the emitters and know the line there too (0.9 and more before them).
    expect(e.darkLevelWeight).toBeGreaterThan(0.6);
    expect(formatConditions(e)).toMatch(/its noise at the background level \d+ % from where no emitter shines/);
  });

  it("weighs in the dark pixel-frames' own line where the background is uneven, and says so", async () => {
    const sim = simulateIndependentStack({ ...SCMOS_160NM, seed: 11, frames: 200 });
    const e = await estimateConditions(sim.stack);
    // Its 30 % gradient and 25 % haze give a line of the dark pixel-frames alone, as certain as the fine detail's.
    expect(e.darkLineWeight).toBeGreaterThan(0.1);
    expect(e.darkLineWeight).toBeLessThan(0.6);
    expect(formatConditions(e)).toMatch(/and, for \d+ % of the gain, the background's unevenness where no emitter shines/);
  });

  it("corrects the sCMOS baseline for the read noise the option gives, or a typical chip's; an EMCCD's is not-applicable", async () => {
    const sim = simulateIndependentStack({ ...SCMOS_107NM, seed: 11, frames: 200 });
    const assumed = await estimateConditions(sim.stack);
    const none = await estimateConditions(sim.stack, { readNoiseElectrons: 0 });
    const chip = sim.scmosMaps!.readNoiseElectrons;
    // The chip's own mean read-noise variance (log-normal, median 1.5 e-: 1.7 e- rms).
    const rms = Math.sqrt(chip.reduce((a, r) => a + r * r, 0) / chip.length);
    const known = await estimateConditions(sim.stack, { readNoiseElectrons: rms });
    expect([assumed.readNoiseSource, assumed.readNoiseElectrons]).toEqual(['assumed', 1.5]);
    expect([none.readNoiseSource, known.readNoiseSource]).toEqual(['option', 'option']);
    expect(assumed.readNoiseAdu).toBeCloseTo(1.5 * assumed.aduPerPhoton, 9);
    // The variance line's intercept is readNoise^2 - gain x baseline: each e-^2 moves the baseline by one gain, the
    // background (level - baseline) / gain by one photon, and nothing else.
    expect(assumed.baselineAdu - none.baselineAdu).toBeCloseTo(2.25 * none.aduPerPhoton, 9);
    expect(none.backgroundPhotons - assumed.backgroundPhotons).toBeCloseTo(2.25, 9);
    expect([assumed.aduPerPhoton, assumed.psfSigmaNm, assumed.photonsMedian]).toEqual([none.aduPerPhoton, none.psfSigmaNm, none.photonsMedian]);
    expect(assumed.densityPerUm2).toBeCloseTo(none.densityPerUm2, 9);
    // Read as all offset (0 e-) the baseline is further from the chip's 400 ADU than with its own read noise.
    expect(Math.abs(known.baselineAdu - 400)).toBeLessThan(Math.abs(none.baselineAdu - 400));
    expect(Math.abs(known.baselineAdu / 400 - 1)).toBeLessThan(0.01);

    const emccd = await estimateConditions(simulateIndependentStack({ ...BENCHMARK_LIKE_EMCCD, densityPerUm2: 3, seed: 11, frames: 60 }).stack, { camera: 'emccd', readNoiseElectrons: 5 });
    expect([emccd.readNoiseSource, emccd.readNoiseElectrons, emccd.readNoiseAdu]).toEqual(['not-applicable', 0, 0]);
    for (const bad of [-1, Number.NaN, 101, '2' as unknown as number]) {
      await expect(estimateConditions(sim.stack, { readNoiseElectrons: bad })).rejects.toMatchObject({ code: 'E_BAD_OPTIONS', message: expect.stringMatching(/readNoiseElectrons/) });
    }
  });

  it('says why where the data cannot give an estimate: sCMOS 160 nm behind NA 1.4 at 2.5/um^2', async () => {
    // PSF sigma ~0.66 px: emitter light reaches even the narrow high-pass band (the gain read +45 % there), and too
    // few spots stand alone to model the camera from them.
    const coarse = simulateIndependentStack({ ...SCMOS_160NM, optics: { wavelengthNm: 660, numericalAperture: 1.4 }, seed: 11, frames: 200 });
    await expect(estimateConditions(coarse.stack)).rejects.toMatchObject({ code: 'E_BAD_OPTIONS', message: expect.stringMatching(/undersampled/) });
  });

  it('models a 160 nm sCMOS on 64 px frames, sparse enough for the spots, from the fine detail: the filter by the fluctuations, not the spots', async () => {
    // The Airy PSF's core fits at 0.72 px (0.76 from the frames' fluctuations, 0.78 true): chosen by the spots' width,
    // the fine-detail model was not used and the camera came from the spots alone: gain +83 %, background -67 %.
    const sim = simulateIndependentStack({ ...SCMOS_160NM, width: 64, height: 64, seed: 22, frames: 200 });
    const e = await estimateConditions(sim.stack);
    expect(e.spotsFitted / e.spotsConverged).toBeGreaterThan(0.5);
    expect(e.cameraModel).toBe('highpass');
    expect(misses(e, settingsInEstimateTerms(SCMOS_160NM))).toEqual([]);
  });

  it('refuses, saying why, an sCMOS camera that only its undersampled spots could model', async () => {
    // Behind NA 1.4 (sigma ~0.66 px) on 64 px frames: from the spots alone the gain read +71 %. And a 48 px wide
    // sparse stack at 0.78 px, whose fine detail is too little to fit (slope uncertain by 22 %): +21 %.
    const coarse = simulateIndependentStack({ ...SCMOS_160NM, width: 64, height: 64, optics: { wavelengthNm: 660, numericalAperture: 1.4 }, seed: 22, frames: 200 });
    await expect(estimateConditions(coarse.stack)).rejects.toMatchObject({
      code: 'E_BAD_OPTIONS',
      message: expect.stringMatching(/undersampled: an sCMOS camera.*reaches even the finest detail.*--camera emccd/),
    });
    const small = simulateStack({ ...SCMOS_160NM_GAUSSIAN, frames: 200, seed: 3, structure: { kind: 'uniform' }, densityPerUm2: 0.5 });
    await expect(estimateConditions(small.stack)).rejects.toMatchObject({
      code: 'E_BAD_OPTIONS',
      message: expect.stringMatching(/undersampled.*slope uncertain by 22 %.*more frames or a larger field/),
    });
  });

  it('checks the camera and gain-spread options', async () => {
    const sim = simulateIndependentStack({ ...SCMOS_107NM, seed: 1, frames: 30 });
    await expect(estimateConditions(sim.stack, { camera: 'ccd' as 'scmos' })).rejects.toMatchObject({ code: 'E_BAD_OPTIONS', message: expect.stringMatching(/camera must be/) });
    for (const gainSpreadPercent of [-1, 25, Number.NaN, '1' as unknown as number]) {
      await expect(estimateConditions(sim.stack, { gainSpreadPercent })).rejects.toMatchObject({ code: 'E_BAD_OPTIONS', message: expect.stringMatching(/gainSpreadPercent must be/) });
    }
  });
});

describe('estimateConditions on a third, naive simulator (lib/naive-simulator.ts: emitters over the whole field)', () => {
  it('reads the background of a dense field with no empty margin from its few dark pixel-frames, not the lifted low levels', async () => {
    // 3/um^2 over every pixel leaves each pixel 2-5 dark frames of 200: before, only pixels with 10 counted, too few,
    // and the background came from the pixels' low levels: +15 to +30 % on seeds 1-8.
    const conditions = { ...NAIVE_107NM, densityPerUm2: 3 };
    const e = await estimateConditions(simulateNaiveStack(conditions, 21, 200));
    expect(e.backgroundSource).toBe('dark-pixels');
    expect(misses(e, naiveTruth(conditions))).toEqual([]);
    // Too few dark pixel-frames to decide the kind, but the skew reported is theirs, not the fine detail's (3.87 here).
    expect([e.skewSource, e.cameraDecided]).toEqual(['dark-pixels', false]);
  });

  it('at 5/um^2, where the usual circle around the emitters leaves too few, takes the dark pixel-frames beyond a tighter one', async () => {
    // Left out within 3.5 sigma + 1 px (6 px) of every pixel an emitter lights, 3 of 8 stacks kept fewer than 10 dark
    // pixel-frames, and their background came from the lifted low levels (+19.3 % on this seed); within 2.5 sigma + 1 px
    // (4 px), from the dark pixel-frames (dark-pixels.ts, TIGHT_EXCLUSION_SIGMAS).
    const conditions = { ...NAIVE_107NM, densityPerUm2: 5 };
    const e = await estimateConditions(simulateNaiveStack(conditions, 21, 200));
    expect(e.backgroundSource).toBe('dark-pixels');
    expect(misses(e, naiveTruth(conditions))).toEqual([]);
    expect(Math.abs(e.backgroundPhotons / conditions.backgroundPhotons - 1)).toBeLessThan(0.05);
  });

  it("holds the chip's pixel gain spread where the data sheet gives it, instead of fitting a term this chip does not need", async () => {
    // One gain for every pixel, 160 nm (PSF 0.78 px), 0.5/um^2 on 128 px: fitted, the gain-spread term took up part of
    // the emitters' light that leaks into the narrow band, which came off the slope a second time (docs/estimate.md):
    // the gain read 13-16 % low on 4 of 8 seeds, this one among them.
    const conditions = { ...NAIVE_107NM, pixelSizeNm: 160, densityPerUm2: 0.5, sizePx: 128 };
    const stack = simulateNaiveStack(conditions, 23, 200);
    const fitted = await estimateConditions(stack);
    expect([fitted.gainSpreadSource, fitted.aduPerPhoton / conditions.aduPerPhoton - 1 < -0.1]).toEqual(['fitted', true]);
    expect(fitted.gainSpreadPercent).toBeGreaterThan(1);
    const told = await estimateConditions(stack, { gainSpreadPercent: 0 });
    expect([told.gainSpreadSource, told.gainSpreadPercent]).toEqual(['option', 0]);
    expect(misses(told, naiveTruth(conditions))).toEqual([]);
  });

  it('reads a sparse field of it (1/um^2)', async () => {
    const e = await estimateConditions(simulateNaiveStack(NAIVE_107NM, 21, 200));
    expect(e.camera).toBe('scmos');
    expect(misses(e, naiveTruth(NAIVE_107NM))).toEqual([]);
  });
});

describe.runIf(SHARED_DATA)('estimateConditions on the ThunderSTORM stacks of ../shared/data', () => {
  // ../shared/data/README.md: 20 frames of 5.5-6 emitters per um^2 (~230 per 64x64 frame): too few isolated spots to
  // model the camera from them, so the dense path, with only 20 frames.
  it('Artificialdataset.tif (no baseline, 1 ADU/photon, 10 photons background): the dense path, from 20 frames', async () => {
    const stack = await readTiffStack(join(SHARED_DATA!, 'deepstorm-demo1', 'Artificialdataset.tif'));
    const e = await estimateConditions(stack);
    expect(e.cameraModel).toBe('highpass');
    // Gain, PSF (106-115 nm), photons (uniform 1000-3000) within the tolerances; measured baseline -3.0 ADU (of
    // 0), background 18.3 photons (of 10: 20 frames give each pixel few dark frames), density 4.2 (of 5.5).
    expect(Math.abs(e.aduPerPhoton - 1)).toBeLessThan(0.15);
    expect(Math.abs(e.psfSigmaNm / 110 - 1)).toBeLessThan(0.15);
    expect(Math.abs(e.photonsMedian / 2000 - 1)).toBeLessThan(0.25);
  });

  it('ArtificialDataset_demo1.tif: refused, saying why (20 frames do not give one noise line)', async () => {
    const stack = await readTiffStack(join(SHARED_DATA!, 'deepstorm-demo1', 'ArtificialDataset_demo1.tif'));
    await expect(estimateConditions(stack)).rejects.toMatchObject({ code: 'E_BAD_OPTIONS', message: expect.stringMatching(/isolated spots could be fitted in 20 frames.*does not follow one line/) });
  });
});
