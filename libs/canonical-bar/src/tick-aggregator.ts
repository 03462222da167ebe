import { CanonicalBarError, DQ_ERROR } from './errors.js';
import { formatTsUtc, parseTsUtcMs } from './time.js';
import { TIMEFRAME_MS, isTimeframe } from './timeframe.js';
import type { BarMetadata, CanonicalBar, CanonicalTick, Timeframe } from './types.js';
import { tickPrice } from './validate.js';

export interface TickAggregatorOptions {
  timeframe: Timeframe;
  source_id: string;
  ingest_run_id: string;
}

export interface TickAggregatorStats {
  /** Ticks that contributed to a bar. */
  accepted: number;
  /** Ticks for a bucket already emitted (or older than the forming bar): dropped. */
  late: number;
  /** Ticks without a usable price (no mid and not both bid/ask): dropped. */
  unpriced: number;
  /** Ticks with a non-canonical `ts_utc`: dropped. */
  invalid: number;
  /** Bars emitted. */
  bars: number;
}

interface Forming {
  openMs: number;
  open: number;
  openTs: number;
  high: number;
  low: number;
  close: number;
  closeTs: number;
  volume: number | null;
  count: number;
  symbolSource: string | undefined;
}

/**
 * Aggregates canonical ticks into bars of one timeframe, per symbol. The tick price is `mid`, or
 * `(bid + ask) / 2` (see {@link tickPrice}). Within a bucket, open/close are the prices of the earliest /
 * latest tick by `ts_utc` (ties: first / last arrival), high/low the extremes; volume is the sum of tick
 * `size`, or null if any tick's size is null. A bar is emitted when a tick of a later bucket of the same
 * symbol arrives, or when `flush(nowMs)` is called with `nowMs ≥` the bar's close. Empty buckets produce no
 * bar (gaps are DQ's business). Bars are flagged `ok` (observed data, not resampled) and carry
 * `metadata.tick_count` (and `metadata.symbol_source` from the first tick, when present).
 */
export class TickBarAggregator {
  private readonly tfMs: number;
  private readonly forming = new Map<string, Forming>();
  /** Open time of the last bar emitted per symbol; ticks for it or earlier buckets are late. */
  private readonly lastEmitted = new Map<string, number>();
  private readonly counters: TickAggregatorStats = { accepted: 0, late: 0, unpriced: 0, invalid: 0, bars: 0 };

  constructor(private readonly options: TickAggregatorOptions) {
    if (!isTimeframe(options.timeframe)) {
      throw new CanonicalBarError(DQ_ERROR.CONFIG, `unknown timeframe ${String(options.timeframe)}`);
    }
    this.tfMs = TIMEFRAME_MS[options.timeframe];
  }

  get stats(): Readonly<TickAggregatorStats> {
    return { ...this.counters };
  }

  /** Feeds one tick; returns the bar(s) this tick closed (zero or one). */
  push(tick: CanonicalTick): CanonicalBar[] {
    const ms = parseTsUtcMs(tick.ts_utc);
    if (ms !== ms) {
      this.counters.invalid++;
      return [];
    }
    const price = tickPrice(tick);
    if (price === null || !(price > 0 && price < Infinity)) {
      this.counters.unpriced++;
      return [];
    }
    const bucket = Math.floor(ms / this.tfMs) * this.tfMs;
    const last = this.lastEmitted.get(tick.symbol);
    if (last !== undefined && bucket <= last) {
      this.counters.late++;
      return [];
    }
    const size = tick.size;
    const f = this.forming.get(tick.symbol);
    let emitted: CanonicalBar[] = [];
    if (f !== undefined) {
      if (bucket < f.openMs) {
        this.counters.late++;
        return [];
      }
      if (bucket === f.openMs) {
        if (ms < f.openTs) {
          f.open = price;
          f.openTs = ms;
        }
        if (ms >= f.closeTs) {
          f.close = price;
          f.closeTs = ms;
        }
        if (price > f.high) f.high = price;
        if (price < f.low) f.low = price;
        f.volume = f.volume === null || size === null ? null : f.volume + size;
        f.count++;
        this.counters.accepted++;
        return [];
      }
      emitted = [this.emit(tick.symbol, f)];
    }
    const ss = tick.metadata?.symbol_source;
    this.forming.set(tick.symbol, {
      openMs: bucket,
      open: price,
      openTs: ms,
      high: price,
      low: price,
      close: price,
      closeTs: ms,
      volume: size,
      count: 1,
      symbolSource: typeof ss === 'string' ? ss : undefined,
    });
    this.counters.accepted++;
    return emitted;
  }

  /** Emits every forming bar whose close time is `≤ nowMs` (ordered by open time, then symbol). */
  flush(nowMs: number): CanonicalBar[] {
    const due: [string, Forming][] = [];
    for (const entry of this.forming) {
      if (nowMs >= entry[1].openMs + this.tfMs) due.push(entry);
    }
    due.sort((a, b) => a[1].openMs - b[1].openMs || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    return due.map(([symbol, f]) => this.emit(symbol, f));
  }

  /** The bar currently forming for `symbol`, as it would be emitted now (or null). */
  peek(symbol: string): CanonicalBar | null {
    const f = this.forming.get(symbol);
    return f === undefined ? null : this.toBar(symbol, f);
  }

  private emit(symbol: string, f: Forming): CanonicalBar {
    this.forming.delete(symbol);
    this.lastEmitted.set(symbol, f.openMs);
    this.counters.bars++;
    return this.toBar(symbol, f);
  }

  private toBar(symbol: string, f: Forming): CanonicalBar {
    const metadata: BarMetadata = { tick_count: f.count };
    if (f.symbolSource !== undefined) metadata.symbol_source = f.symbolSource;
    return {
      ts_utc: formatTsUtc(f.openMs),
      symbol,
      timeframe: this.options.timeframe,
      open: f.open,
      high: f.high,
      low: f.low,
      close: f.close,
      volume: f.volume,
      quality_flag: 'ok',
      source_id: this.options.source_id,
      ingest_run_id: this.options.ingest_run_id,
      metadata,
    };
  }
}
