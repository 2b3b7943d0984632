// One resolver for the Reconstructor's options (lib/options.ts): the API, the GPU backends' option check and the
// CLI all refuse the same values with the same limits.
import { describe, expect, it } from 'vitest';
import { resolveGpuOptions } from '../lib/backends/native-engine.js';
import { BATCH_LIMITS, checkBackendChoice, checkBatchSize, checkDevice, checkGpuOnlyOptions, checkPrecision, DEFAULT_BATCH } from '../lib/options.js';
import { Reconstructor } from '../lib/reconstructor.js';

const code = (run: () => unknown) => {
  try {
    run();
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return 'accepted';
};

describe('options (lib/options.ts)', () => {
  it('batch sizes 1..4096, integers only; undefined means the backend default', () => {
    expect(BATCH_LIMITS).toEqual({ min: 1, max: 4096 });
    for (const ok of [1, 64, 4096]) expect(checkBatchSize(ok)).toBe(ok);
    expect(checkBatchSize(undefined)).toBeUndefined();
    for (const bad of [0, 4097, 2.5, -1, '8', Number.NaN])
      expect(
        code(() => checkBatchSize(bad)),
        String(bad),
      ).toBe('E_BAD_OPTIONS');
    expect(DEFAULT_BATCH).toEqual({ cpu: 8, cuda: 64, tensorrt: 64 });
  });

  it('the GPU backends and Reconstructor.create refuse what the resolver refuses, with its message', async () => {
    expect(resolveGpuOptions({}, 1)).toEqual({ batchSize: DEFAULT_BATCH.cuda, device: 0, precision: 'fp16' });
    expect(() => resolveGpuOptions({ batchSize: 4097 }, 1)).toThrow(/batchSize must be an integer in 1\.\.4096, got 4097/);
    await expect(Reconstructor.create({ batchSize: 4097, backend: 'cpu' })).rejects.toThrow(/batchSize must be an integer in 1\.\.4096, got 4097/);
    await expect(Reconstructor.create({ device: -1, backend: 'cpu' })).rejects.toMatchObject({ code: 'E_BAD_OPTIONS' });
    expect(code(() => checkPrecision('fp64'))).toBe('E_BAD_OPTIONS');
    expect(code(() => checkDevice(1.5))).toBe('E_BAD_OPTIONS');
    expect(code(() => checkBackendChoice('gpu'))).toBe('E_BAD_OPTIONS');
    expect(checkBackendChoice('tensorrt')).toBe('tensorrt');
  });

  it('device and precision with backend "cpu" are refused, not ignored (as the CLI refuses them)', async () => {
    expect(code(() => checkGpuOnlyOptions('cpu', 0, undefined))).toBe('E_BAD_OPTIONS');
    expect(code(() => checkGpuOnlyOptions('cpu', undefined, 'fp32'))).toBe('E_BAD_OPTIONS');
    expect(code(() => checkGpuOnlyOptions('cpu', undefined, undefined))).toBe('accepted');
    expect(code(() => checkGpuOnlyOptions('auto', 0, 'fp16'))).toBe('accepted');
    expect(code(() => checkGpuOnlyOptions('cuda', 1, 'fp16'))).toBe('accepted');
    await expect(Reconstructor.create({ backend: 'cpu', precision: 'fp16' })).rejects.toThrow(/precision only apply to GPU backends/);
  });
});
