/** A stack's frames as float64 arrays, one per frame: what the estimator's modules (lib/estimate) take. */
export function floatFrames(stack: { data: ArrayLike<number>; frames: number; width: number; height: number }): Float64Array[] {
  const n = stack.width * stack.height;
  return Array.from({ length: stack.frames }, (_, f) => Float64Array.from(Array.prototype.slice.call(stack.data, f * n, (f + 1) * n) as number[]));
}
