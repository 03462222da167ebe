import { ML_ERROR, MlError } from './errors.js';

const SQRT_PI = Math.sqrt(Math.PI);

/**
 * Complementary error function to ~1e−15 relative accuracy in the range that matters for p-values.
 * For 0 ≤ x < 2: erf by the all-positive series erf x = (2/√π)·e^{−x²}·Σ 2ⁿx^{2n+1}/(1·3·…·(2n+1)) (no
 * cancellation), then 1 − erf (absolute error ~1e−16, so relative ≤ ~1e−13 at x = 2 where erfc ≈ 4.7e−3).
 * For x ≥ 2: Laplace's continued fraction erfc x = e^{−x²}/√π · 1/(x + ½/(x + 1/(x + 3⁄2/(x + …)))) by the
 * modified Lentz method, which converges in a few dozen terms there. erfc(−x) = 2 − erfc(x).
 */
export function erfc(x: number): number {
  if (Number.isNaN(x)) return Number.NaN;
  if (x < 0) return 2 - erfc(-x);
  if (x < 2) {
    const x2 = x * x;
    let term = x;
    let sum = x;
    for (let n = 1; n < 200; n++) {
      term *= (2 * x2) / (2 * n + 1);
      sum += term;
      if (term < sum * 1e-17) break;
    }
    return 1 - ((2 / SQRT_PI) * Math.exp(-x2) * sum);
  }
  if (x > 27) return 0;
  // Lentz for f = x + a₁/(x + a₂/(x + …)), aₖ = k/2.
  const tiny = 1e-300;
  let f = x;
  let c = x;
  let d = 0;
  for (let k = 1; k < 500; k++) {
    const a = k / 2;
    d = x + a * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = x + a / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return Math.exp(-x * x) / SQRT_PI / f;
}

/** Standard normal CDF Φ(z) = ½·erfc(−z/√2); accurate in both tails. */
export function normalCdf(z: number): number {
  return 0.5 * erfc(-z / Math.SQRT2);
}

const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9; relative error ~1e−15). */
export function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x);
  const z = x - 1;
  let a = LANCZOS[0]!;
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += LANCZOS[i]! / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Continued fraction of the incomplete beta function (modified Lentz). */
function betaContinuedFraction(a: number, b: number, x: number): number {
  const tiny = 1e-300;
  const qab = a + b;
  const qap = a + 1;
  const qam = a - 1;
  let c = 1;
  let d = 1 - (qab * x) / qap;
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 1000; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((qam + m2) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (qab + m) * x) / ((a + m2) * (qap + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-16) break;
  }
  return h;
}

/** Regularised incomplete beta I_x(a, b) for a, b > 0, 0 ≤ x ≤ 1. */
export function regularizedBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const lnFront = logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log1p(-x);
  if (x < (a + 1) / (a + b + 2)) return (Math.exp(lnFront) * betaContinuedFraction(a, b, x)) / a;
  return 1 - (Math.exp(lnFront) * betaContinuedFraction(b, a, 1 - x)) / b;
}

/** Student-t CDF with ν > 0 degrees of freedom: for t < 0, ½·I_{ν/(ν+t²)}(ν/2, ½); symmetric otherwise. */
export function studentTCdf(t: number, nu: number): number {
  if (!(nu > 0)) throw new MlError(ML_ERROR.PARAM, `degrees of freedom must be > 0, got ${nu}`);
  if (Number.isNaN(t)) return Number.NaN;
  const tail = 0.5 * regularizedBeta(nu / (nu + t * t), nu / 2, 0.5);
  return t < 0 ? tail : 1 - tail;
}

export interface DieboldMarianoOptions {
  /** Forecast horizon h; the long-run variance uses h − 1 autocovariance lags (default 1: no lags). */
  horizon?: number;
  /**
   * 'newey-west' (default): Bartlett weights 1 − k/h on lag k, always non-negative. 'truncated': uniform weights, as
   * in Diebold & Mariano (1995) and the derivation of the HLN correction.
   */
  kernel?: 'newey-west' | 'truncated';
  /** Harvey–Leybourne–Newbold (1997) small-sample correction with Student-t(n − 1) p-values (default true). */
  hln?: boolean;
}

export interface DieboldMarianoResult {
  n: number;
  horizon: number;
  /** Mean loss differential d̄ = mean(lossA − lossB); > 0 means A has the larger loss. */
  meanDifferential: number;
  /** Long-run variance of d (γ₀ + 2 Σ w_k γ_k, autocovariances divided by n). */
  longRunVariance: number;
  /** DM = d̄ / √(LRV / n), times the HLN factor when `hln`. */
  statistic: number;
  /** Two-sided p-value (normal, or Student-t(n − 1) with HLN). */
  pValue: number;
  /** One-sided p-value for H₁: B is better than A (E[d] > 0). */
  pValueBLess: number;
}

/**
 * Diebold–Mariano test of equal predictive accuracy on aligned loss series. Throws CORE_ML_DATA for fewer than
 * 3 points, misaligned or non-finite input, or a zero long-run variance (identical or constant differentials).
 */
export function dieboldMariano(lossA: ArrayLike<number>, lossB: ArrayLike<number>, options: DieboldMarianoOptions = {}): DieboldMarianoResult {
  const h = options.horizon ?? 1;
  const kernel = options.kernel ?? 'newey-west';
  const hln = options.hln ?? true;
  const n = lossA.length;
  if (!Number.isSafeInteger(h) || h < 1) throw new MlError(ML_ERROR.PARAM, `DM horizon must be an integer ≥ 1, got ${h}`);
  if (lossB.length !== n) throw new MlError(ML_ERROR.DATA, `DM: series lengths differ (${n} vs ${lossB.length})`);
  if (n < 3 || h >= n) throw new MlError(ML_ERROR.DATA, `DM: need at least 3 points and horizon < n (n = ${n}, h = ${h})`);
  const d = new Float64Array(n);
  let mean = 0;
  for (let i = 0; i < n; i++) {
    const v = lossA[i]! - lossB[i]!;
    if (!Number.isFinite(v)) throw new MlError(ML_ERROR.DATA, `DM: non-finite loss at ${i}`);
    d[i] = v;
    mean += v;
  }
  mean /= n;
  const gamma = (lag: number): number => {
    let s = 0;
    for (let i = lag; i < n; i++) s += (d[i]! - mean) * (d[i - lag]! - mean);
    return s / n;
  };
  let lrv = gamma(0);
  for (let k = 1; k < h; k++) lrv += 2 * (kernel === 'newey-west' ? 1 - k / h : 1) * gamma(k);
  if (!(lrv > 0)) throw new MlError(ML_ERROR.DATA, 'DM: long-run variance of the loss differential is not positive');
  let stat = mean / Math.sqrt(lrv / n);
  let upper: number;
  let lower: number;
  if (hln) {
    stat *= Math.sqrt((n + 1 - 2 * h + (h * (h - 1)) / n) / n);
    upper = 1 - studentTCdf(stat, n - 1);
    lower = studentTCdf(-Math.abs(stat), n - 1);
  } else {
    upper = 0.5 * erfc(stat / Math.SQRT2);
    lower = normalCdf(-Math.abs(stat));
  }
  return { n, horizon: h, meanDifferential: mean, longRunVariance: lrv, statistic: stat, pValue: Math.min(1, 2 * lower), pValueBLess: upper };
}

/**
 * DM on weekly returns of a new and an old strategy, with loss = −return: A = old, B = new, so the differential
 * is d = r_new − r_old and a small `pValueBLess` says the new strategy earns more.
 */
export function dieboldMarianoReturns(weeklyNew: ArrayLike<number>, weeklyOld: ArrayLike<number>, options: DieboldMarianoOptions = {}): DieboldMarianoResult {
  const n = weeklyNew.length;
  const lossNew = new Float64Array(n);
  const lossOld = new Float64Array(weeklyOld.length);
  for (let i = 0; i < n; i++) lossNew[i] = -weeklyNew[i]!;
  for (let i = 0; i < weeklyOld.length; i++) lossOld[i] = -weeklyOld[i]!;
  return dieboldMariano(lossOld, lossNew, options);
}

const WEEK_MS = 7 * 86_400_000;
/** 1970-01-05T00:00Z, a Monday: weeks are ISO weeks (Monday 00:00 UTC). */
const MONDAY_EPOCH_MS = 4 * 86_400_000;

/**
 * Sums per-bar returns into ISO weeks (Monday 00:00 UTC) by bar time in ms; returns the weeks present, in time
 * order (a week without bars is absent, not zero). Sums suit log or small simple returns.
 */
export function weeklySums(timesMs: ArrayLike<number>, returns: ArrayLike<number>): { weekStartMs: number[]; sum: number[] } {
  if (timesMs.length !== returns.length) throw new MlError(ML_ERROR.DATA, 'weeklySums: length mismatch');
  const acc = new Map<number, number>();
  for (let i = 0; i < timesMs.length; i++) {
    const t = timesMs[i]!;
    if (!Number.isFinite(t) || !Number.isFinite(returns[i]!)) throw new MlError(ML_ERROR.DATA, `weeklySums: non-finite value at ${i}`);
    const w = Math.floor((t - MONDAY_EPOCH_MS) / WEEK_MS) * WEEK_MS + MONDAY_EPOCH_MS;
    acc.set(w, (acc.get(w) ?? 0) + returns[i]!);
  }
  const weekStartMs = [...acc.keys()].sort((a, b) => a - b);
  return { weekStartMs, sum: weekStartMs.map((w) => acc.get(w)!) };
}

/**
 * Mean and sample standard deviation (n − 1) of per-fold metric values, for "mean ± std" in CV reports; NaN values
 * (a fold where a metric is undefined, e.g. one class absent) are left out and counted in `missing`.
 */
export function meanStd(values: ArrayLike<number>): { mean: number; std: number; n: number; missing: number } {
  let n = 0;
  let s = 0;
  for (let i = 0; i < values.length; i++) {
    if (Number.isNaN(values[i]!)) continue;
    n++;
    s += values[i]!;
  }
  const mean = n > 0 ? s / n : Number.NaN;
  let ss = 0;
  for (let i = 0; i < values.length; i++) if (!Number.isNaN(values[i]!)) ss += (values[i]! - mean) ** 2;
  return { mean, std: n > 1 ? Math.sqrt(ss / (n - 1)) : Number.NaN, n, missing: values.length - n };
}
