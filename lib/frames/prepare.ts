/**
 * The one place where frames are made to fit the model before inference (Reconstructor.runSource uses it): which
 * camera pixel size applies, whether frames are resampled to the model's pixel size, and whether they are padded to
 * a size the model takes. The plan is made once per call from the source's shape; every chunk then goes through
 * `prepareChunk`, and the output is cropped back with `plan.outHeight/outWidth`.
 */
import { SmlmError } from '../errors.js';
import { plausibleFilePixelSize } from '../io/pixel-size.js';
import { checkFrameSizeForModel } from '../io/validate-stack.js';
import type { ModelMetadata } from '../model/metadata.js';
import type { FramePreparation, Stack } from '../types.js';
import { acceptedSize, padFrames } from './pad.js';
import { resampledLength, resampleFrames } from './resample.js';

/**
 * 'auto': resample frames whose pixels are smaller than the model's (area averaging: noise stays independent from
 * pixel to pixel, as the model saw it), but not larger ones, whose upsampling would smooth single noisy pixels into
 * PSF-sized blobs: measured by benchmarks/resample.ts (bundled unet, 20 simulated frames of 0.5 emitters/um^2,
 * localized, 100 nm match radius), 65 nm frames gave recall/precision 0.979/0.847 resampled against 0.590/0.772 as
 * they were; 160 nm frames 0.986/0.194 upsampled against 0.977/0.688 as they were. 'always' resamples both ways, 'never' neither.
 */
export type ResampleMode = 'auto' | 'always' | 'never';
export const RESAMPLE_MODES: readonly ResampleMode[] = ['auto', 'always', 'never'];

/** Camera and model pixel sizes closer than this (relative) are taken as equal: no resampling. */
export const RESAMPLE_TOLERANCE = 0.02;

export interface PreparationPlan extends FramePreparation {
  /** Frame size the backend sees (resampled, then padded). */
  runHeight: number;
  runWidth: number;
  /** The result image's size (the backend's output cropped back to the unpadded frames). */
  outHeight: number;
  outWidth: number;
}

export interface PreparationOptions {
  /** The caller's camera pixel size (e.g. --pixel-size); overrides the source's. */
  pixelSizeNm?: number;
  /** When to resample frames to the model's pixel size (see ResampleMode). Default 'auto'. */
  resample?: ResampleMode;
  /** Pad frames to a size the model takes. Default true; false refuses such frames (E_FRAME_SIZE_UNSUPPORTED). */
  padFrames?: boolean;
}

/** Decides pixel size, resampling and padding for frames of the source's shape. */
export function planPreparation(shape: { height: number; width: number; pixelSizeNm?: number }, meta: ModelMetadata, modelName: string, options: PreparationOptions): PreparationPlan {
  const file = plausibleFilePixelSize(shape.pixelSizeNm);
  const cameraPixelNm = options.pixelSizeNm ?? file.pixelSizeNm ?? meta.cameraPixelNm;
  const pixelSizeSource = options.pixelSizeNm !== undefined ? 'option' : file.pixelSizeNm !== undefined ? 'file' : 'model';
  const differs = Math.abs(cameraPixelNm / meta.cameraPixelNm - 1) > RESAMPLE_TOLERANCE;
  const plan: PreparationPlan = {
    cameraPixelNm,
    pixelSizeSource,
    ...(file.ignored ? { ignoredCalibration: file.ignored } : {}),
    runHeight: shape.height,
    runWidth: shape.width,
    outHeight: shape.height * meta.upsampling,
    outWidth: shape.width * meta.upsampling,
  };
  let height = shape.height;
  let width = shape.width;
  const mode = options.resample ?? 'auto';
  const wanted = mode === 'always' || (mode === 'auto' && cameraPixelNm < meta.cameraPixelNm);
  if (differs && !wanted && mode === 'auto') {
    plan.notResampled = `${+cameraPixelNm.toFixed(2)} nm camera pixels are larger than the model's ${meta.cameraPixelNm} nm; not upsampled (resample: 'always' would)`;
  }
  if (differs && wanted) {
    height = resampledLength(shape.height, cameraPixelNm, meta.cameraPixelNm);
    width = resampledLength(shape.width, cameraPixelNm, meta.cameraPixelNm);
    plan.resampled = {
      fromNm: cameraPixelNm,
      toNm: meta.cameraPixelNm,
      from: { height: shape.height, width: shape.width },
      to: { height, width },
      method: meta.cameraPixelNm > cameraPixelNm ? 'area' : 'bilinear',
      where: 'host',
    };
  }
  const accepted = acceptedSize(height, width, meta);
  if (accepted.height !== height || accepted.width !== width) {
    if (options.padFrames === false) checkFrameSizeForModel(height, width, meta, modelName);
    plan.padded = { from: { height, width }, to: accepted, mode: 'reflect' };
  }
  plan.runHeight = accepted.height;
  plan.runWidth = accepted.width;
  plan.outHeight = height * meta.upsampling;
  plan.outWidth = width * meta.upsampling;
  if (!Number.isSafeInteger(plan.runHeight * plan.runWidth)) throw new SmlmError('E_FRAME_SIZE_UNSUPPORTED', `frames of ${plan.runWidth} x ${plan.runHeight} px are too large`);
  return plan;
}

/** A chunk of source frames as the backend must see them (a view of the chunk itself when nothing is to be done). */
export function prepareChunk(chunk: Stack, plan: PreparationPlan): Stack {
  let { data, height, width } = chunk;
  if (plan.resampled) {
    const r = resampleFrames(data, chunk.frames, height, width, plan.resampled.fromNm, plan.resampled.toNm);
    ({ data, height, width } = r);
  }
  if (plan.padded) {
    data = padFrames(data, chunk.frames, height, width, plan.runHeight, plan.runWidth);
    ({ height, width } = plan.padded.to);
  }
  return { data, frames: chunk.frames, height, width, pixelSizeNm: plan.resampled ? plan.resampled.toNm : plan.cameraPixelNm };
}
