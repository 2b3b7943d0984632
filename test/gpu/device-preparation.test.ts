// On a GPU: frame preparation on the device (native/engine/pipeline.cu prepareFramesKernel). A session opened with a
// PreparationPlan takes the source frames as they are and resamples (area or bilinear, lib/frames/resample.ts's
// weights) and mirror-pads (lib/frames/pad.ts) them on the device; the image must equal the host path's (prepareChunk,
// then a session on the prepared frames), and the plan must then say where it was done.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCudaBackend } from '../../lib/backends/cuda.js';
import type { NativeEngineBackend } from '../../lib/backends/native-engine.js';
import { planPreparation, prepareChunk } from '../../lib/frames/prepare.js';
import type { LoadedModel } from '../../lib/model/onnx.js';
import type { Stack } from '../../lib/types.js';
import { makeStack } from '../../benchmarks/synthetic-stack.js';
import { announceSkip, gpu, relativeL2, sum, testModels } from './helpers.js';

announceSkip('device-preparation');

describe.skipIf(!gpu.usable)('frame preparation on the device', () => {
  let model: LoadedModel;
  let backend: NativeEngineBackend;

  beforeAll(async () => {
    model = await testModels()[2].load(); // unet random b8: size multiple 4 (and more with its pools)
    backend = (await createCudaBackend(model, { batchSize: 4 })) as NativeEngineBackend;
  }, 300_000);
  afterAll(async () => {
    await backend?.close();
  });

  const cases: Array<{ label: string; height: number; width: number; pixelSizeNm: number; resample: 'auto' | 'always' | 'never' }> = [
    { label: 'area (65 nm camera pixels to the model pixel size), then padded', height: 90, width: 77, pixelSizeNm: 65, resample: 'auto' },
    { label: 'bilinear (160 nm camera pixels), then padded', height: 45, width: 50, pixelSizeNm: 160, resample: 'always' },
    { label: 'padding only (62x62 frames)', height: 62, width: 62, pixelSizeNm: 0, resample: 'never' },
  ];
  for (const c of cases) {
    it(
      c.label,
      async () => {
        const meta = model.metadata;
        const source: Stack = { ...makeStack(6, c.height, c.width, 51), pixelSizeNm: c.pixelSizeNm || meta.cameraPixelNm };
        const plan = planPreparation(source, meta, model.name, { resample: c.resample });
        expect(plan.resampled !== undefined || plan.padded !== undefined).toBe(true);
        const geometry = { height: plan.runHeight, width: plan.runWidth, scale: 1, batchSize: 4 };

        // Host: prepare the frames, run them as they are.
        const prepared = prepareChunk(source, plan);
        const host = await backend.openSession(geometry);
        expect(host.preparesFrames).toBe(false);
        await host.push(prepared, {});
        const hostImage = await host.finish();
        expect(sum(hostImage)).toBeGreaterThan(0);

        // Device: the same plan, source frames pushed in two chunks.
        const hostPlanWhere = plan.resampled?.where;
        const device = await backend.openSession({ ...geometry, preparation: plan });
        expect(device.preparesFrames).toBe(true);
        const pixels = source.height * source.width;
        await device.push({ ...source, frames: 4, data: source.data.subarray(0, 4 * pixels) }, {});
        await device.push({ ...source, frames: 2, data: source.data.subarray(4 * pixels) }, {});
        const deviceImage = await device.finish();
        const error = relativeL2(deviceImage, hostImage);
        console.log(`[device-preparation] ${c.label}: ${c.width}x${c.height} -> ${plan.runWidth}x${plan.runHeight}, relative L2 device vs host ${error.toExponential(2)}`);
        expect(error).toBeLessThan(1e-5);
        if (plan.resampled) {
          expect(hostPlanWhere).toBe('host');
          expect(plan.resampled.where).toBe('device');
        }
      },
      300_000,
    );
  }
});
