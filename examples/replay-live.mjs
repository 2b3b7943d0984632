#!/usr/bin/env node
/**
 * Replays a TIFF stack into a live reconstruction at a camera's frame rate, as frames from a camera driver would
 * arrive, and writes a PNG snapshot of the image so far every K frames, then the final image (float TIFF and PNG).
 *
 *   npm run build   # once, in a clone: the example imports the compiled library ('smlm-rt')
 *   node examples/replay-live.mjs [stack.tif] [--fps 100] [--every 25] [--frames N] [--out replay-live]
 *                                 [--backend auto|cpu|cuda|tensorrt] [--model NAME|file.onnx] [--force]
 *
 * Defaults: examples/microtubules.tif, 100 frames/s, a snapshot every 25 frames, into ./replay-live/. Frames are
 * pushed one at a time when they are due; push() resolves once a frame is accepted, so a backend slower than the
 * camera makes the replay fall behind, which the summary reports. A snapshot waits for the frames pushed before it.
 * Ctrl-C stops the replay and finishes with the frames pushed so far. Existing output files are not replaced
 * without --force.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { isSmlmError, openTiffStack, Reconstructor, writeFloatTiff, writePngPreview } from 'smlm-rt';

const here = dirname(fileURLToPath(import.meta.url));

function positive(name, value, integer) {
  const n = Number(value);
  if (!(Number.isFinite(n) && n > 0 && (!integer || Number.isInteger(n)))) throw new Error(`--${name} must be a positive ${integer ? 'integer' : 'number'}, got "${value}"`);
  return n;
}

async function main() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      fps: { type: 'string', default: '100' },
      every: { type: 'string', default: '25' },
      frames: { type: 'string' },
      out: { type: 'string', default: 'replay-live' },
      backend: { type: 'string', default: 'auto' },
      model: { type: 'string' },
      force: { type: 'boolean', default: false },
    },
  });
  const path = positionals[0] ?? join(here, 'microtubules.tif');
  const fps = positive('fps', values.fps, false);
  const every = positive('every', values.every, true);
  const limit = values.frames === undefined ? Infinity : positive('frames', values.frames, true);
  const out = resolve(values.out);
  const force = values.force;
  await mkdir(out, { recursive: true });
  // Said before the replay rather than after it (each write refuses an existing file without --force too).
  const existing = ['final.tif', 'final.png'].map((name) => join(out, name)).filter((file) => existsSync(file));
  if (existing.length > 0 && !force) throw new Error(`${existing.join(' and ')} already exist; pass --force to replace them`);

  const source = await openTiffStack(path);
  const rec = await Reconstructor.create({ backend: values.backend, model: values.model });
  const stop = new AbortController();
  process.once('SIGINT', () => stop.abort());
  try {
    const total = Math.min(source.frames, limit);
    console.log(`replaying ${total} frames of ${source.width} x ${source.height} px from ${path} at ${fps} frames/s (backend ${rec.backendName}, model ${rec.model.name})`);
    const live = await rec.live({ height: source.height, width: source.width, sourcePixelSizeNm: source.pixelSizeNm });
    try {
      const started = performance.now();
      const pixels = source.height * source.width;
      let pushed = 0;
      let behindMs = 0;
      replay: for await (const chunk of source.chunks(64)) {
        for (let f = 0; f < chunk.frames && pushed < total; f++) {
          if (stop.signal.aborted) break replay;
          // The camera delivers frame n at n / fps seconds.
          const due = started + (pushed * 1000) / fps;
          const early = due - performance.now();
          if (early > 0) await new Promise((r) => setTimeout(r, early));
          else behindMs = Math.max(behindMs, -early);
          await live.push(chunk.data.subarray(f * pixels, (f + 1) * pixels));
          pushed++;
          if (pushed % every === 0) {
            const snapshot = await live.snapshot();
            const png = join(out, `snapshot-${String(pushed).padStart(6, '0')}.png`);
            await writePngPreview(png, snapshot.image, snapshot.width, snapshot.height, { force });
            console.log(`frame ${pushed}: ${png}`);
          }
        }
        if (pushed >= total) break;
      }
      const result = await live.finish();
      const seconds = (performance.now() - started) / 1000;
      const tif = join(out, 'final.tif');
      const png = join(out, 'final.png');
      await writeFloatTiff(tif, result.image, result.width, result.height, { pixelSizeNm: result.pixelSizeNm, force });
      await writePngPreview(png, result.image, result.width, result.height, { force });
      console.log(
        `${result.frames} frames in ${seconds.toFixed(2)} s (${(result.frames / seconds).toFixed(1)} frames/s, camera ${fps}); ` +
          `at most ${behindMs.toFixed(0)} ms behind the camera; wrote ${tif} and ${png} (${result.width} x ${result.height} px at ${result.pixelSizeNm} nm)`,
      );
    } finally {
      await live.abort(); // nothing left to abort after finish(); frees the Reconstructor after an error
    }
  } finally {
    await rec.close();
    await source.close();
  }
}

try {
  await main();
} catch (err) {
  console.error(`replay-live: error ${isSmlmError(err) ? `${err.code}: ` : ''}${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
}
