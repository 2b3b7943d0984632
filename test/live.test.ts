/**
 * The live API (lib/live.ts) on the cpu backend: frames pushed in pieces give what one reconstruct of the same frames
 * gives; snapshots show the frames so far; abort, signals, errors and the Reconstructor's queue.
 */
import { describe, expect, it } from 'vitest';
import { isSmlmError, SmlmError } from '../lib/errors.js';
import type { LiveSession } from '../lib/live.js';
import { Reconstructor } from '../lib/reconstructor.js';
import type { ReconstructionResult, Stack } from '../lib/types.js';
import { makeKnownModel, writeTempModel } from './helpers/known-model.js';
import { framesOf, smlmRejection } from './helpers/calls.js';

const knownPath = writeTempModel(makeKnownModel());

function stackOf(frames: number, height: number, width: number, seed = 1): Stack {
  return { data: Uint16Array.from({ length: frames * height * width }, (_, i) => ((i + seed) * 2654435761) % 1000), frames, height, width };
}

/** Image within fp tolerance, and every other field of the result equal (timings aside). */
function expectSameResult(actual: Omit<ReconstructionResult, 'frameMaps'> & { frameMaps?: Float32Array }, expected: ReconstructionResult): void {
  const strip = (r: typeof actual) => ({ ...r, image: undefined, frameMaps: undefined, timings: undefined });
  expect(strip(actual)).toEqual(strip(expected));
  expect(actual.image.length).toBe(expected.image.length);
  for (let i = 0; i < expected.image.length; i++) expect(actual.image[i]).toBeCloseTo(expected.image[i], 3);
  if (expected.frameMaps) {
    expect(actual.frameMaps?.length).toBe(expected.frameMaps.length);
    for (let i = 0; i < expected.frameMaps.length; i++) expect(actual.frameMaps![i]).toBeCloseTo(expected.frameMaps[i], 5);
  }
}

describe('Reconstructor.live on the cpu backend', () => {
  it('frames pushed in pieces (stacks and typed arrays, over several chunks) give what one reconstruct gives', async () => {
    const rec = await Reconstructor.create({ model: knownPath, backend: 'cpu', batchSize: 8 });
    const stack = stackOf(600, 4, 6);
    const expected = await rec.reconstruct(stack, { keepFrameMaps: true });
    const live = await rec.live({ height: 4, width: 6, keepFrameMaps: true });
    let at = 0;
    for (const count of [1, 3, 7, 300, 289]) {
      const piece = framesOf(stack, at, count);
      // Every other piece as a bare typed array of whole frames.
      await live.push(count % 2 ? piece : Uint16Array.from(piece.data));
      at += count;
    }
    expect(live.framesPushed).toBe(600);
    const result = await live.finish();
    expect(live.state).toBe('finished');
    expect(result.frames).toBe(600);
    expectSameResult(result, expected);
    await rec.close();
  });

  it('resampled and padded frames: the same preparation, the same image, cropped back', async () => {
    const rec = await Reconstructor.create({ model: knownPath, backend: 'cpu' });
    // 50 nm camera pixels against the model's 100: resampled to 4 x 5 px, padded to 4 x 6.
    const stack = { ...stackOf(20, 9, 11), pixelSizeNm: 50 };
    const expected = await rec.reconstruct(stack, { keepFrameMaps: true });
    expect(expected.preparation.resampled).toBeDefined();
    expect(expected.preparation.padded).toBeDefined();
    const live = await rec.live({ height: 9, width: 11, sourcePixelSizeNm: 50, keepFrameMaps: true });
    for (let f = 0; f < 20; f += 5) await live.push(framesOf(stack, f, 5));
    expectSameResult(await live.finish(), expected);
    // The caller's pixel size wins over the source's, as pixelSizeNm does in reconstruct.
    const override = await rec.live({ height: 9, width: 11, sourcePixelSizeNm: 50, pixelSizeNm: 100 });
    await override.push(stack.data);
    expectSameResult(await override.finish(), await rec.reconstruct(stack, { pixelSizeNm: 100 }));
    await rec.close();
  });

  it('a snapshot mid-way is the reconstruction of the frames so far; the session goes on', async () => {
    const rec = await Reconstructor.create({ model: knownPath, backend: 'cpu' });
    const stack = stackOf(40, 4, 6, 3);
    const live = await rec.live({ height: 4, width: 6 });
    await live.push(framesOf(stack, 0, 15));
    const snapshot = await live.snapshot();
    expect(snapshot.frames).toBe(15);
    expect(live.state).toBe('open');
    await live.push(framesOf(stack, 15, 25));
    const result = await live.finish();
    // Reconstruct waits in the queue until the live session has finished.
    expectSameResult(snapshot, await rec.reconstruct(framesOf(stack, 0, 15)));
    expectSameResult(result, await rec.reconstruct(stack));
    await rec.close();
  });

  it('push resolves when frames are accepted, with at most one chunk waiting; the caller may reuse its buffer', async () => {
    const rec = await Reconstructor.create({ model: knownPath, backend: 'cpu', batchSize: 4 });
    const stack = stackOf(1200, 4, 6, 5);
    const live = await rec.live({ height: 4, width: 6 });
    const buffer = Uint16Array.from(stack.data);
    await live.push(buffer);
    // One chunk of 256 frames runs, at most one waits.
    expect(live.framesPushed - live.framesDone).toBeLessThanOrEqual(512);
    buffer.fill(0);
    expectSameResult(await live.finish(), await rec.reconstruct(stack));
    await rec.close();
  });

  it('frames pushed one at a time are gathered into chunks', async () => {
    const rec = await Reconstructor.create({ model: knownPath, backend: 'cpu' });
    const stack = stackOf(30, 4, 6, 7);
    const progress: number[] = [];
    const live = await rec.live({ height: 4, width: 6, onProgress: (p) => progress.push(p.framesDone) });
    await Promise.all(Array.from({ length: 30 }, (_, f) => live.push(framesOf(stack, f, 1))));
    expectSameResult(await live.finish(), await rec.reconstruct(stack));
    expect(progress.at(-1)).toBe(30);
    // Fewer backend batches than frames: the pushes made while a chunk ran were gathered into the next one.
    expect(progress.length).toBeLessThan(30);
    await rec.close();
  });

  it('abort: calls in flight reject with E_ABORTED, later ones with E_CLOSED; the queue moves on', async () => {
    const rec = await Reconstructor.create({ model: knownPath, backend: 'cpu', batchSize: 1 });
    const stack = stackOf(1200, 4, 6);
    const live = await rec.live({ height: 4, width: 6 });
    const queued = rec.reconstruct(stackOf(2, 4, 6));
    const pushing = live.push(stack); // more than two chunks: it waits for room
    const released = live.abort();
    expect((await smlmRejection(pushing)).code).toBe('E_ABORTED');
    await released;
    expect(live.state).toBe('aborted');
    const errors = await Promise.all([live.push(stackOf(1, 4, 6)), live.snapshot(), live.finish()].map(smlmRejection));
    expect(errors.map((e) => e.code)).toEqual(['E_CLOSED', 'E_CLOSED', 'E_CLOSED']);
    await live.abort();
    expect((await queued).frames).toBe(2);
    await rec.close();
  });

  it('the signal given to live() aborts it, before or after it opened', async () => {
    const rec = await Reconstructor.create({ model: knownPath, backend: 'cpu' });
    expect((await smlmRejection(rec.live({ height: 4, width: 6, signal: AbortSignal.abort() }))).code).toBe('E_ABORTED');
    const controller = new AbortController();
    const live = await rec.live({ height: 4, width: 6, signal: controller.signal });
    await live.push(stackOf(3, 4, 6));
    const finishing = live.finish();
    controller.abort();
    const outcome = await finishing.then(
      (r) => r.frames,
      (e: SmlmError) => e.code,
    );
    // Either the finish won the race or it was aborted; never anything else.
    expect([3, 'E_ABORTED']).toContain(outcome);
    expect((await smlmRejection(live.push(stackOf(1, 4, 6)))).code).toMatch(/E_CLOSED/);
    // Waiting for its turn behind an open session, it rejects as soon as its signal fires, and never opens.
    const first = await rec.live({ height: 4, width: 6 });
    const waiting = new AbortController();
    const second = rec.live({ height: 4, width: 6, signal: waiting.signal });
    waiting.abort();
    expect((await smlmRejection(second)).code).toBe('E_ABORTED');
    await first.push(stackOf(2, 4, 6));
    expect((await first.finish()).frames).toBe(2);
    expect((await rec.reconstruct(stackOf(1, 4, 6))).frames).toBe(1);
    await rec.close();
  });

  it('typed errors: wrong frame sizes, bad options, non-finite pixels, finish twice, nothing pushed, closed', async () => {
    const rec = await Reconstructor.create({ model: knownPath, backend: 'cpu' });
    for (const options of [{ height: 0, width: 4 }, { height: 4, width: 2.5 }, { height: 4, width: 4, resample: 'sometimes' }, { height: 4, width: 4, keepFrameMaps: 1 }, null]) {
      expect((await smlmRejection(rec.live(options as never))).code).toBe('E_BAD_OPTIONS');
    }
    expect((await smlmRejection(rec.live({ height: 3, width: 4, padFrames: false }))).code).toBe('E_FRAME_SIZE_UNSUPPORTED');
    const live: LiveSession = await rec.live({ height: 4, width: 6 });
    expect((await smlmRejection(live.push(stackOf(1, 6, 4)))).code).toBe('E_BAD_OPTIONS');
    expect((await smlmRejection(live.push(new Uint16Array(25)))).code).toBe('E_BAD_OPTIONS');
    expect((await smlmRejection(live.push([1, 2, 3] as never))).code).toBe('E_BAD_OPTIONS');
    expect((await smlmRejection(live.push(new Uint16Array(24), { copy: 'yes' } as never))).code).toBe('E_BAD_OPTIONS');
    const nan = new Float32Array(48).fill(1);
    nan[30] = Number.NaN;
    const err = await smlmRejection(live.push(nan));
    expect(err.code).toBe('E_NON_FINITE_PIXELS');
    expect(err.details.frame).toBe(1);
    // A refused push queues nothing, and the session goes on.
    expect(live.framesPushed).toBe(0);
    await live.push(new Uint16Array(0));
    await live.push(stackOf(2, 4, 6));
    expect((await live.finish()).frames).toBe(2);
    expect((await smlmRejection(live.finish())).code).toBe('E_CLOSED');
    expect((await smlmRejection(live.push(stackOf(1, 4, 6)))).code).toBe('E_CLOSED');
    const empty = await rec.live({ height: 4, width: 6 });
    expect((await smlmRejection(empty.finish())).code).toBe('E_EMPTY_STACK');
    expect(empty.state).toBe('finished');
    // Closing the Reconstructor ends an open session: its calls in flight say E_CLOSED.
    const open = await rec.live({ height: 4, width: 6 });
    const pushing = open.push(stackOf(1200, 4, 6));
    await rec.close();
    expect(isSmlmError(await smlmRejection(pushing), 'E_CLOSED')).toBe(true);
    expect(open.state).toBe('aborted');
    expect((await smlmRejection(rec.live({ height: 4, width: 6 }))).code).toBe('E_CLOSED');
  });
});
