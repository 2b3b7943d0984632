/**
 * Imaging conditions (what `estimate --json` prints) as simulation options, for `simulate --like` and training at a
 * microscope's conditions. One file so that both read the conditions the same way.
 */
import { readFile } from 'node:fs/promises';
import { SmlmError } from '../errors.js';
import { aduPerPhoton, BENCHMARK_CAMERA } from './camera.js';
import { BENCHMARK_CONDITIONS, type PhotonDistribution, type SimulationOptions } from './simulate.js';

/** The keys `--like` reads (the first eight of `estimate --json`; extra keys are ignored). */
export interface MicroscopeConditions {
  baselineAdu: number;
  aduPerPhoton: number;
  backgroundPhotons: number;
  photonsMedian: number;
  psfSigmaNm: number;
  densityPerUm2: number;
  pixelSizeNm: number;
  camera: 'emccd' | 'scmos';
  /** sCMOS read noise, ADU (default: 1.5 electrons, i.e. 1.5 x aduPerPhoton); ignored for an EMCCD. */
  readNoiseAdu?: number;
}

export const CONDITION_KEYS = ['baselineAdu', 'aduPerPhoton', 'backgroundPhotons', 'photonsMedian', 'psfSigmaNm', 'densityPerUm2', 'pixelSizeNm'] as const;

/** EM gain of a simulated EMCCD (its ADU per photon is set by the A/D factor). */
const SIMULATED_EM_GAIN = 100;
/**
 * Typical sCMOS read noise, electrons rms (1-1.6 on the data sheets of current chips): what a simulation at an sCMOS
 * microscope's conditions uses, and what `estimate` assumes where the data cannot tell read noise from offset.
 */
export const SCMOS_READ_NOISE_ELECTRONS = 1.5;
/** The largest read noise, electrons rms, `estimate` takes (its `readNoiseElectrons` option, `--read-noise`). */
export const MAX_READ_NOISE_ELECTRONS = 100;
/** The largest sCMOS pixel gain spread, rms %, `estimate` takes (its `gainSpreadPercent` option, `--gain-spread`): data sheets give below 1. */
export const MAX_GAIN_SPREAD_PERCENT = 20;

/** E_BAD_OPTIONS unless `value` holds every condition key with a finite, sensible value. */
export function checkConditions(value: unknown, source = 'conditions'): MicroscopeConditions {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new SmlmError('E_BAD_OPTIONS', `${source}: expected a JSON object of imaging conditions`);
  const c = value as Record<string, unknown>;
  for (const key of CONDITION_KEYS) {
    const v = c[key];
    const positive = key !== 'baselineAdu' && key !== 'backgroundPhotons' && key !== 'densityPerUm2';
    if (typeof v !== 'number' || !Number.isFinite(v) || (positive ? v <= 0 : v < 0)) {
      throw new SmlmError('E_BAD_OPTIONS', `${source}: "${key}" must be a number ${positive ? '> 0' : '>= 0'}, got ${JSON.stringify(v)}`, { key });
    }
  }
  if (c.camera !== 'emccd' && c.camera !== 'scmos') throw new SmlmError('E_BAD_OPTIONS', `${source}: "camera" must be "emccd" or "scmos", got ${JSON.stringify(c.camera)}`);
  if (c.readNoiseAdu !== undefined && !(typeof c.readNoiseAdu === 'number' && c.readNoiseAdu >= 0)) throw new SmlmError('E_BAD_OPTIONS', `${source}: "readNoiseAdu" must be a number >= 0`);
  return c as unknown as MicroscopeConditions;
}

/** Reads a conditions JSON file (e.g. the output of `smlm-rt estimate --json`). */
export async function readConditionsFile(path: string): Promise<MicroscopeConditions> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new SmlmError('E_FILE_NOT_FOUND', `${path}: cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`, { path }, { cause: err });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new SmlmError('E_BAD_OPTIONS', `${path}: not JSON (${(err as Error).message})`, { path });
  }
  return checkConditions(value, path);
}

/**
 * Simulation options at these conditions. Photons per emitter are uniform over [2/3, 4/3] x the median (the
 * benchmark's 1000-2000 around 1500); PSF sigma uniform over +-5 % (the benchmark's 105-115 nm around 110).
 */
export function simulationOptionsFor(c: MicroscopeConditions): SimulationOptions {
  const camera =
    c.camera === 'emccd'
      ? { emGain: SIMULATED_EM_GAIN, electronsPerAdu: SIMULATED_EM_GAIN / c.aduPerPhoton, baselineAdu: c.baselineAdu, readNoiseAdu: 0 }
      : { emGain: 1, electronsPerAdu: 1 / c.aduPerPhoton, baselineAdu: c.baselineAdu, readNoiseAdu: c.readNoiseAdu ?? SCMOS_READ_NOISE_ELECTRONS * c.aduPerPhoton };
  return {
    pixelSizeNm: c.pixelSizeNm,
    densityPerUm2: c.densityPerUm2,
    backgroundPhotons: c.backgroundPhotons,
    photons: { kind: 'uniform', min: (2 / 3) * c.photonsMedian, max: (4 / 3) * c.photonsMedian },
    sigmaNm: [0.95 * c.psfSigmaNm, 1.05 * c.psfSigmaNm],
    camera,
  };
}

/** The median of a photon distribution (a log-normal's is its mean over sqrt(1 + cv^2)). */
function medianPhotons(d: PhotonDistribution): number {
  return d.kind === 'uniform' ? (d.min + d.max) / 2 : d.mean / Math.sqrt(1 + (d.std / d.mean) ** 2);
}

/**
 * The conditions a stack simulated with `options` holds, in `estimate`'s terms (simulationOptionsFor the other way):
 * the truth its figures are checked against. PSF sigma is the middle of the drawn range; the background and density
 * are the field's means.
 */
export function simulatedConditions(options: SimulationOptions): MicroscopeConditions {
  const camera = { ...BENCHMARK_CAMERA, ...options.camera };
  const [sigmaMin, sigmaMax] = options.sigmaNm ?? BENCHMARK_CONDITIONS.sigmaNm;
  const emccd = camera.emGain > 1;
  return {
    baselineAdu: camera.baselineAdu,
    aduPerPhoton: aduPerPhoton(camera),
    backgroundPhotons: options.backgroundPhotons ?? BENCHMARK_CONDITIONS.backgroundPhotons,
    photonsMedian: medianPhotons(options.photons ?? BENCHMARK_CONDITIONS.photons),
    psfSigmaNm: (sigmaMin + sigmaMax) / 2,
    densityPerUm2: options.densityPerUm2 ?? BENCHMARK_CONDITIONS.densityPerUm2,
    pixelSizeNm: options.pixelSizeNm ?? BENCHMARK_CONDITIONS.pixelSizeNm,
    camera: emccd ? 'emccd' : 'scmos',
    ...(emccd ? {} : { readNoiseAdu: camera.readNoiseAdu }),
  };
}
