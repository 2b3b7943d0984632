/**
 * The types of `smlm-rt estimate`'s result and options (estimate.ts computes them): what `estimate --json` prints,
 * and what a caller may tell it.
 */
import type { FrameRange } from '../io/frame-range.js';
import type { MicroscopeConditions } from '../simulate/conditions.js';
import type { Region } from './frame-sample.js';

/** What `estimate --json` prints; the first eight keys (MicroscopeConditions) are what `simulate --like` and `train --like` read. */
export interface ImagingConditions extends Required<Omit<MicroscopeConditions, 'readNoiseAdu'>> {
  /** Where pixelSizeNm came from: the --pixel-size option, the file, or assumed (100 nm) when neither says. */
  pixelSizeSource: 'option' | 'file' | 'assumed';
  /** 2 for EM gain, 1 otherwise. */
  excessNoiseFactor: number;
  /**
   * The noise's third cumulant over its variance slope and variance (1 Poisson, 1.5 EM; read noise lowers both), from
   * which the camera kind was decided: how clearly it was.
   */
  skewRatio: number;
  /**
   * Where skewRatio was measured: the pixel-frames no emitter reaches (dark-pixels.ts), which decide the kind where it
   * lies in one kind's range (cameraDecided); else, where too few of them are left, the spots' residuals or the fine
   * detail's noise, both swamped by the emitters' light (not a figure to judge the camera by).
   */
  skewSource: 'dark-pixels' | 'spots' | 'highpass';
  psfSigmaPx: number;
  /** Mean photons per emitter (the density uses it). */
  photonsMean: number;
  /**
   * Where the photons came from: the isolated spots' fits (median and trimmed mean), or, on dense stacks, the frames'
   * fluctuations, whose E[n^2] / E[n] stands for both.
   */
  photonsSource: 'spots' | 'fluctuations';
  /** Detected isolated spots per um^2 per frame: a lower bound on the density, which overlap makes undercounted. */
  isolatedSpotsPerUm2: number;
  spotsFitted: number;
  /** Isolated spots whose fit converged; spotsFitted of them were single spots the noise model explains. */
  spotsConverged: number;
  framesUsed: number;
  framesTotal: number;
  /** The window of the frames analysed: all of them, or the central MAX_ANALYSED_SIDE px per side of larger ones. */
  regionPx: Region;
  /**
   * Where baseline and gain came from: 'spots' (residuals of isolated spot fits), or 'highpass' (the noise in the
   * frames' highest spatial frequencies, see highpass-noise.ts: dense stacks, where too few spots stand alone, and
   * sparse stacks whose spots say sCMOS, where it also accounts for the chip's pixel gain spread).
   */
  cameraModel: 'spots' | 'highpass';
  /**
   * The share of the variance slope (the gain) that came from the pixel-frames no emitter reaches, where the
   * background's level varies over the field enough to give their own line (dark-pixels.ts, blockLine), weighted
   * against the fine detail's by the two lines' standard errors; 0 where it had none.
   */
  darkLineWeight: number;
  /**
   * The share of the variance line's value at the background's level, from which the baseline follows, that came
   * from the variance of the pixel-frames no emitter reaches, weighed against the line's own value there by their errors
   * (highpass-noise.ts, withDarkLevel): near 1 on dense stacks, whose tiles lie far above the background; 0 where not
   * used (an uneven background, whose dark pixel-frames give their own line: darkLineWeight).
   */
  darkLevelWeight: number;
  /**
   * Where the background came from: the pixel-frames no emitter reaches (dark-pixels.ts), else the spots' fitted
   * backgrounds (sparse stacks) or the pixels' low levels over time (dense stacks).
   */
  backgroundSource: 'dark-pixels' | 'spots' | 'low-levels';
  /** Where `camera` came from: the data, the `camera` option, or assumed (sCMOS) where the data could not tell. */
  cameraSource: 'data' | 'option' | 'assumed';
  /**
   * False when the data did not decide the camera kind (too few dark pixel-frames to rule either kind out, e.g. a
   * carpet of emitters, or their skew outside either kind's range, which emitters' light in them gives; and no `camera`
   * option): sCMOS assumed; with an EMCCD the gain is then twice the true one and the background and photons half.
   */
  cameraDecided: boolean;
  /**
   * sCMOS read noise, electrons rms, that the baseline was corrected for (0 for an EMCCD, whose EM gain makes it
   * negligible): the noise's variance line cannot tell read noise from an offset (it reads the baseline low by
   * readNoise^2 x gain ADU), so it comes from the `readNoiseElectrons` option, or a typical chip's is assumed.
   */
  readNoiseElectrons: number;
  readNoiseSource: 'option' | 'assumed' | 'not-applicable';
  /**
   * The sCMOS chip's pixel gain spread (rms %) the fine-detail noise line allowed for: the `gainSpreadPercent` option's,
   * or fitted (its gain-spread term, highpass-noise.ts); 0 where the camera came from a line without that term (an
   * EMCCD, whose pixels share one EM register, or the spots' residuals).
   */
  gainSpreadPercent: number;
  gainSpreadSource: 'option' | 'fitted' | 'not-applicable';
  /** readNoiseElectrons in ADU (what `simulate --like` reads). */
  readNoiseAdu: number;
  /** What is known to limit these figures, in words (an undersampled PSF); empty where nothing measured does. */
  notes: string[];
}

export interface EstimateOptions {
  /** Camera pixel size, nm: overrides (or supplies) the file's. */
  pixelSizeNm?: number;
  /** Only these frames (1-based, inclusive). */
  frames?: FrameRange;
  /**
   * At most this many frames, spread evenly over the range, are analysed (and at most 64 Mi pixels of them). Default
   * 300. More narrow the camera's figures of a small field somewhat, at the cost of time (docs/estimate.md).
   */
  maxFrames?: number;
  /**
   * The camera kind, when known. Without it the data decide (dark-pixels.ts), or, where too little of the stack
   * is free of emitters' light to tell, sCMOS is assumed (cameraDecided false).
   */
  camera?: 'emccd' | 'scmos';
  /**
   * The sCMOS camera's read noise, electrons rms (its data sheet's figure), when known: the baseline is corrected for
   * it. Default: a typical chip's, SCMOS_READ_NOISE_ELECTRONS (1.5). Ignored for an EMCCD.
   */
  readNoiseElectrons?: number;
  /**
   * The sCMOS chip's pixel gain spread (photo-response non-uniformity, rms %), from its data sheet, when known: the
   * fine-detail noise line holds its gain-spread term there instead of fitting it. Default: fitted. Data sheets give
   * below 1 %; where the term is fitted on a chip that has none, it takes up part of the slope (naive simulator, 160 nm:
   * the gain read 13-16 % low on half of 8 stacks; with 0 given, none out: docs/estimate.md).
   */
  gainSpreadPercent?: number;
}
