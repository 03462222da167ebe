import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { computeAi2Risk, halfLifeEma, plainZRuleDrawdown, rollingMaxDrawdown, type LabelParams } from '../src/labels/index.js';
import { fixtureAi2, fixtureFeatures } from './support/fixture-labels.js';

const F = (xs: number[]): Float64Array => Float64Array.from(xs);

describe('AI2 risk — fixture (pandas reference, dd excluded)', () => {
  it('reproduces risk_wo_dd and defined on every row', () => {
    const f = fixtureFeatures();
    const exp = fixtureAi2();
    expect(exp.ts).toEqual(f.ts);
    const r = computeAi2Risk({ corrStability: f.columns.corr_stability!, volRatioSpread: f.columns.vol_ratio_spread!, absDeltaZ: f.columns.abs_delta_z! });
    expect(Array.from(r.defined)).toEqual(exp.defined);
    expect(Array.from(r.risk)).toEqual(exp.risk);
    // The file is not trivially all-zero or all-one, and both non-dd conditions that fire in it are exercised.
    const ones = exp.risk.reduce((a, b) => a + b, 0);
    expect(ones).toBeGreaterThan(100);
    expect(ones).toBeLessThan(exp.risk.length / 2);
    expect(r.conditions.vol.some((v) => v === 1)).toBe(true);
    expect(r.conditions.speed.some((v) => v === 1)).toBe(true);
    expect(r.conditions.dd.every((v) => v === 0)).toBe(true);
  });
});

describe('AI2 risk — hand-computed rules', () => {
  it('speed EMA: half-life h, seeded with the first defined |Δz|, NaN inputs hold the state', () => {
    const y = halfLifeEma(F([NaN, NaN, 0.3, 0, 0, NaN, 0, 0, 0, 0]), 6);
    expect(y[0]).toBeNaN();
    expect(y[1]).toBeNaN();
    expect(y[2]).toBe(0.3);
    const decay = Math.pow(0.5, 1 / 6); // 1 − α
    expect(y[3]).toBeCloseTo(0.3 * decay, 15);
    expect(y[4]).toBeCloseTo(0.3 * decay ** 2, 15);
    expect(y[5]).toBeNaN();
    // Six zero inputs after the seed halve it (bars 3, 4, 6, 7, 8, 9): that is what a half-life of 6 means.
    expect(y[9]).toBeCloseTo(0.15, 14);
  });

  it('thresholds are strict and each condition alone sets risk', () => {
    const p: Partial<LabelParams> = { riskCorrVar: 0.025, riskVolRatio: 1.8, riskSpeed: 0.12, riskDd: 0.07, riskSpeedHalfLife: 6 };
    // Constant |Δz| keeps the EMA at that constant.
    const r = computeAi2Risk(
      {
        corrStability: F([0.025, 0.0250001, 0, 0, 0, 0, 0]),
        volRatioSpread: F([1.8, 0, 1.8000001, 0, 0, 0, 0]),
        absDeltaZ: F([0.12, 0.12, 0.12, 0.12, 0.12, 0.12, 0.12]),
        ddRecent: F([0.07, 0, 0, 0.0700001, 0, 0, 0]),
      },
      p,
    );
    expect(Array.from(r.speedEma)).toEqual([0.12, 0.12, 0.12, 0.12, 0.12, 0.12, 0.12]);
    expect(Array.from(r.conditions.corr)).toEqual([0, 1, 0, 0, 0, 0, 0]);
    expect(Array.from(r.conditions.vol)).toEqual([0, 0, 1, 0, 0, 0, 0]);
    expect(Array.from(r.conditions.speed)).toEqual([0, 0, 0, 0, 0, 0, 0]);
    expect(Array.from(r.conditions.dd)).toEqual([0, 0, 0, 1, 0, 0, 0]);
    expect(Array.from(r.risk)).toEqual([0, 1, 1, 1, 0, 0, 0]);
    const fast = computeAi2Risk({ corrStability: F([0]), volRatioSpread: F([0]), absDeltaZ: F([0.1200001]) }, p);
    expect([fast.conditions.speed[0], fast.risk[0]]).toEqual([1, 1]);
  });

  it('defined = at least one condition input defined; undefined conditions count as 0', () => {
    const r = computeAi2Risk({
      corrStability: F([NaN, NaN, NaN, 0.03, NaN]),
      volRatioSpread: F([NaN, NaN, 2.0, NaN, NaN]),
      absDeltaZ: F([NaN, NaN, NaN, NaN, NaN]),
      ddRecent: F([NaN, 0.5, NaN, NaN, NaN]),
    });
    expect(Array.from(r.defined)).toEqual([0, 1, 1, 1, 0]);
    expect(Array.from(r.risk)).toEqual([0, 1, 1, 1, 0]);
    const noDd = computeAi2Risk({ corrStability: F([NaN, 0]), volRatioSpread: F([NaN, NaN]), absDeltaZ: F([NaN, NaN]) });
    expect(Array.from(noDd.defined)).toEqual([0, 1]);
    expect(Array.from(noDd.risk)).toEqual([0, 0]);
  });

  it('rejects arrays of different lengths', () => {
    expect(() => computeAi2Risk({ corrStability: F([0, 0]), volRatioSpread: F([0]), absDeltaZ: F([0, 0]) })).toThrow(/CORE_LABEL_INPUT/);
  });
});

describe('dd_recent — plain z rule equity, hand-computed', () => {
  // β = 0.5, z_entry 2, z_exit 0.5, M = 3, window 3 bars.
  const P: Partial<LabelParams> = { horizonBars: 3, riskDdWindowBars: 3 };

  it('marks a short-spread then a long-spread trade to market on closes', () => {
    const z = F([NaN, 2.5, 1.5, 0.3, 0.0, -2.2, -1.0, -1.1]);
    const beta = F([NaN, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]);
    const A = F([10, 10, 9.4, 9.0, 9.2, 9.0, 8.8, 8.5]);
    const B = F([4, 4, 4.2, 4.0, 4.0, 4.0, 4.1, 4.0]);
    const r = plainZRuleDrawdown({ z, beta, closeA: A, closeB: B }, P);
    // Bar 1: z = 2.5 → short spread: G = 10 + 0.5·4 = 12, q_A = −1/12, q_B = +0.5/12.
    // Bar 2: −(−0.6)/12 + 0.5·0.2/12 = 0.7/12.  Bar 3: −(−0.4)/12 + 0.5·(−0.2)/12 = 0.3/12, and |z| = 0.3 → exit.
    // Bar 5: z = −2.2 → long spread: G = 9 + 0.5·4 = 11, q_A = 1/11, q_B = −0.5/11.
    // Bar 6: (−0.2)/11 − 0.5·0.1/11 = −0.25/11.  Bar 7: (−0.3)/11 − 0.5·(−0.1)/11 = −0.25/11; held (2 bars < M).
    const e1 = 1 + 0.7 / 12;
    const e2 = e1 + 0.3 / 12;
    const e6 = e2 - 0.25 / 11;
    const e7 = e6 - 0.25 / 11;
    const expected = [NaN, 1, e1, e2, e2, e2, e6, e7];
    expected.forEach((v, i) => (Number.isNaN(v) ? expect(r.equity[i]).toBeNaN() : expect(r.equity[i]).toBeCloseTo(v, 12)));
    expect(Array.from(r.position)).toEqual([0, -1, -1, 0, 0, 1, 1, 1]);
    // Window of 3 bars: rising or flat until bar 5; bar 6 peak e2 (bars 4, 5), bar 7 peak e2 (bar 5).
    const dd = [NaN, 0, 0, 0, 0, 0, 1 - e6 / e2, 1 - e7 / e2];
    dd.forEach((v, i) => (Number.isNaN(v) ? expect(r.ddRecent[i]).toBeNaN() : expect(r.ddRecent[i]).toBeCloseTo(v, 12)));
    expect(r.ddRecent[7]).toBeCloseTo(0.5 / 11 / (1 + 1 / 12), 12);
  });

  it('closes on bar entry + M without re-entering on it, re-enters on the next bar', () => {
    const z = F([2.5, 2.5, 2.5, 2.5, 2.5, 2.5]);
    const beta = F([1, 1, 1, 1, 1, 1]);
    const A = F([10, 11, 12, 13, 14, 15]);
    const B = F([10, 10, 10, 10, 10, 10]);
    const r = plainZRuleDrawdown({ z, beta, closeA: A, closeB: B }, P);
    expect(Array.from(r.position)).toEqual([-1, -1, -1, 0, -1, -1]);
    // Short 1/20 unit of A from bar 0 to bar 3 (A +3), flat on bar 3, short again at 14 on bar 4 (G = 24).
    const e3 = 1 - 3 / 20;
    [1, 1 - 1 / 20, 1 - 2 / 20, e3, e3, e3 - 1 / 24].forEach((v, i) => expect(r.equity[i]).toBeCloseTo(v, 14));
  });

  it('flips on an opposite crossing and uses |β| for a negative hedge ratio', () => {
    const z = F([2.5, 1.0, -2.5, -1.0]);
    const beta = F([-2, -2, -2, -2]);
    const A = F([10, 10, 10, 12]);
    const B = F([5, 6, 6, 6]);
    const r = plainZRuleDrawdown({ z, beta, closeA: A, closeB: B }, P);
    expect(Array.from(r.position)).toEqual([-1, -1, 1, 1]);
    // Bar 0: S = A + 2B, short: G = 10 + 2·5 = 20, q_A = −1/20, q_B = −2/20 (short both legs).
    // Bar 1: B +1 → −2/20.  Bar 2: flat prices, flip long: G = 10 + 12 = 22, q_A = 1/22.  Bar 3: A +2 → +2/22.
    expect(r.equity[1]).toBeCloseTo(0.9, 14);
    expect(r.equity[3]).toBeCloseTo(0.9 + 2 / 22, 14);
    expect(r.ddRecent[1]).toBeCloseTo(0.1, 14);
  });

  it('drawdown is 1 (ruin) once the equity is not positive', () => {
    const dd = rollingMaxDrawdown(F([NaN, 1, 0.5, -0.2, 0.1]), 10);
    expect(Array.from(dd)).toEqual([NaN, 0, 0.5, 1, 1]);
  });
});

function naiveDd(e: number[], w: number): number[] {
  const t0 = e.findIndex((v) => !Number.isNaN(v));
  return e.map((_, t) => {
    if (t0 < 0 || t < t0) return NaN;
    let best = 0;
    for (let i = Math.max(t0, t - w + 1); i <= t; i++) {
      for (let j = i; j <= t; j++) {
        const v = e[i]! > 0 ? 1 - Math.max(e[j]!, 0) / e[i]! : 1;
        if (v > best) best = v;
      }
    }
    return best;
  });
}

describe('dd_recent — properties', () => {
  it('the O(n) sliding drawdown equals the O(n·W) definition bit for bit', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: -0.3, max: 0.3, noNaN: true }), { maxLength: 200 }),
        fc.integer({ min: 0, max: 5 }),
        fc.integer({ min: 1, max: 40 }),
        (steps, lead, w) => {
          const e: number[] = Array.from({ length: lead }, () => NaN);
          let x = 1;
          for (const s of steps) {
            x += s;
            e.push(x);
          }
          expect(Array.from(rollingMaxDrawdown(F(e), w))).toEqual(naiveDd(e, w));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('equity changes only while a position is held, and a trade lasts at most M bars', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.double({ min: -3, max: 3, noNaN: true }), fc.double({ min: -0.02, max: 0.02, noNaN: true })), { minLength: 2, maxLength: 150 }), fc.integer({ min: 1, max: 10 }), (rows, M) => {
        const z = F(rows.map((r) => r[0]));
        const A = F(rows.map((_, i) => 100 + i * 0.1));
        const B = F(rows.map((r, i) => 50 * Math.exp(r[1]) + i * 0.01));
        const r = plainZRuleDrawdown({ z, beta: F(rows.map(() => 1.5)), closeA: A, closeB: B }, { horizonBars: M });
        let held = 0;
        for (let t = 1; t < z.length; t++) {
          if (r.position[t - 1] === 0) expect(r.equity[t]).toBe(r.equity[t - 1]);
          held = r.position[t] !== 0 && r.position[t] === r.position[t - 1] ? held + 1 : 0;
          expect(held).toBeLessThanOrEqual(M - 1); // entry bar + at most M − 1 more closes; bar entry + M is flat or flipped
        }
        for (let t = 0; t < z.length; t++) expect(r.ddRecent[t]).toBeGreaterThanOrEqual(0);
      }),
      { numRuns: 200 },
    );
  });
});
