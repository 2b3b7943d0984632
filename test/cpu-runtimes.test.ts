// The cpu backend's runtimes (lib/backends/onnx-runtime.ts): how SMLM_RT_CPU_RUNTIME is read, that auto among the
// onnxruntime builds takes the native one where it is installed (this clone has it as a devDependency), and that the
// shipped WebAssembly build and the addon's plan executor (where the addon is built) reconstruct the example stack to
// the same image as onnxruntime-node. test/cpu-plan-executor.test.ts tests the plan executor itself.
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadOnnxRuntime, requestedRuntime } from '../lib/backends/onnx-runtime.js';
import { readTiffStack } from '../lib/io/tiff-read.js';
import { loadAddon } from '../lib/native/binding.js';
import { Reconstructor } from '../lib/reconstructor.js';
import type { Stack } from '../lib/types.js';
import { REPO_ROOT } from './helpers/paths.js';

describe('SMLM_RT_CPU_RUNTIME', () => {
  it('is auto when unset, empty or "auto", names a runtime, and refuses anything else', () => {
    expect(requestedRuntime({})).toBe('auto');
    expect(requestedRuntime({ SMLM_RT_CPU_RUNTIME: ' ' })).toBe('auto');
    expect(requestedRuntime({ SMLM_RT_CPU_RUNTIME: 'auto' })).toBe('auto');
    expect(requestedRuntime({ SMLM_RT_CPU_RUNTIME: 'onnxruntime-web' })).toBe('onnxruntime-web');
    expect(requestedRuntime({ SMLM_RT_CPU_RUNTIME: 'onnxruntime-node' })).toBe('onnxruntime-node');
    expect(requestedRuntime({ SMLM_RT_CPU_RUNTIME: 'plan' })).toBe('plan');
    expect(() => requestedRuntime({ SMLM_RT_CPU_RUNTIME: 'wasm' })).toThrow(expect.objectContaining({ code: 'E_BAD_OPTIONS' }));
  });
});

describe('the cpu backend on each onnxruntime', () => {
  afterEach(() => {
    delete process.env.SMLM_RT_CPU_RUNTIME;
  });

  it('auto picks onnxruntime-node where it is installed; the WebAssembly build loads from vendor/', async () => {
    expect((await loadOnnxRuntime('auto')).name).toBe('onnxruntime-node');
    const wasm = await loadOnnxRuntime('onnxruntime-web');
    expect(wasm).toMatchObject({ name: 'onnxruntime-web', executionProvider: 'wasm' });
    expect(wasm.version).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('reconstructs the example stack to the same image on each runtime that loads here', async () => {
    const full = await readTiffStack(join(REPO_ROOT, 'examples', 'microtubules.tif'));
    const frames = 4;
    const stack: Stack = { ...full, frames, data: full.data.subarray(0, frames * full.height * full.width) as Uint16Array };
    const images: Float32Array[] = [];
    const runtimes = ['onnxruntime-node', 'onnxruntime-web'];
    if (loadAddon().ok) runtimes.push('plan');
    for (const runtime of runtimes) {
      process.env.SMLM_RT_CPU_RUNTIME = runtime;
      const rec = await Reconstructor.create({ model: 'unet', backend: 'cpu' });
      try {
        images.push((await rec.reconstruct(stack)).image);
      } finally {
        await rec.close();
      }
    }
    const [native, ...others] = images;
    for (const other of others) {
      let diff = 0;
      let norm = 0;
      for (let i = 0; i < native.length; i++) {
        diff += (native[i] - other[i]) ** 2;
        norm += native[i] ** 2;
      }
      expect(norm).toBeGreaterThan(0);
      expect(Math.sqrt(diff / norm)).toBeLessThan(1e-4);
    }
  }, 120_000);
});
