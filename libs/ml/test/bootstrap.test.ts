import { describe, expect, it } from '@jest/globals';
import {
  blockBootstrapCi,
  bootstrapDifferenceCi,
  bootstrapMeanCi,
  bootstrapSharpeCi,
  dieboldMariano,
  dieboldMarianoReturns,
  erfc,
  logGamma,
  meanStd,
  ML_ERROR,
  movingBlockIndices,
  normalCdf,
  quantileSorted,
  Rng,
  sharpeRatio,
  studentTCdf,
  weeklySums,
} from '../src/index.js';

function expectRel(actual: number, expected: number, rel: number): void {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(rel * Math.abs(expected));
}

function normals(n: number, rng: Rng): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
  return out;
}

describe('moving-block bootstrap', () => {
  it('draws runs of L consecutive indices starting in [0, n − L]', () => {
    const rng = new Rng(3);
    for (let rep = 0; rep < 200; rep++) {
      const idx = movingBlockIndices(53, 20, rng);
      for (let b = 0; b < 53; b += 20) {
        expect(idx[b]!).toBeLessThanOrEqual(53 - 20);
        for (let j = b + 1; j < Math.min(b + 20, 53); j++) expect(idx[j]).toBe(idx[j - 1]! + 1);
      }
    }
    // L ≥ n: the whole series, in order.
    expect([...movingBlockIndices(4, 20, rng)]).toEqual([0, 1, 2, 3]);
  });

  it('reproduces the exact block-bootstrap distribution of a tiny series', () => {
    // x = 1,2,4,8, L = 2: blocks start at 0, 1, 2 (sums 3, 6, 12), two blocks per resample, 9 equally likely pairs.
    // Mean = (B₁ + B₂)/4 ∈ {1.5 (1/9), 2.25 (2/9), 3 (1/9), 3.75 (2/9), 4.5 (2/9), 6 (1/9)}, E = 3.5, Var = 2·14/16.
    const ci = bootstrapMeanCi([1, 2, 4, 8], { blockSize: 2, resamples: 20000, seed: 11 });
    expect(ci.estimate).toBe(3.75);
    const support = new Set([1.5, 2.25, 3, 3.75, 4.5, 6]);
    expect([...ci.distribution].every((v) => support.has(v))).toBe(true);
    const m = ci.distribution.reduce((s, v) => s + v, 0) / ci.distribution.length;
    const v = ci.distribution.reduce((s, x) => s + (x - m) ** 2, 0) / ci.distribution.length;
    expect(Math.abs(m - 3.5)).toBeLessThan(0.04); // SE √(1.75/20000) ≈ 0.0094
    expect(Math.abs(v - 1.75)).toBeLessThan(0.1);
    // Each end value has mass 1/9 > 2.5 %, so the 95 % interval is the support's range.
    expect([ci.lower, ci.upper]).toEqual([1.5, 6]);
  });

  it('is deterministic under a seed and changes with it', () => {
    const x = normals(300, new Rng(1));
    const a = bootstrapMeanCi(x, { seed: 5, resamples: 300 });
    const b = bootstrapMeanCi(x, { seed: 5, resamples: 300 });
    const c = bootstrapMeanCi(x, { seed: 6, resamples: 300 });
    expect(a).toEqual(b);
    expect(a.distribution).not.toEqual(c.distribution);
  });

  it('95 % intervals of the mean cover the truth about 95 % of the time (iid normal, n = 240, L = 20)', () => {
    const rng = new Rng(2024);
    let cover = 0;
    const reps = 200;
    for (let r = 0; r < reps; r++) {
      const ci = bootstrapMeanCi(normals(240, rng), { resamples: 400, seed: r });
      if (ci.lower <= 0 && 0 <= ci.upper) cover++;
    }
    // Percentile MBB slightly under-covers; a broken CI (e.g. a wrong quantile) lands far outside this band.
    expect(cover / reps).toBeGreaterThan(0.87);
    expect(cover / reps).toBeLessThan(0.99);
  });

  it('resamples aligned series jointly: a constant difference has a degenerate interval', () => {
    const a = normals(200, new Rng(9));
    const b = a.map((v) => v - 0.25);
    const ci = bootstrapDifferenceCi(a, b, undefined, { resamples: 200 });
    expect(ci.lower).toBeCloseTo(0.25, 12);
    expect(ci.upper).toBeCloseTo(0.25, 12);
    // Independent series give a real spread.
    const wide = bootstrapDifferenceCi(a, normals(200, new Rng(10)), undefined, { resamples: 200 });
    expect(wide.upper - wide.lower).toBeGreaterThan(0.1);
  });

  it('Sharpe: hand-computed estimate; constant series give a degenerate mean CI', () => {
    // mean 0.02, deviations −.01 .01 −.03 .03 → s² = 0.002/3 → Sharpe = 0.02/√(0.002/3).
    const r = [0.01, 0.03, -0.01, 0.05];
    expect(sharpeRatio(r)).toBeCloseTo(0.02 / Math.sqrt(0.002 / 3), 12);
    expect(sharpeRatio(r, 252)).toBeCloseTo((0.02 / Math.sqrt(0.002 / 3)) * Math.sqrt(252), 10);
    const s = bootstrapSharpeCi(normals(400, new Rng(4)).map((v) => v + 0.5), 1, { resamples: 300 });
    expect(s.lower).toBeLessThan(s.estimate);
    expect(s.upper).toBeGreaterThan(s.estimate);
    expect(bootstrapMeanCi([2, 2, 2, 2, 2], { blockSize: 2, resamples: 50 })).toMatchObject({ lower: 2, upper: 2 });
  });

  it('type-7 quantiles and input checks', () => {
    expect(quantileSorted([1, 2, 3, 4], 0.25)).toBe(1.75);
    expect(quantileSorted([1, 2, 3, 4], 1)).toBe(4);
    expect(() => blockBootstrapCi([[1, 2], [1]], () => 0)).toThrow(ML_ERROR.DATA);
    expect(() => bootstrapMeanCi([1, 2], { blockSize: 0 })).toThrow(ML_ERROR.PARAM);
    expect(() => bootstrapMeanCi([1, 2], { alpha: 1 })).toThrow(ML_ERROR.PARAM);
  });
});

describe('special functions', () => {
  it('erfc matches tabulated values (relative 1e−13)', () => {
    const table: [number, number][] = [
      [0, 1],
      [0.5, 0.4795001221869535],
      [1, 0.15729920705028513],
      [1.5, 0.033894853524689274],
      [2, 0.004677734981047266],
      [3, 2.209049699858544e-5],
      [5, 1.5374597944280349e-12],
      [10, 2.088487583762545e-45],
      [-1, 1.8427007929497148],
    ];
    for (const [x, v] of table) expectRel(erfc(x), v, 1e-13);
    // No jump where the method switches from the series to the continued fraction.
    expectRel(erfc(2 - 1e-12), erfc(2 + 1e-12), 1e-10);
  });

  it('normal CDF matches tabulated quantiles and tail values', () => {
    expectRel(normalCdf(1.959963984540054), 0.975, 1e-14);
    expectRel(normalCdf(-1.6448536269514722), 0.05, 1e-13);
    expectRel(normalCdf(1), 0.8413447460685429, 1e-14);
    expectRel(normalCdf(-3), 0.0013498980316300946, 1e-12);
    expectRel(normalCdf(-6), 9.865876450376946e-10, 1e-11);
    expect(normalCdf(0)).toBe(0.5);
  });

  it('log-gamma and Student t against closed forms and tables', () => {
    expectRel(logGamma(0.5), 0.5 * Math.log(Math.PI), 1e-14);
    expectRel(logGamma(10), Math.log(362880), 1e-14);
    expect(Math.abs(logGamma(1))).toBeLessThan(1e-15);
    for (const t of [-30, -2.5, -0.3, 0, 0.7, 4, 50]) {
      expect(studentTCdf(t, 1)).toBeCloseTo(0.5 + Math.atan(t) / Math.PI, 13); // Cauchy
      expect(studentTCdf(t, 2)).toBeCloseTo(0.5 + t / (2 * Math.sqrt(2 + t * t)), 13);
    }
    // Tabulated critical values (6 decimals).
    expect(studentTCdf(2.228139, 10)).toBeCloseTo(0.975, 6);
    expect(studentTCdf(2.015048, 5)).toBeCloseTo(0.95, 6);
    expect(studentTCdf(2.527977, 20)).toBeCloseTo(0.99, 6);
    expect(studentTCdf(1.96, 1e7)).toBeCloseTo(normalCdf(1.96), 6);
    expect(() => studentTCdf(1, 0)).toThrow(ML_ERROR.PARAM);
  });
});

describe('fold summary', () => {
  it('mean ± sample std, skipping undefined folds', () => {
    // 0.6, 0.7, 0.8: mean 0.7, squared deviations 0.01 + 0 + 0.01 → s = √(0.02/2) = 0.1.
    const r = meanStd([0.6, Number.NaN, 0.7, 0.8]);
    expect(r.mean).toBeCloseTo(0.7, 15);
    expect(r.std).toBeCloseTo(0.1, 15);
    expect([r.n, r.missing]).toEqual([3, 1]);
    expect(meanStd([0.5]).std).toBeNaN();
  });
});

describe('Diebold–Mariano', () => {
  // d = lossA − lossB = 2, −1, 3, 0, 1: mean 1, deviations 1, −2, 2, −1, 0 → γ₀ = 10/5 = 2,
  // γ₁ = (1·−2 + −2·2 + 2·−1 + −1·0)/5 = −8/5.
  const lossA = [3, 1, 5, 2, 4];
  const lossB = [1, 2, 2, 2, 3];

  it('h = 1: DM = 1/√(2/5); normal p-value; HLN factor √(4/5) gives √2 with t(4)', () => {
    const plain = dieboldMariano(lossA, lossB, { hln: false });
    expect(plain.meanDifferential).toBe(1);
    expect(plain.longRunVariance).toBeCloseTo(2, 15);
    expect(plain.statistic).toBeCloseTo(1 / Math.sqrt(0.4), 14);
    expect(plain.pValue).toBeCloseTo(erfc(1 / Math.sqrt(0.4) / Math.SQRT2), 14);
    const hln = dieboldMariano(lossA, lossB);
    expect(hln.statistic).toBeCloseTo(Math.SQRT2, 14);
    // t(4) CDF closed form: ½ + (3/8)·u·(1 − t²/(12(1 + t²/4))), u = t/√(1 + t²/4); at t = √2: ½ + ⅜·√(4/3)·8/9.
    const cdf = 0.5 + 0.375 * (Math.SQRT2 / Math.sqrt(1.5)) * (8 / 9);
    expect(hln.pValue).toBeCloseTo(2 * (1 - cdf), 13);
    expect(hln.pValueBLess).toBeCloseTo(1 - cdf, 13);
  });

  it('h = 2: Newey–West LRV = γ₀ + 2·½·γ₁ = 0.4; the truncated kernel goes negative and is refused', () => {
    const nw = dieboldMariano(lossA, lossB, { horizon: 2, hln: false });
    expect(nw.longRunVariance).toBeCloseTo(0.4, 14);
    expect(nw.statistic).toBeCloseTo(1 / Math.sqrt(0.4 / 5), 13);
    const hln = dieboldMariano(lossA, lossB, { horizon: 2 });
    expect(hln.statistic).toBeCloseTo((1 / Math.sqrt(0.08)) * Math.sqrt((5 + 1 - 4 + 2 / 5) / 5), 13);
    expect(() => dieboldMariano(lossA, lossB, { horizon: 2, kernel: 'truncated' })).toThrow(ML_ERROR.DATA);
  });

  it('on returns: a better new strategy gives a small one-sided p-value; checks input', () => {
    const rng = new Rng(8);
    const old = normals(104, rng).map((v) => v * 0.01);
    const better = old.map((v, i) => v + 0.004 + 0.001 * Math.sin(i));
    const r = dieboldMarianoReturns(better, old);
    expect(r.meanDifferential).toBeGreaterThan(0);
    expect(r.pValueBLess).toBeLessThan(1e-6);
    expect(dieboldMarianoReturns(old, better).pValueBLess).toBeGreaterThan(0.999);
    expect(() => dieboldMariano([1, 2, 3], [1, 2])).toThrow(ML_ERROR.DATA);
    expect(() => dieboldMariano([1, 2, 3], [0, 1, 2])).toThrow(ML_ERROR.DATA); // constant differential
    expect(() => dieboldMariano([1, 2, 3, 4], [0, 1, 5, 1], { horizon: 0 })).toThrow(ML_ERROR.PARAM);
  });

  it('weekly sums group bars by ISO week (Monday 00:00 UTC)', () => {
    const t = [Date.UTC(2024, 0, 1, 0), Date.UTC(2024, 0, 7, 23), Date.UTC(2024, 0, 8, 0), Date.UTC(2024, 0, 20, 12)];
    expect(weeklySums(t, [1, 2, 4, 8])).toEqual({
      weekStartMs: [Date.UTC(2024, 0, 1), Date.UTC(2024, 0, 8), Date.UTC(2024, 0, 15)],
      sum: [3, 4, 8],
    });
    expect(() => weeklySums([0], [])).toThrow(ML_ERROR.DATA);
  });
});
