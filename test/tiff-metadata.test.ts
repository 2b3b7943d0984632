import { describe, expect, it } from 'vitest';
import { nmPerUnit, omePixelSizeNm, parseImageJDescription, pixelSizeNmFromTiff, rationalValue } from '../lib/io/tiff-metadata.js';

describe('TIFF pixel-size metadata', () => {
  it('knows the unit spellings ImageJ and OME write, including the escaped micro sign', () => {
    expect(nmPerUnit('\\u00B5m')).toBe(1000);
    expect(nmPerUnit('µm')).toBe(1000);
    expect(nmPerUnit('micron')).toBe(1000);
    expect(nmPerUnit('nm')).toBe(1);
    expect(nmPerUnit('pixel')).toBeUndefined();
  });

  it('parses an ImageJ description into key/values', () => {
    expect(parseImageJDescription('ImageJ=1.51w\nimages=20\nslices=20\nunit=\\u00B5m\nloop=false\n\0')).toMatchObject({ images: '20', unit: '\\u00B5m', loop: 'false' });
    expect(parseImageJDescription('some camera software')).toBeUndefined();
  });

  it('reads OME PhysicalSizeX with and without a unit, ignoring other elements', () => {
    expect(omePixelSizeNm('<OME><Image><Pixels SizeX="4" PhysicalSizeX="0.1"/></Image></OME>')).toBeCloseTo(100, 9);
    expect(omePixelSizeNm('<OME><Pixels PhysicalSizeX="65" PhysicalSizeXUnit="nm"></Pixels></OME>')).toBe(65);
    expect(omePixelSizeNm('<OME><Pixels SizeX="4"/></OME>')).toBeUndefined();
  });

  it('combines description and tags', () => {
    expect(pixelSizeNmFromTiff({ description: 'ImageJ=1.51w\nunit=\\u00B5m\n', xResolution: 10, resolutionUnit: 1 })).toBeCloseTo(100, 9);
    expect(pixelSizeNmFromTiff({ xResolution: 10, resolutionUnit: 1 })).toBeUndefined();
    expect(pixelSizeNmFromTiff({ xResolution: 1e5, resolutionUnit: 3 })).toBeCloseTo(100, 9);
    expect(pixelSizeNmFromTiff({ xResolution: 300, resolutionUnit: 2 })).toBeUndefined();
    expect(rationalValue(Uint32Array.from([10000000, 1000000]))).toBe(10);
  });
});
