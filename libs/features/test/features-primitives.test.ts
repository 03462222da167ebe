import { describe, expect, it } from '@jest/globals';
import { FeatureError } from '../src/errors.js';
import {
  Ema,
  RegressionWorkspace,
  RollingCovariance,
  RollingLinearSlope,
  RollingMedian,
  RollingMinMax,
  RollingMoments,
  RollingOls,
  RollingOuFit,
  RollingRobustSlope,
  RollingWindow,
  WilderAtr,
  WilderAverage,
  WilderRsi,
  huberFit,
  medianInPlace,
  residualMadRatioExceeds,
  selectInPlace,
} from '../src/primitives/index.js';
import { Rng } from './core-support.js';

// ---- independent reference formulas (plain arrays, two-pass, sort-based) --------------------------------------
const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
const sampleVar = (a: number[]) => {
  const m = mean(a);
  return a.reduce((s, v) => s + (v - m) ** 2, 0) / (a.length - 1);
};
const sortedMedian = (a: number[]) => {
  const s = [...a].sort((p, q) => p - q);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
};
function ols(x: number[], y: number[]): { a: number; b: number; r: number[] } {
  const mx = mean(x);
  const my = mean(y);
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < x.length; i++) {
    sxy += (x[i]! - mx) * (y[i]! - my);
    sxx += (x[i]! - mx) ** 2;
  }
  const b = sxy / sxx;
  const a = my - b * mx;
  return { a, b, r: y.map((v, i) => v - a - b * x[i]!) };
}
/** statsmodels RLM(HuberT(c)) IRLS written out plainly: MAD about 0 / Φ⁻¹(¾), deviance Σρ(r/σ̂²) change ≤ 1e−8, maxiter counter. */
function naiveHuber(x: number[], y: number[], c = 1.345, maxiter = 50): number {
  const n = x.length;
  const rho = (z: number) => (Math.abs(z) <= c ? (z * z) / 2 : c * Math.abs(z) - (c * c) / 2);
  let { a, b, r } = ols(x, y);
  let scale = sortedMedian(r.map(Math.abs)) / 0.6744897501960817;
  const hist = [Infinity, r.reduce((s, v) => s + rho(v / (r.reduce((q, u) => q + u * u, 0) / (n - 2))), 0)];
  let it = 1;
  for (;;) {
    if (scale === 0) break;
    const w = r.map((v) => (Math.abs(v / scale) <= c ? 1 : c / Math.abs(v / scale)));
    const sw = w.reduce((s, v) => s + v, 0);
    const mx = w.reduce((s, v, i) => s + v * x[i]!, 0) / sw;
    const my = w.reduce((s, v, i) => s + v * y[i]!, 0) / sw;
    let sxy = 0;
    let sxx = 0;
    for (let i = 0; i < n; i++) {
      sxy += w[i]! * (x[i]! - mx) * (y[i]! - my);
      sxx += w[i]! * (x[i]! - mx) ** 2;
    }
    b = sxy / sxx;
    a = my - b * mx;
    r = y.map((v, i) => v - a - b * x[i]!);
    scale = sortedMedian(r.map(Math.abs)) / 0.6744897501960817;
    const s2 = r.reduce((s, v, i) => s + w[i]! * v * v, 0) / (n - 2);
    hist.push(r.reduce((s, v) => s + rho(v / s2), 0));
    it++;
    if (!(Math.abs(hist[it]! - hist[it - 1]!) > 1e-8 && it < maxiter)) break;
  }
  return b;
}
const switchFires = (x: number[], y: number[], ratio = 2) => {
  const { r } = ols(x, y);
  const med = sortedMedian(r);
  const mad = sortedMedian(r.map((v) => Math.abs(v - med)));
  return Math.sqrt(sampleVar(r)) / (1.4826 * mad) > ratio;
};
const close = (got: number, want: number, rel = 1e-12) => expect(Math.abs(got - want)).toBeLessThanOrEqual(rel * Math.max(Math.abs(want), 1e-300));
const roundTrip = <T>(s: T): unknown => JSON.parse(JSON.stringify(s));

describe('RollingWindow', () => {
  it('evicts the oldest value, reads oldest-first and round-trips its physical layout', () => {
    const w = new RollingWindow(3);
    expect([w.push(1), w.push(2), w.push(3)]).toEqual([NaN, NaN, NaN]);
    expect(w.push(4)).toBe(1);
    expect(Array.from(w.toArray())).toEqual([2, 3, 4]);
    expect([w.get(0), w.newest(), w.peekEvicted(), w.head]).toEqual([2, 4, 2, 1]);
    const r = RollingWindow.restore(roundTrip(w.snapshot()));
    expect([r.head, r.count, Array.from(r.data)]).toEqual([w.head, w.count, Array.from(w.data)]);
    expect(() => RollingWindow.restore({ capacity: 3, head: 1, count: 2, data: [0, 0, 0] })).toThrow(FeatureError);
  });
});

describe('RollingMoments', () => {
  it('gives the sample mean/variance of the last n values (hand-computed)', () => {
    const m = new RollingMoments(3);
    m.push(1);
    expect([m.mean(), m.variance()]).toEqual([1, NaN]);
    m.push(2);
    m.push(3);
    expect([m.mean(), m.variance()]).toEqual([2, 1]);
    m.push(10); // window 2, 3, 10: mean 5, Σd² = 9 + 4 + 25 = 38, /2 = 19
    close(m.mean(), 5);
    close(m.variance(), 19);
    close(m.std(), Math.sqrt(19));
  });

  it('reports exactly zero dispersion for a window of equal values', () => {
    const m = new RollingMoments(5);
    for (const v of [3.7, 1e9 + 0.1, 1e9 + 0.1, 1e9 + 0.1, 1e9 + 0.1, 1e9 + 0.1]) m.push(v);
    expect(m.variance()).toBe(0);
  });

  it('matches a fresh two-pass computation along a random stream, and restores bit-exactly', () => {
    const rng = new Rng(11);
    const m = new RollingMoments(17);
    const all: number[] = [];
    for (let i = 0; i < 3000; i++) {
      const v = 100 + 10 * rng.normal() + (i > 1500 ? 1e4 : 0);
      m.push(v);
      all.push(v);
      if (all.length >= 2) {
        const w = all.slice(-17);
        close(m.mean(), mean(w), 1e-12);
        close(m.variance(), sampleVar(w), 1e-9);
      }
    }
    const r = RollingMoments.restore(roundTrip(m.snapshot()));
    for (let i = 0; i < 100; i++) {
      const v = rng.normal();
      m.push(v);
      r.push(v);
      expect([Object.is(m.mean(), r.mean()), Object.is(m.variance(), r.variance())]).toEqual([true, true]);
    }
  });
});

describe('RollingCovariance / RollingOls', () => {
  it('gives cov and corr of the window (hand-computed)', () => {
    const c = new RollingCovariance(3);
    c.push(0, 100);
    c.push(1, 2);
    c.push(2, 4);
    c.push(3, 7); // x 1 2 3, y 2 4 7: cov = ((−1)(−7/3) + 0 + (1)(8/3)) / 2 = 2.5; var y = 114/18
    close(c.covariance(), 2.5);
    close(c.varianceX(), 1);
    close(c.varianceY(), 114 / 18);
    close(c.correlation(), 2.5 / Math.sqrt(114 / 18));
  });

  it('correlation is NaN without dispersion and clamps to ±1', () => {
    const c = new RollingCovariance(3);
    for (const v of [5, 5, 5]) c.push(v, v * 2);
    expect(c.correlation()).toBeNaN();
    const d = new RollingCovariance(4);
    for (const v of [1, 2, 3, 4]) d.push(v * 0.1, v * 0.3);
    expect(d.correlation()).toBeLessThanOrEqual(1);
    close(d.correlation(), 1, 1e-15);
  });

  it('OLS slope, intercept and residual std (hand-computed: x 1..4, y 1 3 2 5 → b 1.1, a 0, SSR 2.7)', () => {
    const o = new RollingOls(4);
    for (const [x, y] of [[1, 1], [2, 3], [3, 2], [4, 5]] as const) o.push(x, y);
    close(o.slope(), 1.1);
    expect(Math.abs(o.intercept())).toBeLessThan(1e-14);
    close(o.residualStd(), Math.sqrt(2.7 / 2));
    close(o.ssr(), 2.7);
    close(o.syy(), 8.75); // y − ȳ = −1.75, 0.25, −0.75, 2.25
  });

  it('tracks a long drifting stream against two-pass OLS/corr and restores bit-exactly', () => {
    const rng = new Rng(5);
    const o = new RollingOls(50);
    const xs: number[] = [];
    const ys: number[] = [];
    let x = 1800;
    for (let i = 0; i < 20_000; i++) {
      x += rng.normal() * 3 + (i === 10_000 ? 5e5 : 0);
      const y = 2 + 0.015 * x + rng.normal();
      o.push(x, y);
      xs.push(x);
      ys.push(y);
      if (i % 97 === 0 && i >= 50) {
        const f = ols(xs.slice(-50), ys.slice(-50));
        close(o.slope(), f.b, 1e-9);
        const cx = xs.slice(-50);
        const cy = ys.slice(-50);
        const mx = mean(cx);
        const my = mean(cy);
        const cov = cx.reduce((s, v, k) => s + (v - mx) * (cy[k]! - my), 0) / 49;
        close(o.correlation(), cov / Math.sqrt(sampleVar(cx) * sampleVar(cy)), 1e-9);
      }
    }
    const r = RollingOls.restore(roundTrip(o.snapshot()));
    for (let i = 0; i < 200; i++) {
      const v = rng.normal();
      o.push(x + v, v);
      r.push(x + v, v);
      expect(Object.is(o.slope(), r.slope())).toBe(true);
    }
  });
});

describe('RollingMedian', () => {
  it('is the exact median of the last n values (hand-computed, window 4)', () => {
    const m = new RollingMedian(4);
    const got: number[] = [];
    for (const v of [5, 1, 4, 2, 9, 0, 7]) {
      m.push(v);
      got.push(m.median());
    }
    // windows: [5] [5 1] [5 1 4] [5 1 4 2] [1 4 2 9] [4 2 9 0] [2 9 0 7]
    expect(got).toEqual([5, 3, 4, 3, 3, 3, 4.5]);
  });

  it('equals the sort-based median on a long stream with ties and restores bit-exactly', () => {
    const rng = new Rng(3);
    for (const n of [1, 2, 7, 180]) {
      const m = new RollingMedian(n);
      const all: number[] = [];
      for (let i = 0; i < 3000; i++) {
        const v = Math.round(rng.normal() * 4) / 2 + 0; // + 0: no −0, whose order against 0 sorting leaves open
        m.push(v);
        all.push(v);
        expect(m.median()).toBe(sortedMedian(all.slice(-n)));
      }
      const r = RollingMedian.restore(roundTrip(m.snapshot()));
      for (let i = 0; i < 300; i++) {
        const v = rng.normal();
        m.push(v);
        r.push(v);
        expect(Object.is(m.median(), r.median())).toBe(true);
      }
    }
  });

  it('rejects a snapshot whose heaps are not a valid split', () => {
    const m = new RollingMedian(3);
    for (const v of [1, 2, 3]) m.push(v);
    const s = m.snapshot();
    expect(() => RollingMedian.restore({ ...s, low: [...s.high, ...s.low].slice(0, 2), high: [s.low[0]!] })).toThrow(FeatureError);
  });
});

describe('selection', () => {
  it('selectInPlace / medianInPlace equal sorting', () => {
    const rng = new Rng(9);
    for (let trial = 0; trial < 300; trial++) {
      const n = 1 + Math.floor(rng.uniform() * 60);
      const vals = Array.from({ length: n }, () => Math.round(rng.normal() * 3) + 0);
      const sorted = [...vals].sort((p, q) => p - q);
      const k = Math.floor(rng.uniform() * n);
      expect(selectInPlace(Float64Array.from(vals), n, k)).toBe(sorted[k]);
      expect(medianInPlace(Float64Array.from(vals), n)).toBe(sortedMedian(vals));
    }
  });
});

describe('Ema', () => {
  it('half-life and span constructors give α = 1 − 0.5^(1/h) and α = 2/(n+1)', () => {
    for (const h of [1, 6, 12, 72, 1000]) close(Ema.halfLife(h).alpha, 1 - 0.5 ** (1 / h), 1e-12);
    expect(Ema.span(12).alpha).toBe(2 / 13);
    expect(Ema.span(26).alpha).toBe(2 / 27);
  });

  it('is seeded with the first input and recurses y = (1 − α)y + αx (α = 0.5: 4, 6, 7, 5.5)', () => {
    const e = new Ema(0.5);
    expect([e.push(4), e.push(8), e.push(8), e.push(4)]).toEqual([4, 6, 7, 5.5]);
    const r = Ema.restore(roundTrip(e.snapshot()));
    expect(r.push(10)).toBe(e.push(10));
  });

  it('pushSeries is bit-identical to pushing value by value, NaN-led input included, and continues from its state', () => {
    const rng = new Rng(7);
    const xs = new Float64Array(5000);
    for (let i = 0; i < xs.length; i++) xs[i] = i < 3 ? NaN : 100 + rng.normal() * (i % 500 === 0 ? 50 : 1);
    const one = Ema.halfLife(12);
    const expected = Array.from(xs, (x) => one.push(x));
    const series = Ema.halfLife(12);
    const head = series.pushSeries(xs.subarray(0, 2500));
    const tail = series.pushSeries(xs.subarray(2500));
    const got = [...head, ...tail];
    expect(got.every((v, i) => Object.is(v, expected[i]))).toBe(true);
    expect(Object.is(series.value, one.value)).toBe(true);
    expect(() => Ema.span(3).pushSeries(xs, new Float64Array(10))).toThrow(FeatureError);
  });

  it('rejects invalid α, half-life and span', () => {
    for (const f of [() => new Ema(0), () => new Ema(1.5), () => Ema.halfLife(0), () => Ema.halfLife(NaN), () => Ema.span(0.5)]) {
      expect(f).toThrow(FeatureError);
    }
  });
});

describe('Wilder', () => {
  it('WilderAverage: first value = mean of the first n, then ((n−1)·v + x)/n', () => {
    const w = new WilderAverage(3);
    expect([w.push(3), w.push(6), w.push(9), w.push(12)]).toEqual([NaN, NaN, 6, 8]);
    close(w.push(0), 16 / 3);
  });

  it('WilderAtr: TR needs the previous close; first ATR is the mean of the first n TRs', () => {
    const a = new WilderAtr(3);
    expect(a.push(10, 8, 9)).toBeNaN(); // no previous close
    expect(a.push(11, 9, 10)).toBeNaN(); // TR = 11 − 9 = 2
    expect(a.push(12, 10.5, 11)).toBeNaN(); // TR = 12 − min(10.5, 10) = 2
    close(a.push(11.5, 9, 9.5), (2 + 2 + 2.5) / 3); // TR = max(11.5, 11) − 9 = 2.5
    close(a.push(13, 12, 12.5), ((2 * 6.5) / 3 + 3.5) / 3); // gap up: TR = 13 − 9.5 = 3.5
    const r = WilderAtr.restore(roundTrip(a.snapshot()));
    expect(r.push(14, 12, 13)).toBe(a.push(14, 12, 13));
  });

  it('WilderRsi: first averages = mean of the first n changes; flat input reads 50', () => {
    const r = new WilderRsi(3);
    expect([r.push(10), r.push(11), r.push(10.5)]).toEqual([NaN, NaN, NaN]);
    close(r.push(12), (100 * (2.5 / 3)) / (2.5 / 3 + 0.5 / 3)); // gains 1, 0, 1.5; losses 0, 0.5, 0
    close(r.push(11), (100 * (5 / 9)) / (5 / 9 + 4 / 9)); // up = (2·2.5/3 + 0)/3, down = (2·0.5/3 + 1)/3
    const flat = new WilderRsi(2);
    for (const v of [5, 5, 5]) flat.push(v);
    expect(flat.push(5)).toBe(50);
  });
});

describe('RollingLinearSlope', () => {
  it('is the OLS slope on positions 0..n−1 (hand-computed: 1 3 2 5 → 1.1, then 3 2 5 0 → −0.6)', () => {
    const s = new RollingLinearSlope(4);
    for (const v of [1, 3, 2]) s.push(v);
    expect(s.slope()).toBeNaN();
    s.push(5);
    close(s.slope(), 1.1);
    s.push(0);
    close(s.slope(), -0.6);
  });

  it('equals a fresh OLS on a long trending stream and restores bit-exactly', () => {
    const rng = new Rng(21);
    const s = new RollingLinearSlope(20);
    const all: number[] = [];
    let level = 0;
    for (let i = 0; i < 50_000; i++) {
      level += rng.normal() + (i % 10_000 === 0 ? 1e6 : 0);
      s.push(level);
      all.push(level);
      if (i % 37 === 0 && all.length >= 20) {
        const w = all.slice(-20);
        const b = ols(w.map((_, k) => k), w).b;
        expect(Math.abs(s.slope() - b)).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(b)));
      }
    }
    const r = RollingLinearSlope.restore(roundTrip(s.snapshot()));
    for (let i = 0; i < 100; i++) {
      const v = rng.normal();
      s.push(v);
      r.push(v);
      expect(Object.is(s.slope(), r.slope())).toBe(true);
    }
  });
});

describe('RollingOuFit (half-life)', () => {
  const feed = (f: RollingOuFit, s: number[]) => s.map((v) => f.push(v));
  it('needs window + 1 values, clips at the lower bound 1 for fast reversion', () => {
    // S = 0 1 0 1: pairs (S_{k−1}, ΔS_k) = (0, 1), (1, −1), (0, 1) → b = −2, κ = 2, ln2/2 ≈ 0.35 → 1
    const f = new RollingOuFit(3, 1, 240);
    expect(feed(f, [0, 1, 0, 1])).toEqual([NaN, NaN, NaN, 1]);
    close(f.kappa(), 2);
  });

  it('clips at 240 for slow reversion and is 240 when κ = 0 (linear spread)', () => {
    const slow = new RollingOuFit(20, 1, 240);
    let s = 100;
    for (let i = 0; i < 30; i++) slow.push((s *= 0.999)); // κ = 0.001 → ln2/κ ≈ 693 → 240
    close(slow.kappa(), 0.001, 1e-6);
    expect(slow.halfLife()).toBe(240);
    const linear = new RollingOuFit(20, 1, 240);
    for (let i = 0; i < 30; i++) linear.push(2 * i); // ΔS ≡ 2: b = 0 exactly
    expect(linear.kappa() === 0).toBe(true);
    expect(linear.halfLife()).toBe(240);
  });

  it('uses |κ| (an explosive spread gives ln2/0.01) and matches the plain OLS formula in between', () => {
    const ex = new RollingOuFit(10, 1, 240);
    let s = 1;
    for (let i = 0; i < 12; i++) ex.push((s *= 1.01));
    close(ex.halfLife(), Math.LN2 / 0.01, 1e-6);
    const rng = new Rng(8);
    const f = new RollingOuFit(50, 1, 240);
    const S: number[] = [];
    let v = 0;
    for (let i = 0; i < 400; i++) {
      v = 0.9 * v + rng.normal();
      S.push(v);
      const h = f.push(v);
      if (i >= 50) {
        const w = S.slice(-51);
        const b = ols(w.slice(0, -1), w.slice(1).map((x, k) => x - w[k]!)).b;
        close(h, Math.min(240, Math.max(1, Math.LN2 / Math.abs(b))), 1e-9);
      }
    }
  });
});

describe('robust switch and Huber', () => {
  const line = (n: number, rng: Rng, outliers: number[] = []) => {
    const x = Array.from({ length: n }, (_, i) => 100 + i + rng.normal());
    const y = x.map((v, i) => 1 + 2 * v + 0.5 * rng.normal() + (outliers.includes(i) ? 40 : 0));
    return { x, y };
  };

  it('does not fire on clean data and fires on a window with outliers, giving the statsmodels-convention Huber slope', () => {
    const rng = new Rng(4);
    const clean = line(60, rng);
    expect(switchFires(clean.x, clean.y)).toBe(false);
    const r1 = new RollingRobustSlope(60, 2, 1.345, 50);
    clean.x.forEach((v, i) => r1.push(v, clean.y[i]!));
    expect(r1.lastRobust).toBe(false);
    close(r1.push(clean.x[59]! + 1, clean.y[59]! + 2), ols([...clean.x.slice(1), clean.x[59]! + 1], [...clean.y.slice(1), clean.y[59]! + 2]).b, 1e-9);

    const dirty = line(60, rng, [3, 17, 29, 41, 55, 56, 57, 58]);
    expect(switchFires(dirty.x, dirty.y)).toBe(true);
    const r2 = new RollingRobustSlope(60, 2, 1.345, 50);
    let b = NaN;
    dirty.x.forEach((v, i) => (b = r2.push(v, dirty.y[i]!)));
    expect(r2.lastRobust).toBe(true);
    const want = naiveHuber(dirty.x, dirty.y);
    close(b, want, 1e-8);
    expect(Math.abs(want - 2)).toBeLessThan(Math.abs(ols(dirty.x, dirty.y).b - 2));
    close(huberFit(dirty.x, dirty.y).slope, want, 1e-8);
  });

  it('the switch decision equals the formula on many windows with 0–11 outliers', () => {
    const rng = new Rng(17);
    const ws = new RegressionWorkspace(41);
    let fired = 0;
    for (let trial = 0; trial < 400; trial++) {
      const n = 41;
      const k = Math.floor(rng.uniform() * 12);
      const d = line(n, rng, Array.from({ length: k }, () => Math.floor(rng.uniform() * n)));
      const f = ols(d.x, d.y);
      const want = switchFires(d.x, d.y);
      fired += want ? 1 : 0;
      expect(residualMadRatioExceeds(Float64Array.from(d.x), Float64Array.from(d.y), n, f.a, f.b, 2, ws)).toBe(want);
    }
    expect(fired).toBeGreaterThan(40);
    expect(fired).toBeLessThan(360);
  });

  it('streaming decisions (O(log n) bound + exact fallback) equal the formula bar by bar, also after a restore', () => {
    const rng = new Rng(23);
    const n = 45;
    const r = new RollingRobustSlope(n, 2, 1.345, 50);
    const xs: number[] = [];
    const ys: number[] = [];
    let x = 1800;
    let fired = 0;
    let restored: RollingRobustSlope | null = null;
    for (let i = 0; i < 6000; i++) {
      x += 3 * rng.normal();
      const jump = rng.uniform() < 0.03 ? 15 * rng.normal() : 0;
      const y = 2 + (i < 3000 ? 0.015 : 0.025) * x + rng.normal() + jump;
      xs.push(x);
      ys.push(y);
      const got = r.push(x, y);
      if (restored) expect(Object.is(restored.push(x, y), got)).toBe(true);
      if (i === 2500) restored = RollingRobustSlope.restore(roundTrip(r.snapshot()), 2, 1.345, 50);
      if (i >= n - 1) {
        const want = switchFires(xs.slice(-n), ys.slice(-n));
        expect({ i, robust: r.lastRobust }).toEqual({ i, robust: want });
        fired += want ? 1 : 0;
      }
    }
    expect(fired).toBeGreaterThan(100);
    // both paths ran: the O(log n) bound for most bars, the bracketed exact formula where the bound is undecided
    expect(r.switchStats.fast).toBeGreaterThan(r.switchStats.exact);
    expect(r.switchStats.exact).toBeGreaterThan(0);
  });
});

describe('RollingMinMax', () => {
  it('tracks the extremes of the last n values', () => {
    const rng = new Rng(2);
    const m = new RollingMinMax(7);
    const all: number[] = [];
    for (let i = 0; i < 2000; i++) {
      const v = Math.round(rng.normal() * 5) + 0;
      m.push(v);
      all.push(v);
      const w = all.slice(-7);
      expect([m.min(), m.max()]).toEqual([Math.min(...w), Math.max(...w)]);
    }
  });
});
