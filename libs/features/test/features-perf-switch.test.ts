import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { RegressionWorkspace, RollingOls, RollingRobustSlope, residualMadRatioExceeds } from '../src/primitives/index.js';
import { Rng } from './core-support.js';

/**
 * The streaming robust switch (sorted-u bound, re-basing on undecided bars, bracketed exact fallback) must take
 * exactly the decision of the brute-force formula on every bar: residuals of the window's OLS fit, quickselect
 * median, quickselect MAD, std/(1.4826·MAD) > 2. The brute force below is `residualMadRatioExceeds` on a fresh
 * chronological copy of the window with the same (a, b) as the running fit (a separate RollingOls fed the same
 * pairs), so a disagreement can only come from the fast path. Windows are built to sit near the threshold:
 * the size of the contamination is bisected until the last window's ratio is within ~1e−12 of 2.
 */

const RATIO = 2;
const { sqrt, abs } = Math;

/** Chronological copy of a ring buffer's last `n` values. */
const lastN = (v: number[], n: number) => Float64Array.from(v.slice(-n));

/** The formula with a two-pass OLS and sorting (independent of the library), for windows off the threshold. */
function sortedRatio(x: Float64Array, y: Float64Array): number {
  const n = x.length;
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += x[i]!;
    my += y[i]!;
  }
  mx /= n;
  my /= n;
  let sxx = 0;
  let sxy = 0;
  for (let i = 0; i < n; i++) {
    sxx += (x[i]! - mx) ** 2;
    sxy += (x[i]! - mx) * (y[i]! - my);
  }
  const b = sxy / sxx;
  const a = my - b * mx;
  const r = Array.from(x, (xi, i) => y[i]! - a - b * xi);
  const med = (v: number[]) => {
    const s = [...v].sort((p, q) => p - q);
    return n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
  };
  const m = med(r);
  const mad = med(r.map((v) => abs(v - m)));
  const rm = r.reduce((s, v) => s + v, 0) / n;
  const sd = sqrt(r.reduce((s, v) => s + (v - rm) ** 2, 0) / (n - 1));
  return sd / (1.4826 * mad);
}

interface Case {
  n: number;
  extra: number;
  seed: number;
  outlierShare: number;
  drift: number;
}

/** x a random walk, y = 1 + β_t·x + noise + m·(outliers); returns the pairs for a given contamination size m. */
function series(c: Case, m: number): { x: number[]; y: number[] } {
  const rng = new Rng(c.seed);
  const len = c.n + c.extra;
  const x: number[] = [];
  const y: number[] = [];
  let xv = 100;
  let beta = 0.8;
  for (let i = 0; i < len; i++) {
    xv += rng.normal();
    beta += c.drift * rng.normal();
    const out = rng.uniform() < c.outlierShare ? (rng.uniform() < 0.5 ? -1 : 1) * (1 + rng.uniform()) : 0;
    x.push(xv);
    y.push(1 + beta * xv + 0.3 * rng.normal() + m * out);
  }
  return { x, y };
}

/** Ratio of the last window of the series for contamination m (brute force with the running fit). */
function lastWindowFires(c: Case, m: number, ws: RegressionWorkspace): boolean {
  const { x, y } = series(c, m);
  const ols = new RollingOls(c.n);
  for (let i = 0; i < x.length; i++) ols.push(x[i]!, y[i]!);
  return residualMadRatioExceeds(lastN(x, c.n), lastN(y, c.n), c.n, ols.intercept(), ols.slope(), RATIO, ws);
}

/** Streams the series and checks every full window's decision against the brute force; returns the decisions. */
function checkStream(c: Case, m: number, ws: RegressionWorkspace, stats: { fast: number; exact: number; fired: number; near: number; windows: number }) {
  const { x, y } = series(c, m);
  const r = new RollingRobustSlope(c.n, RATIO, 1.345, 50);
  const ols = new RollingOls(c.n);
  for (let i = 0; i < x.length; i++) {
    r.push(x[i]!, y[i]!);
    ols.push(x[i]!, y[i]!);
    if (i < c.n - 1) continue;
    const xw = lastN(x.slice(0, i + 1), c.n);
    const yw = lastN(y.slice(0, i + 1), c.n);
    const want = residualMadRatioExceeds(xw, yw, c.n, ols.intercept(), ols.slope(), RATIO, ws);
    if (r.lastRobust !== want) throw new Error(`bar ${i}: fast path ${r.lastRobust}, brute force ${want} (${JSON.stringify(c)}, m=${m})`);
    const q = sortedRatio(xw, yw);
    // Off the threshold the library's brute force must also agree with the plain sort-based formula.
    if (abs(q - RATIO) > 1e-9) expect(want).toBe(q > RATIO);
    else stats.near++;
    stats.windows++;
    if (want) stats.fired++;
  }
  const s = r.switchStats;
  stats.fast += s.fast;
  stats.exact += s.exact;
}

describe('robust switch fast path (fast-check against the brute-force formula)', () => {
  it('takes the brute-force decision on every bar, including windows within ~1e−12 of the threshold', () => {
    const ws = new RegressionWorkspace(200);
    const stats = { fast: 0, exact: 0, fired: 0, near: 0, windows: 0 };
    let bisected = 0;
    fc.assert(
      fc.property(
        fc.record({
          n: fc.integer({ min: 15, max: 90 }),
          extra: fc.integer({ min: 20, max: 120 }),
          seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
          outlierShare: fc.double({ min: 0.02, max: 0.35, noNaN: true }),
          drift: fc.constantFrom(0, 0.001, 0.01),
        }),
        (c) => {
          // Bisect the contamination size so that the last window straddles the threshold.
          let lo = 0;
          let hi = 40;
          if (lastWindowFires(c, lo, ws) || !lastWindowFires(c, hi, ws)) {
            checkStream(c, hi * 0.1, ws, stats);
            return;
          }
          for (let k = 0; k < 80 && hi - lo > 1e-13 * hi; k++) {
            const mid = (lo + hi) / 2;
            if (lastWindowFires(c, mid, ws)) hi = mid;
            else lo = mid;
          }
          bisected++;
          checkStream(c, lo, ws, stats);
          checkStream(c, hi, ws, stats);
        },
      ),
      { numRuns: 150, seed: 20261123 },
    );
    // The property ran the interesting paths: both decisions, the fast bound, the exact fallback, and windows
    // whose ratio is within 1e−9 of the threshold.
    expect(bisected).toBeGreaterThan(30);
    expect(stats.fired).toBeGreaterThan(100);
    expect(stats.fired).toBeLessThan(stats.windows);
    expect(stats.fast).toBeGreaterThan(stats.exact);
    expect(stats.exact).toBeGreaterThan(0);
    expect(stats.near).toBeGreaterThan(30);
  });

  it('agrees bar by bar on a long drifting series with jumps, where the sorted order is re-based often', () => {
    const ws = new RegressionWorkspace(180);
    const n = 180;
    const rng = new Rng(99);
    const r = new RollingRobustSlope(n, RATIO, 1.345, 50);
    const ols = new RollingOls(n);
    const xs: number[] = [];
    const ys: number[] = [];
    let x = 25;
    let beta = 1.6;
    let ou = 0;
    let fired = 0;
    for (let i = 0; i < 6000; i++) {
      x *= Math.exp(0.002 * rng.normal());
      beta += 0.0005 * (1.6 - beta) + 0.003 * rng.normal();
      ou += -0.03 * ou + 0.08 * rng.normal() + (rng.uniform() < 0.004 ? (rng.uniform() - 0.5) * 4 : 0);
      const y = 10 + beta * x + ou;
      xs.push(x);
      ys.push(y);
      r.push(x, y);
      ols.push(x, y);
      if (i < n - 1) continue;
      const want = residualMadRatioExceeds(lastN(xs, n), lastN(ys, n), n, ols.intercept(), ols.slope(), RATIO, ws);
      expect({ i, fired: r.lastRobust }).toEqual({ i, fired: want });
      if (want) fired++;
      if (xs.length > 2 * n) {
        xs.splice(0, n);
        ys.splice(0, n);
      }
    }
    expect(fired).toBeGreaterThan(20);
    expect(r.switchStats.rebuilds).toBeGreaterThan(100);
  });

  it('RollingOls.fit() gives bit for bit what the separate getters give, also for constant x and short windows', () => {
    const rng = new Rng(5);
    for (const n of [2, 3, 20]) {
      const o = new RollingOls(n);
      for (let i = 0; i < 400; i++) {
        // Stretches of constant x (no slope) and of collinear points (ssr at 0) between noisy ones.
        const phase = Math.floor(i / 50) % 3;
        const x = phase === 0 ? 7 : 100 + i + rng.normal();
        const y = phase === 2 ? 3 - 0.5 * x : 1 + 2 * x + rng.normal();
        o.push(x, y);
        o.fit();
        const got = [o.fitSlope, o.fitIntercept, o.fitSsr, o.fitSyy, o.fitMeanY];
        const want = [o.slope(), o.intercept(), o.ssr(), o.syy(), o.meanY()];
        for (let k = 0; k < 5; k++) expect({ i, k, same: Object.is(got[k], want[k]) }).toEqual({ i, k, same: true });
      }
    }
  });
});
