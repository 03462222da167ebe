/**
 * Quantile binning. Each feature gets ascending upper bounds `ub` (the last is +∞): value x falls in the first
 * bin k with x < ub[k], so "bin ≤ k" ⇔ "x < ub[k]" — a split after bin k is exactly the XGBoost rule
 * `x < threshold` with threshold = ub[k]. The bounds are observed values (the smallest value of the next bin),
 * never midpoints, so the rule holds without rounding doubts. NaN goes to the feature's missing bin, which is
 * the bin right after its value bins.
 */
export interface FeatureBins {
  /** Upper bounds per feature; `upper[f].length` = number of value bins of f, last entry +∞. */
  upper: Float64Array[];
  /** Missing-bin index per feature (= number of value bins). */
  missingBin: Int32Array;
  /** Whether the feature had any NaN in the training data. */
  hasMissing: Uint8Array;
}

/**
 * Builds unweighted quantile bounds from row-major `x` (rows × cols): at most maxBin − 1 value bins per feature.
 * When a feature has few enough distinct values each gets its own bin; otherwise the bounds are the values at
 * ranks ⌊k·m/B⌋ (deduplicated), so each bin holds about m/B of the m non-missing values.
 */
export function buildBins(x: Float64Array, rows: number, cols: number, maxBin: number): FeatureBins {
  const valueBins = maxBin - 1;
  const upper: Float64Array[] = [];
  const missingBin = new Int32Array(cols);
  const hasMissing = new Uint8Array(cols);
  const buf = new Float64Array(rows);
  for (let f = 0; f < cols; f++) {
    let m = 0;
    for (let r = 0; r < rows; r++) {
      const v = x[r * cols + f]!;
      if (v === v) buf[m++] = v;
      else hasMissing[f] = 1;
    }
    const sorted = buf.subarray(0, m).sort();
    let distinct = 0;
    for (let i = 0; i < m; i++) if (i === 0 || sorted[i] !== sorted[i - 1]) distinct++;
    const bounds: number[] = [];
    if (distinct <= valueBins) {
      for (let i = 1; i < m; i++) if (sorted[i] !== sorted[i - 1]) bounds.push(sorted[i]!);
    } else {
      const lo = sorted[0]!;
      let last = lo;
      for (let k = 1; k < valueBins; k++) {
        const c = sorted[Math.floor((k * m) / valueBins)]!;
        if (c > last) {
          bounds.push(c);
          last = c;
        }
      }
    }
    bounds.push(Number.POSITIVE_INFINITY);
    upper.push(Float64Array.from(bounds));
    missingBin[f] = bounds.length;
  }
  return { upper, missingBin, hasMissing };
}

/** Bin index of one value under the bounds of a feature. */
export function binOf(v: number, ub: Float64Array, missing: number): number {
  if (v !== v) return missing;
  let lo = 0;
  let hi = ub.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (v < ub[mid]!) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** Row-major bin codes (rows × cols) of `x`; row-major because histogram building walks rows of a node. */
export function binMatrix(x: Float64Array, rows: number, cols: number, bins: FeatureBins): Uint8Array {
  const out = new Uint8Array(rows * cols);
  for (let f = 0; f < cols; f++) {
    const ub = bins.upper[f]!;
    const miss = bins.missingBin[f]!;
    for (let r = 0; r < rows; r++) out[r * cols + f] = binOf(x[r * cols + f]!, ub, miss);
  }
  return out;
}
