// The cpu backend's two onnxruntimes (lib/backends/onnx-runtime.ts): how SMLM_RT_CPU_RUNTIME is read, that auto takes
// the native one where it is installed (this clone has it as a devDependency), and that the shipped WebAssembly build
// reconstructs the example stack to the same image as onnxruntime-node.
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadOnnxRuntime, requestedRuntime } from '../lib/backends/onnx-runtime.js';
import { readTiffStack } from '../lib/io/tiff-read.js';
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

  it('reconstructs the example stack to the same image on both', async () => {
    const full = await readTiffStack(join(REPO_ROOT, 'examples', 'microtubules.tif'));
    const frames = 4;
    const stack: Stack = { ...full, frames, data: full.data.subarray(0, frames * full.height * full.width) as Uint16Array };
    const images: Float32Array[] = [];
    for (const runtime of ['onnxruntime-node', 'onnxruntime-web']) {
      process.env.SMLM_RT_CPU_RUNTIME = runtime;
      const rec = await Reconstructor.create({ model: 'unet', backend: 'cpu' });
      try {
        images.push((await rec.reconstruct(stack)).image);
      } finally {
        await rec.close();
      }
    }
    const [native, wasm] = images;
    let diff = 0;
    let norm = 0;
    for (let i = 0; i < native.length; i++) {
      diff += (native[i] - wasm[i]) ** 2;
      norm += native[i] ** 2;
    }
    expect(norm).toBeGreaterThan(0);
    expect(Math.sqrt(diff / norm)).toBeLessThan(1e-4);
  }, 120_000);
});
