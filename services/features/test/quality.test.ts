/**
 * The vector quality rules (docs/architecture.md "The features service") and the beta_stability jump rule, against
 * hand-written cases and a naive sliding median.
 */
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { BetaJumpDetector, vectorQuality, type LegObservation } from '../src/pipeline/quality.js';

const CLOSE = Date.UTC(2024, 2, 4, 14);
const BUDGET = 120_000;
const leg = (o: Partial<LegObservation> = {}): LegObservation => ({ qualityFlag: 'ok', ingestStale: false, live: true, receivedMs: CLOSE + 1_000, ...o });
const q = (a: Partial<LegObservation>, b: Partial<LegObservation>, betaJump = false) => vectorQuality(leg(a), leg(b), { closeMs: CLOSE, budgetMs: BUDGET, betaJump });

describe('vector quality flag', () => {
  it('is ok for on-time legs flagged ok, resampled, revised or conflict', () => {
    for (const f of ['ok', 'resampled', 'revised', 'conflict'] as const) expect(q({ qualityFlag: f }, { qualityFlag: 'ok' })).toEqual({ flag: 'ok', reasons: [] });
  });

  it('propagates missing / outlier / stale leg flags and the ingest stale bit', () => {
    expect(q({ qualityFlag: 'missing' }, {})).toEqual({ flag: 'missing', reasons: ['a_missing'] });
    expect(q({}, { qualityFlag: 'outlier' })).toEqual({ flag: 'outlier', reasons: ['b_outlier'] });
    expect(q({ qualityFlag: 'stale' }, {})).toEqual({ flag: 'stale', reasons: ['a_stale'] });
    expect(q({}, { ingestStale: true })).toEqual({ flag: 'stale', reasons: ['b_ingest_stale'] });
  });

  it('marks a live leg later than the budget after the close, or after the other leg, stale', () => {
    // B arrives 121 s after the close (budget 120 s): late after the close; A came 1 s after the close → also 120 s apart: not late after the leg.
    expect(q({}, { receivedMs: CLOSE + 121_000 })).toEqual({ flag: 'stale', reasons: ['late_after_close'] });
    // 120 s exactly is within the budget.
    expect(q({ receivedMs: CLOSE }, { receivedMs: CLOSE + 120_000 })).toEqual({ flag: 'ok', reasons: [] });
    // The earlier leg arrived before the close (clock skew): 121 s apart, the later one 119 s after the close.
    expect(q({ receivedMs: CLOSE - 2_000 }, { receivedMs: CLOSE + 119_000 })).toEqual({ flag: 'stale', reasons: ['late_after_leg'] });
    expect(q({ receivedMs: CLOSE + 1_000 }, { receivedMs: CLOSE + 200_000 }).reasons).toEqual(['late_after_close', 'late_after_leg']);
  });

  it('does not judge timing when neither leg is live (backfill) or the timeframe has no budget', () => {
    expect(q({ live: false }, { live: false, receivedMs: CLOSE + 86_400_000 })).toEqual({ flag: 'ok', reasons: [] });
    expect(vectorQuality(leg(), leg({ receivedMs: CLOSE + 86_400_000 }), { closeMs: CLOSE, budgetMs: undefined, betaJump: false }).flag).toBe('ok');
    // One live leg is enough: the backfilled other leg made the vector late.
    expect(q({ live: true }, { live: false, receivedMs: CLOSE + 500_000 }).flag).toBe('stale');
  });

  it('keeps every reason and picks the most severe: missing > outlier > stale > beta_jump > ok', () => {
    expect(q({}, {}, true)).toEqual({ flag: 'beta_jump', reasons: ['beta_jump'] });
    expect(q({ ingestStale: true }, {}, true)).toEqual({ flag: 'stale', reasons: ['a_ingest_stale', 'beta_jump'] });
    expect(q({ qualityFlag: 'outlier' }, { receivedMs: CLOSE + 999_000 }, true)).toEqual({ flag: 'outlier', reasons: ['a_outlier', 'late_after_close', 'late_after_leg', 'beta_jump'] });
    expect(q({ qualityFlag: 'outlier' }, { qualityFlag: 'missing' }).flag).toBe('missing');
  });
});

/** Naive reference: sort a copy of the previous `size` defined values. */
function naiveJumps(values: number[], factor: number, size: number): boolean[] {
  const seen: number[] = [];
  return values.map((v) => {
    if (Number.isNaN(v)) return false;
    const w = seen.slice(-size);
    let jump = false;
    if (w.length === size) {
      const s = [...w].sort((x, y) => x - y);
      const m = size % 2 === 1 ? s[(size - 1) / 2]! : (s[size / 2 - 1]! + s[size / 2]!) / 2;
      jump = m > 0 && v > factor * m;
    }
    seen.push(v);
    return jump;
  });
}

describe('BetaJumpDetector', () => {
  it('flags a value above factor × the median of the previous window, once the window is full', () => {
    const d = new BetaJumpDetector(3, 4);
    // Window not full yet: nothing is judged.
    for (const v of [0.1, 0.2, 0.1, 0.2]) expect(d.observe(v).jump).toBe(false);
    // Median of [0.1, 0.2, 0.1, 0.2] = 0.15 → threshold 0.45.
    expect(d.observe(0.45)).toMatchObject({ jump: false, median: (0.1 + 0.2) / 2 });
    // Window [0.2, 0.1, 0.2, 0.45] → median 0.2 → threshold 0.6; 0.61 jumps and starts the condition.
    expect(d.observe(0.61)).toMatchObject({ jump: true, started: true, median: 0.2 });
    // Window [0.1, 0.2, 0.45, 0.61] → median 0.325 → 0.99 still jumps, but the condition was already on.
    expect(d.observe(0.99)).toMatchObject({ jump: true, started: false });
    expect(d.isJumping).toBe(true);
    // NaN (undefined feature) changes nothing.
    expect(d.observe(Number.NaN).jump).toBe(false);
    expect(d.isJumping).toBe(true);
  });

  it('matches a naive sliding median on random series, and fromHistory resumes exactly', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.double({ min: 0, max: 1, noNaN: true }), fc.constant(Number.NaN)), { minLength: 0, maxLength: 120 }),
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 0, max: 120 }),
        (values, size, cut) => {
          const expected = naiveJumps(values, 1.5, size);
          const d = new BetaJumpDetector(1.5, size);
          expect(values.map((v) => d.observe(v).jump)).toEqual(expected);
          // Restart after `cut` values from the history a store would hold.
          const head = values.slice(0, cut);
          const defined = head.filter((v) => !Number.isNaN(v));
          const headJumps = expected.slice(0, cut).filter((_, i) => !Number.isNaN(head[i]!));
          const resumed = BetaJumpDetector.fromHistory(1.5, size, defined, headJumps.at(-1) ?? false);
          expect(values.slice(cut).map((v) => resumed.observe(v).jump)).toEqual(expected.slice(cut));
        },
      ),
    );
  });
});
