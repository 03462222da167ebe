import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { TickBarAggregator, type CanonicalBar, type CanonicalTick } from '../src/index.js';
import { MONDAY, iso } from './fixtures.js';

const tk = (ms: number, mid: number | null, extra: Partial<CanonicalTick> = {}): CanonicalTick => ({
  ts_utc: iso(ms),
  symbol: 'EURUSD',
  bid: null,
  ask: null,
  mid,
  size: null,
  metadata: {},
  ...extra,
});

const opts = { timeframe: '1m' as const, source_id: 'ws', ingest_run_id: 'live-1' };

describe('TickBarAggregator', () => {
  it('emits a bar when a tick of the next bucket arrives (hand-derived)', () => {
    const agg = new TickBarAggregator(opts);
    expect(agg.push(tk(MONDAY + 1_000, 1.1, { size: 2, metadata: { symbol_source: 'EUR/USD' } }))).toEqual([]);
    expect(agg.push(tk(MONDAY + 20_000, 1.3, { size: 1 }))).toEqual([]);
    // bid/ask midpoint (1.0 + 1.1) / 2 = 1.05 is the new low
    expect(agg.push(tk(MONDAY + 40_000, null, { bid: 1.0, ask: 1.1, size: 3 }))).toEqual([]);
    // out of order inside the bucket: earlier than the first tick, so it becomes the open
    expect(agg.push(tk(MONDAY + 500, 1.2, { size: 1 }))).toEqual([]);
    expect(agg.push(tk(MONDAY + 59_999, 1.15, { size: 1 }))).toEqual([]);
    const out = agg.push(tk(MONDAY + 60_000, 1.16, { size: 1 }));
    const expected: CanonicalBar[] = [
      {
        ts_utc: iso(MONDAY),
        symbol: 'EURUSD',
        timeframe: '1m',
        open: 1.2,
        high: 1.3,
        low: 1.05,
        close: 1.15,
        volume: 8, // 2 + 1 + 3 + 1 + 1
        quality_flag: 'ok',
        source_id: 'ws',
        ingest_run_id: 'live-1',
        metadata: { tick_count: 5, symbol_source: 'EUR/USD' },
      },
    ];
    expect(out).toEqual(expected);
    expect(agg.peek('EURUSD')).toMatchObject({ ts_utc: iso(MONDAY + 60_000), open: 1.16, close: 1.16, volume: 1 });
  });

  it('flush emits once now passes the close; late and unpriced ticks are dropped and counted', () => {
    const agg = new TickBarAggregator(opts);
    agg.push(tk(MONDAY + 5_000, 1.1));
    agg.push(tk(MONDAY + 6_000, 1.2, { symbol: 'USDJPY' }));
    expect(agg.flush(MONDAY + 59_999)).toEqual([]);
    const flushed = agg.flush(MONDAY + 60_000);
    expect(flushed.map((b) => [b.symbol, b.ts_utc, b.volume])).toEqual([
      ['EURUSD', iso(MONDAY), null], // size null → volume null
      ['USDJPY', iso(MONDAY), null],
    ]);
    expect(agg.push(tk(MONDAY + 30_000, 1.15))).toEqual([]); // bucket already emitted
    expect(agg.push(tk(MONDAY + 61_000, null))).toEqual([]); // no price
    expect(agg.push(tk(MONDAY + 62_000, 1.0, { ts_utc: 'bad' }))).toEqual([]);
    expect(agg.stats).toEqual({ accepted: 2, late: 1, unpriced: 1, invalid: 1, bars: 2 });
  });

  it('matches a naive per-bucket aggregation of a time-ordered tick stream', () => {
    const tickArb = fc.record({ dt: fc.integer({ min: 0, max: 45_000 }), px: fc.double({ min: 0.5, max: 2, noNaN: true }), size: fc.option(fc.integer({ min: 0, max: 9 }), { nil: null }) });
    fc.assert(
      fc.property(fc.array(tickArb, { maxLength: 200, size: 'max' }), fc.constantFrom('1m' as const, '5m' as const), (raw, tf) => {
        const agg = new TickBarAggregator({ ...opts, timeframe: tf });
        let t = MONDAY;
        const ticks = raw.map((r) => tk((t += r.dt), r.px, { size: r.size }));
        const bars: CanonicalBar[] = [];
        for (const x of ticks) bars.push(...agg.push(x));
        bars.push(...agg.flush(Number.MAX_SAFE_INTEGER));
        const d = tf === '1m' ? 60_000 : 300_000;
        const groups = new Map<number, CanonicalTick[]>();
        for (const x of ticks) {
          const k = Math.floor(Date.parse(x.ts_utc) / d) * d;
          groups.set(k, [...(groups.get(k) ?? []), x]);
        }
        expect(bars.map((b) => b.ts_utc)).toEqual([...groups.keys()].map(iso));
        for (const b of bars) {
          const g = groups.get(Date.parse(b.ts_utc))!;
          const px = g.map((x) => x.mid!);
          expect([b.open, b.high, b.low, b.close]).toEqual([px[0], Math.max(...px), Math.min(...px), px[px.length - 1]]);
          expect(b.volume).toBe(g.some((x) => x.size === null) ? null : g.reduce((s, x) => s + x.size!, 0));
          expect(b.metadata.tick_count).toBe(g.length);
        }
      }),
      { numRuns: 200 },
    );
  });
});
