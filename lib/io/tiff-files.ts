/**
 * Many TIFF files (e.g. one per frame, as many acquisition programs write them) read as one stack: a FrameSource
 * composed over openTiffStack, file after file, so the TIFF reader itself knows nothing about folders.
 */
import { SmlmError } from '../errors.js';
import type { PixelArray, Stack } from '../types.js';
import type { FrameSource } from './frame-source.js';
import { openTiffStack } from './tiff-read.js';

export interface TiffFilesSource extends FrameSource {
  readonly paths: readonly string[];
  close(): Promise<void>;
}

/** Joins consecutive frame arrays into one of the same type. */
function concat(parts: PixelArray[], length: number): PixelArray {
  const out = new (parts[0].constructor as new (n: number) => PixelArray)(length);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * Opens `paths` (in the order given) as one stack. Every file is opened once here to check that all frames have one
 * size and sample type and to count them (E_FRAME_SIZE_MISMATCH / E_UNSUPPORTED_SAMPLE_FORMAT naming the file), then
 * read again, in order, when the frames are asked for. The pixel size is the first file's.
 */
export async function openTiffFiles(paths: readonly string[]): Promise<TiffFilesSource> {
  if (paths.length === 0) throw new SmlmError('E_EMPTY_STACK', 'no TIFF files to read');
  const counts: number[] = [];
  let shape: { height: number; width: number; sampleType: string; pixelSizeNm?: number } | undefined;
  for (const path of paths) {
    const file = await openTiffStack(path);
    try {
      if (!shape) shape = { height: file.height, width: file.width, sampleType: file.sampleType, pixelSizeNm: file.pixelSizeNm };
      else if (file.height !== shape.height || file.width !== shape.width) {
        throw new SmlmError('E_FRAME_SIZE_MISMATCH', `${path} has ${file.width} x ${file.height} px frames, but ${paths[0]} has ${shape.width} x ${shape.height}`, { path });
      } else if (file.sampleType !== shape.sampleType) {
        throw new SmlmError('E_UNSUPPORTED_SAMPLE_FORMAT', `${path} holds ${file.sampleType} pixels, but ${paths[0]} holds ${shape.sampleType}; one stack needs one type`, { path });
      }
      counts.push(file.frames);
    } finally {
      await file.close();
    }
  }
  const { height, width, pixelSizeNm } = shape!;
  const frames = counts.reduce((a, b) => a + b, 0);
  return {
    paths,
    frames,
    height,
    width,
    pixelSizeNm,
    async close() {
      // Files are opened only while their frames are read; nothing stays open.
    },
    async *chunks(framesPerChunk: number): AsyncIterable<Stack> {
      const pixels = height * width;
      let pending: PixelArray[] = [];
      let pendingFrames = 0;
      const flush = (): Stack => {
        const data = pending.length === 1 ? pending[0] : concat(pending, pendingFrames * pixels);
        const chunk = { data, frames: pendingFrames, height, width, pixelSizeNm };
        pending = [];
        pendingFrames = 0;
        return chunk;
      };
      for (const path of paths) {
        const file = await openTiffStack(path);
        try {
          for await (const part of file.chunks(framesPerChunk)) {
            // Files of one frame each are gathered into chunks of framesPerChunk frames (copies, as a chunk is one array).
            let offset = 0;
            while (offset < part.frames) {
              const take = Math.min(part.frames - offset, framesPerChunk - pendingFrames);
              pending.push(part.data.slice(offset * pixels, (offset + take) * pixels));
              pendingFrames += take;
              offset += take;
              if (pendingFrames === framesPerChunk) yield flush();
            }
          }
        } finally {
          await file.close();
        }
      }
      if (pendingFrames > 0) yield flush();
    },
  };
}
