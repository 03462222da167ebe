import { createHash } from 'node:crypto';
import type { CanonicalBar } from './types.js';

/**
 * Idempotency key `(source, symbol, timeframe, ts_utc)` joined with `|`:
 * `twelvedata|XAUUSD|1h|2025-11-03T12:00:00.000Z`. The last three parts have fixed alphabets that never
 * contain `|`, so the key is unambiguous (parse from the right) even if a source id contains `|`.
 */
export function idempotencyKey(source: string, symbol: string, timeframe: string, tsUtc: string): string {
  return `${source}|${symbol}|${timeframe}|${tsUtc}`;
}

/** {@link idempotencyKey} of a bar, using its `source_id`. */
export function barIdempotencyKey(bar: Pick<CanonicalBar, 'source_id' | 'symbol' | 'timeframe' | 'ts_utc'>): string {
  return idempotencyKey(bar.source_id, bar.symbol, bar.timeframe, bar.ts_utc);
}

/** De-duplication key of the canonical store, `(symbol, timeframe, ts_utc)`: `XAUUSD|1h|2025-11-03T12:00:00.000Z`. */
export function seriesKey(bar: Pick<CanonicalBar, 'symbol' | 'timeframe' | 'ts_utc'>): string {
  return `${bar.symbol}|${bar.timeframe}|${bar.ts_utc}`;
}

export const CHECKSUM_VERSION = 'cbar-v1';

function num(x: number): string {
  // ECMAScript Number::toString: the shortest decimal that round-trips to the same double; -0 prints as "0".
  return String(x);
}

/**
 * Canonical serialisation hashed by {@link barChecksum} (version `cbar-v1`):
 *
 * `cbar-v1|{symbol}|{timeframe}|{ts_utc}|{open}|{high}|{low}|{close}|{volume}`
 *
 * UTF-8, no trailing newline; numbers in ECMAScript `Number.prototype.toString()` form (shortest
 * round-trip decimal, e.g. `1.1`, `2000`, `1e-7`, `1e+21`); a null volume is the literal `null`.
 * Only market content enters the checksum: quality flag, source, run id and metadata do not, so the same
 * observation from a re-run or another source hashes identically.
 */
export function canonicalBarString(
  bar: Pick<CanonicalBar, 'symbol' | 'timeframe' | 'ts_utc' | 'open' | 'high' | 'low' | 'close' | 'volume'>,
): string {
  return `${CHECKSUM_VERSION}|${bar.symbol}|${bar.timeframe}|${bar.ts_utc}|${num(bar.open)}|${num(bar.high)}|${num(bar.low)}|${num(bar.close)}|${bar.volume === null ? 'null' : num(bar.volume)}`;
}

/** Lower-case hex sha256 of {@link canonicalBarString}: the bar's provenance checksum. */
export function barChecksum(
  bar: Pick<CanonicalBar, 'symbol' | 'timeframe' | 'ts_utc' | 'open' | 'high' | 'low' | 'close' | 'volume'>,
): string {
  return createHash('sha256').update(canonicalBarString(bar), 'utf8').digest('hex');
}

/** A copy of the bar with `metadata.checksum` set to {@link barChecksum}. */
export function withChecksum(bar: CanonicalBar): CanonicalBar {
  return { ...bar, metadata: { ...bar.metadata, checksum: barChecksum(bar) } };
}

/** True when `metadata.checksum` matches the bar's content. */
export function verifyChecksum(bar: CanonicalBar): boolean {
  return bar.metadata.checksum === barChecksum(bar);
}
