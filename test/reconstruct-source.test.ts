/**
 * reconstructSource's host pipeline: the next chunk is read while the backend works on the current one, results do
 * not change, and the call closes its source whatever way it ends.
 */
import { describe, expect, it } from 'vitest';
import { SmlmError } from '../lib/errors.js';
import { stackAsSource, type FrameSource } from '../lib/io/frame-source.js';
import { readAhead, Reconstructor } from '../lib/reconstructor.js';
import type { Stack } from '../lib/types.js';
import { makeKnownModel, writeTempModel } from './helpers/known-model.js';

const knownPath = writeTempModel(makeKnownModel());
const tick = () => new Promise((resolve) => setTimeout(resolve, 5));

function stackOf(frames: number, height = 4, width = 4): Stack {
  return { data: Uint16Array.from({ length: frames * height * width }, (_, i) => (i * 2654435761) % 1000), frames, height, width };
}

/** An in-memory stack as a source that logs its reads and its close, and can fail at one chunk. */
function loggingSource(stack: Stack, log: string[], failAtChunk?: number): FrameSource & { closed: number } {
  const inner = stackAsSource(stack);
  const source = {
    frames: stack.frames,
    height: stack.height,
    width: stack.width,
    closed: 0,
    async *chunks(n: number) {
      let k = 0;
      for await (const chunk of inner.chunks(n)) {
        log.push(`read ${k} start`);
        await tick();
        if (k === failAtChunk) throw new Error('disk gone');
        log.push(`read ${k} end`);
        yield chunk;
        k++;
      }
    },
    async close() {
      source.closed++;
      log.push('close');
    },
  };
  return source;
}

describe('readAhead', () => {
  it('reads item k+1 while the consumer works on item k, in order', async () => {
    const log: string[] = [];
    const source = loggingSource(stackOf(3), log);
    const seen: number[] = [];
    for await (const chunk of readAhead(source.chunks(1))) {
      log.push(`use ${seen.length} start`);
      await tick();
      await tick();
      log.push(`use ${seen.length} end`);
      seen.push(chunk.frames);
    }
    expect(seen).toEqual([1, 1, 1]);
    // The read of chunk 1 started before the work on chunk 0 ended.
    expect(log.indexOf('read 1 start')).toBeLessThan(log.indexOf('use 0 end'));
    expect(log.indexOf('read 2 start')).toBeLessThan(log.indexOf('use 1 end'));
  });

  it('a read that fails while the consumer works is reported in its turn, not as an unhandled rejection', async () => {
    const log: string[] = [];
    const source = loggingSource(stackOf(3), log, 1);
    const used: number[] = [];
    const run = async () => {
      for await (const chunk of readAhead(source.chunks(1))) {
        await tick();
        used.push(chunk.frames);
      }
    };
    await expect(run()).rejects.toThrow('disk gone');
    expect(used).toEqual([1]);
  });

  it('stopping early waits for the read in flight and ends the source iterator', async () => {
    const log: string[] = [];
    const source = loggingSource(stackOf(4), log);
    for await (const chunk of readAhead(source.chunks(1))) {
      void chunk;
      break;
    }
    expect(log.at(-1)).toBe('read 1 end');
  });
});

describe('Reconstructor.reconstructSource and its source', () => {
  it('reading ahead does not change the result (several chunks against one in-memory call)', async () => {
    const rec = await Reconstructor.create({ model: knownPath, backend: 'cpu', batchSize: 4 });
    const stack = stackOf(600, 4, 4); // 3 read chunks of at most 256 frames
    const log: string[] = [];
    const streamed = await rec.reconstructSource(loggingSource(stack, log));
    const whole = await rec.reconstruct(stack);
    await rec.close();
    expect(log.filter((l) => l.endsWith('end'))).toEqual(['read 0 end', 'read 1 end', 'read 2 end']);
    expect(Array.from(streamed.image)).toEqual(Array.from(whole.image));
  });

  it('closes the source after a result, an error in a chunk, an abort, and a call refused up front', async () => {
    const rec = await Reconstructor.create({ model: knownPath, backend: 'cpu', batchSize: 1 });
    const ok = loggingSource(stackOf(3), []);
    await rec.reconstructSource(ok);
    const failing = loggingSource(stackOf(600), [], 1);
    await expect(rec.reconstructSource(failing)).rejects.toThrow('disk gone');
    const controller = new AbortController();
    const aborting = loggingSource(stackOf(600), []);
    const call = rec.reconstructSource(aborting, { signal: controller.signal, onProgress: () => controller.abort() });
    await expect(call).rejects.toMatchObject({ code: 'E_ABORTED' });
    const badOptions = loggingSource(stackOf(1), []);
    await expect(rec.reconstructSource(badOptions, { keepFrameMaps: 'yes' as unknown as boolean })).rejects.toBeInstanceOf(SmlmError);
    await rec.close();
    const afterClose = loggingSource(stackOf(1), []);
    await expect(rec.reconstructSource(afterClose)).rejects.toMatchObject({ code: 'E_CLOSED' });
    expect([ok, failing, aborting, badOptions, afterClose].map((s) => s.closed)).toEqual([1, 1, 1, 1, 1]);
  });
});
