/**
 * Writes the training set of scripts/train.py: pairs of 26x26 px camera patches cut from simulated 64x64 frames and
 * the positions of the emitters inside each patch on the 8x finer (12.5 nm) grid, stored sparsely; train.py
 * densifies them on the GPU. Imaging conditions vary per frame around the benchmark's (data/README.md) so that a
 * model generalizes; nothing here reads ../shared data (those stacks stay held out).
 *
 * Usage (after `npm run build`): node dist/scripts/make-training-data.js [--out .gpu/train/train.bin] [--seed N]
 *        [--patches 10000] [--train 7000] [--patches-per-frame 2]
 *
 * File layout (little-endian): "SMLMTD01" | uint32 header length | JSON header (UTF-8, space-padded to a multiple
 * of 8 bytes) | sections at the byte offsets the header lists:
 *   patches   uint16 [N, 26, 26]   raw ADU of each patch
 *   frameMinMax uint16 [N, 2]      min and max ADU of the whole frame a patch came from (the inference-time
 *                                  normalization is per frame, so training normalizes the same way)
 *   counts    uint32 [N]           emitters inside each patch
 *   positions uint8  [sum(counts), 2]  (column, row) of each emitter on the fine grid of its patch, patch by patch;
 *                                  fine pixel j covers [12.5 j, 12.5 (j+1)) nm from the patch's corner
 * Patches [0, train) are the training split, [train, N) validation; the two come from disjoint frames.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { Random } from '../lib/simulate/random.js';
import { simulateStack, type PhotonDistribution, type SimulationOptions } from '../lib/simulate/simulate.js';

const FRAME = 64;
const PATCH = 26;
const UPSAMPLING = 8;
const PIXEL_NM = 100;
const FINE_NM = PIXEL_NM / UPSAMPLING;

/** Draws one frame's imaging conditions: a broad mix centred on the benchmark's. */
function drawConditions(rng: Random, seed: number): SimulationOptions {
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
      rng.uniform() < 0.75
        ? { kind: 'filaments', bundles: [2, 7], filamentsPerBundle: [1, 4], spacingNm: [20, 100], persistenceNm: rng.range(1500, 8000) }
        : { kind: 'uniform' },
    marginNm: rng.range(0, 600),
    labelJitterNm: rng.range(4, 15),
    sigmaNm: [sigmaCentre - 5, sigmaCentre + 5],
    photons,
    backgroundPhotons: rng.range(5, 40),
    camera: emOn
      ? { emGain: 100, electronsPerAdu: 100 / aduPerPhoton, baselineAdu, readNoiseAdu: rng.range(0, 2) }
      : { emGain: 0, electronsPerAdu: 1 / aduPerPhoton, baselineAdu, readNoiseAdu: rng.range(0, 3) },
  };
}

function main(): void {
  const { values } = parseArgs({
    options: {
      out: { type: 'string', default: '.gpu/train/train.bin' },
      seed: { type: 'string', default: '20261125' },
      patches: { type: 'string', default: '10000' },
      train: { type: 'string', default: '7000' },
      'patches-per-frame': { type: 'string', default: '2' },
    },
  });
  const seed = Number(values.seed);
  const total = Number(values.patches);
  const trainCount = Number(values.train);
  const perFrame = Number(values['patches-per-frame']);
  if (![seed, total, trainCount, perFrame].every(Number.isInteger) || trainCount >= total || perFrame < 1 || trainCount % perFrame !== 0) {
    throw new Error('--seed, --patches, --train, --patches-per-frame must be integers, train < patches, train a multiple of patches-per-frame');
  }
  const rng = new Random(seed);
  const patches = new Uint16Array(total * PATCH * PATCH);
  const frameMinMax = new Uint16Array(total * 2);
  const counts = new Uint32Array(total);
  const positions: number[] = [];
  const conditionLog: Record<string, number[]> = { density: [], background: [], sigma: [], emOn: [] };
  const started = Date.now();
  for (let p = 0; p < total; ) {
    const conditions = drawConditions(rng, rng.nextUint32());
    const { stack, emitters } = simulateStack(conditions);
    conditionLog.density.push(conditions.densityPerUm2!);
    conditionLog.background.push(conditions.backgroundPhotons!);
    conditionLog.sigma.push((conditions.sigmaNm![0] + conditions.sigmaNm![1]) / 2);
    conditionLog.emOn.push((conditions.camera!.emGain ?? 0) > 1 ? 1 : 0);
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
  const pos = Uint8Array.from(positions);
  const sections: [string, Uint8Array][] = [
    ['patches', new Uint8Array(patches.buffer)],
    ['frameMinMax', new Uint8Array(frameMinMax.buffer)],
    ['counts', new Uint8Array(counts.buffer)],
    ['positions', pos],
  ];
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
    emitters: pos.length / 2,
    conditions:
      'per frame: density U(0.5,10)/um^2; 75% filament bundles (2-7 bundles, 1-4 filaments, 20-100 nm apart), 25% uniform; ' +
      'PSF sigma centre U(90,135) nm +-5; photons U(lo, lo+U(300,2000)) with lo U(500,2500) or 20% lognormal; ' +
      'background U(5,40) photons/px; 60% EM gain 100; 1-4 ADU/photon; baseline 0 / 100 / U(0,500) ADU; read noise 0-3 ADU',
    conditionMeans: { density: mean(conditionLog.density), background: mean(conditionLog.background), sigma: mean(conditionLog.sigma), emOnFraction: mean(conditionLog.emOn) },
  };
  // Offsets need the header's length, which depends on the offsets: lay out with a generous fixed header size.
  const HEADER_BYTES = 4096;
  let offset = 12 + HEADER_BYTES;
  const layout: Record<string, { offset: number; bytes: number }> = {};
  for (const [name, bytes] of sections) {
    layout[name] = { offset, bytes: bytes.length };
    offset += Math.ceil(bytes.length / 8) * 8;
  }
  header.sections = layout;
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  if (json.length > HEADER_BYTES) throw new Error('header too long');
  const file = Buffer.alloc(offset);
  file.write('SMLMTD01', 0, 'ascii');
  file.writeUInt32LE(HEADER_BYTES, 8);
  file.fill(0x20, 12, 12 + HEADER_BYTES);
  json.copy(file, 12);
  for (const [name, bytes] of sections) Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).copy(file, layout[name].offset);
  mkdirSync(dirname(values.out!), { recursive: true });
  writeFileSync(values.out!, file);
  console.log(`wrote ${values.out}: ${total} patches (${trainCount} train / ${total - trainCount} validation), ${pos.length / 2} emitters, ${(file.length / 2 ** 20).toFixed(1)} MiB, seed ${seed}, ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

main();
