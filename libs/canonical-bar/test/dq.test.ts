import { describe, expect, it } from '@jest/globals';
import {
  CanonicalBarError,
  DqChecker,
  dedupeLatestWins,
  fillGaps,
  flagOutliers,
  rejectInvalidPrices,
  runDq,
  sortByTime,
  type CanonicalBar,
} from '../src/index.js';
import { MONDAY, bar, closeBar, iso } from './fixtures.js';

const H = 3_600_000;
const at = (k: number, close: number, extra: Partial<CanonicalBar> = {}): CanonicalBar => closeBar(MONDAY + k * H, close, '1h', extra);
const FX = { calendar: '24/5' as const };

/** Closes following the given log returns from 100. */
function closesFromReturns(rets: number[]): number[] {
  const out = [100];
  for (const r of rets) out.push(out[out.length - 1]! * Math.exp(r));
  return out;
}
const alternating = (n: number, a: number): number[] => Array.from({ length: n }, (_, i) => (i % 2 === 0 ? a : -a));
const series = (closes: number[]): CanonicalBar[] => closes.map((c, k) => at(k, c));

describe('rule 1: order', () => {
  it('sorts by time and counts bars that arrived after a later one', () => {
    const r = sortByTime([at(0, 1), at(2, 3), at(1, 2), at(3, 4)]);
    expect(r.bars.map((b) => b.close)).toEqual([1, 2, 3, 4]);
    expect(r.reordered).toBe(1);
    expect(sortByTime([at(3, 4), at(0, 1), at(1, 2), at(2, 3)]).reordered).toBe(3);
  });

  it('rejects non-canonical and misaligned timestamps', () => {
    const r = sortByTime([at(0, 1), { ...at(1, 2), ts_utc: '2024-01-01T01:00:00Z' }, { ...at(2, 3), ts_utc: iso(MONDAY + 2 * H + 60_000) }]);
    expect(r.bars).toHaveLength(1);
    expect(r.rejected.map((x) => [x.index, x.errorId])).toEqual([
      [1, 'DATA_DQ_TSFMT'],
      [2, 'DATA_DQ_ALIGN'],
    ]);
  });

  it('refuses mixed series', () => {
    expect(() => runDq([at(0, 1), { ...at(1, 1), symbol: 'EURUSD' }], FX)).toThrow(CanonicalBarError);
    expect(() => runDq([at(0, 1), { ...at(1, 1), timeframe: '4h' }], FX)).toThrow(/DATA_DQ_SERIES/);
  });
});

describe('rule 2: duplicates', () => {
  it('keeps the later element in input order and counts drops', () => {
    const sorted = sortByTime([at(0, 1), at(1, 2), at(2, 3), at(1, 9)]);
    const r = dedupeLatestWins(sorted.bars, sorted.ms, sorted.indices);
    expect(r.bars.map((b) => b.close)).toEqual([1, 9, 3]);
    expect(r.indices).toEqual([0, 3, 2]);
    expect(r.dropped).toBe(1);
    const dq = runDq([at(0, 1), at(1, 2), at(1, 5), at(2, 3), at(1, 7)], FX);
    expect(dq.bars.map((b) => b.close)).toEqual([1, 7, 3]);
    expect([dq.report.duplicates_dropped, dq.report.reordered]).toEqual([2, 1]);
  });
});

describe('rule 3: invalid prices', () => {
  it('rejects zero/negative/non-finite prices, inconsistent OHLC and bad volume, with reasons', () => {
    const input = [
      at(0, 100),
      { ...at(1, 100), open: 0 },
      { ...at(2, 100), low: -1 },
      { ...at(3, 100), close: Number.NaN },
      { ...at(4, 100), high: 99 },
      { ...at(5, 100), volume: -1 },
      at(6, 100),
    ];
    const r = rejectInvalidPrices(input);
    expect(r.bars).toEqual([input[0], input[6]]);
    expect(r.rejected.map((x) => [x.index, x.errorId, x.field])).toEqual([
      [1, 'DATA_DQ_NONPOS', 'open'],
      [2, 'DATA_DQ_NONPOS', 'low'],
      [3, 'DATA_DQ_NONFIN', 'close'],
      [4, 'DATA_DQ_OHLC', 'low'], // flat bar at 100 with high 99: first relation violated is low (100) > high (99)
      [5, 'DATA_DQ_VOLUME', 'volume'],
    ]);
    expect(r.by_reason).toEqual({ DATA_DQ_NONPOS: 2, DATA_DQ_NONFIN: 1, DATA_DQ_OHLC: 1, DATA_DQ_VOLUME: 1 });
    const dq = runDq(input, { ...FX, missing_fill_max_run: 0 });
    expect(dq.report.rejected).toBe(5);
    expect(dq.report.rejected_by_reason).toEqual(r.by_reason);
    expect(dq.report.rejections.map((x) => x.index)).toEqual([1, 2, 3, 4, 5]);
  });

  it('a duplicate that wins and is invalid leaves the timestamp empty (rules run in order)', () => {
    const dq = runDq([at(0, 100), at(1, 101), { ...at(1, 102), close: -5 }, at(2, 103)], { ...FX, missing_fill_max_run: 0 });
    expect(dq.bars.map((b) => b.close)).toEqual([100, 103]);
    expect(dq.report.gaps).toEqual([{ fromMs: MONDAY + H, toMs: MONDAY + 2 * H, bars: 1, quality_flag: 'missing' }]);
  });
});

describe('rule 4: gaps', () => {
  it('fills a gap of 2: open = previous close, close interpolated, high/low from open/close', () => {
    const next = at(3, 106, { ingest_run_id: 'run-next' });
    const r = fillGaps([at(0, 100), next], FX);
    // closes: 100 + 6·1/3 = 102, 100 + 6·2/3 = 104
    expect(r.bars.slice(1, 3)).toEqual([
      { ...synth(1, 100, 102), ingest_run_id: 'run-next' },
      { ...synth(2, 102, 104), ingest_run_id: 'run-next' },
    ]);
    expect(r.bars[3]).toBe(next);
    expect([r.filled_bars, r.missing_bars, r.expected_bars, r.gaps]).toEqual([2, 0, 4, []]);
  });

  it('reports a gap longer than the limit as a missing range and fills nothing', () => {
    const r = runDq([at(0, 100), at(4, 104)], FX);
    expect(r.bars.map((b) => b.close)).toEqual([100, 104]);
    expect(r.report.gaps).toEqual([{ fromMs: MONDAY + H, toMs: MONDAY + 4 * H, bars: 3, quality_flag: 'missing' }]);
    // expected grid h0..h4 = 5 bars, 3 of them missing
    expect([r.report.missing_bars, r.report.expected_bars, r.report.missing_rate, r.report.gap_count]).toEqual([3, 5, 3 / 5, 1]);
  });

  it('follows the 24/5 calendar across the weekend', () => {
    const fri23 = Date.parse('2024-01-05T23:00:00.000Z');
    const mon00 = Date.parse('2024-01-08T00:00:00.000Z');
    const weekend = [closeBar(fri23, 100), closeBar(mon00, 101)];
    expect(runDq(weekend, FX).report).toMatchObject({ filled_bars: 0, missing_bars: 0, expected_bars: 2 });
    // 24/7: Sat + Sun = 48 hourly bars missing
    expect(runDq(weekend, { calendar: '24/7' }).report).toMatchObject({ missing_bars: 48, expected_bars: 50 });
    // Fri 22:00 → Mon 01:00: the grid misses Fri 23:00 and Mon 00:00 only, interpolated by grid position
    const r = runDq([closeBar(fri23 - H, 100), closeBar(mon00 + H, 103)], FX);
    expect(r.bars.map((b) => [b.ts_utc, b.close])).toEqual([
      [iso(fri23 - H), 100],
      [iso(fri23), 101],
      [iso(mon00), 102],
      [iso(mon00 + H), 103],
    ]);
    expect(r.report.filled_bars).toBe(2);
  });
});

function synth(k: number, open: number, close: number): CanonicalBar {
  return {
    ts_utc: iso(MONDAY + k * H),
    symbol: 'XAUUSD',
    timeframe: '1h',
    open,
    high: Math.max(open, close),
    low: Math.min(open, close),
    close,
    volume: null,
    quality_flag: 'resampled',
    source_id: 'twelvedata',
    ingest_run_id: 'run-1',
    metadata: { dq_fill: 'interpolated' },
  };
}

describe('rules 5/6: outliers and spikes (seed defaults)', () => {
  // 40 returns of ±0.001: σ = 0.001·sqrt(40/39) ≈ 0.00101, so 8σ ≈ 0.0081; |Δclose| ≈ 0.1 → 12·median ≈ 1.2.
  it('flags a return beyond 8σ as an outlier (sigma); the next bar measures from it', () => {
    const closes = closesFromReturns([...alternating(40, 0.001), 0.01, 0.001]);
    const r = runDq(series(closes), FX);
    expect(r.bars.map((b, i) => [i, b.quality_flag, b.metadata.dq_reason]).filter(([, f]) => f === 'outlier')).toEqual([[41, 'outlier', 'sigma']]);
    expect(r.report).toMatchObject({ outliers_sigma: 1, outliers_spike: 0, outlier_bars: 1, outlier_rate: 1 / 43 });
    // Returning to the old level flags the bar after the outlier too (its return is −0.01).
    const back = runDq(series(closesFromReturns([...alternating(40, 0.001), 0.01, -0.01])), FX);
    expect(back.report.outliers_sigma).toBe(2);
  });

  it('needs at least 30 returns before judging', () => {
    // 29 returns then the jump: the jump is the 30th return and the window holds only 29 → not judged.
    expect(runDq(series(closesFromReturns([...alternating(29, 0.001), 0.05])), FX).report.outlier_bars).toBe(0);
    expect(runDq(series(closesFromReturns([...alternating(30, 0.001), 0.05])), FX).report.outlier_bars).toBe(1);
  });

  it('flags |Δclose| > 12 × median(|Δclose|) as a spike when within 8σ', () => {
    // 12 returns of ±0.01 then 28 of ±0.0001: σ ≈ sqrt((12·1e-4 + 28·1e-8)/39) ≈ 0.00555, 8σ ≈ 0.044;
    // median |Δclose| ≈ 100·0.0001 = 0.01 (28 of 40 values are small), 12·median ≈ 0.12.
    // A return of 0.005 moves the close by ≈ 0.5 > 0.12 while 0.005 < 0.044.
    const closes = closesFromReturns([...alternating(12, 0.01), ...alternating(28, 0.0001), 0.005, 0.0001]);
    const r = runDq(series(closes), FX);
    const flagged = r.bars.flatMap((b, i) => (b.quality_flag === 'outlier' ? [[i, b.metadata.dq_reason]] : []));
    expect(flagged).toEqual([[41, 'spike']]);
    expect(r.report).toMatchObject({ outliers_sigma: 0, outliers_spike: 1 });
  });

  it('does not judge across an unfilled gap, bars already flagged, or zero dispersion', () => {
    const base = closesFromReturns(alternating(40, 0.001));
    const afterGap = [...series(base), at(44, base[40]! * Math.exp(0.05))]; // 3 missing bars before it
    expect(runDq(afterGap, FX).report.outlier_bars).toBe(0);
    const pre = series(closesFromReturns([...alternating(40, 0.001), 0.05]));
    pre[41] = { ...pre[41]!, quality_flag: 'outlier', metadata: { dq_reason: 'manual' } };
    const r = runDq(pre, FX);
    expect(r.bars[41]).toBe(pre[41]);
    expect(r.report).toMatchObject({ outliers_sigma: 0, outliers_spike: 0, outlier_bars: 1 });
    const flat = series([...Array.from({ length: 40 }, () => 100), 150]);
    expect(runDq(flat, FX).report.outlier_bars).toBe(0);
  });

  it('thresholds are options', () => {
    const closes = closesFromReturns([...alternating(40, 0.001), 0.01]);
    expect(flagOutliers(series(closes), { ...FX, outlier_sigma: 20 }).outlier_bars).toBe(0);
    expect(flagOutliers(series(closes), { ...FX, outlier_sigma: 20, dq_spike_k: 5 }).outliers_spike).toBe(1);
    expect(() => runDq([], { ...FX, outlier_min_returns: 200 })).toThrow(/DATA_DQ_CONFIG/);
    expect(() => runDq([], { calendar: '24/6' as never })).toThrow(/DATA_DQ_CONFIG/);
  });
});

describe('DqChecker (streaming)', () => {
  it('fills, reports gaps and rejects late/duplicate bars', () => {
    const c = new DqChecker(FX);
    expect(c.push(at(0, 100)).bars).toHaveLength(1);
    const filled = c.push(at(3, 106));
    expect(filled.bars.map((b) => b.close)).toEqual([102, 104, 106]);
    const gap = c.push(at(8, 110));
    expect(gap.gap).toEqual({ fromMs: MONDAY + 4 * H, toMs: MONDAY + 8 * H, bars: 4, quality_flag: 'missing' });
    expect(c.push(at(8, 111)).rejected?.errorId).toBe('DATA_DQ_DUP');
    expect(c.push(at(5, 111)).rejected?.errorId).toBe('DATA_DQ_LATE');
    expect(c.push({ ...at(9, 111), open: 0 }).rejected?.errorId).toBe('DATA_DQ_NONPOS');
    expect(c.report()).toMatchObject({
      input_bars: 6,
      output_bars: 5,
      filled_bars: 2,
      missing_bars: 4,
      expected_bars: 9,
      duplicates_dropped: 1,
      rejected: 3,
      rejected_by_reason: { DATA_DQ_DUP: 1, DATA_DQ_LATE: 1, DATA_DQ_NONPOS: 1 },
      missing_rate: 4 / 9,
    });
  });

  it('the first bar of a series defines it', () => {
    const c = new DqChecker(FX);
    c.push(bar());
    expect(() => c.push(bar({ symbol: 'EURUSD', ms: MONDAY + H }))).toThrow(/DATA_DQ_SERIES/);
  });
});
