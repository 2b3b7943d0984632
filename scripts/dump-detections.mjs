#!/usr/bin/env node
// Runs a localization-head model through smlm-rt's CPU backend on the first frames of a TIFF stack and writes what
// scripts/check-render-parity.py compares against train_loc.py: the raw detections smlm-rt's backend received, the
// image smlm-rt rendered from them, and smlm-rt's localizations. Needs the compiled library (npm run build).
//   node scripts/dump-detections.mjs MODEL.onnx STACK.tif FRAMES OUT_DIR
// OUT_DIR gets detections.f32 (frames x 5g^2 x H x W, little-endian float32), image.f32 (uH x uW), meta.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Reconstructor, localizationHeadOf, localizeDetections, readTiffStack } from '../dist/lib/index.js';

const [modelPath, stackPath, framesArg, outDir] = process.argv.slice(2);
if (!outDir) {
  console.error('usage: node scripts/dump-detections.mjs MODEL.onnx STACK.tif FRAMES OUT_DIR');
  process.exit(2);
}
const whole = await readTiffStack(stackPath);
const frames = Math.min(Number(framesArg), whole.frames);
const plane = whole.height * whole.width;
const stack = { ...whole, frames, data: whole.data.subarray(0, frames * plane) };

const rec = await Reconstructor.create({ model: modelPath, backend: 'cpu' });
try {
  const meta = rec.model.metadata;
  const head = localizationHeadOf(meta);
  if (!head) throw new Error(`${modelPath} has no localization head`);
  const g = head.grid ?? 1;
  const perFrame = 5 * g * g * plane;
  const detections = new Float32Array(frames * perFrame);
  const started = performance.now();
  const result = await rec.reconstruct(stack, {
    // The backend's array is only valid during the call: copy it to its frames' place.
    onDetections: (batch, first, count) => detections.set(batch.subarray(0, count * perFrame), first * perFrame),
  });
  const ms = performance.now() - started;
  const cameraPixelNm = stack.pixelSizeNm ?? meta.cameraPixelNm;
  const locs = localizeDetections(detections, frames, stack.height, stack.width, { head, cameraPixelNm });
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'detections.f32'), Buffer.from(detections.buffer, detections.byteOffset, detections.byteLength));
  writeFileSync(join(outDir, 'image.f32'), Buffer.from(result.image.buffer, result.image.byteOffset, result.image.byteLength));
  writeFileSync(
    join(outDir, 'meta.json'),
    JSON.stringify(
      {
        frames,
        height: stack.height,
        width: stack.width,
        upsampling: meta.upsampling,
        outputScale: meta.outputScale,
        cameraPixelNm,
        head,
        localizations: locs.length,
        firstLocalizations: locs.slice(0, 20),
        msPerFrame: ms / frames,
      },
      null,
      1,
    ),
  );
  console.log(`${frames} frames ${stack.width}x${stack.height}, grid ${g}: ${locs.length} localizations, ${(ms / frames).toFixed(1)} ms/frame (cpu)`);
} finally {
  await rec.close();
}
