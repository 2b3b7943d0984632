/**
 * A minimal baseline-TIFF encoder: little-endian, uncompressed, one strip per page, single-channel uint8 / uint16 /
 * float32 pages, an optional description on the first page and resolution tags on every page. smlm-rt writes its
 * own TIFFs because geotiff's writer cannot set the resolution tags and the ImageJ description that make Fiji show
 * the physical scale. Layout: header (8 B) | per page: IFD, RATIONAL/ASCII values, pixels (16-byte aligned).
 */
import { SmlmError } from '../errors.js';
import type { PixelArray } from '../types.js';

export type TiffSampleKind = 'uint8' | 'uint16' | 'float32';

const TYPE = { ASCII: 2, SHORT: 3, LONG: 4, RATIONAL: 5 } as const;
const SAMPLE: Record<TiffSampleKind, { bytes: number; format: number }> = {
  uint8: { bytes: 1, format: 1 },
  uint16: { bytes: 2, format: 1 },
  float32: { bytes: 4, format: 3 },
};

interface Entry {
  tag: number;
  type: number;
  count: number;
  /** Inline value (SHORT/LONG, count 1) or bytes stored after the IFD. */
  value: number | Uint8Array;
}

export interface TiffEncodeOptions {
  width: number;
  height: number;
  sampleType: TiffSampleKind;
  /** Written on the first page (ImageJ and OME read it there). */
  description?: string;
  /** XResolution = YResolution as a [numerator, denominator] rational, with ResolutionUnit `resolutionUnit`. */
  resolution?: [number, number];
  /** TIFF ResolutionUnit: 1 none (ImageJ's choice with `unit=` in the description), 2 inch, 3 cm. Default 1. */
  resolutionUnit?: number;
}

function rationalBytes([num, den]: [number, number]): Uint8Array {
  const bytes = new Uint8Array(8);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, num, true);
  view.setUint32(4, den, true);
  return bytes;
}

function kindOf(data: PixelArray): TiffSampleKind {
  return data instanceof Uint8Array ? 'uint8' : data instanceof Uint16Array ? 'uint16' : 'float32';
}

/** Encodes `pages` frames of `data` (frame-major) as a multi-page TIFF. */
export function encodeTiff(data: PixelArray, pages: number, options: TiffEncodeOptions): Uint8Array {
  const { width, height, sampleType, description, resolution, resolutionUnit = 1 } = options;
  if (!(Number.isInteger(width) && Number.isInteger(height) && Number.isInteger(pages) && width > 0 && height > 0 && pages > 0)) {
    throw new SmlmError('E_BAD_OPTIONS', `cannot encode ${pages} TIFF pages of ${width} x ${height}`);
  }
  if (data.length !== pages * width * height || kindOf(data) !== sampleType) {
    throw new SmlmError('E_BAD_OPTIONS', `TIFF encoder: ${data.length} ${kindOf(data)} values do not make ${pages} ${sampleType} pages of ${width} x ${height}`);
  }
  const sample = SAMPLE[sampleType];
  const pageBytes = width * height * sample.bytes;
  const descBytes = description === undefined ? undefined : new TextEncoder().encode(`${description}\0`);
  const resBytes = resolution ? rationalBytes(resolution) : undefined;

  const pageEntries = (page: number): Entry[] => {
    const entries: Entry[] = [
      { tag: 256, type: TYPE.LONG, count: 1, value: width }, // ImageWidth
      { tag: 257, type: TYPE.LONG, count: 1, value: height }, // ImageLength
      { tag: 258, type: TYPE.SHORT, count: 1, value: sample.bytes * 8 }, // BitsPerSample
      { tag: 259, type: TYPE.SHORT, count: 1, value: 1 }, // Compression: none
      { tag: 262, type: TYPE.SHORT, count: 1, value: 1 }, // PhotometricInterpretation: BlackIsZero
    ];
    if (page === 0 && descBytes) entries.push({ tag: 270, type: TYPE.ASCII, count: descBytes.length, value: descBytes }); // ImageDescription
    entries.push(
      { tag: 273, type: TYPE.LONG, count: 1, value: 0 }, // StripOffsets (set below)
      { tag: 277, type: TYPE.SHORT, count: 1, value: 1 }, // SamplesPerPixel
      { tag: 278, type: TYPE.LONG, count: 1, value: height }, // RowsPerStrip: one strip
      { tag: 279, type: TYPE.LONG, count: 1, value: pageBytes }, // StripByteCounts
    );
    if (resBytes) {
      entries.push(
        { tag: 282, type: TYPE.RATIONAL, count: 1, value: resBytes }, // XResolution
        { tag: 283, type: TYPE.RATIONAL, count: 1, value: resBytes }, // YResolution
        { tag: 296, type: TYPE.SHORT, count: 1, value: resolutionUnit }, // ResolutionUnit
      );
    }
    entries.push({ tag: 339, type: TYPE.SHORT, count: 1, value: sample.format }); // SampleFormat
    return entries;
  };

  // First pass: offsets of every page's IFD, values and pixels.
  const layout: Array<{ ifd: number; entries: Entry[]; extra: Map<Entry, number>; pixels: number }> = [];
  let at = 8;
  for (let page = 0; page < pages; page++) {
    const entries = pageEntries(page);
    const ifd = at;
    at += 2 + entries.length * 12 + 4;
    const extra = new Map<Entry, number>();
    for (const e of entries) {
      if (e.value instanceof Uint8Array) {
        extra.set(e, at);
        at += e.value.length + (e.value.length & 1); // values start on word boundaries
      }
    }
    const pixels = (at + 15) & ~15;
    entries.find((e) => e.tag === 273)!.value = pixels;
    at = pixels + pageBytes;
    layout.push({ ifd, entries, extra, pixels });
  }
  if (at > 0xffffffff) throw new SmlmError('E_BAD_OPTIONS', `${pages} pages of ${width} x ${height} ${sampleType} exceed a classic TIFF's 4 GB`);

  const out = new Uint8Array(at);
  const view = new DataView(out.buffer);
  out.set([0x49, 0x49], 0); // "II": little-endian
  view.setUint16(2, 42, true);
  view.setUint32(4, layout[0].ifd, true);
  layout.forEach(({ ifd, entries, extra, pixels }, page) => {
    view.setUint16(ifd, entries.length, true);
    entries.forEach((e, k) => {
      const slot = ifd + 2 + k * 12;
      view.setUint16(slot, e.tag, true);
      view.setUint16(slot + 2, e.type, true);
      view.setUint32(slot + 4, e.count, true);
      if (e.value instanceof Uint8Array) {
        view.setUint32(slot + 8, extra.get(e)!, true);
        out.set(e.value, extra.get(e)!);
      } else if (e.type === TYPE.SHORT) {
        view.setUint16(slot + 8, e.value, true);
      } else {
        view.setUint32(slot + 8, e.value, true);
      }
    });
    view.setUint32(ifd + 2 + entries.length * 12, layout[page + 1]?.ifd ?? 0, true); // next IFD
    const first = page * width * height;
    const count = width * height;
    if (sampleType === 'uint8') out.set(data.subarray(first, first + count), pixels);
    else if (sampleType === 'uint16') for (let i = 0; i < count; i++) view.setUint16(pixels + 2 * i, data[first + i], true);
    else for (let i = 0; i < count; i++) view.setFloat32(pixels + 4 * i, data[first + i], true);
  });
  return out;
}
