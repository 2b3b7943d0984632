/**
 * Solves a x = b (n x n, row-major, n = b.length) in place by Gaussian elimination with partial pivoting: `a` is
 * overwritten and `b` becomes x. False (singular) when a pivot's magnitude is not above `minPivot`.
 */
export function solveInPlace(a: Float64Array, b: Float64Array, minPivot = 0): boolean {
  const n = b.length;
  for (let k = 0; k < n; k++) {
    let pivot = k;
    for (let r = k + 1; r < n; r++) if (Math.abs(a[r * n + k]) > Math.abs(a[pivot * n + k])) pivot = r;
    if (!(Math.abs(a[pivot * n + k]) > minPivot)) return false;
    if (pivot !== k) {
      for (let c = 0; c < n; c++) [a[k * n + c], a[pivot * n + c]] = [a[pivot * n + c], a[k * n + c]];
      [b[k], b[pivot]] = [b[pivot], b[k]];
    }
    for (let r = k + 1; r < n; r++) {
      const f = a[r * n + k] / a[k * n + k];
      for (let c = k; c < n; c++) a[r * n + c] -= f * a[k * n + c];
      b[r] -= f * b[k];
    }
  }
  for (let k = n - 1; k >= 0; k--) {
    let sum = b[k];
    for (let c = k + 1; c < n; c++) sum -= a[k * n + c] * b[c];
    b[k] = sum / a[k * n + k];
  }
  return true;
}
