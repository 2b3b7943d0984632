/**
 * Shared by the GPU tests: whether a GPU is usable here (and why not), SMLM-like test stacks, the models to compare
 * on, and error measures. GPU tests skip with a printed reason where cudaStatus().usable is false (CI).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cudaStatus } from '../../lib/backends/cuda.js';
import { bundledModelNames, resolveModel } from '../../lib/model/registry.js';
import { loadOnnxModel, type LoadedModel } from '../../lib/model/onnx.js';
import type { Stack } from '../../lib/types.js';
import { makeDeepStormModel, makeUNetModel, seededRandom } from '../../benchmarks/random-models.js';

export const gpu = cudaStatus();
export const gpuSkipReason = gpu.usable ? undefined : `no usable GPU: ${gpu.reason ?? 'unknown reason'}`;

/** Prints once per test file why its GPU tests are skipped (vitest shows skipped tests but not the reason). */
export function announceSkip(file: string): void {
  if (gpuSkipReason) console.log(`[${file}] GPU tests skipped: ${gpuSkipReason}`);
}

/**
 * A uint16 stack that looks like high-density SMLM: background ~100 ADU with noise, and a few dozen Gaussian spots
 * (sigma ~1.1 px) of 300-2000 ADU per frame. Deterministic from the seed.
 */
export function makeStack(frames: number, height: number, width: number, seed = 7): Stack & { data: Uint16Array } {
  const rand = seededRandom(seed);
  const data = new Uint16Array(frames * height * width);
  const spotsPerFrame = Math.max(4, Math.round((height * width) / 150));
  for (let f = 0; f < frames; f++) {
    const frame = new Float64Array(height * width);
    for (let i = 0; i < frame.length; i++) frame[i] = 100 + 12 * (rand() + rand() + rand() - 1.5);
    for (let s = 0; s < spotsPerFrame; s++) {
      const cy = rand() * height;
      const cx = rand() * width;
      const amplitude = 300 + 1700 * rand();
      const y0 = Math.max(0, Math.floor(cy - 4));
      const y1 = Math.min(height, Math.ceil(cy + 4));
      const x0 = Math.max(0, Math.floor(cx - 4));
      const x1 = Math.min(width, Math.ceil(cx + 4));
      for (let y = y0; y < y1; y++) {
        for (let x = x0; x < x1; x++) {
          const d2 = (y + 0.5 - cy) ** 2 + (x + 0.5 - cx) ** 2;
          frame[y * width + x] += amplitude * Math.exp(-d2 / (2 * 1.1 * 1.1));
        }
      }
    }
    for (let i = 0; i < frame.length; i++) data[f * height * width + i] = Math.min(65535, Math.round(frame[i]));
  }
  return { data, frames, height, width, pixelSizeNm: 100 };
}

let scratchDir: string | undefined;
async function loadBytes(name: string, bytes: Uint8Array): Promise<LoadedModel> {
  scratchDir ??= mkdtempSync(join(tmpdir(), 'smlm-rt-gpu-'));
  const path = join(scratchDir, `${name}.onnx`);
  writeFileSync(path, bytes);
  return loadOnnxModel(path, name);
}

export interface TestModel {
  label: string;
  load: () => Promise<LoadedModel>;
}

/**
 * Random-weight models covering both convolution paths of the engine (channel counts that are not multiples of 8
 * take the generic kernels, multiples of 8 the tensor-core kernels) and both heads (1x1 at the output grid for
 * Deep-STORM, depth-to-space for the U-Net), plus every model shipped in models/.
 */
export function testModels(): TestModel[] {
  const models: TestModel[] = [
    { label: 'deepstorm random w4 (generic kernels)', load: () => loadBytes('deepstorm-w4', makeDeepStormModel({ width: 4, seed: 11 })) },
    // Seed 14: about a quarter of the output pixels are positive, so the clamp matters (seed 12 gives all-negative maps).
    { label: 'deepstorm random w8 (tensor cores)', load: () => loadBytes('deepstorm-w8', makeDeepStormModel({ width: 8, seed: 14 })) },
    { label: 'unet random b8', load: () => loadBytes('unet-b8', makeUNetModel({ base: 8, seed: 13 })) },
    { label: 'unet random b64, three super-resolving stages (full-resolution end, shuffle 1)', load: () => loadBytes('unet-b64-sr3', makeUNetModel({ base: 64, seed: 16, srStages: 3 })) },
    { label: 'unet random b32, two super-resolving stages', load: () => loadBytes('unet-b32-sr2', makeUNetModel({ base: 32, seed: 15, srStages: 2 })) },
    { label: 'unet random b64, per-pixel renderer of 256 channels before the head', load: () => loadBytes('unet-b64-render256', makeUNetModel({ base: 64, seed: 17, headHidden: 256, withBatchNorm: false })) },
  ];
  for (const name of bundledModelNames()) models.push({ label: `shipped ${name}`, load: () => resolveModel(name) });
  return models;
}

/** ||a - b|| / ||b|| over all values. */
export function relativeL2(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num / den);
}

export function sum(values: Float32Array): number {
  let total = 0;
  for (const v of values) total += v;
  return total;
}
