/** Mean and (population) variance of a set of values: a simulator's pixels, draws of a distribution. */
export function moments(values: ArrayLike<number>): { mean: number; variance: number } {
  let sum = 0;
  let squares = 0;
  for (let i = 0; i < values.length; i++) {
    sum += values[i];
    squares += values[i] * values[i];
  }
  const mean = sum / values.length;
  return { mean, variance: squares / values.length - mean * mean };
}
