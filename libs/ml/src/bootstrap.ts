import { ML_ERROR, MlError } from './errors.js';
import { Rng } from './rng.js';

export interface BootstrapOptions {
  /** Block length in bars (retrain_cv.block_bootstrap_size_bars, default 20). */
  blockSize?: number;
  /** Number of bootstrap resamples (default 2000). */
  resamples?: number;
  /** Seed of the block-start draws (default 0). */
  seed?: number;
  /** Two-sided level: the CI is [q(α/2), q(1 − α/2)] (default 0.05 → 95 %). */
  alpha?: number;
}

export interface BootstrapCi {
  /** The statistic on the original series. */
  estimate: number;
  lower: number;
  upper: number;
  /** Resampled statistics, ascending (non-finite ones dropped). */
  distribution: Float64Array;
}

/**
 * Moving-block bootstrap indices: ⌈n / L⌉ blocks of L consecutive indices, each starting uniformly in [0, n − L],
 * concatenated and cut to n (Künsch 1989). With L ≥ n the block is the whole series.
 */
export function movingBlockIndices(n: number, blockSize: number, rng: Rng, out = new Uint32Array(n)): Uint32Array {
  const L = Math.min(blockSize, n);
  const starts = n - L + 1;
  let k = 0;
  while (k < n) {
    const s = Math.floor(rng.next() * starts);
    for (let j = 0; j < L && k < n; j++) out[k++] = s + j;
  }
  return out;
}

/** Linear-interpolation quantile (type 7) of an ascending array. */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const h = (n - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.min(n - 1, lo + 1);
  return sorted[lo]! + (h - lo) * (sorted[hi]! - sorted[lo]!);
}

/**
 * Percentile confidence interval of `statistic` under the moving-block bootstrap. All series are resampled with the
 * same indices, so aligned series (two strategies over the same bars) keep their pairing. Deterministic for a seed.
 */
export function blockBootstrapCi(
  series: readonly ArrayLike<number>[],
  statistic: (resampled: readonly Float64Array[]) => number,
  options: BootstrapOptions = {},
): BootstrapCi {
  const blockSize = options.blockSize ?? 20;
  const resamples = options.resamples ?? 2000;
  const alpha = options.alpha ?? 0.05;
  if (series.length === 0) throw new MlError(ML_ERROR.DATA, 'bootstrap: no series');
  const n = series[0]!.length;
  if (n < 2) throw new MlError(ML_ERROR.DATA, 'bootstrap: need at least 2 points');
  for (const s of series) if (s.length !== n) throw new MlError(ML_ERROR.DATA, 'bootstrap: series are not aligned (lengths differ)');
  if (!Number.isSafeInteger(blockSize) || blockSize < 1) throw new MlError(ML_ERROR.PARAM, `bootstrap: blockSize must be an integer ≥ 1, got ${blockSize}`);
  if (!Number.isSafeInteger(resamples) || resamples < 1) throw new MlError(ML_ERROR.PARAM, `bootstrap: resamples must be an integer ≥ 1, got ${resamples}`);
  if (!(alpha > 0 && alpha < 1)) throw new MlError(ML_ERROR.PARAM, `bootstrap: alpha must be in (0, 1), got ${alpha}`);

  const original = series.map((s) => Float64Array.from(s));
  const estimate = statistic(original);
  const rng = new Rng(options.seed ?? 0);
  const idx = new Uint32Array(n);
  const buf = series.map(() => new Float64Array(n));
  const dist = new Float64Array(resamples);
  let m = 0;
  for (let r = 0; r < resamples; r++) {
    movingBlockIndices(n, blockSize, rng, idx);
    for (let s = 0; s < series.length; s++) {
      const src = original[s]!;
      const dst = buf[s]!;
      for (let i = 0; i < n; i++) dst[i] = src[idx[i]!]!;
    }
    const v = statistic(buf);
    if (Number.isFinite(v)) dist[m++] = v;
  }
  const distribution = dist.slice(0, m).sort();
  return { estimate, lower: quantileSorted(distribution, alpha / 2), upper: quantileSorted(distribution, 1 - alpha / 2), distribution };
}

export function mean(x: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i]!;
  return s / x.length;
}

/** mean / sample standard deviation (n − 1) × √periodsPerYear; NaN for a constant series. */
export function sharpeRatio(x: ArrayLike<number>, periodsPerYear = 1): number {
  const m = mean(x);
  let ss = 0;
  for (let i = 0; i < x.length; i++) ss += (x[i]! - m) * (x[i]! - m);
  const sd = Math.sqrt(ss / (x.length - 1));
  return sd > 0 ? (m / sd) * Math.sqrt(periodsPerYear) : Number.NaN;
}

/** 95 % (by default) CI of the mean of a series. */
export function bootstrapMeanCi(x: ArrayLike<number>, options: BootstrapOptions = {}): BootstrapCi {
  return blockBootstrapCi([x], (r) => mean(r[0]!), options);
}

/** CI of the Sharpe ratio of a return series (annualised with `periodsPerYear`). */
export function bootstrapSharpeCi(returns: ArrayLike<number>, periodsPerYear = 1, options: BootstrapOptions = {}): BootstrapCi {
  return blockBootstrapCi([returns], (r) => sharpeRatio(r[0]!, periodsPerYear), options);
}

/**
 * CI of stat(a) − stat(b) for aligned series resampled jointly (default stat: the mean, i.e. the mean of a − b).
 * The adoption gate passes when `lower ≥ 0` for a = new, b = old.
 */
export function bootstrapDifferenceCi(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  stat: (x: Float64Array) => number = mean,
  options: BootstrapOptions = {},
): BootstrapCi {
  return blockBootstrapCi([a, b], (r) => stat(r[0]!) - stat(r[1]!), options);
}
