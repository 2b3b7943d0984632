import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { gpuUsable } from '../lib/backends/select.js';
import { SmlmError } from '../lib/errors.js';
import { serializeModelMetadata } from '../lib/model/metadata.js';
import { defaultModelName, listModels, resolveModel } from '../lib/model/registry.js';
import { Reconstructor, reconstruct } from '../lib/reconstructor.js';
import { stackAsSource, type FrameSource } from '../lib/io/frame-source.js';
import { openTiffStack } from '../lib/io/tiff-read.js';
import type { Progress, ReconstructCallOptions, Stack } from '../lib/types.js';
import { expectedKnownImage, KNOWN_METADATA, makeKnownModel, writeTempModel } from './helpers/known-model.js';
import { REPO_ROOT, tempDir } from './helpers/paths.js';
import { buildTestTiff, pagesOf, withTag } from './helpers/tiff-builder.js';

const knownPath = writeTempModel(makeKnownModel());

function stackOf(frames: number, height = 4, width = 4, seed = 1): Stack {
  return { data: Uint16Array.from({ length: frames * height * width }, (_, i) => ((i + seed) * 2654435761) % 1000), frames, height, width };
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    return err instanceof SmlmError ? err.code : `not an SmlmError: ${(err as Error).stack}`;
  }
  return 'no error';
}

describe('Reconstructor API contract', () => {
  it('result shape: image, sizes, pixel size, frames, backend, model, timings', async () => {
    const rec = await Reconstructor.create({ model: knownPath, backend: 'cpu' });
    const result = await rec.reconstruct(stackOf(3));
    await rec.close();
    expect(result.image).toBeInstanceOf(Float32Array);
    expect(result.image.length).toBe(result.width * result.height);
    expect(result).toMatchObject({ width: 8, height: 8, pixelSizeNm: 50, frames: 3, backend: 'cpu', model: knownPath });
    expect(result.frameMaps).toBeUndefined();
    const { totalMs, inferenceMs, preprocessMs } = result.timings;
    expect(inferenceMs).toBeGreaterThan(0);
    expect(preprocessMs).toBeGreaterThanOrEqual(0);
    expect(totalMs).toBeGreaterThanOrEqual(inferenceMs + preprocessMs);
    expect(rec.model.metadata).toEqual(KNOWN_METADATA);
    expect(rec.backendName).toBe('cpu');
  });

  it('reports progress after every batch, ending at the total', async () => {
    const rec = await Reconstructor.create({ model: knownPath, backend: 'cpu', batchSize: 2 });
    const seen: Progress[] = [];
    await rec.reconstruct(stackOf(5), { onProgress: (p) => seen.push(p) });
    await rec.close();
    expect(seen).toEqual([
      { framesDone: 2, framesTotal: 5 },
      { framesDone: 4, framesTotal: 5 },
      { framesDone: 5, framesTotal: 5 },
    ]);
  });

  it('queues concurrent calls: one call’s batches never interleave with another’s, results keep call order', async () => {
    const rec = await Reconstructor.create({ model: knownPath, backend: 'cpu', batchSize: 1 });
    const log: string[] = [];
    const calls = ['a', 'b', 'c'].map((tag, k) =>
      rec.reconstruct(stackOf(4, 4, 4, k), { onProgress: (p) => log.push(`${tag}${p.framesDone}`) }),
    );
    const results = await Promise.all(calls);
    await rec.close();
    expect(log).toEqual(['a1', 'a2', 'a3', 'a4', 'b1', 'b2', 'b3', 'b4', 'c1', 'c2', 'c3', 'c4']);
    results.forEach((r, k) => {
      const { image } = expectedKnownImage(stackOf(4, 4, 4, k).data, 4, 4, 4);
      expect(r.image[5]).toBeCloseTo(image[5], 4);
    });
  });

  it('AbortSignal cancels between batches with E_ABORTED; the next queued call still runs', async () => {
    const rec = await Reconstructor.create({ model: knownPath, backend: 'cpu', batchSize: 1 });
    const controller = new AbortController();
    const seen: number[] = [];
    const aborted = rec.reconstruct(stackOf(6), {
      signal: controller.signal,
      onProgress: (p) => {
        seen.push(p.framesDone);
        if (p.framesDone === 2) controller.abort();
      },
    });
    const next = rec.reconstruct(stackOf(2));
    expect(await codeOf(aborted)).toBe('E_ABORTED');
    expect(seen).toEqual([1, 2]);
    expect((await next).frames).toBe(2);
    expect(await codeOf(rec.reconstruct(stackOf(2), { signal: AbortSignal.abort() }))).toBe('E_ABORTED');
    await rec.close();
  });

  it('close() waits for queued calls; later calls fail with E_CLOSED', async () => {
    const rec = await Reconstructor.create({ model: knownPath, backend: 'cpu', batchSize: 1 });
    const pending = rec.reconstruct(stackOf(3));
    await rec.close();
    expect((await pending).frames).toBe(3);
    expect(await codeOf(rec.reconstruct(stackOf(1)))).toBe('E_CLOSED');
    await rec.close(); // idempotent
  });

  it('E_BAD_OPTIONS for call options of the wrong type (not a TypeError, not ignored)', async () => {
    const rec = await Reconstructor.create({ model: knownPath, backend: 'cpu' });
    const bad = [null, 5, { onProgress: 5 }, { signal: {} }, { signal: 'abort' }, { keepFrameMaps: 'yes' }] as unknown as ReconstructCallOptions[];
    for (const options of bad) {
      expect(await codeOf(rec.reconstruct(stackOf(1), options)), JSON.stringify(options)).toBe('E_BAD_OPTIONS');
      expect(await codeOf(rec.reconstructSource(stackAsSource(stackOf(1)), options)), JSON.stringify(options)).toBe('E_BAD_OPTIONS');
    }
    await rec.close();
    // The one-shot form too, before loading the model.
    for (const options of [{ onProgress: 5 }, { signal: {} }] as unknown as ReconstructCallOptions[]) {
      expect(await codeOf(reconstruct(stackOf(1), { model: knownPath, backend: 'cpu', ...options })), JSON.stringify(options)).toBe('E_BAD_OPTIONS');
    }
    expect(await codeOf(reconstruct(stackOf(1), null as never))).toBe('E_BAD_OPTIONS');
  });

  it('a closed Reconstructor reports E_CLOSED before looking at the stack or the options', async () => {
    const rec = await Reconstructor.create({ model: knownPath, backend: 'cpu' });
    await rec.close();
    expect(await codeOf(rec.reconstruct({ data: new Uint16Array(5), frames: 9, height: 4, width: 4 }))).toBe('E_CLOSED');
    expect(await codeOf(rec.reconstruct(stackOf(1), null as never))).toBe('E_CLOSED');
  });

  it('validates the stack before any backend work', async () => {
    const rec = await Reconstructor.create({ model: knownPath, backend: 'cpu' });
    expect(await codeOf(rec.reconstruct({ data: new Uint16Array(0), frames: 0, height: 4, width: 4 }))).toBe('E_EMPTY_STACK');
    const nan = new Float32Array(16);
    nan[3] = Number.NaN;
    expect(await codeOf(rec.reconstruct({ data: nan, frames: 1, height: 4, width: 4 }))).toBe('E_NON_FINITE_PIXELS');
    // sizeMultiple 2: refused when padding is switched off (padded by default, see test/frame-preparation.test.ts)
    expect(await codeOf(rec.reconstruct({ data: new Uint16Array(9), frames: 1, height: 3, width: 3 }, { padFrames: false }))).toBe('E_FRAME_SIZE_UNSUPPORTED');
    expect(await codeOf(rec.reconstruct({ data: new Uint16Array(15), frames: 1, height: 4, width: 4 }))).toBe('E_BAD_OPTIONS');
    await rec.close();
  });

  it('one-shot reconstruct() equals the Reconstructor result', async () => {
    const stack = stackOf(3);
    const rec = await Reconstructor.create({ model: knownPath, backend: 'cpu' });
    const a = await rec.reconstruct(stack);
    await rec.close();
    const b = await reconstruct(stack, { model: knownPath, backend: 'cpu', keepFrameMaps: true });
    expect(Array.from(b.image)).toEqual(Array.from(a.image));
    expect(b.frameMaps?.length).toBe(3 * 64);
  });
});

/** A source that announces a shape and fails the test if a chunk is read; records the chunk size asked for. */
function announcingSource(frames: number, height: number, width: number): FrameSource & { framesPerChunk?: number } {
  return {
    frames,
    height,
    width,
    // eslint-disable-next-line require-yield -- a generator that fails before its first chunk is what this source is for
    async *chunks(framesPerChunk: number) {
      this.framesPerChunk = framesPerChunk;
      throw new SmlmError('E_ABORTED', 'test source: no chunk is read');
    },
  };
}

async function errorOf(promise: Promise<unknown>): Promise<SmlmError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof SmlmError) return err;
    throw err;
  }
  throw new Error('expected an SmlmError');
}

describe('non-finite pixels in a streamed stack', () => {
  it('E_NON_FINITE_PIXELS names the frame counted in the whole stack, past the first read chunk', async () => {
    const path = join(tempDir(), 'nan-at-280.tif');
    writeFileSync(path, buildTestTiff(pagesOf(300, 2, 2, (f, y, x) => (f === 280 && y === 1 && x === 0 ? Number.NaN : 1 + x + y)), { kind: 'float32' }));
    const rec = await Reconstructor.create({ model: knownPath, backend: 'cpu' });
    const source = await openTiffStack(path);
    const err = await errorOf(rec.reconstructSource(source));
    await source.close();
    await rec.close();
    expect(err.code).toBe('E_NON_FINITE_PIXELS');
    expect(err.details).toEqual({ frame: 280, x: 0, y: 1 });
    expect(err.message).toBe('the stack (frames 256..299) has a non-finite pixel (NaN) in frame 280 at (x=0, y=1)');
  });
});

describe('buffers that cannot be allocated', () => {
  it('E_FRAME_SIZE_UNSUPPORTED, before reading a frame, when the output image of huge frames cannot exist', async () => {
    const rec = await Reconstructor.create({ model: knownPath, backend: 'cpu' });
    const err = await errorOf(rec.reconstructSource(announcingSource(1, 1_000_000, 1_000_000)));
    expect(err.code).toBe('E_FRAME_SIZE_UNSUPPORTED');
    expect(err.details.bytes).toBe(2_000_000 * 2_000_000 * 4);
    expect(err.message).toMatch(/2000000 x 2000000 px output image .* 14\.6 TiB/);
    // The same from a TIFF whose (compressed, so unchecked) page declares that size over a tiny strip.
    const path = join(tempDir(), 'huge-compressed.tif');
    const small = buildTestTiff(pagesOf(1, 2, 2, () => 1), { kind: 'uint8' });
    writeFileSync(path, withTag(withTag(withTag(withTag(small, 259, 8), 256, 1_000_000), 257, 1_000_000), 278, 1_000_000));
    const source = await openTiffStack(path);
    expect(await codeOf(rec.reconstructSource(source))).toBe('E_FRAME_SIZE_UNSUPPORTED');
    await source.close();
    await rec.close();
  });

  it('E_BAD_OPTIONS stating the bytes needed when keepFrameMaps cannot be held', async () => {
    const rec = await Reconstructor.create({ model: knownPath, backend: 'cpu' });
    const frames = 2 ** 40; // maps of 8 x 8 px: 256 TiB
    const err = await errorOf(rec.reconstructSource(announcingSource(frames, 4, 4), { keepFrameMaps: true }));
    expect(err.code).toBe('E_BAD_OPTIONS');
    expect(err.details.bytes).toBe(frames * 64 * 4);
    expect(err.message).toMatch(/frame maps .* 256 TiB/);
    await rec.close();
  });

  it('big frames are read fewer at a time, so that a chunk stays allocatable', async () => {
    const rec = await Reconstructor.create({ model: knownPath, backend: 'cpu', batchSize: 64 });
    const big = announcingSource(1000, 4096, 4096); // 256 frames of 4096 x 4096 float32 would take 16 GiB
    expect(await codeOf(rec.reconstructSource(big))).toBe('E_ABORTED');
    expect(big.framesPerChunk! * 4096 * 4096 * 4).toBeLessThanOrEqual(256 * 1024 * 1024);
    const small = announcingSource(1000, 4, 4);
    await codeOf(rec.reconstructSource(small));
    expect(small.framesPerChunk).toBe(256);
    await rec.close();
  });

  it('E_BAD_OPTIONS or E_EMPTY_STACK for a source announcing a bad shape, before reading it', async () => {
    const rec = await Reconstructor.create({ model: knownPath, backend: 'cpu' });
    for (const [frames, height, width] of [[Number.NaN, 4, 4], [-1, 4, 4], [1.5, 4, 4], [2, 0, 4], [2, 4, Number.POSITIVE_INFINITY]]) {
      expect(await codeOf(rec.reconstructSource(announcingSource(frames, height, width), { keepFrameMaps: true }))).toBe('E_BAD_OPTIONS');
    }
    expect(await codeOf(rec.reconstructSource(announcingSource(0, 4, 4)))).toBe('E_EMPTY_STACK');
    expect(await codeOf(rec.reconstructSource(null as unknown as FrameSource))).toBe('E_BAD_OPTIONS');
    await rec.close();
  });
});

describe('Reconstructor.create errors', () => {
  it('E_BAD_OPTIONS for bad option values', async () => {
    for (const options of [{ backend: 'gpu' }, { batchSize: 0 }, { batchSize: 1.5 }, { precision: 'fp8' }, { device: -1 }, { model: '' }]) {
      expect(await codeOf(Reconstructor.create({ model: knownPath, ...options } as never))).toBe('E_BAD_OPTIONS');
    }
  });

  it('E_MODEL_NOT_FOUND for a missing file or an unknown bundled name', async () => {
    expect(await codeOf(Reconstructor.create({ model: join(tempDir(), 'missing.onnx'), backend: 'cpu' }))).toBe('E_MODEL_NOT_FOUND');
    expect(await codeOf(Reconstructor.create({ model: 'no-such-model', backend: 'cpu' }))).toBe('E_MODEL_NOT_FOUND');
  });

  it('E_MODEL_INVALID for a file that is not ONNX, an ONNX without smlm-rt metadata, or bad metadata', async () => {
    const garbage = join(tempDir(), 'garbage.onnx');
    writeFileSync(garbage, 'this is not a protobuf at all \u0000\u00ff');
    expect(await codeOf(Reconstructor.create({ model: garbage, backend: 'cpu' }))).toBe('E_MODEL_INVALID');
    expect(await codeOf(Reconstructor.create({ model: writeTempModel(makeKnownModel(null)), backend: 'cpu' }))).toBe('E_MODEL_INVALID');
    const badMeta = { ...serializeModelMetadata(KNOWN_METADATA), 'smlm.upsampling': 'eight' };
    expect(await codeOf(Reconstructor.create({ model: writeTempModel(makeKnownModel(badMeta)), backend: 'cpu' }))).toBe('E_MODEL_INVALID');
  });

  it('E_BACKEND_UNAVAILABLE for an explicit GPU backend where no GPU is usable; auto falls back to cpu and says why', async () => {
    const gpu = await gpuUsable();
    if (gpu.usable) return; // on a GPU machine the GPU tests cover this backend
    expect(await codeOf(Reconstructor.create({ model: knownPath, backend: 'cuda' }))).toBe('E_BACKEND_UNAVAILABLE');
    expect(await codeOf(Reconstructor.create({ model: knownPath, backend: 'tensorrt' }))).toBe('E_BACKEND_UNAVAILABLE');
    const rec = await Reconstructor.create({ model: knownPath, backend: 'auto' });
    expect(rec.backendName).toBe('cpu');
    expect(rec.fallbackReason).toMatch(/GPU/);
    await rec.close();
  });
});

describe('bundled model registry', () => {
  const saved = process.env.SMLM_RT_MODELS_DIR;
  afterEach(() => {
    if (saved === undefined) delete process.env.SMLM_RT_MODELS_DIR;
    else process.env.SMLM_RT_MODELS_DIR = saved;
  });

  it('lists every .onnx in the models folder with its metadata; default prefers unet, then deepstorm', async () => {
    const dir = tempDir();
    process.env.SMLM_RT_MODELS_DIR = dir;
    expect(defaultModelName()).toBeUndefined();
    expect(await codeOf(Reconstructor.create({ backend: 'cpu' }))).toBe('E_MODEL_NOT_FOUND');
    copyFileSync(knownPath, join(dir, 'deepstorm.onnx'));
    expect(defaultModelName()).toBe('deepstorm');
    copyFileSync(knownPath, join(dir, 'unet.onnx'));
    writeFileSync(join(dir, 'broken.onnx'), 'nope');
    expect(defaultModelName()).toBe('unet');
    const models = await listModels();
    expect(models.map((m) => [m.name, m.isDefault, m.metadata?.architecture ?? 'invalid'])).toEqual([
      ['broken', false, 'invalid'],
      ['deepstorm', false, 'known-answer-1x1'],
      ['unet', true, 'known-answer-1x1'],
    ]);
    expect(models[0].error).toMatch(/ONNX/);
    expect((await resolveModel()).name).toBe('unet');
    const rec = await Reconstructor.create({ model: 'deepstorm', backend: 'cpu' });
    expect(rec.model.name).toBe('deepstorm');
    await rec.close();
  });

  it('an empty or missing models folder lists nothing', async () => {
    process.env.SMLM_RT_MODELS_DIR = join(tempDir(), 'absent');
    expect(await listModels()).toEqual([]);
    mkdirSync(process.env.SMLM_RT_MODELS_DIR);
    expect(await listModels()).toEqual([]);
  });
});

describe('lazy loading', () => {
  it('importing smlm-rt and reading TIFFs does not load onnxruntime; creating a cpu Reconstructor does', () => {
    if (process.platform !== 'linux') return; // /proc/self/maps shows loaded native libraries on Linux only
    const script = `
      const { readFileSync } = await import('node:fs');
      const loaded = () => readFileSync('/proc/self/maps', 'utf8').includes('libonnxruntime');
      const lib = await import(${JSON.stringify(join(REPO_ROOT, 'dist', 'lib', 'index.js'))});
      const before = loaded();
      const rec = await lib.Reconstructor.create({ model: ${JSON.stringify(knownPath)}, backend: 'cpu' });
      console.log(JSON.stringify({ before, after: loaded() }));
      await rec.close();`;
    // dist/ is compiled from the current sources by test/global-setup.ts.
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(run.status, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout.trim())).toEqual({ before: false, after: true });
  });
});

describe('streaming a TIFF larger than one read chunk', () => {
  it('reconstructSource(openTiffStack(...)) equals reconstruct(readTiffStack(...)), progress up to the total', async () => {
    const { writeStackTiff } = await import('../lib/io/tiff-write.js');
    const { openTiffStack, readTiffStack } = await import('../lib/io/tiff-read.js');
    const path = join(tempDir(), 'long.tif');
    const frames = 600; // more than the 256 frames read at a time
    await writeStackTiff(path, { ...stackOf(frames, 4, 4, 3), pixelSizeNm: 120 });
    const rec = await Reconstructor.create({ model: knownPath, backend: 'cpu', batchSize: 64 });
    const whole = await rec.reconstruct(await readTiffStack(path), { resample: 'always' });
    const source = await openTiffStack(path);
    const seen: number[] = [];
    const streamed = await rec.reconstructSource(source, { onProgress: (p) => seen.push(p.framesDone), resample: 'always' });
    await source.close();
    await rec.close();
    expect(streamed.frames).toBe(frames);
    // 120 nm frames are resampled to the model's 100 nm (4 px -> 5 px), so the output is on the model's 50 nm grid.
    expect(streamed.pixelSizeNm).toBeCloseTo(50, 9);
    expect(streamed.resampled).toMatchObject({ fromNm: expect.closeTo(120, 9), toNm: 100, from: { height: 4, width: 4 }, to: { height: 5, width: 5 } });
    expect(Array.from(streamed.image)).toEqual(Array.from(whole.image));
    expect(seen.at(-1)).toBe(frames);
    expect(seen.every((v, i) => i === 0 || v > seen[i - 1])).toBe(true);
  });
});
