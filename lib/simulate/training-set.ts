/**
 * The training set of scripts/train.py: pairs of 26x26 px camera patches cut from simulated 64x64 frames and the
 * positions of the emitters inside each patch on the 8x finer (12.5 nm) grid, stored sparsely (train.py densifies
 * them on the GPU). Imaging conditions vary per frame around the benchmark's (data/README.md) so that a model
 * generalizes; nothing here reads the ../shared stacks (they stay held out).
 *
 * File layout (little-endian): "SMLMTD01" | uint32 header length (4096) | JSON header, space-padded | sections at the
 * byte offsets the header lists (each 8-byte aligned):
 *   patches     uint16 [N, 26, 26]  raw ADU of each patch
 *   frameMinMax uint16 [N, 2]       min and max ADU of the whole frame a patch came from (inference normalizes per
 *                                   frame, so training normalizes the same way)
 *   counts      uint32 [N]          emitters inside each patch
 *   positions   uint8  [sum(counts), 2]  (column, row) of each emitter on the fine grid of its patch, patch by
 *                                   patch; fine pixel j covers [12.5 j, 12.5 (j+1)) nm from the patch's corner
 * Patches [0, train) are the training split, [train, N) validation; the two come from disjoint frames.
 */
import { SmlmError } from '../errors.js';
import { Random } from './random.js';
import { simulateStack, type PhotonDistribution, type SimulationOptions } from './simulate.js';

export const TRAINING_MAGIC = 'SMLMTD01';
const HEADER_BYTES = 4096;
const FRAME = 64;
const PATCH = 26;
const UPSAMPLING = 8;
const PIXEL_NM = 100;
const FINE_NM = PIXEL_NM / UPSAMPLING;

export interface TrainingSetOptions {
  seed: number;
  /** Total patches. Default 10,000. */
  patches?: number;
  /** Patches of the training split (the rest validate). Default 7,000. */
  train?: number;
  /** Patches cut from each simulated frame. Default 2. */
  patchesPerFrame?: number;
}

export interface TrainingSet {
  header: Record<string, unknown>;
  patches: Uint16Array;
  frameMinMax: Uint16Array;
  counts: Uint32Array;
  positions: Uint8Array;
}

/**
 * Draws one frame's imaging conditions: a broad mix centred on the benchmark's. Half the frames put their emitters on
 * filament bundles (labels that blink again and again, like the benchmark's tubes), half scatter them uniformly; half
 * let them reach the frame's edge (ThunderSTORM's uniform stacks do), half keep a margin. `seed` becomes the
 * simulation's seed; the draw itself comes from `rng`. (Exported so that the head refit of scripts/refit-head.ts can
 * simulate whole stacks from the training distribution.)
 */
export function drawTrainingConditions(rng: Random, seed: number): SimulationOptions {
  const sigmaCentre = rng.range(90, 135);
  const lo = rng.range(500, 2500);
  const photons: PhotonDistribution = rng.uniform() < 0.8 ? { kind: 'uniform', min: lo, max: lo + rng.range(300, 2000) } : { kind: 'lognormal', mean: lo + 500, std: rng.range(0.2, 0.5) * (lo + 500) };
  const emOn = rng.uniform() < 0.6;
  const aduPerPhoton = rng.range(1, 4);
  const baselineChoice = rng.uniform();
  const baselineAdu = baselineChoice < 0.3 ? 0 : baselineChoice < 0.7 ? 100 : rng.range(0, 500);
  return {
    seed,
    frames: 1,
    width: FRAME,
    height: FRAME,
    pixelSizeNm: PIXEL_NM,
    densityPerUm2: rng.range(0.5, 10),
    structure:
      rng.uniform() < 0.5
        ? { kind: 'filaments', bundles: [2, 7], filamentsPerBundle: [1, 4], spacingNm: [20, 100], persistenceNm: rng.range(1500, 8000) }
        : { kind: 'uniform' },
    marginNm: rng.uniform() < 0.5 ? 0 : rng.range(0, 600),
    labelJitterNm: rng.range(4, 15),
    sigmaNm: [sigmaCentre - 5, sigmaCentre + 5],
    photons,
    backgroundPhotons: rng.range(5, 40),
    camera: emOn
      ? { emGain: 100, electronsPerAdu: 100 / aduPerPhoton, baselineAdu, readNoiseAdu: rng.range(0, 2) }
      : { emGain: 0, electronsPerAdu: 1 / aduPerPhoton, baselineAdu, readNoiseAdu: rng.range(0, 3) },
  };
}

/** Simulates the training set (deterministic for given options). Throws E_BAD_OPTIONS for inconsistent counts. */
export function makeTrainingSet(options: TrainingSetOptions): TrainingSet {
  const { seed } = options;
  const total = options.patches ?? 10000;
  const trainCount = options.train ?? 7000;
  const perFrame = options.patchesPerFrame ?? 2;
  if (![seed, total, trainCount, perFrame].every(Number.isInteger) || trainCount >= total || trainCount < 1 || perFrame < 1 || trainCount % perFrame !== 0) {
    throw new SmlmError('E_BAD_OPTIONS', 'seed, patches, train and patchesPerFrame must be integers with 0 < train < patches and train a multiple of patchesPerFrame (so no frame feeds both splits)');
  }
  const rng = new Random(seed);
  const patches = new Uint16Array(total * PATCH * PATCH);
  const frameMinMax = new Uint16Array(total * 2);
  const counts = new Uint32Array(total);
  const positions: number[] = [];
  const log: Record<'density' | 'background' | 'sigma' | 'emOn' | 'uniform' | 'toEdge', number[]> = { density: [], background: [], sigma: [], emOn: [], uniform: [], toEdge: [] };
  for (let p = 0; p < total; ) {
    const conditions = drawTrainingConditions(rng, rng.nextUint32());
    const { stack, emitters } = simulateStack(conditions);
    log.density.push(conditions.densityPerUm2!);
    log.background.push(conditions.backgroundPhotons!);
    log.sigma.push((conditions.sigmaNm![0] + conditions.sigmaNm![1]) / 2);
    log.emOn.push((conditions.camera!.emGain ?? 0) > 1 ? 1 : 0);
    log.uniform.push(conditions.structure!.kind === 'uniform' ? 1 : 0);
    log.toEdge.push(conditions.marginNm === 0 ? 1 : 0);
    let min = 65535;
    let max = 0;
    for (let i = 0; i < stack.data.length; i++) {
      const v = stack.data[i];
      if (v < min) min = v;
      if (v > max) max = v;
    }
    for (let k = 0; k < perFrame && p < total; k++, p++) {
      const c0 = rng.int(FRAME - PATCH + 1);
      const r0 = rng.int(FRAME - PATCH + 1);
      for (let r = 0; r < PATCH; r++) {
        patches.set(stack.data.subarray((r0 + r) * FRAME + c0, (r0 + r) * FRAME + c0 + PATCH), (p * PATCH + r) * PATCH);
      }
      frameMinMax[2 * p] = min;
      frameMinMax[2 * p + 1] = max;
      let n = 0;
      for (const e of emitters) {
        const fc = Math.floor(e.xNm / FINE_NM) - c0 * UPSAMPLING;
        const fr = Math.floor(e.yNm / FINE_NM) - r0 * UPSAMPLING;
        if (fc < 0 || fr < 0 || fc >= PATCH * UPSAMPLING || fr >= PATCH * UPSAMPLING) continue;
        positions.push(fc, fr);
        n++;
      }
      counts[p] = n;
    }
  }
  const mean = (a: number[]): number => a.reduce((s, v) => s + v, 0) / a.length;
  const header: Record<string, unknown> = {
    format: 'smlm-rt training patches v1',
    seed,
    generator: 'scripts/make-training-data.ts (lib/simulate)',
    patch: PATCH,
    frame: FRAME,
    upsampling: UPSAMPLING,
    cameraPixelNm: PIXEL_NM,
    count: total,
    train: trainCount,
    validation: total - trainCount,
    patchesPerFrame: perFrame,
    emitters: positions.length / 2,
    conditions:
      'per frame: density U(0.5,10)/um^2; 50% filament bundles (2-7 bundles, 1-4 filaments, 20-100 nm apart), 50% uniform; ' +
      'margin 0 (50%) or U(0,600) nm; ' +
      'PSF sigma centre U(90,135) nm +-5; photons U(lo, lo+U(300,2000)) with lo U(500,2500) or 20% lognormal; ' +
      'background U(5,40) photons/px; 60% EM gain 100; 1-4 ADU/photon; baseline 0 / 100 / U(0,500) ADU; read noise 0-3 ADU',
    conditionMeans: {
      density: mean(log.density),
      background: mean(log.background),
      sigma: mean(log.sigma),
      emOnFraction: mean(log.emOn),
      uniformFraction: mean(log.uniform),
      toEdgeFraction: mean(log.toEdge),
    },
  };
  return { header, patches, frameMinMax, counts, positions: Uint8Array.from(positions) };
}

/** Serializes a training set in the SMLMTD01 layout (see the module comment). */
export function encodeTrainingSet(set: TrainingSet): Uint8Array {
  const sections: [string, Uint8Array][] = [
    ['patches', new Uint8Array(set.patches.buffer, set.patches.byteOffset, set.patches.byteLength)],
    ['frameMinMax', new Uint8Array(set.frameMinMax.buffer, set.frameMinMax.byteOffset, set.frameMinMax.byteLength)],
    ['counts', new Uint8Array(set.counts.buffer, set.counts.byteOffset, set.counts.byteLength)],
    ['positions', set.positions],
  ];
  let offset = 12 + HEADER_BYTES;
  const layout: Record<string, { offset: number; bytes: number }> = {};
  for (const [name, bytes] of sections) {
    layout[name] = { offset, bytes: bytes.length };
    offset += Math.ceil(bytes.length / 8) * 8;
  }
  const json = Buffer.from(JSON.stringify({ ...set.header, sections: layout }), 'utf8');
  if (json.length > HEADER_BYTES) throw new Error('training-set header longer than its 4096 bytes');
  const file = Buffer.alloc(offset);
  file.write(TRAINING_MAGIC, 0, 'ascii');
  file.writeUInt32LE(HEADER_BYTES, 8);
  file.fill(0x20, 12, 12 + HEADER_BYTES);
  json.copy(file, 12);
  for (const [name, bytes] of sections) file.set(bytes, layout[name].offset);
  return new Uint8Array(file.buffer, file.byteOffset, file.byteLength);
}

/** Parses an SMLMTD01 file (the TypeScript twin of train.py's loader). Throws E_BAD_OPTIONS if it is not one. */
export function decodeTrainingSet(bytes: Uint8Array): TrainingSet {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < 12 || buf.toString('ascii', 0, 8) !== TRAINING_MAGIC) throw new SmlmError('E_BAD_OPTIONS', 'not an smlm-rt training file (magic SMLMTD01 missing)');
  const headerLength = buf.readUInt32LE(8);
  const header = JSON.parse(buf.toString('utf8', 12, 12 + headerLength).trimEnd()) as Record<string, unknown> & { sections: Record<string, { offset: number; bytes: number }> };
  const copy = (name: string): ArrayBuffer => {
    const s = header.sections[name];
    if (!s || s.offset + s.bytes > buf.length) throw new SmlmError('E_BAD_OPTIONS', `training file: section ${name} missing or truncated`);
    return new Uint8Array(bytes.subarray(s.offset, s.offset + s.bytes)).buffer;
  };
  const { sections, ...rest } = header;
  void sections;
  return {
    header: rest,
    patches: new Uint16Array(copy('patches')),
    frameMinMax: new Uint16Array(copy('frameMinMax')),
    counts: new Uint32Array(copy('counts')),
    positions: new Uint8Array(copy('positions')),
  };
}
