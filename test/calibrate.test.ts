/**
 * scripts/calibrate-output-scale.ts: after calibration, a model's image sums to the number of ground-truth emitters
 * of its calibration stack; the record in smlm.training says how it was done.
 */
import { describe, expect, it } from 'vitest';
import { isSmlmError } from '../lib/errors.js';
import { METADATA_KEYS, parseModelMetadata } from '../lib/model/metadata.js';
import { decodeOnnx, metadataProps } from '../lib/model/onnx.js';
import { Reconstructor } from '../lib/reconstructor.js';
import type { Emitter } from '../lib/simulate/csv.js';
import { calibrateModel, emittersInField, firstFrames, measureImageSum, simulatedSamples, standardDeviation, type CalibrationSample } from '../scripts/calibrate-output-scale.js';
import { writeTempModel } from './helpers/known-model.js';
import { makeUNetModel } from '../benchmarks/random-models.js';

/** Image sum / emitters over the samples, computed here independently of the script's own measurement. */
async function sumPerEmitter(modelPath: string, samples: readonly CalibrationSample[]): Promise<number> {
  const rec = await Reconstructor.create({ model: modelPath, backend: 'cpu' });
  try {
    let sum = 0;
    for (const s of samples) sum += (await rec.reconstruct(s.stack)).image.reduce((acc, v) => acc + v, 0);
    return sum / samples.reduce((n, s) => n + s.emitters, 0);
  } finally {
    await rec.close();
  }
}

function emitter(frame: number, xNm: number, yNm: number): Emitter {
  return { id: 0, frame, xNm, yNm, sigmaNm: 110, photons: 1000, offsetPhotons: 0, bkgStdPhotons: 0 };
}

describe('output_scale calibration', () => {
  it('makes image sum / emitters = 1 on the calibration stacks for a random-weight U-Net', async () => {
    const bytes = makeUNetModel({ base: 4, seed: 12 });
    const samples = simulatedSamples(31, 3, 2);
    expect(samples.map((s) => s.name)).toEqual(['seed 31', 'seed 32', 'seed 33']);
    expect(samples.reduce((n, s) => n + s.emitters, 0)).toBeGreaterThan(1000);
    const uncalibrated = await sumPerEmitter(writeTempModel(bytes), samples);
    // Random weights with the nominal scale 100 are far from 1, or the test would prove nothing.
    expect(Math.abs(uncalibrated - 1)).toBeGreaterThan(0.1);

    const result = await calibrateModel(bytes, samples, { seeds: '31-33', date: '2026-01-02' });
    expect(result.before.ratio).toBeCloseTo(uncalibrated, 6);
    expect(result.before.stackRatios).toHaveLength(3);
    const calibrated = await sumPerEmitter(writeTempModel(result.bytes), samples);
    expect(calibrated).toBeCloseTo(1, 4);

    const meta = parseModelMetadata(metadataProps(decodeOnnx(result.bytes, 'calibrated')), 'calibrated');
    expect(meta.outputScale).toBe(result.newScale);
    expect(meta.outputScale / 100).toBeCloseTo(uncalibrated, 5);
    const record = meta.training.calibration as Record<string, unknown>;
    expect(record).toMatchObject({ seeds: '31-33', stacks: 3, framesPerStack: 2, height: 64, width: 64, emitters: result.before.emitters, previousOutputScale: 100, date: '2026-01-02' });
    expect(record.stackRelativeSd as number).toBeCloseTo(standardDeviation(result.before.stackRatios) / result.before.ratio, 10);
    expect(record.rawSumPerEmitter as number).toBeCloseTo(uncalibrated * 100, 3);
    // The training provenance that was there stays.
    expect(meta.training.note).toBe('random weights for tests');

    // Calibrating the calibrated model again changes nothing but the record's previous scale.
    const again = await calibrateModel(result.bytes, samples, { seeds: '31-33', date: '2026-01-02' });
    expect(again.before.ratio).toBeCloseTo(1, 4);
    expect(again.newScale / result.newScale).toBeCloseTo(1, 4);
  });

  it('the image scales with the model only through output_scale: the same maps, divided by the new scale', async () => {
    const bytes = makeUNetModel({ base: 4, seed: 13 });
    const samples = simulatedSamples(40, 1, 3);
    const { bytes: calibrated, oldScale, newScale } = await calibrateModel(bytes, samples, { seeds: '40' });
    const before = await measureImageSum(writeTempModel(bytes), samples);
    const after = await measureImageSum(writeTempModel(calibrated), samples);
    expect(after.imageSum / before.imageSum).toBeCloseTo(oldScale / newScale, 5);
    expect(metadataProps(decodeOnnx(calibrated, 'c'))[METADATA_KEYS.outputScale]).toBe(String(newScale));
  });

  it('simulatedSamples: one stack per seed, other conditions passed through', () => {
    const dense = simulatedSamples(50, 2, 2);
    const sparse = simulatedSamples(50, 2, 2, { densityPerUm2: 1 });
    expect(sparse.map((s) => s.name)).toEqual(dense.map((s) => s.name));
    for (let k = 0; k < 2; k++) expect(sparse[k].emitters).toBeLessThan(dense[k].emitters / 2);
  });

  it('standardDeviation is the sample sd', () => {
    expect(standardDeviation([2, 4, 4, 4, 5, 5, 7, 9])).toBeCloseTo(Math.sqrt(32 / 7), 12);
    expect(standardDeviation([3])).toBe(0);
  });

  it('counts only the emitters on the used frames and inside the field', () => {
    const emitters = [emitter(1, 50, 50), emitter(2, 6399, 10), emitter(2, 6400, 10), emitter(1, -1, 10), emitter(3, 100, 100), emitter(1, 10, 6400)];
    expect(emittersInField(emitters, 2, 64, 64, 100)).toBe(2);
    expect(emittersInField(emitters, 3, 64, 64, 100)).toBe(3);
    const stack = { data: new Uint16Array(3 * 64 * 64), frames: 3, height: 64, width: 64, pixelSizeNm: 100 };
    const sub = firstFrames('hand', stack, emitters, 1);
    expect([sub.stack.frames, sub.stack.data.length, sub.emitters]).toEqual([1, 64 * 64, 1]);
  });

  it('refuses a stack without emitters (E_BAD_OPTIONS)', async () => {
    const path = writeTempModel(makeUNetModel({ base: 2 }));
    const empty = { name: 'empty', stack: { data: new Uint16Array(64 * 64).fill(100), frames: 1, height: 64, width: 64 }, emitters: 0 };
    for (const samples of [[empty], []]) {
      const err = await measureImageSum(path, samples).catch((e: unknown) => e);
      expect(isSmlmError(err, 'E_BAD_OPTIONS')).toBe(true);
    }
  });
});
