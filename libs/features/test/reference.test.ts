/**
 * The naive reference against the independently computed fixture (pandas / statsmodels / TTR) and against hand
 * calculations. Every other features test leans on this oracle, so it must itself be anchored outside our code.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import { naiveBetaRaw, naiveFeatureMatrix, naiveHuberFit } from '../src/reference/naive.js';
import { FEATURE_NAMES } from '../src/schema.js';
import type { PairSeries } from '../src/types.js';

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));

function readCsv(name: string): string[][] {
  return readFileSync(`${FIXTURES}${name}`, 'utf8')
    .trim()
    .split(/\r?\n/)
    .map((l) => l.split(','));
}

function fixtureSeries(): PairSeries {
  const a = readCsv('pair_A.csv').slice(1);
  const b = readCsv('pair_B.csv').slice(1);
  expect(a.map((r) => r[0])).toEqual(b.map((r) => r[0]));
  const col = (rows: string[][], i: number) => Float64Array.from(rows, (r) => Number(r[i]));
  return {
    tsMs: Float64Array.from(a, (r) => Date.parse(r[0] as string)),
    aOpen: col(a, 1),
    aHigh: col(a, 2),
    aLow: col(a, 3),
    aClose: col(a, 4),
    bOpen: col(b, 1),
    bHigh: col(b, 2),
    bLow: col(b, 3),
    bClose: col(b, 4),
  };
}

/** Index of the first defined row per feature, as observed in expected.csv (features-api.md). */
const WARMUP: Record<string, number> = {
  beta: 179,
  spread: 179,
  z: 358,
  z_ema: 358,
  delta_z: 359,
  abs_delta_z: 359,
  abs_delta_S: 180,
  atr_A: 14,
  atr_B: 14,
  atr_spread: 193,
  vol_ratio_spread: 372,
  atr_ratio_A: 193,
  atr_ratio_B: 193,
  half_life: 359,
  rho_rolling: 180,
  corr_stability: 359,
  beta_stability: 358,
  ema_gap_spread: 179,
  slope_spread: 358,
  slope_z: 377,
  rsi_spread: 193,
};

describe('naiveFeatureMatrix vs the fixture (pandas / statsmodels / TTR)', () => {
  const series = fixtureSeries();
  const expected = readCsv('expected.csv');
  const header = expected[0] as string[];
  const rows = expected.slice(1);
  const got = naiveFeatureMatrix(series);

  it('has the 21 columns of expected.csv in the same order', () => {
    expect(header).toEqual(['ts_utc', ...FEATURE_NAMES]);
    expect(rows).toHaveLength(series.aClose.length);
  });

  it.each(FEATURE_NAMES.map((n) => [n]))('%s: empty exactly during warm-up, within 1e-6 relative after', (name) => {
    const j = header.indexOf(name);
    const column = got[name];
    let maxRel = 0;
    let firstDefined = -1;
    for (const [t, row] of rows.entries()) {
      const cell = row[j] as string;
      const g = column[t] as number;
      if (cell === '') {
        expect({ t, value: g }).toEqual({ t, value: NaN });
        continue;
      }
      if (firstDefined < 0) firstDefined = t;
      const e = Number(cell);
      expect(Number.isFinite(g)).toBe(true);
      maxRel = Math.max(maxRel, Math.abs(g - e) / Math.max(Math.abs(e), 1e-12));
    }
    expect(firstDefined).toBe(WARMUP[name]);
    expect(maxRel).toBeLessThanOrEqual(1e-6);
  });

  it('switches to the Huber estimate in 52 of the 1821 full windows, as the fixture README states', () => {
    const { betaRaw, robust } = naiveBetaRaw(series);
    expect(betaRaw.filter((v) => !Number.isNaN(v))).toHaveLength(1821);
    expect(robust.reduce((a, v) => a + v, 0)).toBe(52);
  });
});

describe('naive building blocks against hand calculation', () => {
  // 5 bars; the B leg is A shifted by 100 so both legs have the same true ranges.
  const high = [10, 10.5, 10.2, 11, 10.9];
  const low = [9, 9.2, 9.8, 9.9, 10.1];
  const close = [9.5, 10, 9.9, 10.8, 10.2];
  const f = (v: number[], k = 0) => Float64Array.from(v, (x) => x + k);
  const small: PairSeries = {
    tsMs: Float64Array.from([0, 1, 2, 3, 4], (i) => i * 3_600_000),
    aOpen: f(close),
    aHigh: f(high),
    aLow: f(low),
    aClose: f(close),
    bOpen: f(close, 100),
    bHigh: f(high, 100),
    bLow: f(low, 100),
    bClose: f(close, 100),
  };

  it('Wilder ATR: TR needs the previous close, first ATR = mean of the first n TRs, then (n−1)/n recursion', () => {
    // TR_1 = max(1.3, |10.5−9.5|, |9.2−9.5|) = 1.3; TR_2 = max(0.4, 0.2, 0.2) = 0.4; TR_3 = max(1.1, 1.1, 0) = 1.1;
    // TR_4 = max(0.8, 0.1, 0.7) = 0.8. n = 2: ATR_2 = 0.85, ATR_3 = (0.85 + 1.1)/2 = 0.975, ATR_4 = 0.8875.
    const m = naiveFeatureMatrix(small, { atrPeriod: 2, betaWindow: 3 });
    for (const col of [m.atr_A, m.atr_B]) {
      expect(Number.isNaN(col[0])).toBe(true);
      expect(Number.isNaN(col[1])).toBe(true);
      expect(col[2]).toBeCloseTo(0.85, 12);
      expect(col[3]).toBeCloseTo(0.975, 12);
      expect(col[4]).toBeCloseTo(0.8875, 12);
    }
  });

  it('beta of an exact linear relation is its slope; spread = A − beta·B; EMA seeded with the first beta', () => {
    // A = 2 + 0.5·B exactly → every OLS window gives 0.5 (zero residuals never trigger the robust switch).
    const b = [100, 101, 99, 103, 104, 102];
    const a = b.map((x) => 2 + 0.5 * x);
    const s: PairSeries = { ...small, tsMs: Float64Array.from(b, (_, i) => i), aClose: f(a), bClose: f(b), aHigh: f(a), aLow: f(a), aOpen: f(a), bHigh: f(b), bLow: f(b), bOpen: f(b) };
    const m = naiveFeatureMatrix(s, { betaWindow: 3, betaEmaHalfLife: 4 });
    expect(Number.isNaN(m.beta[1])).toBe(true);
    for (let t = 2; t < b.length; t++) {
      expect(m.beta[t]).toBeCloseTo(0.5, 12);
      expect(m.spread[t]).toBeCloseTo(2, 10);
    }
  });

  it('Huber fit equals OLS when no standardised residual exceeds c, and resists a gross outlier', () => {
    const x = Array.from({ length: 40 }, (_, i) => i);
    // Residuals alternate ±0.1: MAD-about-0 scale = 0.1/0.6745, so |r/σ| = 0.6745 < 1.345 → all weights 1.
    const y = x.map((v, i) => 1 + 2 * v + (i % 2 === 0 ? 0.1 : -0.1));
    const mx = 19.5;
    const my = y.reduce((p, q) => p + q, 0) / 40;
    const olsSlope = x.reduce((p, v, i) => p + (v - mx) * ((y[i] as number) - my), 0) / x.reduce((p, v) => p + (v - mx) ** 2, 0);
    const clean = naiveHuberFit(x, y, 1.345, 50);
    expect(clean.b).toBeCloseTo(olsSlope, 12);

    const dirty = y.slice();
    dirty[39] = (dirty[39] as number) + 500;
    const huber = naiveHuberFit(x, dirty, 1.345, 50);
    const myD = dirty.reduce((p, q) => p + q, 0) / 40;
    const olsDirty = x.reduce((p, v, i) => p + (v - mx) * ((dirty[i] as number) - myD), 0) / x.reduce((p, v) => p + (v - mx) ** 2, 0);
    expect(Math.abs(olsDirty - 2)).toBeGreaterThan(1);
    expect(Math.abs(huber.b - 2)).toBeLessThan(0.05);
    expect(huber.iterations).toBeLessThanOrEqual(50);
  });

  it('degenerate windows follow the engine conventions: σ_S = 0 → z = slope_spread = 0, flat legs → rho 0, ratios 1, RSI 50', () => {
    // Leg A never moves, leg B does: every OLS window gives β_raw = Σdx·0 / Σdx² = 0 exactly, so S = A = 50.
    const n = 15;
    const flat = new Float64Array(n).fill(50);
    const b = Float64Array.from({ length: n }, (_, i) => 20 + Math.sin(i));
    const s: PairSeries = { tsMs: Float64Array.from({ length: n }, (_, i) => i), aOpen: flat, aHigh: flat, aLow: flat, aClose: flat, bOpen: b, bHigh: b.map((v) => v + 0.1), bLow: b.map((v) => v - 0.1), bClose: b };
    const w = { betaWindow: 3, zWindow: 3, atrPeriod: 2, atrBaselineWindow: 3, rhoWindow: 3, corrStabilityWindow: 3, betaStabilityWindow: 3, halfLifeWindow: 3, slopeWindow: 3, rsiPeriod: 2 };
    const m = naiveFeatureMatrix(s, w);
    const last = Object.fromEntries(FEATURE_NAMES.map((f) => [f, m[f][n - 1]]));
    expect(last).toEqual({
      beta: 0,
      spread: 50,
      z: 0,
      z_ema: 0,
      delta_z: 0,
      abs_delta_z: 0,
      abs_delta_S: 0,
      atr_A: 0,
      atr_B: expect.any(Number),
      atr_spread: 0,
      vol_ratio_spread: 1,
      atr_ratio_A: 1,
      atr_ratio_B: expect.any(Number),
      half_life: 240,
      rho_rolling: 0,
      corr_stability: 0,
      beta_stability: 0,
      ema_gap_spread: 0,
      slope_spread: 0,
      slope_z: 0,
      rsi_spread: 50,
    });
  });
});
