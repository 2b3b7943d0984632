/**
 * The independent simulator (issue #10): camera stacks with ground truth drawn by code that shares nothing with
 * lib/simulate, so that accuracy measured on them cannot come from a model having learnt the main simulator's
 * particular PSF, structures, noise or random numbers. See the files of this folder for each part.
 *
 * Per frame: each structure label switches on independently with the probability that gives the requested density
 * (per um^2 of the field), plus free emitters scattered uniformly; each emitter gets log-normal photons and its own
 * PSF broadening; the background map (times a per-frame flicker) and the emitters' pixel-integrated PSFs make the
 * expected photons, which the camera turns into uint16 ADU.
 */
import { SmlmError } from '../errors.js';
import type { Stack } from '../types.js';
import { gaussianEquivalentSigmaNm, psfProfile, renderEmitter, type Optics } from './airy-psf.js';
import { drawBackgroundMap, drawFlicker, type BackgroundOptions } from './background.js';
import { checkCamera, drawScmosMaps, exposeEmccd, exposeScmos, type IndependentCamera, type ScmosMaps } from './cameras.js';
import { IndependentRng } from './rng.js';
import { drawStructure, type DrawnStructure, type StructureSpec } from './structures.js';
import type { TruthRow } from './truth-csv.js';

export interface PhotonOptions {
  /** Median detected photons per emitter and frame. */
  median: number;
  /** Log-space standard deviation (0.25 puts 95 % of emitters within a factor 1.63 of the median). */
  logSigma: number;
}

export interface IndependentSimulationOptions {
  seed: number;
  frames: number;
  width: number;
  height: number;
  /** Camera pixel pitch in the sample plane, nm. */
  pixelSizeNm: number;
  optics: Optics;
  /** Per-emitter Gaussian broadening of the Airy PSF (defocus), nm, uniform in [min, max]. */
  broadeningNm: [number, number];
  structure: StructureSpec;
  /** Mean emitters on per um^2 of the field per frame, structure labels and free emitters together. */
  densityPerUm2: number;
  /** Share of that density from free emitters scattered uniformly over the field (new positions every frame). */
  freeEmitterFraction: number;
  photons: PhotonOptions;
  background: BackgroundOptions;
  camera: IndependentCamera;
}

export interface IndependentSimulation {
  stack: Stack & { data: Uint16Array; pixelSizeNm: number };
  /** Emitters inside the field, frame by frame. */
  truth: TruthRow[];
  structure: DrawnStructure;
  /** Expected background photons per pixel before the per-frame flicker. */
  backgroundMap: Float64Array;
  /** The sCMOS chip's maps (sCMOS cameras only). */
  scmosMaps?: ScmosMaps;
}

function bad(message: string): SmlmError {
  return new SmlmError('E_BAD_OPTIONS', `independent simulator: ${message}`);
}

function checkOptions(o: IndependentSimulationOptions): void {
  for (const key of ['frames', 'width', 'height'] as const) {
    if (!(Number.isInteger(o[key]) && o[key] > 0)) throw bad(`${key} must be a positive integer, got ${o[key]}`);
  }
  if (!(o.pixelSizeNm > 0)) throw bad(`pixelSizeNm must be > 0, got ${o.pixelSizeNm}`);
  if (!(o.densityPerUm2 >= 0)) throw bad(`densityPerUm2 must be >= 0, got ${o.densityPerUm2}`);
  if (!(o.freeEmitterFraction >= 0 && o.freeEmitterFraction <= 1)) throw bad(`freeEmitterFraction must be in [0, 1], got ${o.freeEmitterFraction}`);
  if (!(o.photons.median > 0 && o.photons.logSigma >= 0)) throw bad(`photons need median > 0 and logSigma >= 0, got ${JSON.stringify(o.photons)}`);
  const [b0, b1] = o.broadeningNm;
  if (!(b0 >= 0 && b1 >= b0)) throw bad(`broadeningNm must be [min >= 0, max >= min], got ${JSON.stringify(o.broadeningNm)}`);
  checkCamera(o.camera);
}

/** Structures are redrawn (up to this many times) when none of their labels falls inside the field. */
const STRUCTURE_ATTEMPTS = 50;

function labelsInside(s: DrawnStructure, w: number, h: number): number {
  let n = 0;
  for (let i = 0; i < s.labelX.length; i++) if (s.labelX[i] >= 0 && s.labelX[i] < w && s.labelY[i] >= 0 && s.labelY[i] < h) n++;
  return n;
}

/** Simulates a stack and its ground truth. Equal options give identical output. Throws E_BAD_OPTIONS. */
export function simulateIndependentStack(o: IndependentSimulationOptions): IndependentSimulation {
  checkOptions(o);
  const { frames, width, height, pixelSizeNm: px } = o;
  const fieldW = width * px;
  const fieldH = height * px;
  const areaUm2 = (fieldW * fieldH) / 1e6;
  const rng = new IndependentRng(o.seed);

  let structure = drawStructure(rng, o.structure, fieldW, fieldH);
  let inside = labelsInside(structure, fieldW, fieldH);
  for (let attempt = 1; attempt < STRUCTURE_ATTEMPTS && inside === 0 && structure.labelX.length > 0; attempt++) {
    structure = drawStructure(rng, o.structure, fieldW, fieldH);
    inside = labelsInside(structure, fieldW, fieldH);
  }
  const structureShare = o.densityPerUm2 * areaUm2 * (1 - o.freeEmitterFraction);
  // Every label, inside the field or not, is on with the same probability; labels outside light up the edges.
  const pOn = structureShare > 0 ? structureShare / inside : 0;
  if (structureShare > 0 && !(pOn <= 1)) {
    throw bad(`the structure has ${inside} labels in the field, too few for ${structureShare.toFixed(1)} structure emitters per frame: add labels or structures, or raise freeEmitterFraction`);
  }
  const freeMean = o.densityPerUm2 * areaUm2 * o.freeEmitterFraction;

  const backgroundMap = drawBackgroundMap(rng, width, height, o.background);
  const scmosMaps = o.camera.kind === 'scmos' ? drawScmosMaps(o.camera, width, height) : undefined;
  const data = new Uint16Array(frames * width * height);
  const expected = new Float64Array(width * height);
  const truth: TruthRow[] = [];
  const labelCount = structure.labelX.length;
  // Skipping ahead geometrically between switched-on labels draws the same Bernoulli pattern as one draw per label.
  const logOff = pOn > 0 && pOn < 1 ? Math.log(1 - pOn) : 0;

  for (let f = 1; f <= frames; f++) {
    const flicker = drawFlicker(rng, o.background);
    for (let i = 0; i < expected.length; i++) expected[i] = backgroundMap[i] * flicker;
    const emit = (x: number, y: number) => {
      const photons = rng.logNormal(o.photons.median, o.photons.logSigma);
      const broadening = rng.between(o.broadeningNm[0], o.broadeningNm[1]);
      renderEmitter(expected, width, height, px, x, y, photons, psfProfile(o.optics, broadening));
      if (x >= 0 && x < fieldW && y >= 0 && y < fieldH) {
        truth.push({ id: truth.length + 1, frame: f, xNm: x, yNm: y, photons, sigmaNm: gaussianEquivalentSigmaNm(o.optics, broadening) });
      }
    };
    if (pOn >= 1) {
      for (let i = 0; i < labelCount; i++) emit(structure.labelX[i], structure.labelY[i]);
    } else if (pOn > 0) {
      for (let i = Math.floor(Math.log(rng.uniform()) / logOff); i < labelCount; i += 1 + Math.floor(Math.log(rng.uniform()) / logOff)) {
        emit(structure.labelX[i], structure.labelY[i]);
      }
    }
    const free = rng.poisson(freeMean);
    for (let k = 0; k < free; k++) emit(rng.between(0, fieldW), rng.between(0, fieldH));
    const at = (f - 1) * width * height;
    if (scmosMaps) exposeScmos(rng, expected, scmosMaps, data, at);
    else if (o.camera.kind === 'emccd') exposeEmccd(rng, expected, o.camera, data, at);
  }
  return { stack: { data, frames, width, height, pixelSizeNm: px }, truth, structure, backgroundMap, scmosMaps };
}
