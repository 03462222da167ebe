import { FEATURE_ERROR, FeatureError } from '../errors.js';
import { asRecord, decodeInt, stateError } from './codec.js';
import { RollingOls, type CovarianceState } from './covariance.js';
import { MAD_SIGMA_FACTOR, RegressionWorkspace, bracketedExact, huberRegression, residualMadRatioExceeds, type HuberFit } from './huber.js';
import { RollingMinMax } from './minmax.js';
import { EPS, INF, NAN, abs, sqrt } from './fastmath.js';

/** u is re-based on the current slope (a re-sort, usually ~2n steps) once the drift bound ε exceeds this fraction of T. */
const REBUILD_FRACTION = 1;
/**
 * When the bound cannot decide and ε is above this fraction of T, re-basing (which sets ε = 0) and deciding again
 * is cheaper than the exact pass and also tightens the bound for the next bars; below it the bound is undecided
 * because MAD(r) is genuinely close to T and the exact pass is the better choice.
 */
const REDECIDE_FRACTION = 0.1;

const SHELL_GAPS = [701, 301, 132, 57, 23, 10, 4, 1];

function lowerBound(a: Float64Array, n: number, v: number): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function upperBound(a: Float64Array, n: number, v: number): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! <= v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Decides the robust switch std(r) / (1.4826 · MAD(r)) > ratio over the OLS residuals r_i = y_i − a − b·x_i of a
 * full window, usually in O(log n) instead of O(n).
 *
 * It keeps u_i = y_i − b₀·x_i (b₀: the OLS slope at the last rebuild) sorted. With δ = b − b₀ and c the middle
 * of the window's x range, r_i = (u_i − a − δ·c) − δ·(x_i − c): up to a common shift, every residual is within
 * ε = |δ|·(max x − min x)/2 of u_i. Medians are shift-invariant and 1-Lipschitz in the sup norm, so each
 * |r_i − median(r)| is within 2ε of |u_i − median(u)|. Hence, with T = std / (1.4826 · ratio) and a margin
 * of 2ε plus rounding slack, counting u within median(u) ± (T ∓ margin) by binary search proves MAD(r) < T
 * (fire) or MAD(r) > T (no fire). When it cannot decide and ε is not small ({@link REDECIDE_FRACTION}), b₀ is
 * reset to b (u re-sorted from the previous order, insertion sort) and the bound is tried again with ε = 0; on
 * typical data MAD(r)/T spreads over ~1.2–2.8 while ε grows by ~0.05·T per bar, so this settles nearly every
 * bar. Only when it still cannot decide (MAD(r) genuinely within the margin of T) is the formula evaluated
 * exactly in one residual pass: median(r) lies within ε of median(u) − a − δ·c, so it is selected among the
 * few residuals in that bracket, and the MAD is decided by counting (selected exactly only within a 1e−9 band
 * of T). The answer is therefore always the formula's. When ε exceeds {@link REBUILD_FRACTION}·T, u is
 * re-based as well.
 *
 * Its state is derived from the window, so snapshots do not carry it (it is rebuilt lazily after a restore).
 */
export class MadRatioSwitch {
  readonly window: number;
  readonly ratio: number;
  private readonly uSlot: Float64Array;
  private readonly su: Float64Array;
  private readonly sSlot: Int32Array;
  private readonly xr: RollingMinMax;
  private b0 = NAN;
  private everBuilt = false;
  private mu = 0;
  private slk = 0;
  // Inputs of decide() (fields, not arguments: see exceeds()).
  private dT = 0;
  private dEps = 0;
  private dA = 0;
  private dB = 0;
  private dXmag = 0;
  private dYBound = 0;
  /** Decisions taken by the O(log n) bound / by the exact formula, and re-sorts (diagnostics). */
  fastDecisions = 0;
  exactDecisions = 0;
  rebuilds = 0;

  constructor(window: number, ratio: number) {
    this.window = window;
    this.ratio = ratio;
    this.uSlot = new Float64Array(window);
    this.su = new Float64Array(window);
    this.sSlot = new Int32Array(window);
    this.xr = new RollingMinMax(window);
  }

  /** Forgets the sorted u (after a restore); the x range is re-fed from the window. */
  reset(xs: { count: number; get(i: number): number }): void {
    this.b0 = NAN;
    this.xr.reset();
    for (let i = 0; i < xs.count; i++) this.xr.push(xs.get(i));
  }

  /** Call after the OLS window wrote (x, y) into `slot`; `replaced` when that slot held an evicted pair. */
  track(slot: number, x: number, y: number, replaced: boolean): void {
    this.xr.push(x);
    const b0 = this.b0;
    if (b0 !== b0) return;
    const u = y - b0 * x;
    const n = this.window;
    const su = this.su;
    const ss = this.sSlot;
    if (!replaced) return;
    const old = this.uSlot[slot]!;
    this.uSlot[slot] = u;
    let p = lowerBound(su, n, old);
    while (p < n && ss[p] !== slot) p++;
    if (p === n) {
      // Unreachable while u is computed identically on insert and removal; re-sort rather than corrupt order.
      this.b0 = NAN;
      return;
    }
    if (u > old) {
      const q = lowerBound(su, n, u) - 1;
      if (q > p) {
        su.copyWithin(p, p + 1, q + 1);
        ss.copyWithin(p, p + 1, q + 1);
      }
      su[q] = u;
      ss[q] = slot;
    } else if (u < old) {
      const q = upperBound(su, n, u);
      if (q < p) {
        su.copyWithin(q + 1, q, p);
        ss.copyWithin(q + 1, q, p);
      }
      su[q] = u;
      ss[q] = slot;
    } else {
      su[p] = u;
    }
  }

  private build(xs: Float64Array, ys: Float64Array, b: number): void {
    const n = this.window;
    const su = this.su;
    const ss = this.sSlot;
    const us = this.uSlot;
    this.b0 = b;
    if (!this.everBuilt) {
      for (let k = 0; k < n; k++) ss[k] = k;
      this.everBuilt = true;
    }
    // The previous order is nearly right for a nearby slope: u is recomputed in that order and inserted on the
    // fly (insertion sort: n + inversions steps, usually a few n). Past a budget of moves (a regime change
    // scrambled the order) Shell sort finishes the rest in O(n^1.3).
    let budget = 16 * n;
    for (let k = 0; k < n; k++) {
      const slot = ss[k]!;
      const v = ys[slot]! - b * xs[slot]!;
      us[slot] = v;
      let j = k - 1;
      if (budget >= 0) {
        while (j >= 0 && su[j]! > v) {
          su[j + 1] = su[j]!;
          ss[j + 1] = ss[j]!;
          j--;
        }
        budget -= k - 1 - j;
      }
      su[j + 1] = v;
      ss[j + 1] = slot;
    }
    if (budget < 0) this.shellSort();
    this.rebuilds++;
  }

  private shellSort(): void {
    const n = this.window;
    const su = this.su;
    const ss = this.sSlot;
    for (const gap of SHELL_GAPS) {
      if (gap >= n) continue;
      for (let k = gap; k < n; k++) {
        const v = su[k]!;
        const s = ss[k]!;
        let j = k - gap;
        while (j >= 0 && su[j]! > v) {
          su[j + gap] = su[j]!;
          ss[j + gap] = ss[j]!;
          j -= gap;
        }
        su[j + gap] = v;
        ss[j + gap] = s;
      }
    }
  }

  /**
   * The switch for the full window of `ols` with its OLS fit (a, b). std(r) = sqrt(ssr / (n − 1)) from the running
   * sums is exact up to ~1e−11·syy/ssr relative, so the bound is used only while
   * ssr ≥ 1e−3·syy (R² ≤ 0.999) and with T widened by 1e−7 relative; otherwise, and whenever the bound cannot
   * decide, the formula is evaluated on the residuals themselves. Reads the `fit*` fields: call `ols.fit()` first.
   */
  exceeds(ols: RollingOls, ws: RegressionWorkspace): boolean {
    // Inputs are read here rather than passed in: doubles passed to (or returned from) a call that is not
    // inlined are boxed, and this runs every bar.
    const n = this.window;
    const xs = ols.xs.data;
    const ys = ols.ys.data;
    const a = ols.fitIntercept;
    const b = ols.fitSlope;
    const ssr = ols.fitSsr;
    const syy = ols.fitSyy;
    const T = sqrt(ssr / (n - 1)) / (MAD_SIGMA_FACTOR * this.ratio);
    if (!(T > 0 && T < INF && ssr >= 1e-3 * syy)) {
      this.exactDecisions++;
      return residualMadRatioExceeds(xs, ys, n, a, b, this.ratio, ws);
    }
    const yBound = abs(ols.fitMeanY) + sqrt(syy);
    if (this.b0 !== this.b0) this.build(xs, ys, b);
    const xmax = this.xr.hi;
    const xmin = this.xr.lo;
    const xmag = xmax > -xmin ? xmax : -xmin;
    let eps = abs(b - this.b0) * 0.5 * (xmax - xmin);
    if (eps > REBUILD_FRACTION * T) {
      this.build(xs, ys, b);
      eps = 0;
    }
    this.dT = T;
    this.dEps = eps;
    this.dA = a;
    this.dB = b;
    this.dXmag = xmag;
    this.dYBound = yBound;
    let d = this.decide();
    if (d < 0 && eps > REDECIDE_FRACTION * T) {
      this.build(xs, ys, b);
      eps = 0;
      this.dEps = 0;
      d = this.decide();
    }
    if (d >= 0) {
      this.fastDecisions++;
      return d === 1;
    }
    this.exactDecisions++;
    // decide() left median(u) and the rounding slack in fields: no boxed doubles returned on the per-bar path.
    const centre = this.mu - a - (b - this.b0) * 0.5 * (xmax + xmin);
    const half = eps * (1 + 1e-12) + this.slk + 64 * EPS * abs(centre);
    return bracketedExact(xs, ys, n, a, b, this.ratio, centre - half, centre + half, ws);
  }

  /** 1 = MAD(r) < T proven, 0 = MAD(r) > T proven, −1 = undecided. */
  private decide(): number {
    const T = this.dT;
    const eps = this.dEps;
    const n = this.window;
    const su = this.su;
    const mu = n & 1 ? su[(n - 1) >> 1]! : (su[(n >> 1) - 1]! + su[n >> 1]!) / 2;
    // Rounding of u, of the literal residuals and of median ± bound: generously 64 ulps of every magnitude
    // involved; 1e−7·T for std(r) taken from the running sums (its error is ≤ ~1e−8 while ssr ≥ 1e−3·syy),
    // which also covers the 1e−9 band that keeps the formula's own rounding out of the decision.
    const slack = 64 * EPS * (this.dYBound + abs(this.dA) + (abs(this.dB) + abs(this.b0)) * this.dXmag + abs(mu)) + 1e-7 * T;
    this.mu = mu;
    this.slk = slack;
    const margin = 2 * eps * (1 + 1e-12) + slack;
    const lo = T - margin;
    const hi = T + margin;
    // MAD(r) > T needs fewer than ⌈n/2⌉ (odd n) / n/2 (even n) values within T of the median; MAD(r) < T needs
    // at least ⌈n/2⌉ / n/2 + 1 strictly inside. inside ≤ within, so at most one holds; the common no-fire test
    // goes first and spares the other two searches.
    const within = upperBound(su, n, mu + hi) - lowerBound(su, n, mu - hi);
    if (within < (n & 1 ? (n + 1) >> 1 : n >> 1)) return 0;
    const inside = lo > 0 ? lowerBound(su, n, mu + lo) - upperBound(su, n, mu - lo) : 0;
    if (inside >= (n & 1 ? (n + 1) >> 1 : (n >> 1) + 1)) return 1;
    return -1;
  }

}

export interface RobustSlopeState {
  ols: CovarianceState;
  lastRobust: boolean;
  robustCount: number;
}

/**
 * Rolling slope of y on x with intercept and the robust switch of the β estimate: the OLS slope of the window,
 * replaced by the Huber IRLS slope (started at that OLS fit) whenever the OLS residuals have
 * std / (1.4826 · MAD) > `madRatio` (decided by {@link MadRatioSwitch}; std is that of the residuals, n − 1).
 * NaN until the window is full or while
 * x has no dispersion.
 */
export class RollingRobustSlope {
  readonly window: number;
  readonly madRatio: number;
  readonly huberC: number;
  readonly huberMaxIter: number;
  private ols: RollingOls;
  private readonly ws: RegressionWorkspace;
  private readonly sw: MadRatioSwitch;
  private readonly fit: HuberFit = { intercept: NAN, slope: NAN, scale: NAN, iterations: 0, converged: false };
  private robust = false;
  private robustN = 0;

  constructor(window: number, madRatio: number, huberC: number, huberMaxIter: number) {
    if (!(Number.isFinite(madRatio) && madRatio > 0 && Number.isFinite(huberC) && huberC > 0 && Number.isInteger(huberMaxIter) && huberMaxIter >= 1)) {
      throw new FeatureError(FEATURE_ERROR.PARAM, 'robust slope needs madRatio > 0, huberC > 0 and an integer huberMaxIter ≥ 1');
    }
    this.ols = new RollingOls(window);
    if (this.ols.window < 3) throw new FeatureError(FEATURE_ERROR.PARAM, 'robust slope window must be ≥ 3');
    this.window = this.ols.window;
    this.madRatio = madRatio;
    this.huberC = huberC;
    this.huberMaxIter = huberMaxIter;
    this.ws = new RegressionWorkspace(this.window);
    this.sw = new MadRatioSwitch(this.window, madRatio);
  }

  /** Whether the last defined value came from the Huber fit. */
  get lastRobust(): boolean {
    return this.robust;
  }

  /** Windows in which the switch fired so far. */
  get robustCount(): number {
    return this.robustN;
  }

  /** Statistics of the last Huber fit (valid when {@link lastRobust}). */
  get lastHuberFit(): Readonly<HuberFit> {
    return this.fit;
  }

  /** Decision statistics of the switch (diagnostics; not part of the state). */
  get switchStats(): { fast: number; exact: number; rebuilds: number } {
    return { fast: this.sw.fastDecisions, exact: this.sw.exactDecisions, rebuilds: this.sw.rebuilds };
  }

  push(x: number, y: number): number {
    const ols = this.ols;
    const wasFull = ols.isFull;
    const slot = wasFull ? ols.xs.head : ols.count;
    ols.push(x, y);
    this.sw.track(slot, x, y, wasFull);
    this.robust = false;
    if (!ols.isFull) return NAN;
    ols.fit();
    const b = ols.fitSlope;
    if (b !== b) return NAN;
    const a = ols.fitIntercept;
    if (!this.sw.exceeds(ols, this.ws)) return b;
    const xs = ols.xs.data;
    const ys = ols.ys.data;
    this.robust = true;
    this.robustN++;
    return huberRegression(xs, ys, this.window, this.huberC, this.huberMaxIter, a, b, this.ws, this.fit).slope;
  }

  snapshot(): RobustSlopeState {
    return { ols: this.ols.snapshot(), lastRobust: this.robust, robustCount: this.robustN };
  }

  static restore(state: unknown, madRatio: number, huberC: number, huberMaxIter: number): RollingRobustSlope {
    const s = asRecord(state, 'RollingRobustSlope');
    const ols = RollingOls.restore(s.ols);
    const r = new RollingRobustSlope(ols.window, madRatio, huberC, huberMaxIter);
    r.ols = ols;
    r.sw.reset(ols.xs);
    if (typeof s.lastRobust !== 'boolean') throw stateError('RollingRobustSlope.lastRobust must be a boolean');
    r.robust = s.lastRobust;
    r.robustN = decodeInt(s.robustCount, 0, Number.MAX_SAFE_INTEGER, 'RollingRobustSlope.robustCount');
    return r;
  }
}
