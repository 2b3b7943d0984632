/**
 * The backend session (lib/backends/backend.ts) on the cpu backend: hostSession sums chunks into one image kept on
 * the host, applies the scale when the image is read, and refuses what does not fit it.
 */
import { describe, expect, it } from 'vitest';
import { createCpuBackend } from '../lib/backends/cpu.js';
import { isSmlmError } from '../lib/errors.js';
import { loadOnnxModel } from '../lib/model/onnx.js';
import { expectedKnownImage, KNOWN_METADATA, makeKnownModel, writeTempModel } from './helpers/known-model.js';
import { rejection } from './helpers/calls.js';

const knownPath = writeTempModel(makeKnownModel());
const scale = 1 / KNOWN_METADATA.outputScale;

function stackOf(frames: number, height: number, width: number) {
  return { data: Uint16Array.from({ length: frames * height * width }, (_, i) => (i * 2654435761) % 1000), frames, height, width };
}

describe('hostSession on the cpu backend', () => {
  it('chunks pushed one after the other sum to the image of all frames, scaled; frame maps scaled too', async () => {
    const backend = await createCpuBackend(await loadOnnxModel(knownPath, 'known'));
    const stack = stackOf(5, 4, 6);
    const { image: expected, maps } = expectedKnownImage(stack.data, 5, 4, 6);
    const session = await backend.openSession({ height: 4, width: 6, scale, batchSize: 2 });
    expect(session.preparesFrames).toBe(false);
    const pixels = 24;
    const firstMaps = new Float32Array(2 * 4 * pixels);
    // Both pushes are made at once: the second runs after the first.
    const pushes = [
      session.push({ ...stack, frames: 2, data: stack.data.subarray(0, 2 * pixels) }, { frameMaps: firstMaps }),
      session.push({ ...stack, frames: 3, data: stack.data.subarray(2 * pixels) }, {}),
    ];
    await Promise.all(pushes);
    for (let i = 0; i < firstMaps.length; i++) expect(firstMaps[i]).toBeCloseTo(maps[i], 5);
    const snapshot = await session.snapshot();
    for (let i = 0; i < expected.length; i++) expect(snapshot[i]).toBeCloseTo(expected[i], 4);
    // A snapshot is a copy: pushing more does not change it.
    const before = Float32Array.from(snapshot);
    await session.push({ ...stack, frames: 1, data: stack.data.subarray(0, pixels) }, {});
    expect(snapshot).toEqual(before);
    const image = await session.finish();
    const { image: withOneMore } = expectedKnownImage([...stack.data, ...stack.data.subarray(0, pixels)], 6, 4, 6);
    for (let i = 0; i < withOneMore.length; i++) expect(image[i]).toBeCloseTo(withOneMore[i], 4);
    for (const call of [session.push(stack, {}), session.snapshot(), session.finish()]) expect(isSmlmError(await rejection(call), 'E_CLOSED')).toBe(true);
    session.close();
    session.close();
    await backend.close();
  });

  it('refuses a chunk of another frame size (E_BAD_OPTIONS) and everything after close (E_CLOSED)', async () => {
    const backend = await createCpuBackend(await loadOnnxModel(knownPath, 'known'));
    const session = await backend.openSession({ height: 4, width: 6, scale, batchSize: 2 });
    expect(isSmlmError(await rejection(session.push(stackOf(1, 6, 4), {})), 'E_BAD_OPTIONS')).toBe(true);
    session.close();
    expect(isSmlmError(await rejection(session.push(stackOf(1, 4, 6), {})), 'E_CLOSED')).toBe(true);
    expect(isSmlmError(await rejection(session.snapshot()), 'E_CLOSED')).toBe(true);
    await backend.close();
    expect(isSmlmError(await rejection(backend.openSession({ height: 4, width: 6, scale, batchSize: 2 })), 'E_CLOSED')).toBe(true);
  });

  it('E_ABORTED from a push whose signal fired', async () => {
    const backend = await createCpuBackend(await loadOnnxModel(knownPath, 'known'));
    const session = await backend.openSession({ height: 4, width: 6, scale, batchSize: 1 });
    expect(isSmlmError(await rejection(session.push(stackOf(3, 4, 6), { signal: AbortSignal.abort() })), 'E_ABORTED')).toBe(true);
    session.close();
    await backend.close();
  });
});
