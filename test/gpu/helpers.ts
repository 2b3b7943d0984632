/**
 * Shared by the GPU tests: whether a GPU is usable here (and why not), the models to compare on, and error measures
 * (their SMLM-like stacks: benchmarks/synthetic-stack.ts). GPU tests skip with a printed reason where
 * cudaStatus().usable is false (CI).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cudaStatus } from '../../lib/backends/cuda.js';
import { bundledModelNames, resolveModel } from '../../lib/model/registry.js';
import { loadOnnxModel, type LoadedModel } from '../../lib/model/onnx.js';
import { makeDeepStormModel, makeUNetModel } from '../../benchmarks/random-models.js';

export const gpu = cudaStatus();
export const gpuSkipReason = gpu.usable ? undefined : `no usable GPU: ${gpu.reason ?? 'unknown reason'}`;

/** Prints once per test file why its GPU tests are skipped (vitest shows skipped tests but not the reason). */
export function announceSkip(file: string): void {
  if (gpuSkipReason) console.log(`[${file}] GPU tests skipped: ${gpuSkipReason}`);
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
