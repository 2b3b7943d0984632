/**
 * Physical pixel size from the places microscopy TIFFs keep it: an ImageJ description (`unit=` + XResolution in
 * pixels per unit), OME-XML (`PhysicalSizeX` + `PhysicalSizeXUnit`), or plain TIFF resolution tags in cm or inch.
 */

const NM_PER_UNIT: Record<string, number> = {
  nm: 1,
  nanometer: 1,
  nanometre: 1,
  um: 1000,
  'µm': 1000, // micro sign U+00B5
  'μm': 1000, // Greek mu U+03BC
  micron: 1000,
  microns: 1000,
  micrometer: 1000,
  micrometre: 1000,
  mm: 1e6,
  millimeter: 1e6,
  cm: 1e7,
  centimeter: 1e7,
  m: 1e9,
  meter: 1e9,
  'Å': 0.1,
  angstrom: 0.1,
  inch: 2.54e7,
};

/** nm per unit for a unit spelling, or undefined (e.g. "pixel" or unknown). ImageJ writes µ as the text "\u00B5". */
export function nmPerUnit(unit: string): number | undefined {
  const clean = unit.trim().replace(/\\u00b5/gi, 'µ').replace(/\\u03bc/gi, 'μ');
  return NM_PER_UNIT[clean] ?? NM_PER_UNIT[clean.toLowerCase()];
}

/** Key/value lines of an ImageJ description ("ImageJ=1.54f\nimages=20\nunit=micron\n..."), or undefined. */
export function parseImageJDescription(description: string | undefined): Record<string, string> | undefined {
  if (!description || !description.startsWith('ImageJ=')) return undefined;
  const props: Record<string, string> = {};
  for (const line of description.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) props[line.slice(0, eq).trim()] = line.slice(eq + 1).replace(/\0/g, '').trim();
  }
  return props;
}

/** PhysicalSizeX of the first OME Pixels element, in nm, or undefined. OME's default unit is µm. */
export function omePixelSizeNm(description: string | undefined): number | undefined {
  if (!description || !description.includes('<OME')) return undefined;
  const pixels = /<(?:\w+:)?Pixels\b[^>]*>/.exec(description)?.[0];
  if (!pixels) return undefined;
  const size = /\bPhysicalSizeX="([^"]+)"/.exec(pixels)?.[1];
  if (size === undefined) return undefined;
  const unit = /\bPhysicalSizeXUnit="([^"]+)"/.exec(pixels)?.[1] ?? 'µm';
  const perUnit = nmPerUnit(unit);
  const value = Number(size);
  if (perUnit === undefined || !(value > 0) || !Number.isFinite(value)) return undefined;
  return value * perUnit;
}

/** A TIFF RATIONAL as geotiff returns it ([num, den]) or a plain number, as a number. */
export function rationalValue(value: unknown): number | undefined {
  if (typeof value === 'number') return value;
  if (value && typeof value === 'object' && 'length' in value) {
    const arr = value as ArrayLike<number>;
    if (arr.length >= 2 && arr[1] !== 0) return arr[0] / arr[1];
    if (arr.length === 1) return arr[0];
  }
  return undefined;
}

export interface PixelSizeSources {
  description?: string;
  /** XResolution, pixels per resolution unit. */
  xResolution?: number;
  /** TIFF ResolutionUnit: 1 none, 2 inch, 3 cm. */
  resolutionUnit?: number;
}

/**
 * Camera pixel size in nm, or undefined when the file does not say. Plain resolution tags (no ImageJ/OME metadata)
 * are trusted only between 1 nm and 20 µm per pixel (a camera pixel seen through a microscope): scanners and
 * screenshots write 72 or 300 dpi (353 or 85 µm), which must not be taken for a pixel size.
 */
export function pixelSizeNmFromTiff({ description, xResolution, resolutionUnit }: PixelSizeSources): number | undefined {
  const ome = omePixelSizeNm(description);
  if (ome !== undefined) return ome;
  const xres = xResolution !== undefined && Number.isFinite(xResolution) && xResolution > 0 ? xResolution : undefined;
  const imagej = parseImageJDescription(description);
  if (imagej) {
    const perUnit = imagej.unit === undefined ? undefined : nmPerUnit(imagej.unit);
    if (perUnit === undefined || xres === undefined) return undefined;
    return perUnit / xres;
  }
  if (xres === undefined) return undefined;
  const perUnit = resolutionUnit === 3 ? 1e7 : resolutionUnit === 2 ? 2.54e7 : undefined;
  if (perUnit === undefined) return undefined;
  const nm = perUnit / xres;
  return nm >= 1 && nm <= 2e4 ? nm : undefined;
}
