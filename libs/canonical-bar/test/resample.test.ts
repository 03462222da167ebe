import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { CanonicalBarError, resampleBars, type CanonicalBar, type Timeframe } from '../src/index.js';
import { MONDAY, TF_MS, bar, buildSeries, iso, stepArb } from './fixtures.js';

const q = (k: number, o: number, h: number, l: number, c: number, v: number | null): CanonicalBar =>
  bar({ ms: MONDAY + k * 900_000, timeframe: '15m', open: o, high: h, low: l, close: c, volume: v, ingest_run_id: `r${k}` });

describe('resampleBars examples', () => {
  it('15m → 1h: open of first, max high, min low, close of last, summed volume', () => {
    const bars = [q(0, 10, 12, 9, 11, 1), q(1, 11, 15, 10, 14, 2), q(2, 14, 14, 8, 9, 3), q(3, 9, 10, 9, 10, 4)];
    const r = resampleBars(bars, '1h');
    expect(r).toEqual({
      bars: [
        {
          ts_utc: iso(MONDAY),
          symbol: 'XAUUSD',
          timeframe: '1h',
          open: 10,
          high: 15,
          low: 8,
          close: 10,
          volume: 10, // 1 + 2 + 3 + 4
          quality_flag: 'resampled',
          source_id: 'twelvedata',
          ingest_run_id: 'r3',
          metadata: { resampled_from: '15m', resample_bars: 4, resample_expected: 4 },
        },
      ],
      complete: 1,
      incomplete: 0,
      dropped: 0,
    });
  });

  it('a null volume makes the bucket volume null', () => {
    const bars = [q(0, 10, 12, 9, 11, 1), q(1, 11, 15, 10, 14, null), q(2, 14, 14, 8, 9, 3), q(3, 9, 10, 9, 10, 4)];
    expect(resampleBars(bars, '1h').bars[0]!.volume).toBeNull();
  });

  it('incomplete buckets are dropped by default, or kept and marked', () => {
    // bucket 0 complete (k 0..3); bucket 1 has k 4 and 6 only (2 of 4).
    const bars = [q(0, 10, 12, 9, 11, 1), q(1, 11, 15, 10, 14, 2), q(2, 14, 14, 8, 9, 3), q(3, 9, 10, 9, 10, 4), q(4, 10, 11, 10, 11, 1), q(6, 11, 13, 11, 12, 1)];
    const dropped = resampleBars(bars, '1h');
    expect(dropped.bars.map((b) => b.ts_utc)).toEqual([iso(MONDAY)]);
    expect([dropped.complete, dropped.incomplete, dropped.dropped]).toEqual([1, 1, 1]);
    const kept = resampleBars(bars, '1h', { incomplete: 'keep', ingest_run_id: 'resample-1' });
    expect(kept.bars).toHaveLength(2);
    expect(kept.bars[1]).toMatchObject({
      ts_utc: iso(MONDAY + 3_600_000),
      open: 10,
      high: 13,
      low: 10,
      close: 12,
      volume: 2,
      quality_flag: 'resampled',
      ingest_run_id: 'resample-1',
      metadata: { resampled_from: '15m', resample_bars: 2, resample_expected: 4, resample_incomplete: true },
    });
    expect([kept.complete, kept.incomplete, kept.dropped]).toEqual([1, 1, 0]);
  });

  it('4h → 1d buckets on UTC midnight; distinct sources are joined', () => {
    const bars = Array.from({ length: 6 }, (_, k) =>
      bar({ ms: MONDAY + k * 4 * 3_600_000, timeframe: '4h', source_id: k < 3 ? 'a' : 'b', metadata: { symbol_source: 'XAU/USD' } }),
    );
    const r = resampleBars(bars, '1d');
    expect(r.bars).toHaveLength(1);
    expect(r.bars[0]!.ts_utc).toBe('2024-01-01T00:00:00.000Z');
    expect(r.bars[0]!.source_id).toBe('a+b');
    expect(r.bars[0]!.metadata.symbol_source).toBe('XAU/USD');
  });

  it('throws on programming errors', () => {
    const bars = [q(0, 10, 12, 9, 11, 1), q(1, 11, 15, 10, 14, 2)];
    expect(() => resampleBars(bars, '5m')).toThrow(/DATA_DQ_TFRAME/);
    expect(() => resampleBars([bars[1]!, bars[0]!], '1h')).toThrow(/DATA_DQ_ORDER/);
    expect(() => resampleBars([bars[0]!, { ...bars[1]!, symbol: 'EURUSD' }], '1h')).toThrow(CanonicalBarError);
  });
});

const pairArb = fc.constantFrom<[Timeframe, Timeframe]>(['1m', '5m'], ['1m', '15m'], ['5m', '1h'], ['15m', '1h'], ['15m', '4h'], ['1h', '4h'], ['1h', '1d'], ['4h', '1d']);

describe('resampleBars properties', () => {
  it('each output bar equals a naive aggregation of its bucket, preserving the extremes', () => {
    fc.assert(
      fc.property(pairArb, fc.array(stepArb, { maxLength: 200, size: 'max' }), ([src, dst], steps) => {
        const bars = buildSeries(steps, src);
        const r = resampleBars(bars, dst, { incomplete: 'keep' });
        // naive: group by floor(ms / D)
        const groups = new Map<number, CanonicalBar[]>();
        for (const b of bars) {
          const key = Math.floor(Date.parse(b.ts_utc) / TF_MS[dst]) * TF_MS[dst];
          groups.set(key, [...(groups.get(key) ?? []), b]);
        }
        expect(r.bars.map((b) => Date.parse(b.ts_utc))).toEqual([...groups.keys()]);
        for (const out of r.bars) {
          const g = groups.get(Date.parse(out.ts_utc))!;
          expect(out.open).toBe(g[0]!.open);
          expect(out.close).toBe(g[g.length - 1]!.close);
          expect(out.high).toBe(Math.max(...g.map((b) => b.high)));
          expect(out.low).toBe(Math.min(...g.map((b) => b.low)));
          expect(out.quality_flag).toBe('resampled');
        }
        if (bars.length > 0) {
          expect(Math.max(...r.bars.map((b) => b.high))).toBe(Math.max(...bars.map((b) => b.high)));
          expect(Math.min(...r.bars.map((b) => b.low))).toBe(Math.min(...bars.map((b) => b.low)));
        }
        expect(r.complete + r.incomplete).toBe(groups.size);
        const dropped = resampleBars(bars, dst);
        expect(dropped.bars.every((b) => b.metadata.resample_bars === TF_MS[dst] / TF_MS[src])).toBe(true);
        expect(dropped.bars.length).toBe(r.complete);
      }),
      { numRuns: 200 },
    );
  });

  it('is the identity, hence idempotent, for the same timeframe', () => {
    fc.assert(
      fc.property(pairArb, fc.array(stepArb, { maxLength: 200, size: 'max' }), ([src, dst], steps) => {
        const bars = buildSeries(steps, src);
        expect(resampleBars(bars, src).bars).toEqual(bars);
        const once = resampleBars(bars, dst).bars;
        expect(resampleBars(once, dst).bars).toEqual(once);
      }),
      { numRuns: 100 },
    );
  });
});
