import { NAN } from './fastmath.js';
/**
 * In-place selection on `a[0..n)`: afterwards a[k] is the k-th smallest (0-based), everything before it is ≤
 * and everything after it is ≥. Hoare partition with a median-of-three pivot; O(n) expected, no allocation.
 * Values must not be NaN.
 */
export function selectInPlace(a: Float64Array, n: number, k: number): number {
  let lo = 0;
  let hi = n - 1;
  while (hi > lo) {
    if (hi - lo === 1) {
      // Two elements: the median-of-three below needs three distinct indices.
      if (a[hi]! < a[lo]!) {
        const t = a[lo]!;
        a[lo] = a[hi]!;
        a[hi] = t;
      }
      break;
    }
    const mid = (lo + hi) >>> 1;
    let x = a[lo]!;
    let y = a[mid]!;
    let z = a[hi]!;
    // Order lo ≤ mid ≤ hi so the pivot is the median of three and both scans have sentinels.
    if (y < x) {
      const t = x;
      x = y;
      y = t;
    }
    if (z < y) {
      const t = y;
      y = z;
      z = t;
      if (y < x) {
        const u = x;
        x = y;
        y = u;
      }
    }
    a[lo] = x;
    a[mid] = y;
    a[hi] = z;
    const pivot = y;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i]! < pivot) i++;
      while (a[j]! > pivot) j--;
      if (i <= j) {
        const t = a[i]!;
        a[i] = a[j]!;
        a[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else break;
  }
  return a[k]!;
}

/**
 * Median of `a[0..n)` (reorders `a`): the middle value, or the mean of the two middle values for even n —
 * the same number sorting gives.
 */
export function medianInPlace(a: Float64Array, n: number): number {
  if (n === 0) return NAN;
  if (n & 1) return selectInPlace(a, n, (n - 1) >> 1);
  const k = (n >> 1) - 1;
  const lo = selectInPlace(a, n, k);
  let hi = a[k + 1]!;
  for (let i = k + 2; i < n; i++) {
    const v = a[i]!;
    if (v < hi) hi = v;
  }
  return (lo + hi) / 2;
}
