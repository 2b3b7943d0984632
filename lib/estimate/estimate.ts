/**
 * Imaging conditions read from the frames themselves (`smlm-rt estimate`): camera baseline and gain, excess noise
 * (EMCCD or not), background, emitter brightness, PSF width and emitter density, so that a simulation (and a model
 * trained on it) can be matched to a microscope.
 *
 * How: isolated spots are fitted with an integrated Gaussian + constant (spot-fit.ts, spot-camera.ts). Their residuals
 * against the fitted expectation give the camera's noise model (noise-model.ts: gain, excess noise factor, baseline) — pixels of
 * every brightness from background to spot peaks, so the mean-variance line is well spread, which the background of
 * a stack (often flat) alone could not give. Then, in photons: background = the level of the pixel-frames no emitter
 * reaches, as the field's mean of a plane through them (dark-pixels.ts; the fitted backgrounds where too few are
 * dark), brightness = fitted signals, sigma = fitted widths; density = all light above background in a frame / mean
 * photons per emitter (which counts overlapping emitters that detection would merge). Baseline and gain come from the
 * fine-detail noise model below instead where it is well determined (else from the spots; an undersampled sCMOS
 * camera is refused): the spots' residuals carry the fit's misfit at their peaks (an Airy PSF's EMCCD read +20 to
 * +34 %) and an sCMOS chip's pixel gain spread (+14 % on the 107 nm chip of the tests, +21-26 % at 160 nm), which that
 * model accounts for. Its filter goes by the PSF's width as the frames' fluctuations measure it.
 *
 * Dense stacks (too few spots stand alone, or too few of those the noise model explains): the camera from the noise
 * in the frames' finest spatial detail (highpass-noise.ts: mean-variance line over tiles of all frames, any density,
 * with a term for an sCMOS chip's gain spread, none for an EMCCD; a narrower band below PSF sigma 0.9 px, refused
 * below 0.72 px), PSF sigma and photons from the spatial correlation of the frames' fluctuations under a
 * pixel-integrated Gaussian (fluctuation.ts), background from the dark pixel-frames as above (else the pixels' low
 * temporal levels, dense-background.ts), density as above.
 * On either path the camera kind (EM gain or none) comes from the noise's third cumulant in the pixel-frames that no
 * emitter reaches (dark-pixels.ts), unless the `camera` option gives it; where too little of the stack is dark to
 * rule either kind out, sCMOS is assumed and cameraDecided is false.
 * The line's level near the background comes from 2 px tiles, which fall between the emitters of a crowded field
 * where the 8 px tiles of its slope do not (highpass-noise.ts, pinnedAtFineBottom).
 * On either path the dark pixel-frames weigh in on the camera's line (withDarkPixels): where the background varies
 * over the field their own line, else their variance at their level, which pins the line there; on dense stacks the
 * tiles lie far above the background and the line's intercept, whence the baseline, was an extrapolation (uniformly
 * placed emitters at 2.5/um^2 on 64 px of 160 nm: baseline -4.4 to +7.0 % before, -1.7 to +1.5 % pinned).
 * The fine line's term for an sCMOS chip's pixel gain spread is fitted, or held at the data sheet's spread where the
 * `gainSpreadPercent` option gives it (docs/estimate.md: on a chip with one gain the fitted term reads 160 nm gains low).
 * On either path an sCMOS baseline is corrected for the camera's read noise (the `readNoiseElectrons` option, or a
 * typical chip's 1.5 e- rms): the noise's variance line cannot tell read noise from an offset.
 * Below a PSF sigma of 0.9 px the emitters' light that leaks into the filter's band is measured from the frames'
 * fluctuation spectrum and taken off the noise slope (band-leak.ts: +7 % of the slope for a Gaussian PSF at sigma
 * 0.78 px, about nothing for an optical PSF, whose spectrum ends below the band).
 * Measured on independent-simulator stacks of 200 frames (test/estimate.test.ts), error of baseline / gain /
 * background / photons / PSF sigma / density: sCMOS 107 nm at 4.5/um^2 +0.2 / -0.2 / -0.3 / -7.5 / -3.2 / +11.9 %, at
 * 2/um^2 -0.1 / +1.3 / -2.9 / -8.5 / -2.5 / +11.9 %; EMCCD 100 nm (kind from the data) at 3/um^2 +0.6 / +0.4 / +1.4 /
 * -12.0 / -2.7 / +11.8 %, at 5/um^2 +0.2 / +0.6 / +4.2 / -14.9 / -3.0 / +16.1 %; sCMOS 160 nm (sigma 0.78 px, Airy) at
 * 2.5/um^2 -1.4 / +7.8 / +4.8 / -5.9 / +1.6 / +2.5 %. On lib/simulate's Gaussian PSF at 160 nm (sigma 0.78 px,
 * 2.5/um^2): +0.1 / -2.3 / +1.5 / +9.8 / +0.8 / -7.5 %. Over 4 more seeds each: `npm run bench:estimate`.
 */
import { SmlmError } from '../errors.js';
import { stackAsSource, type FrameSource } from '../io/frame-source.js';
import { selectFrames } from '../io/frame-range.js';
import { checkPixelSizeNm, plausibleFilePixelSize } from '../io/pixel-size.js';
import type { Stack } from '../types.js';
import { median } from './line-fit.js';
import type { VarianceLine } from './spot-fit.js';
import { fluctuationPsf, secondOverFirstAdu } from './fluctuation.js';
import { highpassNoiseModel, withDarkLevel, withDarkLine, withoutGainSpreadTerm, withoutLeak, type HighpassNoise } from './highpass-noise.js';
import { bandLeak } from './band-leak.js';
import { fitFrames, spotCamera, type Fits } from './spot-camera.js';
import { analysedRegion, MAX_ANALYSED_PIXELS, sampleFrames } from './frame-sample.js';
import { denseBackgroundAdu } from './dense-background.js';
import type { EstimateOptions, ImagingConditions } from './imaging-conditions.js';
import { cameraKindFromSkew, darkPixels, skewRatio, TIGHT_EXCLUSION_SIGMAS, type DarkPixels, type SkewRatio } from './dark-pixels.js';
import { MAX_GAIN_SPREAD_PERCENT, MAX_READ_NOISE_ELECTRONS, SCMOS_READ_NOISE_ELECTRONS } from '../simulate/conditions.js';

export type { EstimateOptions, ImagingConditions } from './imaging-conditions.js';

/** A camera model from a noise model (its variance slope, aduPerPhoton x its F, is F x gain) and the excess factor F. */
function cameraFromNoise(
  noise: { baselineAdu: number; aduPerPhoton: number; excessNoiseFactor: number; skewRatio: number },
  excessNoiseFactor: number,
  cameraModel: CameraModel['cameraModel'],
  cameraSource: CameraModel['cameraSource'],
): CameraModel {
  return {
    baselineAdu: noise.baselineAdu,
    aduPerPhoton: (noise.aduPerPhoton * noise.excessNoiseFactor) / excessNoiseFactor,
    camera: excessNoiseFactor === 2 ? 'emccd' : 'scmos',
    excessNoiseFactor,
    skewRatio: noise.skewRatio,
    skewSource: cameraModel,
    cameraModel,
    cameraSource,
  };
}

/** Pixel size assumed when neither the file nor the caller says: the benchmark's, and the bundled models'. */
const ASSUMED_PIXEL_NM = 100;
const DEFAULT_MAX_FRAMES = 300;
/** Dense stacks: fewest spots that measure the PSF and the photons (the camera comes from highpass-noise.ts). */
const MIN_DENSE_SPOTS = 30;
/**
 * Below this PSF sigma (camera px) emitter light reaches the band of the default high-pass filter (highpass-noise.ts),
 * and a filter of order UNDERSAMPLED_ORDER, whose band hugs 0.5 cycles/px closer, is used instead.
 */
const SAMPLED_SIGMA_PX = 0.9;
const UNDERSAMPLED_ORDER = 14;
/**
 * Below this PSF sigma (camera px) emitter light reaches even that band: measured on 160 nm sCMOS stacks, the gain
 * read +6-11 % at sigma 0.72-0.84 px (order 12) but +45 % at 0.66 px (+32 % at order 14).
 */
const MIN_SAMPLED_SIGMA_PX = 0.72;
/** How far the camera read from the narrow band lands (`npm run bench:estimate --seeds 8`, 160 nm stacks). */
function undersampledNote(sigmaPx: number): string {
  return (
    `the PSF (sigma ${sigmaPx.toFixed(2)} px) is narrower than ${SAMPLED_SIGMA_PX} camera px, so some of the emitters' light reaches the finest detail, where the camera's noise is read: ` +
    'on 160 nm sCMOS stacks of 48-64 px and 200 frames the gain landed within 13 % of the truth (reading low where emitters are placed uniformly) and the background (which goes as 1/gain^2) within 36 %; a larger field narrows both, more frames of the same field (--max-frames) only somewhat'
  );
}
/**
 * Dense stacks: spot fits whose weighted residuals exceed this hold unresolved neighbours (looser than for sparse
 * stacks: the tails of emitters around a spot are not in its model).
 */
const MAX_DENSE_CHI2 = 3;
/** The high-pass variance line's slope must be known this well. */
const MAX_SLOPE_ERROR = 0.08;

/** How well the spots' variance line's slope is known, for the camera kind's decision: it has no error of its own. */
const SPOTS_SLOPE_ERROR = 0.15;
/**
 * The dark pixel-frames give the background where there are at least this many, on at least DARK_PIXELS pixels; else
 * the pixels' low levels do (denseBackgroundAdu), which the tails of emitters nearby lift wherever the field is crowded
 * up to its edges. Their level is unbiased and its error small however few they are (10 samples of 170 ADU^2 on 3
 * pixels of 3 ADU offset spread: ~5 ADU): emitters placed uniformly over the whole field at 3/um^2 (107 nm, sigma
 * 1.17 px) left 490-1050 dark pixel-frames on 112-198 pixels, whose level was within 0.8 ADU of the truth, while the
 * low levels read the background +7.7 to +25.6 % (the thresholds were 2000 and 50 before; lib/naive-simulator.ts);
 * at 5/um^2, 13-37 on 4-9 pixels were within 5 ADU, the low levels +11 to +39 %.
 */
const DARK_SAMPLES = 10;
const DARK_PIXELS = 3;

/** The background level the dark pixel-frames give (dark-pixels.ts), where there are enough of them. */
function darkBackgroundAdu(dark: DarkPixels | undefined): number | undefined {
  return dark && dark.samples >= DARK_SAMPLES && dark.pixels >= DARK_PIXELS ? dark.fieldLevelAdu : undefined;
}

/**
 * The pixel-frames no emitter reaches (dark-pixels.ts); where too few are left to give the background, those beyond a
 * tighter circle around the emitters (TIGHT_EXCLUSION_SIGMAS), if they are enough: a crowded field's low levels, the
 * alternative, carry the tails of the emitters nearby.
 */
function darkPixelsEnough(frames: Float64Array[], width: number, height: number, variance: VarianceLine, psfSigmaPx: number): DarkPixels | undefined {
  const usual = darkPixels(frames, width, height, variance, psfSigmaPx);
  if (darkBackgroundAdu(usual) !== undefined) return usual;
  const tight = darkPixels(frames, width, height, variance, psfSigmaPx, TIGHT_EXCLUSION_SIGMAS);
  return darkBackgroundAdu(tight) !== undefined ? tight : usual;
}

/**
 * What the emitters' light in the fine-detail filter's band adds to the noise slope, measured from the frames'
 * spectrum (band-leak.ts), for the narrow band of undersampled PSFs; for sampled ones (order 6) that light is
 * negligible and its measurement only noise: 0.
 */
function bandLightSlope(hp: HighpassNoise, frames: Float64Array[], width: number, height: number, backgroundAdu: number): number {
  if (hp.order !== UNDERSAMPLED_ORDER) return 0;
  return bandLeak(frames, width, height, hp.order, backgroundAdu)?.excessSlope ?? 0;
}

/**
 * The line with the pixel-frames no emitter reaches (dark-pixels.ts), where there are enough of them to give the
 * background: their own line where the background's level varies over the field (withDarkLine), else their variance at
 * their level (withDarkLevel).
 */
function withDarkPixels(hp: HighpassNoise, dark: DarkPixels | undefined, backgroundAdu: number): HighpassNoise {
  if (!dark || darkBackgroundAdu(dark) === undefined) return hp;
  if (dark.line) return withDarkLine(hp, dark.line, backgroundAdu);
  return withDarkLevel(hp, { levelAdu: dark.levelAdu, varianceAdu2: dark.cameraVarianceAdu2, error: dark.cameraVarianceError });
}

/**
 * The fine-detail noise model for a camera of excess noise factor F, less the band's light: for EM gain without the
 * gain-spread term (an EMCCD's pixels share one gain; highpass-noise.ts, withoutGainSpreadTerm). Undefined where that
 * line's slope is not known to MAX_SLOPE_ERROR.
 */
function fineLine(hp: HighpassNoise, F: 1 | 2, leakSlope: number, backgroundAdu: number): HighpassNoise | undefined {
  const line = F === 2 ? withoutGainSpreadTerm(hp) : hp;
  if (!(line.slopeRelativeError <= MAX_SLOPE_ERROR)) return undefined;
  return leakSlope !== 0 ? withoutLeak(line, leakSlope, backgroundAdu) : line;
}

/**
 * The camera kind: the option's, else what the dark pixel-frames' skew decides for the variance slope `slope`
 * (dark-pixels.ts), else assumed sCMOS. With the dark pixel-frames' skew wherever they give one, decided or not: the
 * fine detail's own (the fallback) is the emitters' light more than the camera's, and at the narrow band of
 * undersampled PSFs read anything from -1700 to +900 on the bench's stacks, which a reader of the JSON cannot judge.
 */
function cameraKind(option: EstimateOptions['camera'], dark: DarkPixels | undefined, slope: number, slopeRelativeError: number): { F: 1 | 2; source: CameraModel['cameraSource']; skew?: SkewRatio } {
  const skew = dark ? skewRatio(dark, slope) : undefined;
  if (option) return { F: option === 'emccd' ? 2 : 1, source: 'option', skew };
  const kind = skew ? cameraKindFromSkew(skew, slopeRelativeError) : undefined;
  if (!kind) return { F: 1, source: 'assumed', skew };
  return { F: kind === 'emccd' ? 2 : 1, source: 'data', skew };
}

/** The camera model with the dark pixel-frames' skew, where they gave one. */
function withSkew(model: CameraModel, skew: SkewRatio | undefined): CameraModel {
  return skew ? { ...model, skewRatio: skew.ratio, skewSource: 'dark-pixels' } : model;
}

/** An optional number option: absent, or a finite number in [0, max]. */
function absentOrWithin(value: unknown, max: number): boolean {
  return value === undefined || (typeof value === 'number' && Number.isFinite(value) && value >= 0 && value <= max);
}

function failed(message: string): SmlmError {
  return new SmlmError('E_BAD_OPTIONS', `estimate: ${message}`);
}

function mean(values: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i];
  return s / values.length;
}

interface CameraModel {
  baselineAdu: number;
  aduPerPhoton: number;
  camera: 'emccd' | 'scmos';
  excessNoiseFactor: number;
  skewRatio: number;
  skewSource: ImagingConditions['skewSource'];
  cameraModel: 'spots' | 'highpass';
  cameraSource: 'data' | 'option' | 'assumed';
}

/**
 * Estimates the imaging conditions of a stack (in memory or streamed). Throws E_BAD_OPTIONS for bad options, or when
 * too few isolated spots can be fitted to tell (the message says how many).
 */
export async function estimateConditions(input: Stack | FrameSource, options: EstimateOptions = {}): Promise<ImagingConditions> {
  if (options === null || typeof options !== 'object') throw failed('options must be an object');
  if (options.pixelSizeNm !== undefined) checkPixelSizeNm(options.pixelSizeNm, 'pixelSizeNm');
  const maxFrames = options.maxFrames ?? DEFAULT_MAX_FRAMES;
  if (!(Number.isInteger(maxFrames) && maxFrames >= 1)) throw failed(`maxFrames must be a positive integer, got ${String(maxFrames)}`);
  if (options.camera !== undefined && options.camera !== 'emccd' && options.camera !== 'scmos') throw failed(`camera must be "emccd" or "scmos", got ${String(options.camera)}`);
  const readNoiseOption = options.readNoiseElectrons;
  if (!absentOrWithin(readNoiseOption, MAX_READ_NOISE_ELECTRONS)) {
    throw failed(`readNoiseElectrons must be a number of electrons rms in [0, ${MAX_READ_NOISE_ELECTRONS}], got ${String(readNoiseOption)}`);
  }
  const gainSpreadOption = options.gainSpreadPercent;
  if (!absentOrWithin(gainSpreadOption, MAX_GAIN_SPREAD_PERCENT)) {
    throw failed(`gainSpreadPercent must be a pixel gain spread in rms % in [0, ${MAX_GAIN_SPREAD_PERCENT}], got ${String(gainSpreadOption)}`);
  }
  const heldSpread = gainSpreadOption !== undefined ? (gainSpreadOption / 100) ** 2 : undefined;
  const whole = 'chunks' in input ? input : stackAsSource(input);
  const source = options.frames ? selectFrames(whole, options.frames) : whole;
  const region = analysedRegion(source.width, source.height);
  const { width, height } = region;
  const frames = await sampleFrames(source, Math.min(maxFrames, Math.floor(MAX_ANALYSED_PIXELS / (width * height))), region);

  // A first pass at a window that suits PSFs of ~1 px finds the PSF's width; the second fits at a window of +-3 sigma.
  const first = fitFrames(frames.slice(0, 40), width, height, 3, 1.2);
  const sigma0 = first.sigma.length >= 10 ? median(first.sigma) : 1.2;
  const half = Math.min(10, Math.max(3, Math.ceil(3 * sigma0)));
  const sparse = spotCamera(frames, width, height, half, sigma0);
  let fits: Fits;
  let model: CameraModel;
  let backgroundAdu: number;
  let backgroundSource: ImagingConditions['backgroundSource'];
  let fluctuation: { sigmaPx: number; photons: number } | undefined;
  // Where the camera came from the narrow band of undersampled PSFs, which some of the emitters' light reaches: the
  // PSF width that chose it, px.
  let narrowBandSigma: number | undefined;
  let darkLineWeight = 0;
  let darkLevelWeight = 0;
  // The fine line's gain-spread term, where the camera came from it (an sCMOS chip's).
  let gainSpreadSquared: number | undefined;
  if ('noise' in sparse) {
    fits = sparse.fits;
    const noise = sparse.noise;
    const sigma = median(fits.sigma);
    // The fine-detail noise model (highpass-noise.ts), where it is well determined: the spots' residuals carry their
    // misfit at the peaks, and for an sCMOS camera its chip's pixel gain spread (the 107 nm chip of the tests read
    // +14 %, a 160 nm one +21-26 %), which that model accounts for; for an EMCCD the independent simulator's Airy PSF
    // read the gain from the spots +20 to +34 % (128 px frames at 5.5/um^2, 64 px at 1/um^2), the fine detail within
    // 1 %. Its variance line also finds the dark pixel-frames below.
    // Its filter goes by the PSF's width as the frames' fluctuations measure it, as on dense stacks: an optical PSF's
    // narrow core fits narrower than its light spreads (the independent simulator's Airy PSF at 160 nm, 0.78 px: 0.72
    // fitted, 0.76 from the fluctuations), and below MIN_SAMPLED_SIGMA_PX the camera came from the spots alone, whose
    // residuals read that sCMOS gain +60 to +120 % on 64-96 px frames.
    const filterSigma = fluctuationPsf(frames, width, height)?.sigmaPx ?? sigma;
    const raw = filterSigma >= MIN_SAMPLED_SIGMA_PX ? highpassNoiseModel(frames, width, height, filterSigma >= SAMPLED_SIGMA_PX ? undefined : UNDERSAMPLED_ORDER, heldSpread) : undefined;
    const fine = raw && raw.slopeRelativeError <= MAX_SLOPE_ERROR ? raw : undefined;
    // The pixel-frames no emitter reaches (dark-pixels.ts): the background, where the fitted backgrounds carry the
    // tails of neighbours just outside the spots' windows, and the camera kind.
    const dark = darkPixelsEnough(frames, width, height, (fine ?? noise).variance, sigma);
    const darkLevel = darkBackgroundAdu(dark);
    backgroundAdu = darkLevel ?? median(fits.background);
    backgroundSource = darkLevel !== undefined ? 'dark-pixels' : 'spots';
    const leakSlope = raw ? bandLightSlope(raw, frames, width, height, backgroundAdu) : 0;
    const hp = raw && fineLine(raw, 1, leakSlope, backgroundAdu);
    // The camera kind from the dark pixel-frames' skew; where that leaves both kinds plausible, sCMOS is assumed, as
    // on dense stacks: the spots' own third moment, which their neighbours' light and misfit swamp, read the wrong
    // kind in 8 of the 12 sparse stacks of `npm run bench:estimate`.
    const kind = cameraKind(options.camera, dark, (hp ?? noise).variance.slope, hp ? hp.slopeRelativeError : SPOTS_SLOPE_ERROR);
    const line = raw && fineLine(raw, kind.F, leakSlope, backgroundAdu);
    if (kind.F === 1 && !line && filterSigma < SAMPLED_SIGMA_PX) {
      // An undersampled PSF's spots misfit at their peaks, where an sCMOS chip's pixel gain spread adds to the
      // residuals too: from the spots alone, the independent simulator's 160 nm sCMOS behind NA 1.4 (0.61 px fitted)
      // read its gain +61 to +87 %, and a 48 px wide sparse stack at 0.78 px +21 %. No figures rather than those.
      const why = raw
        ? `the noise in the frames' finest detail does not follow one line in the signal (slope uncertain by ${(100 * raw.slopeRelativeError).toFixed(0)} %); more frames or a larger field may tell`
        : `the emitters' light reaches even the finest detail (it needs sigma >= ${MIN_SAMPLED_SIGMA_PX} px)`;
      throw failed(
        `the PSF (sigma ~${filterSigma.toFixed(2)} px) is undersampled: an sCMOS camera's noise cannot be modelled from the spots, whose peaks the fit misses, and ${why}. ` +
          `If the camera is an EMCCD, say so (camera: 'emccd', --camera emccd): its noise model from the spots holds there`,
      );
    }
    // The dark pixel-frames weigh in: their own line where the background is uneven, else their variance.
    const cameraLine = line && withDarkPixels(line, dark, backgroundAdu);
    darkLineWeight = cameraLine?.darkLineWeight ?? 0;
    darkLevelWeight = cameraLine?.darkLevelWeight ?? 0;
    if (cameraLine && kind.F === 1) gainSpreadSquared = cameraLine.gainSpreadSquared;
    model = withSkew({ ...cameraFromNoise(cameraLine ?? noise, kind.F, cameraLine ? 'highpass' : 'spots', kind.source), skewRatio: noise.skewRatio, skewSource: 'spots' }, kind.skew);
    if (line?.order === UNDERSAMPLED_ORDER) narrowBandSigma = filterSigma;
  } else {
    // Dense: too few spots stand alone to model the camera from their residuals (sparse.reason says why). The PSF's
    // width from the frames' fluctuations (any signal level will do for the width) chooses the high-pass filter.
    const fl = fluctuationPsf(frames, width, height);
    const psfWidth = fl?.sigmaPx ?? sigma0;
    if (!(psfWidth >= MIN_SAMPLED_SIGMA_PX)) {
      throw failed(
        `${sparse.reason}; the camera's noise cannot be told from the emitters' light in the finest detail either, because the PSF (sigma ~${psfWidth.toFixed(2)} px) is undersampled ` +
          `(it needs sigma >= ${MIN_SAMPLED_SIGMA_PX} px); use a sparser part of the acquisition (--frames) or a stack with fewer emitters per frame`,
      );
    }
    const raw = highpassNoiseModel(frames, width, height, psfWidth >= SAMPLED_SIGMA_PX ? undefined : UNDERSAMPLED_ORDER, heldSpread);
    if (!raw) throw failed(`${sparse.reason}, and the frames are too few or too small (${width}x${height} px, ${frames.length} frames) to model the camera's noise from their finest detail`);
    if (raw.slopeRelativeError > MAX_SLOPE_ERROR) {
      throw failed(`${sparse.reason}, and the noise in the frames' finest detail does not follow one line in the signal (slope uncertain by ${(100 * raw.slopeRelativeError).toFixed(0)} %)`);
    }
    // The background from the pixel-frames no emitter reaches (dark-pixels.ts), where there are enough of them; else
    // from the pixels' low levels over time (denseBackgroundAdu), which the wings of emitters nearby lift.
    const dark = darkPixelsEnough(frames, width, height, raw.variance, psfWidth);
    const darkLevel = darkBackgroundAdu(dark);
    backgroundAdu = darkLevel ?? denseBackgroundAdu(frames, width, height, raw);
    backgroundSource = darkLevel !== undefined ? 'dark-pixels' : 'low-levels';
    // The emitters' light that leaks into the filter's band raised the slope (band-leak.ts; at sigma 0.78 px +7 % for
    // a Gaussian PSF, ~0 for an optical one): taken off. The camera kind from the dark pixel-frames' skew, where they
    // rule one kind out (the fine detail's own third moment is the emitters' more than the camera's); with EM gain
    // the line without the gain-spread term. Then the background from the low levels (which the line moves) again.
    const leakSlope = bandLightSlope(raw, frames, width, height, backgroundAdu);
    const scmosLine = fineLine(raw, 1, leakSlope, backgroundAdu) ?? raw;
    const kind = cameraKind(options.camera, dark, scmosLine.variance.slope, scmosLine.slopeRelativeError);
    const hp = withDarkPixels((kind.F === 2 ? fineLine(raw, 2, leakSlope, backgroundAdu) : undefined) ?? scmosLine, dark, backgroundAdu);
    darkLineWeight = hp.darkLineWeight;
    darkLevelWeight = hp.darkLevelWeight;
    if (kind.F === 1) gainSpreadSquared = hp.gainSpreadSquared;
    if (hp !== raw && darkLevel === undefined) backgroundAdu = denseBackgroundAdu(frames, width, height, hp);
    let total = 0;
    for (const f of frames) for (let i = 0; i < f.length; i++) total += f[i];
    const meanLevel = total / (frames.length * width * height);
    // PSF and photons from the correlation of the frames' fluctuations (fluctuation.ts); the spots that stand alone
    // where that fails.
    const photonsAdu = fl ? secondOverFirstAdu(fl, meanLevel - backgroundAdu) : undefined;
    model = withSkew(cameraFromNoise(hp, kind.F, 'highpass', kind.source), kind.skew);
    if (hp.order === UNDERSAMPLED_ORDER) narrowBandSigma = psfWidth;
    fits = fitFrames(frames, width, height, half, sigma0, hp.variance, 1.25 * sigma0, MAX_DENSE_CHI2);
    if (fl && photonsAdu !== undefined) fluctuation = { sigmaPx: fl.sigmaPx, photons: photonsAdu / model.aduPerPhoton };
    else if (fits.sigma.length < MIN_DENSE_SPOTS) {
      throw failed(
        `${sparse.reason}; only ${fits.sigma.length} spots (at least ${MIN_DENSE_SPOTS} are needed) stand alone well enough to measure the PSF and the emitters' photons, nor do the frames' fluctuations tell them (the camera alone reads baseline ${hp.baselineAdu.toFixed(1)} ADU, ${model.aduPerPhoton.toPrecision(3)} ADU per photon for ${model.camera === 'emccd' ? 'an EMCCD' : 'an sCMOS camera'})`,
      );
    }
  }
  const { aduPerPhoton } = model;
  // The variance line's intercept is read noise^2 - gain x baseline: read as all offset, the baseline comes out low by
  // readNoise^2 x gain (the 107 nm sCMOS of the independent simulator, median 1.5 e-: -6.5 ADU of 400, measured).
  // The data cannot separate the two on dense stacks (the third cumulant, which read noise lacks, would, but its
  // scatter there is larger than the correction), so the option's or a typical chip's read noise is taken. An EMCCD's
  // read noise is divided by its EM gain: nothing to correct.
  const readNoiseElectrons = model.camera === 'scmos' ? (readNoiseOption ?? SCMOS_READ_NOISE_ELECTRONS) : 0;
  const readNoiseSource = model.camera !== 'scmos' ? 'not-applicable' : readNoiseOption !== undefined ? 'option' : 'assumed';
  const baselineAdu = model.baselineAdu + aduPerPhoton * readNoiseElectrons * readNoiseElectrons;
  const spots = fits.sigma.length;

  const backgroundPhotons = (backgroundAdu - baselineAdu) / aduPerPhoton;
  if (!(backgroundPhotons > -1 && baselineAdu > -5 && Number.isFinite(aduPerPhoton))) {
    throw failed(`the camera model came out implausible (baseline ${baselineAdu.toFixed(1)} ADU, background ${backgroundPhotons.toFixed(1)} photons); the stack's spots cannot be fitted one by one`);
  }
  const photons = fits.signal.map((s) => s / aduPerPhoton);
  // Trimmed to the 5..95 % quantiles: a few fits of merged pairs must not inflate the mean the density divides by.
  const sortedPhotons = Float64Array.from(photons).sort();
  // From fluctuations: E[n^2] / E[n] stands for both (it exceeds the median by e^(1.5 s^2) for log-normal photons of
  // log-sd s, but structures' labels on in successive frames lower it; measured -10..-14 % of the median on
  // independent-simulator stacks).
  const photonsMedian = fluctuation ? fluctuation.photons : median(photons);
  const photonsMean = fluctuation ? fluctuation.photons : mean(sortedPhotons.subarray(Math.floor(0.05 * spots), Math.ceil(0.95 * spots)));

  let filePixel: number | undefined;
  if (options.pixelSizeNm === undefined) filePixel = plausibleFilePixelSize(source.pixelSizeNm).pixelSizeNm;
  const pixelSizeNm = options.pixelSizeNm ?? filePixel ?? ASSUMED_PIXEL_NM;
  const pixelSizeSource = options.pixelSizeNm !== undefined ? 'option' : filePixel !== undefined ? 'file' : 'assumed';
  const areaUm2 = (width * height * pixelSizeNm * pixelSizeNm) / 1e6;

  // All light above the background in a frame, in photons, over the mean photons of one emitter.
  let excess = 0;
  for (const frame of frames) {
    let sum = 0;
    for (let i = 0; i < frame.length; i++) sum += frame[i];
    excess += (sum - frame.length * baselineAdu) / aduPerPhoton - frame.length * backgroundPhotons;
  }
  const emittersPerFrame = Math.max(0, excess / frames.length / photonsMean);

  const psfSigmaPx = fluctuation ? fluctuation.sigmaPx : median(fits.sigma);
  return {
    baselineAdu,
    aduPerPhoton,
    backgroundPhotons: Math.max(0, backgroundPhotons),
    photonsMedian,
    psfSigmaNm: psfSigmaPx * pixelSizeNm,
    densityPerUm2: emittersPerFrame / areaUm2,
    pixelSizeNm,
    camera: model.camera,
    pixelSizeSource,
    excessNoiseFactor: model.excessNoiseFactor,
    skewRatio: model.skewRatio,
    skewSource: model.skewSource,
    psfSigmaPx,
    photonsMean,
    photonsSource: fluctuation ? 'fluctuations' : 'spots',
    isolatedSpotsPerUm2: spots / frames.length / areaUm2,
    spotsFitted: spots,
    spotsConverged: fits.converged,
    framesUsed: frames.length,
    framesTotal: source.frames,
    regionPx: region,
    backgroundSource,
    cameraModel: model.cameraModel,
    darkLineWeight,
    darkLevelWeight,
    cameraSource: model.cameraSource,
    cameraDecided: model.cameraSource !== 'assumed',
    readNoiseElectrons,
    readNoiseSource,
    readNoiseAdu: readNoiseElectrons * aduPerPhoton,
    gainSpreadPercent: gainSpreadSquared !== undefined ? 100 * Math.sqrt(Math.max(0, gainSpreadSquared)) : 0,
    gainSpreadSource: gainSpreadSquared === undefined ? 'not-applicable' : gainSpreadOption !== undefined ? 'option' : 'fitted',
    notes: narrowBandSigma !== undefined ? [undersampledNote(narrowBandSigma)] : [],
  };
}
