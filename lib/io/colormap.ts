/**
 * A perceptual colormap generated (not copied) in OKLab: lightness rises linearly from near-black to near-white, so
 * equal steps in value look like equal steps in brightness, while the hue turns from violet through red and orange
 * to pale yellow (the look of magma/inferno that microscopists know). Colours outside sRGB keep their lightness
 * and hue and lose chroma until they fit.
 */

/** OKLab -> linear sRGB (Ottosson's published matrices). */
function oklabToLinearSrgb(L: number, a: number, b: number): [number, number, number] {
  const l = (L + 0.3963377774 * a + 0.2158037573 * b) ** 3;
  const m = (L - 0.1055613458 * a - 0.0638541728 * b) ** 3;
  const s = (L - 0.0894841775 * a - 1.291485548 * b) ** 3;
  return [
    4.0767416621 * l - 3.3077115913 * m + 0.2309699292 * s,
    -1.2684380046 * l + 2.6097574011 * m - 0.3413193965 * s,
    -0.0041960863 * l - 0.7034186147 * m + 1.707614701 * s,
  ];
}

function srgbEncode(c: number): number {
  const v = c <= 0.0031308 ? 12.92 * c : 1.055 * c ** (1 / 2.4) - 0.055;
  return Math.round(255 * Math.min(1, Math.max(0, v)));
}

function inGamut(rgb: [number, number, number]): boolean {
  return rgb.every((c) => c >= -1e-6 && c <= 1 + 1e-6);
}

/** The colour at t in [0, 1] as [r, g, b] bytes. */
export function colormapAt(t: number): [number, number, number] {
  const u = Math.min(1, Math.max(0, t));
  const L = 0.1 + 0.87 * u;
  const hue = ((300 + 165 * u) * Math.PI) / 180; // violet (300 deg) -> red -> orange -> yellow (105 deg)
  let chroma = 0.19 * Math.sin(Math.PI * (0.12 + 0.8 * u)) + 0.02;
  let rgb = oklabToLinearSrgb(L, chroma * Math.cos(hue), chroma * Math.sin(hue));
  // Bisection on chroma: the largest in-gamut chroma at this lightness and hue.
  if (!inGamut(rgb)) {
    let lo = 0;
    let hi = chroma;
    for (let k = 0; k < 30; k++) {
      const mid = (lo + hi) / 2;
      if (inGamut(oklabToLinearSrgb(L, mid * Math.cos(hue), mid * Math.sin(hue)))) lo = mid;
      else hi = mid;
    }
    chroma = lo;
    rgb = oklabToLinearSrgb(L, chroma * Math.cos(hue), chroma * Math.sin(hue));
  }
  return [srgbEncode(rgb[0]), srgbEncode(rgb[1]), srgbEncode(rgb[2])];
}

let lut: Uint8Array | undefined;

/** The 256-entry lookup table, r,g,b interleaved (768 bytes), computed once. */
export function colormapLut(): Uint8Array {
  if (!lut) {
    lut = new Uint8Array(256 * 3);
    for (let i = 0; i < 256; i++) lut.set(colormapAt(i / 255), 3 * i);
  }
  return lut;
}
