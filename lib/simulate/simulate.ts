import { SmlmError } from '../errors.js';
import type { Stack } from '../types.js';
import { aduPerPhoton, BENCHMARK_CAMERA, drawPixelMaps, exposeFrame, type CameraOptions, type ResolvedCamera } from './camera.js';
import type { Emitter } from './csv.js';
import { addIntegratedGaussian } from './psf.js';
import { Random } from './random.js';
import { drawStructure, StructureSampler, type Structure, type StructureOptions } from './structures.js';

/** Photons per emitter: uniform in [min, max], or log-normal with the given mean and standard deviation. */
export type PhotonDistribution = { kind: 'uniform'; min: number; max: number } | { kind: 'lognormal'; mean: number; std: number };

/**
 * Everything that defines a simulated stack. Every field is optional; the defaults reproduce the imaging conditions
 * of the benchmark described in data/README.md (64x64 px of 100 nm, ~5.5 emitters/um^2 on bundled filaments,
 * integrated-Gaussian PSF of sigma ~110 nm, 1000-2000 photons, 20 background photons/px, EM gain with 2 ADU/photon,
 * baseline 100 ADU).
 */
export interface SimulationOptions {
  /** Seed of the pseudo-random source; equal options and seed give an identical stack. Default 1. */
  seed?: number;
  frames?: number;
  width?: number;
  height?: number;
  /** Camera pixel pitch in the sample plane, nm. Default 100. */
  pixelSizeNm?: number;
  /** Mean emitters per um^2 per frame; the count of each frame is Poisson around density x field area. Default 5.5. */
  densityPerUm2?: number;
  /** Where emitters sit. Default: bundled filaments. */
  structure?: StructureOptions;
  /** Keep structures this far from the field's edges, nm. Default 600. */
  marginNm?: number;
  /** Standard deviation of an emitter's distance from its filament (label size), nm. Default 8. */
  labelJitterNm?: number;
  /** PSF sigma, nm, uniform per emitter in [min, max]. Default [105, 115]. */
  sigmaNm?: [number, number];
  photons?: PhotonDistribution;
  /** Expected background photons per pixel. Default 20. */
  backgroundPhotons?: number;
  camera?: CameraOptions;
  /**
   * Explicit emitters (frame 1-based, x/y nm, sigma nm, photons) instead of drawn ones: renders a given ground truth
   * under this camera and background, e.g. to re-simulate a published data set.
   */
  emitters?: readonly Pick<Emitter, 'frame' | 'xNm' | 'yNm' | 'sigmaNm' | 'photons'>[];
}

export interface SimulatedStack {
  stack: Stack & { data: Uint16Array };
  /** Ground truth, ThunderSTORM columns, ordered by frame. */
  emitters: Emitter[];
  /** The structure emitters were drawn on (absent for uniform or explicit emitters). */
  structure?: Structure;
}

export const BENCHMARK_CONDITIONS = {
  frames: 361,
  width: 64,
  height: 64,
  pixelSizeNm: 100,
  densityPerUm2: 5.5,
  marginNm: 600,
  labelJitterNm: 8,
  sigmaNm: [105, 115] as [number, number],
  photons: { kind: 'uniform', min: 1000, max: 2000 } as PhotonDistribution,
  backgroundPhotons: 20,
  camera: BENCHMARK_CAMERA,
} as const;

function badOption(message: string): SmlmError {
  return new SmlmError('E_BAD_OPTIONS', `simulate: ${message}`);
}

function positiveInt(v: number, name: string): number {
  if (!Number.isInteger(v) || v <= 0) throw badOption(`${name} must be a positive integer, got ${v}`);
  return v;
}

function nonNegative(v: number, name: string): number {
  if (!Number.isFinite(v) || v < 0) throw badOption(`${name} must be a finite number >= 0, got ${v}`);
  return v;
}

function resolveCamera(c: CameraOptions | undefined): ResolvedCamera {
  const camera = { ...BENCHMARK_CAMERA, ...c };
  nonNegative(camera.emGain, 'camera.emGain');
  if (!(camera.electronsPerAdu > 0)) throw badOption(`camera.electronsPerAdu must be > 0, got ${camera.electronsPerAdu}`);
  nonNegative(camera.baselineAdu, 'camera.baselineAdu');
  nonNegative(camera.readNoiseAdu, 'camera.readNoiseAdu');
  const v = camera.pixelVariation;
  if (v) for (const key of ['offsetSdAdu', 'gainSdRelative', 'readNoiseSdRelative'] as const) if (v[key] !== undefined) nonNegative(v[key], `camera.pixelVariation.${key}`);
  return camera;
}

function drawPhotons(rng: Random, d: PhotonDistribution): number {
  return d.kind === 'uniform' ? rng.range(d.min, d.max) : rng.lognormal(d.mean, d.std);
}

/** Simulates a camera stack and its ground truth. Throws E_BAD_OPTIONS for invalid options. */
export function simulateStack(options: SimulationOptions = {}): SimulatedStack {
  const seed = options.seed ?? 1;
  const frames = positiveInt(options.frames ?? BENCHMARK_CONDITIONS.frames, 'frames');
  const width = positiveInt(options.width ?? BENCHMARK_CONDITIONS.width, 'width');
  const height = positiveInt(options.height ?? BENCHMARK_CONDITIONS.height, 'height');
  const pixel = options.pixelSizeNm ?? BENCHMARK_CONDITIONS.pixelSizeNm;
  if (!(pixel > 0)) throw badOption(`pixelSizeNm must be > 0, got ${pixel}`);
  const density = nonNegative(options.densityPerUm2 ?? BENCHMARK_CONDITIONS.densityPerUm2, 'densityPerUm2');
  const margin = nonNegative(options.marginNm ?? BENCHMARK_CONDITIONS.marginNm, 'marginNm');
  const jitter = nonNegative(options.labelJitterNm ?? BENCHMARK_CONDITIONS.labelJitterNm, 'labelJitterNm');
  const [sigmaMin, sigmaMax] = options.sigmaNm ?? BENCHMARK_CONDITIONS.sigmaNm;
  if (!(sigmaMin > 0 && sigmaMax >= sigmaMin)) throw badOption(`sigmaNm must be [min > 0, max >= min], got [${sigmaMin}, ${sigmaMax}]`);
  const photonDist = options.photons ?? BENCHMARK_CONDITIONS.photons;
  if (photonDist.kind === 'uniform' ? !(photonDist.min >= 0 && photonDist.max >= photonDist.min) : !(photonDist.mean > 0 && photonDist.std >= 0)) {
    throw badOption(`invalid photon distribution ${JSON.stringify(photonDist)}`);
  }
  const background = nonNegative(options.backgroundPhotons ?? BENCHMARK_CONDITIONS.backgroundPhotons, 'backgroundPhotons');
  const camera = resolveCamera(options.camera);
  const fieldW = width * pixel;
  const fieldH = height * pixel;
  if (2 * margin >= Math.min(fieldW, fieldH)) throw badOption(`marginNm ${margin} leaves no room in a ${fieldW}x${fieldH} nm field`);

  const rng = new Random(seed);
  const structureOptions = options.structure ?? { kind: 'filaments' };
  let structure: Structure | undefined;
  let sampler: StructureSampler | undefined;
  if (!options.emitters && structureOptions.kind === 'filaments') {
    // A structure too small to hold emitters (all bundles clipped) is redrawn.
    for (let attempt = 0; attempt < 100 && !(sampler && sampler.totalLengthNm > 0); attempt++) {
      structure = drawStructure(rng, structureOptions, fieldW, fieldH, margin);
      sampler = new StructureSampler(structure);
    }
  }

  const offsetPhotons = camera.baselineAdu / aduPerPhoton(camera);
  const bkgStd = Math.sqrt(background);
  const emitters: Emitter[] = [];
  if (options.emitters) {
    for (const e of options.emitters) {
      if (!Number.isInteger(e.frame) || e.frame < 1 || e.frame > frames) throw badOption(`emitter frame ${e.frame} outside 1..${frames}`);
    }
    const sorted = [...options.emitters].sort((a, b) => a.frame - b.frame);
    for (const e of sorted) emitters.push({ id: emitters.length + 1, ...e, offsetPhotons, bkgStdPhotons: bkgStd });
  } else {
    const meanCount = (density * fieldW * fieldH) / 1e6;
    for (let f = 1; f <= frames; f++) {
      const count = rng.poisson(meanCount);
      for (let k = 0; k < count; k++) {
        let x: number;
        let y: number;
        if (sampler) [x, y] = sampler.sample(rng, jitter);
        else [x, y] = [rng.range(margin, fieldW - margin), rng.range(margin, fieldH - margin)];
        const sigma = rng.range(sigmaMin, sigmaMax);
        emitters.push({ id: emitters.length + 1, frame: f, xNm: x, yNm: y, sigmaNm: sigma, photons: drawPhotons(rng, photonDist), offsetPhotons, bkgStdPhotons: bkgStd });
      }
    }
  }

  const data = new Uint16Array(frames * width * height);
  const expected = new Float64Array(width * height);
  const maps = drawPixelMaps(camera, width * height, (s) => new Random(s));
  let next = 0;
  for (let f = 1; f <= frames; f++) {
    expected.fill(background);
    for (; next < emitters.length && emitters[next].frame === f; next++) {
      const e = emitters[next];
      addIntegratedGaussian(expected, width, height, pixel, e.xNm, e.yNm, e.sigmaNm, e.photons);
    }
    exposeFrame(rng, expected, camera, data, (f - 1) * width * height, maps);
  }
  return { stack: { data, frames, width, height, pixelSizeNm: pixel }, emitters, structure };
}
