import { describe, expect, it } from 'vitest';
import { summarizeTraining } from '../lib/cli/info.js';

describe('smlm-rt info: training provenance in one line', () => {
  it('names what scripts/train.py records, and points to --json for the rest', () => {
    const line = summarizeTraining({
      architecture: 'unet',
      model_name: 'unet-wide-s1',
      widths: [64, 128, 256],
      gmac_per_64x64_frame: 1.5962,
      epochs_done: 100,
      best_epoch: 98,
      validation_loss: 0.7930982,
      gpu: 'NVIDIA H100 80GB HBM3',
      train_seconds: 391.5,
      data_seed: 20261125,
      calibration: { date: '2026-11-25', stacks: 40 },
      conditions: 'a long description that the summary leaves out',
    });
    expect(line).toBe(
      'unet-wide-s1, widths 64-128-256, 1.60 GMAC per 64x64 frame, 100 epochs (best 98), validation loss 0.7931, ' +
        '392 s on NVIDIA H100 80GB HBM3, data seed 20261125, output scale calibrated 2026-11-25 (all of it: smlm-rt info --json)',
    );
  });

  it('names a head refit (scripts/refit-head.ts) by its date', () => {
    const line = summarizeTraining({ model_name: 'unet-wide-s2', head_refit: { date: '2026-12-01', fitData: 'long' }, calibration: { date: '2026-12-02' } });
    expect(line).toBe('unet-wide-s2, head refit 2026-12-01, output scale calibrated 2026-12-02 (all of it: smlm-rt info --json)');
  });

  it('prints unknown provenance as JSON, shortened when long', () => {
    expect(summarizeTraining({ note: 'random weights for tests', seed: 3 })).toBe('{"note":"random weights for tests","seed":3}');
    expect(summarizeTraining({})).toBe('{}');
    const long = summarizeTraining({ note: 'x'.repeat(500) });
    expect(long.length).toBeLessThan(260);
    expect(long).toMatch(/\.\.\. \(all of it: smlm-rt info --json\)$/);
  });
});
