import fc from 'fast-check';
import type { CanonicalBar, QualityFlag, Timeframe } from '../src/types.js';

export const TF_MS: Record<Timeframe, number> = { '1m': 60_000, '5m': 300_000, '15m': 900_000, '1h': 3_600_000, '4h': 14_400_000, '1d': 86_400_000 };

/** Monday 2024-01-01T00:00:00.000Z (independently: `new Date(Date.UTC(2024,0,1)).getUTCDay() === 1`). */
export const MONDAY = Date.UTC(2024, 0, 1);

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}

export function bar(partial: Partial<CanonicalBar> & { ms?: number } = {}): CanonicalBar {
  const { ms, ...rest } = partial;
  return {
    ts_utc: iso(ms ?? MONDAY),
    symbol: 'XAUUSD',
    timeframe: '1h',
    open: 100,
    high: 101,
    low: 99,
    close: 100.5,
    volume: null,
    quality_flag: 'ok',
    source_id: 'twelvedata',
    ingest_run_id: 'run-1',
    metadata: {},
    ...rest,
  };
}

/** A bar with the given close, open = close (flat), high/low = close. */
export function closeBar(ms: number, close: number, tf: Timeframe = '1h', extra: Partial<CanonicalBar> = {}): CanonicalBar {
  return bar({ ms, timeframe: tf, open: close, high: close, low: close, close, ...extra });
}

export const FLAGS: QualityFlag[] = ['ok', 'missing', 'outlier', 'resampled', 'conflict', 'stale', 'revised'];

/** Arbitrary valid bar of timeframe `tf` (prices built consistent, timestamp aligned). */
export function validBarArb(tf: Timeframe): fc.Arbitrary<CanonicalBar> {
  const d = TF_MS[tf];
  return fc
    .record({
      k: fc.integer({ min: 0, max: Math.floor(Date.UTC(2099, 0, 1) / d) }),
      symbol: fc.array(fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'), { minLength: 1, maxLength: 32 }).map((cs) => cs.join('')),
      o: fc.double({ min: 1e-6, max: 1e6, noNaN: true }),
      c: fc.double({ min: 1e-6, max: 1e6, noNaN: true }),
      up: fc.double({ min: 0, max: 0.5, noNaN: true }),
      down: fc.double({ min: 0, max: 0.5, noNaN: true }),
      volume: fc.option(fc.double({ min: 0, max: 1e9, noNaN: true }), { nil: null }),
      flag: fc.constantFrom(...FLAGS),
      source: fc.string({ minLength: 1, maxLength: 12 }),
      run: fc.string({ minLength: 1, maxLength: 12 }),
      meta: fc.dictionary(fc.constantFrom('a', 'provider', 'x_y'), fc.oneof(fc.integer(), fc.string({ maxLength: 5 }), fc.constant(null)), { maxKeys: 3 }),
      symbolSource: fc.option(fc.string(), { nil: undefined }),
    })
    .map((r) => {
      const hi = Math.max(r.o, r.c) * (1 + r.up);
      const lo = Math.min(r.o, r.c) * (1 - r.down);
      const metadata: Record<string, unknown> = { ...r.meta };
      if (r.symbolSource !== undefined) metadata.symbol_source = r.symbolSource;
      return {
        ts_utc: iso(r.k * d),
        symbol: r.symbol,
        timeframe: tf,
        open: r.o,
        high: hi,
        low: lo > 0 ? lo : Math.min(r.o, r.c),
        close: r.c,
        volume: r.volume === null ? null : Math.abs(r.volume),
        quality_flag: r.flag,
        source_id: r.source,
        ingest_run_id: r.run,
        metadata,
      } satisfies CanonicalBar;
    });
}

export interface SeriesStep {
  /** Extra grid steps skipped before this bar (0 = adjacent). */
  skip: number;
  ret: number;
  shock: number;
  wick: number;
}

export const stepArb: fc.Arbitrary<SeriesStep> = fc.record({
  skip: fc.oneof({ weight: 12, arbitrary: fc.constant(0) }, { weight: 2, arbitrary: fc.integer({ min: 1, max: 3 }) }, { weight: 1, arbitrary: fc.integer({ min: 4, max: 30 }) }),
  ret: fc.oneof(
    // uniform values (fc.double favours tiny magnitudes and bounds, which would make most returns ~0)
    { weight: 4, arbitrary: fc.noBias(fc.integer({ min: -1000, max: 1000 })).map((i) => i * 1e-5) },
    { weight: 4, arbitrary: fc.noBias(fc.integer({ min: -1000, max: 1000 })).map((i) => i * 5e-7) },
    { weight: 1, arbitrary: fc.constant(0) },
  ),
  shock: fc.oneof({ weight: 15, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.noBias(fc.integer({ min: -300, max: 300 })).map((i) => i * 1e-3) }),
  wick: fc.noBias(fc.integer({ min: 0, max: 300 })).map((i) => i * 1e-5),
});

/**
 * Builds a strictly increasing series: time advances `1 + skip` raw timeframe steps (weekends included, so
 * a 24/5 calendar sees observed weekend bars too), close follows exp(ret + shock).
 */
export function buildSeries(steps: readonly SeriesStep[], tf: Timeframe, startMs = MONDAY, startClose = 100): CanonicalBar[] {
  const d = TF_MS[tf];
  const out: CanonicalBar[] = [];
  let t = startMs;
  let close = startClose;
  steps.forEach((s, i) => {
    if (i > 0) t += d * (1 + s.skip);
    const open = close;
    close = close * Math.exp(s.ret + s.shock);
    out.push({
      ts_utc: iso(t),
      symbol: 'EURUSD',
      timeframe: tf,
      open,
      high: Math.max(open, close) * (1 + s.wick),
      low: Math.min(open, close) * (1 - s.wick),
      close,
      volume: i % 7 === 0 ? null : 10 + i,
      quality_flag: 'ok',
      source_id: 'src',
      ingest_run_id: `run-${i}`,
      metadata: { ingest_seq: i },
    });
  });
  return out;
}

export type Corruption =
  | { kind: 'dup'; at: number; close: number }
  | { kind: 'swap'; at: number }
  | { kind: 'price'; at: number; field: 'open' | 'high' | 'low' | 'close'; value: number }
  | { kind: 'ohlc'; at: number };

export const corruptionArb: fc.Arbitrary<Corruption> = fc.oneof(
  fc.record({ kind: fc.constant('dup' as const), at: fc.nat(), close: fc.double({ min: 50, max: 150, noNaN: true }) }),
  fc.record({ kind: fc.constant('swap' as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant('price' as const),
    at: fc.nat(),
    field: fc.constantFrom('open' as const, 'high' as const, 'low' as const, 'close' as const),
    value: fc.constantFrom(0, -1, Number.NaN, Number.POSITIVE_INFINITY),
  }),
  fc.record({ kind: fc.constant('ohlc' as const), at: fc.nat() }),
);

/** Applies corruptions to a copy of a series (duplicates are appended later in input order). */
export function corrupt(series: readonly CanonicalBar[], cs: readonly Corruption[]): CanonicalBar[] {
  const out = series.slice();
  if (out.length === 0) return out;
  for (const c of cs) {
    const i = c.at % out.length;
    const b = out[i]!;
    if (c.kind === 'dup') {
      const copy = { ...b, open: c.close, high: c.close, low: c.close, close: c.close, ingest_run_id: 'dup' };
      out.splice(Math.min(out.length, i + 1 + (c.at % 3)), 0, copy);
    } else if (c.kind === 'swap' && i + 1 < out.length) {
      out[i] = out[i + 1]!;
      out[i + 1] = b;
    } else if (c.kind === 'price') {
      out[i] = { ...b, [c.field]: c.value };
    } else if (c.kind === 'ohlc') {
      out[i] = { ...b, high: b.low * 0.99 };
    }
  }
  return out;
}

/** Small windows so random series of a few hundred bars exercise the σ and spike rules. */
export const SMALL_DQ = {
  outlier_window: 20,
  outlier_min_returns: 5,
  outlier_sigma: 3,
  spike_window: 15,
  spike_min_count: 5,
  dq_spike_k: 4,
} as const;
