/**
 * Does an ONNX Resize (mode "nearest") with integer factor u copy every input pixel into a u x u block, i.e.
 * out[o] = in[floor(o / u)]? That depends on coordinate_transformation_mode and nearest_mode; rather than trusting a
 * table of combinations, the ONNX formulas are evaluated over whole axes and compared with the replicate mapping.
 */

function sourceCoordinate(mode: string, o: number, scale: number, lengthOut: number): number | undefined {
  switch (mode) {
    case 'half_pixel':
      return (o + 0.5) / scale - 0.5;
    case 'pytorch_half_pixel':
      return lengthOut > 1 ? (o + 0.5) / scale - 0.5 : 0;
    case 'asymmetric':
      return o / scale;
    case 'tf_half_pixel_for_nn':
      return (o + 0.5) / scale;
    default:
      return undefined;
  }
}

function roundNearest(mode: string, x: number): number | undefined {
  switch (mode) {
    case 'round_prefer_floor':
      return x === Math.floor(x) + 0.5 ? Math.floor(x) : Math.round(x);
    case 'round_prefer_ceil':
      return x === Math.floor(x) + 0.5 ? Math.ceil(x) : Math.round(x);
    case 'floor':
      return Math.floor(x);
    case 'ceil':
      return Math.ceil(x);
    default:
      return undefined;
  }
}

/** True when (coordinateMode, nearestMode) at integer factor u is exact pixel replication on every axis length tried. */
export function isNearestReplicate(coordinateMode: string, nearestMode: string, u: number): boolean {
  // align_corners maps pixels by (lengthIn - 1) / (lengthOut - 1), which depends on the frame size: even where it
  // happens to replicate (u = 2 with rounding), a plan must not rest on a property we can only spot-check.
  if (coordinateMode === 'align_corners') return false;
  // Every mode left is periodic in o with period u away from the borders, so a few lengths cover all sizes.
  for (const lengthIn of [1, 2, 3, 7, 16]) {
    const lengthOut = lengthIn * u;
    for (let o = 0; o < lengthOut; o++) {
      const x = sourceCoordinate(coordinateMode, o, u, lengthOut);
      if (x === undefined) return false;
      const r = roundNearest(nearestMode, x);
      if (r === undefined) return false;
      const clamped = Math.min(Math.max(r, 0), lengthIn - 1);
      if (clamped !== Math.floor(o / u)) return false;
    }
  }
  return true;
}
