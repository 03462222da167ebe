/**
 * The test oracle and the "naive" benchmark baseline: every feature of "特徴量仕様 v1" computed the plain way —
 * each rolling window is recomputed from scratch at every bar with two-pass statistics (OLS by the centred normal
 * equations, medians by sorting a copy, Huber IRLS written out), recursions (EMA, Wilder) as one sequential pass.
 *
 * Deliberately written without the engine's rolling primitives so that agreement between the two is evidence,
 * not tautology; O(n · window) per feature, so keep inputs to tens of thousands of bars.
 *
 * Warm-up: a window value is NaN unless every input in the window is defined (never a partial window).
 * Degenerate windows follow the engine's documented conventions (engine.ts), which the issue leaves open:
 * σ_S = 0 → z = 0 and slope_spread = 0; a leg without return dispersion → rho_rolling = 0; an ATR baseline
 * median of 0 → ratio 1 if the ATR is 0, +∞ otherwise; a β window where close_B has no dispersion gives no
 * β_raw and β keeps its last EMA value; S_{k−1} without dispersion → half_life = max; a flat RSI window → 50.
 * Only the shared parameter, schema and data types are imported from the library.
 */
import { DEFAULT_FEATURE_PARAMS, type FeatureParams } from '../params.js';
import type { FeatureName } from '../schema.js';
import type { PairSeries } from '../types.js';

/** Φ⁻¹(3/4): MAD / this = a consistent scale for Gaussian residuals (statsmodels `scale.mad`). */
const GAUSSIAN_Q3 = 0.6744897501960817;
/** 1 / Φ⁻¹(3/4) as written in the robust-switch rule of the spec. */
const MAD_TO_SIGMA = 1.4826;
/** statsmodels RLM's default convergence tolerance on the Huber deviance. */
const HUBER_DEVIANCE_TOL = 1e-8;

// ── plain window statistics ───────────────────────────────────────────────────

function allFinite(x: ArrayLike<number>, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (!Number.isFinite(x[i] as number)) return false;
  return true;
}

function meanOf(x: ArrayLike<number>, start: number, end: number): number {
  let s = 0;
  for (let i = start; i < end; i++) s += x[i] as number;
  return s / (end - start);
}

/** Sample variance (n − 1), two passes. */
function sampleVarOf(x: ArrayLike<number>, start: number, end: number): number {
  const m = meanOf(x, start, end);
  let ss = 0;
  for (let i = start; i < end; i++) {
    const d = (x[i] as number) - m;
    ss += d * d;
  }
  return ss / (end - start - 1);
}

function medianOfCopy(values: number[]): number {
  const v = values.slice().sort((p, q) => p - q);
  const n = v.length;
  const h = n >> 1;
  return n % 2 === 1 ? (v[h] as number) : ((v[h - 1] as number) + (v[h] as number)) / 2;
}

function medianOf(x: ArrayLike<number>, start: number, end: number): number {
  const v: number[] = [];
  for (let i = start; i < end; i++) v.push(x[i] as number);
  return medianOfCopy(v);
}

/** Weighted least squares y = a + b·x via the centred normal equations; weights undefined = OLS. */
function wls(x: ArrayLike<number>, y: ArrayLike<number>, w?: ArrayLike<number>): { a: number; b: number } {
  const n = x.length;
  let sw = 0;
  let swx = 0;
  let swy = 0;
  for (let i = 0; i < n; i++) {
    const wi = w ? (w[i] as number) : 1;
    sw += wi;
    swx += wi * (x[i] as number);
    swy += wi * (y[i] as number);
  }
  const mx = swx / sw;
  const my = swy / sw;
  let sxx = 0;
  let sxy = 0;
  for (let i = 0; i < n; i++) {
    const wi = w ? (w[i] as number) : 1;
    const dx = (x[i] as number) - mx;
    sxx += wi * dx * dx;
    sxy += wi * dx * ((y[i] as number) - my);
  }
  const b = sxy / sxx;
  return { a: my - b * mx, b };
}

function rolling(x: ArrayLike<number>, n: number, stat: (start: number, end: number) => number): Float64Array {
  const out = new Float64Array(x.length).fill(NaN);
  for (let t = n - 1; t < x.length; t++) {
    const start = t - n + 1;
    if (allFinite(x, start, t + 1)) out[t] = stat(start, t + 1);
  }
  return out;
}

const rollingMean = (x: ArrayLike<number>, n: number) => rolling(x, n, (s, e) => meanOf(x, s, e));
const rollingVar = (x: ArrayLike<number>, n: number) => rolling(x, n, (s, e) => sampleVarOf(x, s, e));
const rollingStd = (x: ArrayLike<number>, n: number) => rolling(x, n, (s, e) => Math.sqrt(sampleVarOf(x, s, e)));
const rollingMedian = (x: ArrayLike<number>, n: number) => rolling(x, n, (s, e) => medianOf(x, s, e));

/** OLS slope of x over the time index 0..n−1 of each window. */
function rollingTimeSlope(x: ArrayLike<number>, n: number): Float64Array {
  const idx = Array.from({ length: n }, (_, i) => i);
  return rolling(x, n, (s, e) => wls(idx, Array.prototype.slice.call(x, s, e) as number[]).b);
}

// ── recursions ─────────────────────────────────────────────────────────────────

/** Recursive EMA with smoothing α, seeded with the first defined input. */
function ema(x: ArrayLike<number>, alpha: number): Float64Array {
  const out = new Float64Array(x.length).fill(NaN);
  let prev = NaN;
  for (let t = 0; t < x.length; t++) {
    const v = x[t] as number;
    if (!Number.isFinite(v)) continue;
    prev = Number.isNaN(prev) ? v : alpha * v + (1 - alpha) * prev;
    out[t] = prev;
  }
  return out;
}

const alphaHalfLife = (h: number) => 1 - Math.pow(0.5, 1 / h);
const alphaSpan = (n: number) => 2 / (n + 1);

/** Wilder's average: the first value is the mean of the first n defined inputs, then (n−1)/n · prev + x/n. */
function wilder(x: ArrayLike<number>, n: number): Float64Array {
  const out = new Float64Array(x.length).fill(NaN);
  let seen = 0;
  let sum = 0;
  let prev = NaN;
  for (let t = 0; t < x.length; t++) {
    const v = x[t] as number;
    if (!Number.isFinite(v)) continue;
    if (seen < n) {
      sum += v;
      seen += 1;
      if (seen === n) {
        prev = sum / n;
        out[t] = prev;
      }
    } else {
      prev = ((n - 1) * prev + v) / n;
      out[t] = prev;
    }
  }
  return out;
}

function trueRange(high: ArrayLike<number>, low: ArrayLike<number>, close: ArrayLike<number>): Float64Array {
  const tr = new Float64Array(close.length).fill(NaN);
  for (let t = 1; t < close.length; t++) {
    const h = high[t] as number;
    const l = low[t] as number;
    const pc = close[t - 1] as number;
    tr[t] = Math.max(h - l, Math.abs(h - pc), Math.abs(l - pc));
  }
  return tr;
}

function diff(x: ArrayLike<number>): Float64Array {
  const out = new Float64Array(x.length).fill(NaN);
  for (let t = 1; t < x.length; t++) out[t] = (x[t] as number) - (x[t - 1] as number);
  return out;
}

/** Wilder RSI: average gain / loss are Wilder averages of the positive / negative changes. */
function rsi(x: ArrayLike<number>, n: number): Float64Array {
  const d = diff(x);
  const gain = d.map((v) => (Number.isFinite(v) ? Math.max(v, 0) : NaN));
  const loss = d.map((v) => (Number.isFinite(v) ? Math.max(-v, 0) : NaN));
  const g = wilder(gain, n);
  const l = wilder(loss, n);
  const out = new Float64Array(x.length).fill(NaN);
  for (let t = 0; t < x.length; t++) {
    const gt = g[t] as number;
    const lt = l[t] as number;
    if (!Number.isFinite(gt) || !Number.isFinite(lt)) continue;
    // A flat window has no direction: neutral 50 rather than 0/0.
    out[t] = gt + lt === 0 ? 50 : (100 * gt) / (gt + lt);
  }
  return out;
}

// ── hedge ratio ────────────────────────────────────────────────────────────────

function huberRho(u: number, c: number): number {
  const a = Math.abs(u);
  return a <= c ? 0.5 * u * u : c * a - 0.5 * c * c;
}

/**
 * Huber M-estimate slope of y on x with intercept by IRLS, as statsmodels `RLM(y, X, HuberT(c)).fit()` does it:
 * start at OLS; scale = median(|r|) / Φ⁻¹(3/4) (MAD about 0) re-estimated after every weighted fit; stop when the
 * Huber deviance Σ ρ(r / σ̂_wls) (σ̂_wls = weighted residual variance of that fit) changes by ≤ 1e−8, or after
 * `maxIter` fits counting the OLS start.
 */
export function naiveHuberFit(x: readonly number[], y: readonly number[], c: number, maxIter: number): { a: number; b: number; iterations: number } {
  const n = x.length;
  const residuals = (a: number, b: number) => y.map((yi, i) => yi - a - b * (x[i] as number));
  const deviance = (r: number[], w: number[] | undefined) => {
    let ss = 0;
    for (let i = 0; i < n; i++) ss += (w ? (w[i] as number) : 1) * (r[i] as number) * (r[i] as number);
    const wlsScale = ss / (n - 2);
    let dev = 0;
    for (const ri of r) dev += huberRho(ri / wlsScale, c);
    return dev;
  };
  let fit = wls(x, y);
  let r = residuals(fit.a, fit.b);
  let scale = medianOfCopy(r.map(Math.abs)) / GAUSSIAN_Q3;
  let prevDev = deviance(r, undefined);
  let iterations = 1;
  for (;;) {
    if (scale === 0) break;
    const w = r.map((ri) => {
      const u = Math.abs(ri / scale);
      return u <= c ? 1 : c / u;
    });
    fit = wls(x, y, w);
    r = residuals(fit.a, fit.b);
    scale = medianOfCopy(r.map(Math.abs)) / GAUSSIAN_Q3;
    const dev = deviance(r, w);
    iterations += 1;
    if (!(Math.abs(dev - prevDev) > HUBER_DEVIANCE_TOL && iterations < maxIter)) break;
    prevDev = dev;
  }
  return { a: fit.a, b: fit.b, iterations };
}

export interface NaiveBetaRaw {
  /** Per-bar slope (OLS or Huber), NaN during warm-up. */
  betaRaw: Float64Array;
  /** 1 where the MAD-ratio rule switched that window to the Huber estimate. */
  robust: Uint8Array;
}

/** beta_raw_t over the `betaWindow` bars ending at t, with the robust switch of the spec. */
export function naiveBetaRaw(series: PairSeries, params: Partial<FeatureParams> = {}): NaiveBetaRaw {
  const p = { ...DEFAULT_FEATURE_PARAMS, ...params };
  const len = series.aClose.length;
  const betaRaw = new Float64Array(len).fill(NaN);
  const robust = new Uint8Array(len);
  const n = p.betaWindow;
  for (let t = n - 1; t < len; t++) {
    const x = Array.from(series.bClose.subarray(t - n + 1, t + 1));
    const y = Array.from(series.aClose.subarray(t - n + 1, t + 1));
    const ols = wls(x, y);
    const r = y.map((yi, i) => yi - ols.a - ols.b * (x[i] as number));
    const std = Math.sqrt(sampleVarOf(r, 0, n));
    const med = medianOfCopy(r);
    const mad = medianOfCopy(r.map((ri) => Math.abs(ri - med)));
    // MAD = 0 (over half the residuals identical) with a positive std is the most extreme heavy tail: switch.
    const ratio = std / (MAD_TO_SIGMA * mad);
    if (ratio > p.robustMadRatio) {
      robust[t] = 1;
      betaRaw[t] = naiveHuberFit(x, y, p.huberC, p.huberMaxIter).b;
    } else {
      betaRaw[t] = ols.b;
    }
  }
  return { betaRaw, robust };
}

// ── the matrix ─────────────────────────────────────────────────────────────────

/** All 21 features for every bar of `series`; NaN = warm-up. */
export function naiveFeatureMatrix(series: PairSeries, params: Partial<FeatureParams> = {}): Record<FeatureName, Float64Array> {
  const p = { ...DEFAULT_FEATURE_PARAMS, ...params };
  const len = series.aClose.length;
  const nan = () => new Float64Array(len).fill(NaN);

  // Unlike the other EMAs, β carries its last value over a bar without β_raw (degenerate close_B window).
  const betaRaw = naiveBetaRaw(series, p).betaRaw;
  const beta = nan();
  const betaAlpha = alphaHalfLife(p.betaEmaHalfLife);
  let betaPrev = NaN;
  for (let t = 0; t < len; t++) {
    const raw = betaRaw[t] as number;
    if (!Number.isNaN(raw)) betaPrev = Number.isNaN(betaPrev) ? raw : betaAlpha * raw + (1 - betaAlpha) * betaPrev;
    beta[t] = betaPrev;
  }
  const spread = nan();
  for (let t = 0; t < len; t++) spread[t] = (series.aClose[t] as number) - (beta[t] as number) * (series.bClose[t] as number);

  const sMean = rollingMean(spread, p.zWindow);
  const sStd = rollingStd(spread, p.zWindow);
  const z = nan();
  for (let t = 0; t < len; t++) {
    const sd = sStd[t] as number;
    if (Number.isNaN(sd) || Number.isNaN(spread[t] as number)) continue;
    const raw = sd === 0 ? 0 : ((spread[t] as number) - (sMean[t] as number)) / sd;
    z[t] = Math.min(p.zClip, Math.max(-p.zClip, raw));
  }
  const zEma = ema(z, alphaHalfLife(p.zEmaHalfLife));
  const deltaZ = diff(z);
  const absDeltaZ = deltaZ.map(Math.abs);
  const dS = diff(spread);
  const absDeltaS = dS.map(Math.abs);

  const atrA = wilder(trueRange(series.aHigh, series.aLow, series.aClose), p.atrPeriod);
  const atrB = wilder(trueRange(series.bHigh, series.bLow, series.bClose), p.atrPeriod);
  const atrSpread = wilder(absDeltaS, p.atrPeriod);
  const ratio = (x: Float64Array, med: Float64Array) =>
    x.map((v, t) => {
      const m = med[t] as number;
      if (Number.isNaN(v) || Number.isNaN(m)) return NaN;
      return m > 0 ? v / m : v > 0 ? Infinity : 1;
    });
  const volRatioSpread = ratio(atrSpread, rollingMedian(atrSpread, p.atrBaselineWindow));
  const atrRatioA = ratio(atrA, rollingMedian(atrA, p.atrBaselineWindow));
  const atrRatioB = ratio(atrB, rollingMedian(atrB, p.atrBaselineWindow));

  // ΔS_k regressed on S_{k−1} over the window: lagged level aligned with the change.
  const halfLife = nan();
  const sPrev = nan();
  for (let t = 1; t < len; t++) sPrev[t] = spread[t - 1] as number;
  for (let t = p.halfLifeWindow - 1; t < len; t++) {
    const s = t - p.halfLifeWindow + 1;
    if (!allFinite(dS, s, t + 1) || !allFinite(sPrev, s, t + 1)) continue;
    const { b } = wls(Array.from(sPrev.subarray(s, t + 1)), Array.from(dS.subarray(s, t + 1)));
    const kappa = -b;
    halfLife[t] = Number.isNaN(kappa) || kappa === 0 ? p.halfLifeMax : Math.min(p.halfLifeMax, Math.max(p.halfLifeMin, Math.LN2 / Math.abs(kappa)));
  }

  const logReturn = (x: Float64Array) => {
    const r = nan();
    for (let t = 1; t < len; t++) r[t] = Math.log((x[t] as number) / (x[t - 1] as number));
    return r;
  };
  const rA = logReturn(series.aClose);
  const rB = logReturn(series.bClose);
  const rho = nan();
  for (let t = p.rhoWindow - 1; t < len; t++) {
    const s = t - p.rhoWindow + 1;
    if (!allFinite(rA, s, t + 1) || !allFinite(rB, s, t + 1)) continue;
    const ma = meanOf(rA, s, t + 1);
    const mb = meanOf(rB, s, t + 1);
    let sab = 0;
    let saa = 0;
    let sbb = 0;
    for (let i = s; i <= t; i++) {
      const da = (rA[i] as number) - ma;
      const db = (rB[i] as number) - mb;
      sab += da * db;
      saa += da * da;
      sbb += db * db;
    }
    rho[t] = saa === 0 || sbb === 0 ? 0 : sab / Math.sqrt(saa * sbb);
  }
  const corrStability = rollingVar(rho, p.corrStabilityWindow);
  const betaStd = rollingStd(beta, p.betaStabilityWindow);
  const betaMean = rollingMean(beta, p.betaStabilityWindow);
  const betaStability = betaStd.map((sd, t) => sd / (Math.abs(betaMean[t] as number) + 1e-6));

  const emaFast = ema(spread, alphaSpan(p.emaFastSpan));
  const emaSlow = ema(spread, alphaSpan(p.emaSlowSpan));
  const emaGap = emaFast.map((f, t) => f - (emaSlow[t] as number));
  const slopeSpread = rollingTimeSlope(spread, p.slopeWindow).map((b, t) => {
    const sd = sStd[t] as number;
    return sd === 0 && !Number.isNaN(b) ? 0 : b / sd;
  });
  const slopeZ = rollingTimeSlope(z, p.slopeWindow);
  const rsiSpread = rsi(spread, p.rsiPeriod);

  return {
    beta,
    spread,
    z,
    z_ema: zEma,
    delta_z: deltaZ,
    abs_delta_z: absDeltaZ,
    abs_delta_S: absDeltaS,
    atr_A: atrA,
    atr_B: atrB,
    atr_spread: atrSpread,
    vol_ratio_spread: volRatioSpread,
    atr_ratio_A: atrRatioA,
    atr_ratio_B: atrRatioB,
    half_life: halfLife,
    rho_rolling: rho,
    corr_stability: corrStability,
    beta_stability: betaStability,
    ema_gap_spread: emaGap,
    slope_spread: slopeSpread,
    slope_z: slopeZ,
    rsi_spread: rsiSpread,
  };
}
