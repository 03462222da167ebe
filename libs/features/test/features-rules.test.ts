import { describe, expect, it } from '@jest/globals';
import { computeFeatureMatrix } from '../src/batch.js';
import { PairFeatureEngine, featureWarmupIndices, fullVectorWarmupBars } from '../src/engine.js';
import type { FeatureParams } from '../src/params.js';
import { FEATURE_NAMES, type FeatureName } from '../src/schema.js';
import type { PairSeries } from '../src/types.js';
import { barAt, syntheticPair } from './core-support.js';

const { abs, sqrt, log, min, max, LN2 } = Math;

/**
 * Every feature rule of the issue, recomputed here bar by bar from plain arrays with the formulas as written
 * (two-pass statistics, sort-based medians, explicit recursions), on small non-default windows so that
 * clipping, the robust switch and every warm-up edge occur within a few hundred bars.
 */
const P: FeatureParams = {
  betaWindow: 20,
  betaEmaHalfLife: 5,
  zWindow: 15,
  zEmaHalfLife: 3,
  zClip: 2,
  atrPeriod: 4,
  atrBaselineWindow: 6,
  rhoWindow: 12,
  corrStabilityWindow: 7,
  betaStabilityWindow: 8,
  halfLifeWindow: 10,
  halfLifeMin: 1.5,
  halfLifeMax: 6,
  slopeWindow: 5,
  emaFastSpan: 3,
  emaSlowSpan: 7,
  rsiPeriod: 4,
  robustMadRatio: 2,
  huberC: 1.345,
  huberMaxIter: 50,
};

const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
const sampleVar = (a: number[]) => a.reduce((s, v) => s + (v - mean(a)) ** 2, 0) / (a.length - 1);
const median = (a: number[]) => {
  const s = [...a].sort((p, q) => p - q);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
function ols(x: number[], y: number[]) {
  const mx = mean(x);
  const my = mean(y);
  let sxy = 0;
  let sxx = 0;
  x.forEach((v, i) => {
    sxy += (v - mx) * (y[i]! - my);
    sxx += (v - mx) ** 2;
  });
  const b = sxy / sxx;
  const a = my - b * mx;
  return { a, b, r: y.map((v, i) => v - a - b * x[i]!) };
}
function huber(x: number[], y: number[], c: number, maxiter: number): number {
  const n = x.length;
  const rho = (z: number) => (abs(z) <= c ? (z * z) / 2 : c * abs(z) - (c * c) / 2);
  let { b, r } = ols(x, y);
  let scale = median(r.map(abs)) / 0.6744897501960817;
  const dev = [Infinity, r.reduce((s, v) => s + rho(v / (r.reduce((q, u) => q + u * u, 0) / (n - 2))), 0)];
  for (let it = 1; ; ) {
    if (scale === 0) break;
    const w = r.map((v) => (abs(v / scale) <= c ? 1 : c / abs(v / scale)));
    const sw = w.reduce((s, v) => s + v, 0);
    const mx = w.reduce((s, v, i) => s + v * x[i]!, 0) / sw;
    const my = w.reduce((s, v, i) => s + v * y[i]!, 0) / sw;
    const sxy = w.reduce((s, v, i) => s + v * (x[i]! - mx) * (y[i]! - my), 0);
    const sxx = w.reduce((s, v, i) => s + v * (x[i]! - mx) ** 2, 0);
    b = sxy / sxx;
    const a = my - b * mx;
    r = y.map((v, i) => v - a - b * x[i]!);
    scale = median(r.map(abs)) / 0.6744897501960817;
    const s2 = r.reduce((s, v, i) => s + w[i]! * v * v, 0) / (n - 2);
    dev.push(r.reduce((s, v) => s + rho(v / s2), 0));
    it++;
    if (!(abs(dev[it]! - dev[it - 1]!) > 1e-8 && it < maxiter)) break;
  }
  return b;
}
const ema = (xs: number[], alpha: number) => {
  const out: number[] = [];
  xs.forEach((v, i) => out.push(i === 0 ? v : (1 - alpha) * out[i - 1]! + alpha * v));
  return out;
};
/** Wilder average over a series that starts being defined at `start`: mean of the first n, then recursion. */
const wilder = (xs: number[], n: number) => {
  const out: number[] = xs.map(() => NaN);
  let first = -1;
  for (let i = 0; i < xs.length; i++) {
    if (Number.isNaN(xs[i]!)) continue;
    if (first < 0) first = i;
    const k = i - first + 1;
    if (k === n) out[i] = mean(xs.slice(first, i + 1));
    else if (k > n) out[i] = ((n - 1) * out[i - 1]! + xs[i]!) / n;
  }
  return out;
};
const last = (xs: number[], t: number, n: number) => (t - n + 1 >= 0 ? xs.slice(t - n + 1, t + 1) : null);
const defined = (w: number[] | null): w is number[] => w !== null && w.every((v) => !Number.isNaN(v));

function naiveFeatures(s: PairSeries, p: FeatureParams): { cols: Record<FeatureName, number[]>; robust: boolean[] } {
  const N = s.tsMs.length;
  const A = Array.from(s.aClose);
  const B = Array.from(s.bClose);
  const nan = () => new Array<number>(N).fill(NaN);
  const robust = new Array<boolean>(N).fill(false);
  const betaRaw = nan();
  for (let t = p.betaWindow - 1; t < N; t++) {
    const x = B.slice(t - p.betaWindow + 1, t + 1);
    const y = A.slice(t - p.betaWindow + 1, t + 1);
    const f = ols(x, y);
    const med = median(f.r);
    const mad = median(f.r.map((v) => abs(v - med)));
    robust[t] = sqrt(sampleVar(f.r)) / (1.4826 * mad) > p.robustMadRatio;
    betaRaw[t] = robust[t] ? huber(x, y, p.huberC, p.huberMaxIter) : f.b;
  }
  const b0 = p.betaWindow - 1;
  const beta = nan();
  ema(betaRaw.slice(b0), 1 - 0.5 ** (1 / p.betaEmaHalfLife)).forEach((v, i) => (beta[b0 + i] = v));
  const S = A.map((a, i) => a - beta[i]! * B[i]!);
  const z = S.map((v, t) => {
    const w = last(S, t, p.zWindow);
    return defined(w) ? max(-p.zClip, min(p.zClip, (v - mean(w)) / sqrt(sampleVar(w)))) : NaN;
  });
  const z0 = z.findIndex((v) => !Number.isNaN(v));
  const zEma = nan();
  ema(z.slice(z0), 1 - 0.5 ** (1 / p.zEmaHalfLife)).forEach((v, i) => (zEma[z0 + i] = v));
  const dz = z.map((v, t) => (t > 0 ? v - z[t - 1]! : NaN));
  const dS = S.map((v, t) => (t > 0 ? abs(v - S[t - 1]!) : NaN));
  const tr = (H: Float64Array, L: Float64Array, C: number[]) => C.map((_, t) => (t > 0 ? max(H[t]!, C[t - 1]!) - min(L[t]!, C[t - 1]!) : NaN));
  const atrA = wilder(tr(s.aHigh, s.aLow, A), p.atrPeriod);
  const atrB = wilder(tr(s.bHigh, s.bLow, B), p.atrPeriod);
  const atrS = wilder(dS, p.atrPeriod);
  const ratio = (xs: number[]) => xs.map((v, t) => (defined(last(xs, t, p.atrBaselineWindow)) ? v / median(last(xs, t, p.atrBaselineWindow)!) : NaN));
  const halfLife = S.map((_, t) => {
    const prev = last(S, t - 1, p.halfLifeWindow);
    const cur = last(S, t, p.halfLifeWindow);
    if (!defined(prev) || !defined(cur)) return NaN;
    const kappa = -ols(prev, cur.map((v, k) => v - prev[k]!)).b;
    return kappa === 0 ? p.halfLifeMax : min(p.halfLifeMax, max(p.halfLifeMin, LN2 / abs(kappa)));
  });
  const rA = A.map((v, t) => (t > 0 ? log(v / A[t - 1]!) : NaN));
  const rB = B.map((v, t) => (t > 0 ? log(v / B[t - 1]!) : NaN));
  const rho = rA.map((_, t) => {
    const x = last(rA, t, p.rhoWindow);
    const y = last(rB, t, p.rhoWindow);
    if (!defined(x) || !defined(y)) return NaN;
    const mx = mean(x);
    const my = mean(y);
    return x.reduce((q, v, k) => q + (v - mx) * (y[k]! - my), 0) / (x.length - 1) / sqrt(sampleVar(x) * sampleVar(y));
  });
  const slope = (xs: number[], t: number) => {
    const w = last(xs, t, p.slopeWindow);
    return defined(w) ? ols(w.map((_, k) => k), w).b : NaN;
  };
  const up = S.map((v, t) => (t > 0 ? max(v - S[t - 1]!, 0) : NaN));
  const down = S.map((v, t) => (t > 0 ? max(S[t - 1]! - v, 0) : NaN));
  const au = wilder(up, p.rsiPeriod);
  const ad = wilder(down, p.rsiPeriod);
  const emaF = nan();
  const emaS = nan();
  ema(S.slice(b0), 2 / (p.emaFastSpan + 1)).forEach((v, i) => (emaF[b0 + i] = v));
  ema(S.slice(b0), 2 / (p.emaSlowSpan + 1)).forEach((v, i) => (emaS[b0 + i] = v));
  const cols: Record<FeatureName, number[]> = {
    beta,
    spread: S,
    z,
    z_ema: zEma,
    delta_z: dz,
    abs_delta_z: dz.map(abs),
    abs_delta_S: dS,
    atr_A: atrA,
    atr_B: atrB,
    atr_spread: atrS,
    vol_ratio_spread: ratio(atrS),
    atr_ratio_A: ratio(atrA),
    atr_ratio_B: ratio(atrB),
    half_life: halfLife,
    rho_rolling: rho,
    corr_stability: rho.map((_, t) => (defined(last(rho, t, p.corrStabilityWindow)) ? sampleVar(last(rho, t, p.corrStabilityWindow)!) : NaN)),
    beta_stability: beta.map((_, t) => {
      const w = last(beta, t, p.betaStabilityWindow);
      return defined(w) ? sqrt(sampleVar(w)) / (abs(mean(w)) + 1e-6) : NaN;
    }),
    ema_gap_spread: emaF.map((v, t) => v - emaS[t]!),
    slope_spread: S.map((_, t) => {
      const w = last(S, t, p.zWindow);
      return defined(w) ? slope(S, t) / sqrt(sampleVar(w)) : NaN;
    }),
    slope_z: z.map((_, t) => slope(z, t)),
    rsi_spread: au.map((u, t) => (100 * u) / (u + ad[t]!)),
  };
  return { cols, robust };
}

const series = syntheticPair(700, 31, { breakAt: 350, jumpProb: 0.03 });
const matrix = computeFeatureMatrix(series, P);
const ref = naiveFeatures(series, P);

describe('feature rules vs plain formulas (small windows, jumps, β break)', () => {
  it('exercises the robust switch, both half-life clips and the z clip', () => {
    const engine = new PairFeatureEngine(P);
    const robust: boolean[] = [];
    for (let i = 0; i < 700; i++) {
      engine.update(barAt(series, i));
      robust.push(engine.lastBetaRobust);
    }
    expect(robust).toEqual(ref.robust);
    expect(engine.robustBetaWindows).toBeGreaterThan(10);
    const hl = Array.from(matrix.columns.half_life);
    expect(hl).toContain(P.halfLifeMin);
    expect(hl).toContain(P.halfLifeMax);
    expect(Array.from(matrix.columns.z).filter((v) => abs(v) === P.zClip).length).toBeGreaterThan(5);
  });

  it('warm-up: every feature is NaN exactly before its documented first index', () => {
    const warm = featureWarmupIndices(P);
    for (const name of FEATURE_NAMES) {
      const col = Array.from(matrix.columns[name]);
      const firstDefined = col.findIndex((v) => !Number.isNaN(v));
      expect({ name, firstDefined, nanAfter: col.slice(firstDefined).some(Number.isNaN) }).toEqual({ name, firstDefined: warm[name], nanAfter: false });
      expect({ name, refFirst: ref.cols[name].findIndex((v) => !Number.isNaN(v)) }).toEqual({ name, refFirst: warm[name] });
    }
    // slope_z: z window starts at 19 + 14 = 33, plus 4 more bars of z
    expect(warm.slope_z).toBe(19 + 14 + 4);
    expect(fullVectorWarmupBars(P)).toBe(Math.max(...Object.values(warm)));
  });

  it.each([...FEATURE_NAMES])('%s follows its formula', (name) => {
    const got = matrix.columns[name];
    const want = ref.cols[name];
    // Huber windows: another IRLS implementation stops ~1e−10 apart; everything else is summation order.
    const tol = 1e-8;
    const bad: { t: number; got: number; want: number }[] = [];
    for (let t = 0; t < want.length; t++) {
      const g = got[t]!;
      const w = want[t]!;
      if (Number.isNaN(w) && Number.isNaN(g)) continue;
      if (!(abs(g - w) <= tol * max(1, abs(w)))) bad.push({ t, got: g, want: w });
    }
    expect(bad.slice(0, 3)).toEqual([]);
  });
});

describe('hand-computed engine edges', () => {
  it('ATR of each leg: first value at bar `atrPeriod` = mean of the first TRs (previous close needed)', () => {
    const e = new PairFeatureEngine({ ...P, atrPeriod: 2 });
    const bar = (t: number, ha: number, la: number, ca: number) => ({ tsMs: t, a: { open: ca, high: ha, low: la, close: ca }, b: { open: 10, high: 10.5, low: 9.5, close: 10 } });
    const atrA = [bar(0, 11, 9, 10), bar(1, 12, 10.5, 11), bar(2, 11.5, 9, 9.5), bar(3, 13, 12, 12.5)].map((b) => e.update(b)[FEATURE_NAMES.indexOf('atr_A')]!);
    // TR1 = 12 − 10 = 2, TR2 = 11.5 − 9 = 2.5, TR3 = 13 − 9.5 = 3.5 → ATR2 = 2.25, ATR3 = (2.25 + 3.5) / 2
    expect(atrA).toEqual([NaN, NaN, 2.25, 2.875]);
  });

  it('z_ema is seeded with the first z and uses α = 1 − 0.5^(1/h)', () => {
    const z = Array.from(matrix.columns.z);
    const zEma = Array.from(matrix.columns.z_ema);
    const z0 = z.findIndex((v) => !Number.isNaN(v));
    expect(zEma[z0]).toBe(z[z0]);
    const alpha = 1 - 0.5 ** (1 / P.zEmaHalfLife);
    for (let t = z0 + 1; t < z0 + 50; t++) expect(abs(zEma[t]! - ((1 - alpha) * zEma[t - 1]! + alpha * z[t]!))).toBeLessThan(1e-14);
  });
});
