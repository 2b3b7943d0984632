// What runs everywhere, GPU or not: cudaStatus() tells the truth about the addon and the devices, the GPU backends
// refuse to start with E_BACKEND_UNAVAILABLE and the reason where no GPU is usable, and the addon (where built)
// refuses malformed plans before any GPU work.
import { afterEach, describe, expect, it } from 'vitest';
import { createCudaBackend, cudaStatus } from '../../lib/backends/cuda.js';
import { createTensorRtBackend } from '../../lib/backends/tensorrt.js';
import { isSmlmError } from '../../lib/errors.js';
import { loadAddon, resetAddonCacheForTests } from '../../lib/native/binding.js';
import { compilePlan } from '../../lib/native/compiler.js';
import { gpu, testModels } from './helpers.js';

describe('cudaStatus', () => {
  afterEach(() => {
    delete process.env.SMLM_RT_DISABLE_NATIVE;
    resetAddonCacheForTests();
  });

  it('describes the addon and the devices consistently', () => {
    const status = cudaStatus();
    console.log(`[status] compiled=${status.compiled} usable=${status.usable} reason=${status.reason ?? '-'} devices=${JSON.stringify(status.devices)} features=${JSON.stringify(status.features)}`);
    expect(status.usable).toBe(status.compiled && status.devices.length > 0);
    if (!status.usable) expect(status.reason).toMatch(/\S/);
    expect(status.features.cuda).toBe(status.compiled);
    for (const device of status.devices) {
      expect(device.name).toMatch(/\S/);
      expect(device.computeCapability).toMatch(/^\d+\.\d+$/);
      expect(device.memoryBytes).toBeGreaterThan(0);
    }
  });

  it('reports a disabled addon with the reason, without loading it', () => {
    process.env.SMLM_RT_DISABLE_NATIVE = '1';
    resetAddonCacheForTests();
    const status = cudaStatus();
    expect(status).toMatchObject({ compiled: false, usable: false, devices: [] });
    expect(status.reason).toContain('SMLM_RT_DISABLE_NATIVE');
  });

  it('explains how to build the addon when it is missing', () => {
    const loaded = loadAddon();
    if (loaded.ok) {
      expect(loaded.path).toMatch(/\.node$/);
    } else {
      expect(loaded.reason).toMatch(/npm run build:native/);
    }
  });
});

describe.skipIf(gpu.usable)('GPU backends where no GPU is usable', () => {
  it('cuda and tensorrt refuse with E_BACKEND_UNAVAILABLE and say why', async () => {
    const model = await testModels()[0].load();
    // tensorrt gives its reasons in `smlm-rt info`'s order: an addon built without TensorRT says so before the GPU.
    const loaded = loadAddon();
    const withoutTensorRt = loaded.ok && !loaded.addon.features.tensorrt;
    for (const [create, reason] of [
      [createCudaBackend, gpu.reason ?? ''],
      [createTensorRtBackend, withoutTensorRt ? 'without TensorRT' : (gpu.reason ?? '')],
    ] as const) {
      const error = await create(model, {}).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(isSmlmError(error, 'E_BACKEND_UNAVAILABLE')).toBe(true);
      expect((error as Error).message).toContain(reason);
    }
  });
});

describe.skipIf(!gpu.compiled)('the addon checks plans before building an engine', () => {
  it('refuses a plan whose weights are out of range with E_MODEL_INVALID, synchronously', async () => {
    const loaded = loadAddon();
    if (!loaded.ok) throw new Error(loaded.reason);
    const plan = await compilePlan(await testModels()[0].load());
    const broken = { ...plan, weights: plan.weights.subarray(0, 10) };
    let thrown: unknown;
    try {
      // A malformed plan never reaches the worker thread: the call itself throws.
      void loaded.addon.createCudaEngine(broken, { device: 0, maxBatch: 1, fp16: true, cacheDir: '' });
    } catch (err) {
      thrown = err;
    }
    expect((thrown as { code?: string }).code).toBe('E_MODEL_INVALID');
    expect((thrown as Error).message).toMatch(/weights/);
  });

  it('refuses a plan whose head is not last', async () => {
    const loaded = loadAddon();
    if (!loaded.ok) throw new Error(loaded.reason);
    const plan = await compilePlan(await testModels()[0].load());
    const reordered = { ...plan, ops: [...plan.ops].reverse() };
    expect(() => loaded.addon.createCudaEngine(reordered, { device: 0, maxBatch: 1, fp16: true, cacheDir: '' })).toThrow(/head|last/);
  });
});
