import { FEATURE_ERROR, FeatureError } from '../errors.js';
import { medianInPlace, selectInPlace } from './select.js';
import { NAN, abs, sqrt } from './fastmath.js';

/** Φ⁻¹(3/4): MAD / this estimates σ for normal data (statsmodels' `Gaussian.ppf(3/4)`, the spec's 0.6745). */
export const MAD_NORMAL_QUANTILE = 0.6744897501960817;

/** The spec's MAD→σ factor of the robust switch (1 / 0.6745, rounded as written in the issue). */
export const MAD_SIGMA_FACTOR = 1.4826;

/**
 * Residuals whose std is below this fraction of the largest |y| + |a| + |b·x| in the window are rounding noise of
 * an exact fit (x and y collinear): the switch then does not fire, as 0/0 does not exceed the ratio.
 */
export const PERFECT_FIT = 1e-12;

/** Absolute tolerance on the change of the Huber deviance between IRLS iterations (statsmodels' default). */
export const HUBER_TOL = 1e-8;

/** Scratch arrays for the residual passes; allocate once per window size and reuse (no allocation per bar). */
export class RegressionWorkspace {
  readonly capacity: number;
  /** Residuals in slot order. */
  readonly r: Float64Array;
  /** Selection scratch (reordered by medians). */
  readonly t: Float64Array;
  /** IRLS weights. */
  readonly w: Float64Array;
  /** Values inside the bracket of the IRLS median (see {@link huberRegression}). */
  readonly u: Float64Array;
  /** x and y about their window means (constant over the IRLS iterations of one fit). */
  readonly dx: Float64Array;
  readonly dy: Float64Array;

  constructor(capacity: number) {
    this.capacity = capacity;
    this.r = new Float64Array(capacity);
    this.t = new Float64Array(capacity);
    this.w = new Float64Array(capacity);
    this.u = new Float64Array(capacity);
    this.dx = new Float64Array(capacity);
    this.dy = new Float64Array(capacity);
  }
}

export interface HuberFit {
  intercept: number;
  slope: number;
  /** Last MAD scale (median |r| / Φ⁻¹(3/4)). */
  scale: number;
  /** statsmodels' iteration counter: 1 for the OLS start, +1 per reweighted fit. */
  iterations: number;
  /** The deviance changed by ≤ HUBER_TOL in the last iteration (false when the cap or a zero scale stopped it). */
  converged: boolean;
}

/**
 * Median of |r| given `below` values under the bracket and the `k` bracketed values in `u[0..k)`; NaN when
 * the middle order statistic(s) fall outside the bracket (the caller then selects over all values).
 */
function bracketedMedian(u: Float64Array, k: number, below: number, n: number): number {
  if (n & 1) {
    const h = (n - 1) >> 1;
    if (below > h || h >= below + k) return NAN;
    return selectInPlace(u, k, h - below);
  }
  const h = (n >> 1) - 1;
  if (below > h || h + 1 >= below + k) return NAN;
  const j = h - below;
  const lo = selectInPlace(u, k, j);
  let hi = u[j + 1]!;
  for (let i = j + 2; i < k; i++) if (u[i]! < hi) hi = u[i]!;
  return (lo + hi) / 2;
}

/**
 * Huber M-estimate of y = a + b·x over x[0..n), y[0..n) by IRLS, with the conventions of statsmodels
 * `RLM(y, [1, x], M=HuberT(c)).fit(maxiter, tol=1e−8, scale_est='mad', conv='dev')`, which the fixture was
 * generated with (other choices move β by up to 1e−3 relative on the fixture's outlier windows):
 *  - start at the given OLS fit (a0, b0); scale = median|r| / Φ⁻¹(3/4), i.e. the MAD centred at 0, not at
 *    the median of r, re-estimated from the residuals after every reweighted fit;
 *  - weights w = 1 for |r| ≤ c·scale, else c·scale/|r|; each step is a weighted least-squares fit;
 *  - convergence: |D_k − D_{k−1}| ≤ 1e−8 with D_k = Σ ρ(r_i / σ̂²_k), where σ̂²_k = Σ w r² / (n − 2) is the
 *    (weighted) residual variance of fit k (statsmodels divides by that variance, not by the MAD scale);
 *  - the counter starts at 1 for the OLS fit and the loop stops when it reaches `maxIter`; a zero scale
 *    (perfect fit) stops it too.
 * Each iteration is two O(n) passes; the median of |r| is selected among the values inside a bracket
 * around the previous one (found during the residual pass), falling back to a full selection when the
 * bracket misses, so it is exact either way. Writes into `out` and returns it (no allocation).
 */
export function huberRegression(
  x: Float64Array,
  y: Float64Array,
  n: number,
  c: number,
  maxIter: number,
  a0: number,
  b0: number,
  ws: RegressionWorkspace,
  out: HuberFit,
): HuberFit {
  const r = ws.r;
  const t = ws.t;
  const w = ws.w;
  const u = ws.u;
  const df = n - 2;
  const halfC2 = 0.5 * c * c;
  let cx = 0;
  let cy = 0;
  let ssr = 0;
  for (let i = 0; i < n; i++) {
    const xi = x[i]!;
    const yi = y[i]!;
    cx += xi;
    cy += yi;
    const ri = yi - (a0 + b0 * xi);
    r[i] = ri;
    t[i] = ri < 0 ? -ri : ri;
    ssr += ri * ri;
  }
  // Weighted sums are taken about the window means so that Σw·dx² − (Σw·dx)²/Σw does not cancel.
  cx /= n;
  cy /= n;
  const dxs = ws.dx;
  const dys = ws.dy;
  for (let i = 0; i < n; i++) {
    dxs[i] = x[i]! - cx;
    dys[i] = y[i]! - cy;
  }
  let med = medianInPlace(t, n);
  let scale = med / MAD_NORMAL_QUANTILE;
  let devPrev = rhoSum(r, n, df / ssr, c, halfC2);
  let relStep = 0.05;
  let a = a0;
  let b = b0;
  let iterations = 1;
  let converged = false;
  // The deviance of a fit is summed in the next weighting pass (it reads the same residuals), so an iteration
  // is two passes over the window; the weights of that pass are simply unused when the deviance says stop.
  let pending = false;
  let invS2 = 0;
  for (;;) {
    if (scale === 0) {
      if (pending) {
        const change = abs(rhoSum(r, n, invS2, c, halfC2) - devPrev);
        iterations++;
        converged = change <= HUBER_TOL;
      }
      break;
    }
    const cs = c * scale;
    let sw = 0;
    let sx = 0;
    let sy = 0;
    let sxx = 0;
    let sxy = 0;
    let dev = 0;
    for (let i = 0; i < n; i++) {
      const ri = r[i]!;
      const ar = ri < 0 ? -ri : ri;
      const z = ar * invS2;
      dev += z <= c ? 0.5 * z * z : c * z - halfC2;
      const wi = ar <= cs ? 1 : cs / ar;
      w[i] = wi;
      const dx = dxs[i]!;
      const dy = dys[i]!;
      const wdx = wi * dx;
      sw += wi;
      sx += wdx;
      sy += wi * dy;
      sxx += wdx * dx;
      sxy += wdx * dy;
    }
    if (pending) {
      iterations++;
      const change = abs(dev - devPrev);
      if (!(change > HUBER_TOL && iterations < maxIter)) {
        converged = change <= HUBER_TOL;
        break;
      }
      devPrev = dev;
    }
    const mx = sx / sw;
    const my = sy / sw;
    b = (sxy - sx * my) / (sxx - sx * mx);
    a = cy + my - b * (cx + mx);
    // The bracket only decides how much work finding the (exact) median takes. IRLS medians do not shrink
    // their steps geometrically (they wobble), so a bracket of 5× the last relative change with a 5 % floor
    // misses ~4 % of the time on market-like data (1e−3 and 3× missed ~70 %, each miss a full selection).
    const q = relStep < 0.05 ? 0.05 : relStep > 0.5 ? 0.5 : relStep;
    const blo = med * (1 - q);
    const bhi = med * (1 + q);
    let below = 0;
    let k = 0;
    let wssr = 0;
    for (let i = 0; i < n; i++) {
      const ri = y[i]! - (a + b * x[i]!);
      r[i] = ri;
      const ar = ri < 0 ? -ri : ri;
      wssr += w[i]! * ri * ri;
      if (ar < blo) below++;
      else if (ar <= bhi) u[k++] = ar;
    }
    let m = bracketedMedian(u, k, below, n);
    if (m !== m) {
      // |r| is only materialised when the bracket missed (rare): the common pass stores r alone.
      for (let i = 0; i < n; i++) {
        const ri = r[i]!;
        t[i] = ri < 0 ? -ri : ri;
      }
      m = medianInPlace(t, n);
    }
    relStep = med > 0 ? (5 * abs(m - med)) / med : 0.5;
    med = m;
    scale = m / MAD_NORMAL_QUANTILE;
    invS2 = df / wssr;
    pending = true;
  }
  out.intercept = a;
  out.slope = b;
  out.scale = scale;
  out.iterations = iterations;
  out.converged = converged;
  return out;
}

/** Σ ρ_c(r_i · inv) with Huber's ρ (z²/2 inside ±c, c|z| − c²/2 outside); inv = 1/σ̂². */
function rhoSum(r: Float64Array, n: number, inv: number, c: number, halfC2: number): number {
  let dev = 0;
  for (let i = 0; i < n; i++) {
    const ri = r[i]!;
    const z = (ri < 0 ? -ri : ri) * inv;
    dev += z <= c ? 0.5 * z * z : c * z - halfC2;
  }
  return dev;
}

/**
 * Convenience wrapper (allocates): Huber slope of y on x with intercept, starting at OLS, c = 1.345 and
 * statsmodels' iteration cap of 50 by default.
 */
export function huberSlope(x: ArrayLike<number>, y: ArrayLike<number>, c = 1.345, maxIter = 50): number {
  return huberFit(x, y, c, maxIter).slope;
}

/** Like {@link huberSlope} but returns the whole fit (intercept, slope, scale, iterations, converged). */
export function huberFit(x: ArrayLike<number>, y: ArrayLike<number>, c = 1.345, maxIter = 50): HuberFit {
  const n = x.length;
  if (n !== y.length || n < 3) throw new FeatureError(FEATURE_ERROR.PARAM, `huberFit needs x and y of equal length ≥ 3, got ${n} and ${y.length}`);
  if (!(c > 0) || !Number.isInteger(maxIter) || maxIter < 1) throw new FeatureError(FEATURE_ERROR.PARAM, 'huberFit needs c > 0 and an integer maxIter ≥ 1');
  const xs = Float64Array.from(x);
  const ys = Float64Array.from(y);
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += xs[i]!;
    my += ys[i]!;
  }
  mx /= n;
  my /= n;
  let sxx = 0;
  let sxy = 0;
  for (let i = 0; i < n; i++) {
    sxx += (xs[i]! - mx) * (xs[i]! - mx);
    sxy += (xs[i]! - mx) * (ys[i]! - my);
  }
  const b0 = sxy / sxx;
  const out: HuberFit = { intercept: NAN, slope: NAN, scale: NAN, iterations: 0, converged: false };
  return huberRegression(xs, ys, n, c, maxIter, my - b0 * mx, b0, new RegressionWorkspace(n), out);
}

/**
 * The robust switch as written in the issue: with r = y − (a + b·x) over [0..n), is
 * std / (1.4826 · median|r − median(r)|) > ratio? `std` is the sample std of r, computed from the residuals
 * unless given; an exact fit (see {@link PERFECT_FIT}) never fires. O(n): one
 * selection for median(r); the MAD is decided by counting |r − median(r)| against T = std / (1.4826 · ratio)
 * with a ±1e−9 band and computed exactly (a second selection) only inside the band, so the answer is always
 * that of the formula. Leaves the residuals in `ws.r`.
 */
export function residualMadRatioExceeds(x: Float64Array, y: Float64Array, n: number, a: number, b: number, ratio: number, ws: RegressionWorkspace, std = NAN): boolean {
  const r = ws.r;
  const t = ws.t;
  let s = 0;
  let ss = 0;
  let mag = 0;
  const aa = abs(a);
  for (let i = 0; i < n; i++) {
    const yi = y[i]!;
    const bx = b * x[i]!;
    const ri = yi - (a + bx);
    r[i] = ri;
    t[i] = ri;
    s += ri;
    ss += ri * ri;
    const m = abs(yi) + aa + abs(bx);
    if (m > mag) mag = m;
  }
  const m2 = ss - (s * s) / n;
  const own = sqrt(m2 > 0 ? m2 / (n - 1) : 0);
  if (own <= PERFECT_FIT * mag) return false;
  if (std !== std) std = own;
  const med = medianInPlace(t, n);
  return madDecision(r, n, med, std, ratio, t);
}

/**
 * {@link residualMadRatioExceeds} with a known bracket [mLo, mHi] for median(r): one residual pass computes
 * std(r), counts the residuals below the bracket and collects those inside it, so the median is selected among
 * a few values (a full selection only if the bracket turns out not to hold). Same answer as the formula.
 */
export function bracketedExact(x: Float64Array, y: Float64Array, n: number, a: number, b: number, ratio: number, mLo: number, mHi: number, ws: RegressionWorkspace): boolean {
  const r = ws.r;
  const u = ws.u;
  let below = 0;
  let k = 0;
  let s = 0;
  let ss = 0;
  let mag = 0;
  const aa = abs(a);
  for (let i = 0; i < n; i++) {
    const yi = y[i]!;
    const bx = b * x[i]!;
    const ri = yi - (a + bx);
    r[i] = ri;
    s += ri;
    ss += ri * ri;
    const m = abs(yi) + aa + abs(bx);
    if (m > mag) mag = m;
    if (ri < mLo) below++;
    else if (ri <= mHi) u[k++] = ri;
  }
  const m2 = ss - (s * s) / n;
  const std = sqrt(m2 > 0 ? m2 / (n - 1) : 0);
  if (std <= PERFECT_FIT * mag) return false;
  let med = bracketedMedian(u, k, below, n);
  if (med !== med) {
    const t = ws.t;
    for (let i = 0; i < n; i++) t[i] = r[i]!;
    med = medianInPlace(t, n);
  }
  return madDecision(r, n, med, std, ratio, ws.t);
}

/** Is std / (1.4826 · median|r − med|) > ratio? Counting against T with a 1e−9 band, exact selection inside it. */
function madDecision(r: Float64Array, n: number, med: number, std: number, ratio: number, t: Float64Array): boolean {
  const thr = std / (MAD_SIGMA_FACTOR * ratio);
  const lo = thr * (1 - 1e-9);
  const hi = thr * (1 + 1e-9);
  let below = 0;
  let atMost = 0;
  for (let i = 0; i < n; i++) {
    const d = r[i]! - med;
    const ad = d < 0 ? -d : d;
    if (ad < lo) below++;
    if (ad <= hi) atMost++;
  }
  if (n & 1) {
    const h = (n + 1) >> 1;
    if (below >= h) return true;
    if (atMost < h) return false;
  } else {
    const h = n >> 1;
    if (below >= h + 1) return true;
    if (atMost <= h - 1) return false;
  }
  for (let i = 0; i < n; i++) {
    const d = r[i]! - med;
    t[i] = d < 0 ? -d : d;
  }
  const mad = medianInPlace(t, n);
  return std / (MAD_SIGMA_FACTOR * mad) > ratio;
}
