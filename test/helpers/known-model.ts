/**
 * A model whose output can be computed by hand, for tests of the whole reconstruction path:
 *   frames [N,1,H,W] -> Conv 1x1 to 4 channels (weights W, bias B) -> DepthToSpace(2) -> maps [N,1,2H,2W]
 * so  map[2y+i, 2x+j] = W[2i+j] * norm(frame)[y, x] + B[2i+j],  norm = per-frame min-max then (v - mean) / std.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serializeModelMetadata, type ModelMetadata } from '../../lib/model/metadata.js';
import { OnnxModelBuilder } from '../../lib/model/onnx-builder.js';

export const KNOWN_WEIGHTS = [1, -1, 2, 0.5] as const;
export const KNOWN_BIAS = [0, 0.5, -1, 0.25] as const;

export const KNOWN_METADATA: ModelMetadata = {
  architecture: 'known-answer-1x1',
  upsampling: 2,
  cameraPixelNm: 100,
  outputPixelNm: 50,
  normalization: { kind: 'minmax-zscore', mean: 0.5, std: 0.25 },
  outputScale: 2,
  sizeMultiple: 2,
  minSize: 2,
  training: { note: 'hand-set weights for tests' },
};

/** `metadata: null` builds the same graph without any metadata_props. */
export function makeKnownModel(metadata: Record<string, string> | null = serializeModelMetadata(KNOWN_METADATA)): Uint8Array {
  const b = new OnnxModelBuilder();
  const x = b.addInput('frames', ['N', 1, 'H', 'W']);
  const y = b.conv(x, { weight: Float32Array.from(KNOWN_WEIGHTS), weightDims: [4, 1, 1, 1], bias: Float32Array.from(KNOWN_BIAS), pads: [0, 0, 0, 0] });
  b.addOutput('maps', ['N', 1, 'OH', 'OW'], b.depthToSpace(y, 2));
  return b.build(metadata ? { metadata } : {});
}

/** The expected reconstruction for `makeKnownModel`, computed independently in float64 (in output units, i.e. / outputScale). */
export function expectedKnownImage(data: ArrayLike<number>, frames: number, height: number, width: number): { image: Float64Array; maps: Float64Array } {
  const { mean, std } = KNOWN_METADATA.normalization;
  const outW = 2 * width;
  const outPixels = 4 * height * width;
  const image = new Float64Array(outPixels);
  const maps = new Float64Array(frames * outPixels);
  for (let f = 0; f < frames; f++) {
    const frame = Array.from({ length: height * width }, (_, i) => data[f * height * width + i]);
    const min = Math.min(...frame);
    const max = Math.max(...frame);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const scaled = max > min ? (frame[y * width + x] - min) / (max - min) : 0;
        const n = (scaled - mean) / std;
        for (let i = 0; i < 2; i++) {
          for (let j = 0; j < 2; j++) {
            const v = Math.max(0, KNOWN_WEIGHTS[2 * i + j] * n + KNOWN_BIAS[2 * i + j]) / KNOWN_METADATA.outputScale;
            const at = (2 * y + i) * outW + 2 * x + j;
            maps[f * outPixels + at] = v;
            image[at] += v;
          }
        }
      }
    }
  }
  return { image, maps };
}

/** Writes ONNX bytes to a fresh temp folder and returns the path. */
export function writeTempModel(bytes: Uint8Array, name = 'model.onnx'): string {
  const dir = mkdtempSync(join(tmpdir(), 'smlm-rt-model-'));
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}
