import { CanonicalBarError, DQ_ERROR } from './errors.js';
import { formatTsUtc, parseTsUtcMs } from './time.js';
import { TIMEFRAME_MS, isTimeframe } from './timeframe.js';
import type { BarMetadata, CanonicalBar, Timeframe } from './types.js';

export interface ResampleOptions {
  /**
   * What to do with a bucket holding fewer source bars than the target bar spans (gaps, or the trailing
   * bucket still forming): `'drop'` (default) omits it; `'keep'` emits it flagged `resampled` with
   * `metadata.resample_incomplete = true`.
   */
  incomplete?: 'drop' | 'keep';
  /** `ingest_run_id` of the output bars (default: that of the bucket's last source bar). */
  ingest_run_id?: string;
}

export interface ResampleResult {
  bars: CanonicalBar[];
  /** Buckets holding every source bar they span. */
  complete: number;
  /** Buckets missing at least one source bar (kept or dropped). */
  incomplete: number;
  /** Incomplete buckets omitted because `incomplete` is `'drop'`. */
  dropped: number;
}

/**
 * UTC OHLC resampling of one series (one symbol, one timeframe, strictly increasing `ts_utc`) from a finer
 * to a coarser timeframe. Buckets are the target timeframe's UTC boundaries. Per bucket:
 * open = open of the first bar, high = max high, low = min low, close = close of the last bar,
 * volume = sum of volumes, or **null if any bar's volume is null** (a partial sum would understate it).
 * Output bars are flagged `resampled` with `metadata.resampled_from` (source timeframe),
 * `metadata.resample_bars` (bars aggregated) and `metadata.resample_expected` (bars the bucket spans);
 * `source_id` is the bucket's distinct source ids joined with `+` in first-seen order.
 *
 * Resampling to the series' own timeframe is the identity (the input bars, unchanged and unflagged:
 * nothing is derived), so resampling is idempotent for the same timeframe.
 * Throws {@link CanonicalBarError} for programming errors: mixed series (`DATA_DQ_SERIES`), unordered
 * input (`DATA_DQ_ORDER`), non-canonical timestamps (`DATA_DQ_TSFMT`), or a target finer than / not a
 * multiple of the source (`DATA_DQ_TFRAME`).
 */
export function resampleBars(bars: readonly CanonicalBar[], target: Timeframe, options: ResampleOptions = {}): ResampleResult {
  if (!isTimeframe(target)) throw new CanonicalBarError(DQ_ERROR.TFRAME, `unknown target timeframe ${String(target)}`);
  const keep = options.incomplete === 'keep';
  if (bars.length === 0) return { bars: [], complete: 0, incomplete: 0, dropped: 0 };
  const first = bars[0]!;
  const source = first.timeframe;
  if (!isTimeframe(source)) throw new CanonicalBarError(DQ_ERROR.TFRAME, `unknown source timeframe ${String(source)}`);
  const srcMs = TIMEFRAME_MS[source];
  const dstMs = TIMEFRAME_MS[target];
  if (dstMs < srcMs || dstMs % srcMs !== 0) {
    throw new CanonicalBarError(DQ_ERROR.TFRAME, `cannot resample ${source} to ${target}: the target must be a coarser multiple`);
  }
  let prevMs = -Infinity;
  for (let i = 0; i < bars.length; i++) {
    const b = bars[i]!;
    if (b.symbol !== first.symbol || b.timeframe !== source) {
      throw new CanonicalBarError(DQ_ERROR.SERIES, `bar ${i} is ${b.symbol}/${b.timeframe}, expected ${first.symbol}/${source}`);
    }
    const ms = parseTsUtcMs(b.ts_utc);
    if (ms !== ms) throw new CanonicalBarError(DQ_ERROR.TSFMT, `bar ${i} has a non-canonical ts_utc ${JSON.stringify(b.ts_utc)}`);
    if (ms <= prevMs) throw new CanonicalBarError(DQ_ERROR.ORDER, `bar ${i} (${b.ts_utc}) is not after the previous bar`);
    prevMs = ms;
  }
  if (dstMs === srcMs) return { bars: bars.slice(), complete: bars.length, incomplete: 0, dropped: 0 };

  const expected = dstMs / srcMs;
  const out: CanonicalBar[] = [];
  let complete = 0;
  let incomplete = 0;
  let dropped = 0;
  let i = 0;
  while (i < bars.length) {
    const b0 = bars[i]!;
    const bucket = Math.floor(parseTsUtcMs(b0.ts_utc) / dstMs) * dstMs;
    const end = bucket + dstMs;
    let high = b0.high;
    let low = b0.low;
    let volume: number | null = b0.volume;
    const sources: string[] = [b0.source_id];
    let last = b0;
    let n = 1;
    i++;
    while (i < bars.length) {
      const b = bars[i]!;
      if (parseTsUtcMs(b.ts_utc) >= end) break;
      if (b.high > high) high = b.high;
      if (b.low < low) low = b.low;
      volume = volume === null || b.volume === null ? null : volume + b.volume;
      if (!sources.includes(b.source_id)) sources.push(b.source_id);
      last = b;
      n++;
      i++;
    }
    const isComplete = n === expected;
    if (isComplete) complete++;
    else {
      incomplete++;
      if (!keep) {
        dropped++;
        continue;
      }
    }
    const metadata: BarMetadata = { resampled_from: source, resample_bars: n, resample_expected: expected };
    if (!isComplete) metadata.resample_incomplete = true;
    if (typeof b0.metadata.symbol_source === 'string') metadata.symbol_source = b0.metadata.symbol_source;
    out.push({
      ts_utc: formatTsUtc(bucket),
      symbol: first.symbol,
      timeframe: target,
      open: b0.open,
      high,
      low,
      close: last.close,
      volume,
      quality_flag: 'resampled',
      source_id: sources.join('+'),
      ingest_run_id: options.ingest_run_id ?? last.ingest_run_id,
      metadata,
    });
  }
  return { bars: out, complete, incomplete, dropped };
}
