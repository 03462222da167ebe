/**
 * The engine against the naive oracle on data the fixture does not cover: seeded cointegrated pairs with jumps
 * (robust switch), a hedge-ratio break, short windows (warm-up arithmetic for other parameter sets) and a flat
 * stretch of one leg. Agreement is to 1e−9 relative: both sides run the same IRLS stopping rule, so only the
 * summation order differs. (Both legs frozen for over half a β window is left out on purpose: more than half the
 * points coincide, the MAD scale collapses to 0 and the Huber fit is decided by rounding — ill-posed, not a test.)
 */
import { describe, expect, it } from '@jest/globals';
import { computeFeatureMatrix } from '../src/batch.js';
import { featureWarmupIndices } from '../src/engine.js';
import type { FeatureParams } from '../src/params.js';
import { naiveBetaRaw, naiveFeatureMatrix } from '../src/reference/naive.js';
import { FEATURE_NAMES } from '../src/schema.js';
import type { PairSeries } from '../src/types.js';

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A cointegrated pair with OU spread, rare jumps, a β break half-way and optional flat stretches of leg A. */
function pair(n: number, seed: number, flatFrom = -1, flatBars = 0): PairSeries {
  const u = rng(seed);
  const g = () => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
  const cols = Array.from({ length: 9 }, () => new Float64Array(n));
  const [tsMs, aOpen, aHigh, aLow, aClose, bOpen, bHigh, bLow, bClose] = cols as [Float64Array, Float64Array, Float64Array, Float64Array, Float64Array, Float64Array, Float64Array, Float64Array, Float64Array];
  let logB = Math.log(40);
  let ou = 0;
  let prevA = NaN;
  let prevB = NaN;
  for (let i = 0; i < n; i++) {
    logB += 0.003 * g();
    ou += -0.05 * ou + 0.1 * g() + (u() < 0.01 ? (u() - 0.5) * 6 : 0);
    const beta = i < n / 2 ? 1.5 : 1.2;
    const b = Math.exp(logB);
    let a = 20 + beta * b + ou;
    if (flatFrom >= 0 && i >= flatFrom && i < flatFrom + flatBars) a = prevA;
    const flat = flatFrom >= 0 && i > flatFrom && i < flatFrom + flatBars;
    const oa = Number.isNaN(prevA) ? a : prevA;
    const ob = Number.isNaN(prevB) ? b : prevB;
    tsMs[i] = Date.UTC(2024, 0, 1) + i * 3_600_000;
    aOpen[i] = oa;
    aClose[i] = a;
    aHigh[i] = flat ? a : Math.max(oa, a) + 0.03 * Math.abs(g());
    aLow[i] = flat ? a : Math.min(oa, a) - 0.03 * Math.abs(g());
    bOpen[i] = ob;
    bClose[i] = b;
    bHigh[i] = Math.max(ob, b) + 0.02 * Math.abs(g());
    bLow[i] = Math.min(ob, b) - 0.02 * Math.abs(g());
    prevA = a;
    prevB = b;
  }
  return { tsMs, aOpen, aHigh, aLow, aClose, bOpen, bHigh, bLow, bClose };
}

function compare(series: PairSeries, params: Partial<FeatureParams> = {}): Record<string, number> {
  const naive = naiveFeatureMatrix(series, params);
  const batch = computeFeatureMatrix(series, params).columns;
  const worst: Record<string, number> = {};
  for (const f of FEATURE_NAMES) {
    let m = 0;
    for (let i = 0; i < series.tsMs.length; i++) {
      const e = naive[f][i] as number;
      const g = batch[f][i] as number;
      if (Number.isNaN(e) || Number.isNaN(g) || !Number.isFinite(e)) {
        if (!Object.is(e, g)) throw new Error(`${f}[${i}]: naive ${e}, engine ${g}`);
        continue;
      }
      m = Math.max(m, Math.abs(g - e) / Math.max(Math.abs(e), 1e-9));
    }
    worst[f] = m;
  }
  return worst;
}

describe('engine (batch path) vs the naive oracle', () => {
  it('agrees on 3000 bars with jumps and a β break, the robust switch firing', () => {
    const s = pair(3000, 11);
    const robust = naiveBetaRaw(s).robust.reduce((a, v) => a + v, 0);
    expect(robust).toBeGreaterThan(20);
    const worst = compare(s);
    for (const f of FEATURE_NAMES) expect({ f, rel: worst[f]! <= 1e-9 }).toEqual({ f, rel: true });
  });

  it('agrees with short windows, and the first defined bar of each feature is featureWarmupIndices', () => {
    const params: Partial<FeatureParams> = { betaWindow: 10, zWindow: 7, atrPeriod: 3, atrBaselineWindow: 5, rhoWindow: 6, corrStabilityWindow: 4, betaStabilityWindow: 5, halfLifeWindow: 8, slopeWindow: 4, rsiPeriod: 5, emaFastSpan: 3, emaSlowSpan: 6 };
    const s = pair(400, 5);
    const worst = compare(s, params);
    for (const f of FEATURE_NAMES) expect({ f, rel: worst[f]! <= 1e-9 }).toEqual({ f, rel: true });
    const naive = naiveFeatureMatrix(s, params);
    const warm = featureWarmupIndices(params);
    for (const f of FEATURE_NAMES) expect({ f, first: naive[f].findIndex((v) => !Number.isNaN(v)) }).toEqual({ f, first: warm[f] });
  });

  it('agrees through a flat stretch of leg A (returns without dispersion → rho_rolling = 0, β_raw of a flat leg)', () => {
    const s = pair(900, 3, 400, 120);
    const worst = compare(s, { atrBaselineWindow: 20, rhoWindow: 30, zWindow: 40, halfLifeWindow: 30, betaWindow: 30 });
    for (const f of FEATURE_NAMES) expect({ f, rel: worst[f]! <= 1e-9 }).toEqual({ f, rel: true });
  });
});
