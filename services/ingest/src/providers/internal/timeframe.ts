/**
 * Small adapter-side timeframe helpers on top of `@noctria/canonical-bar` (which owns durations and bar math).
 */
import { timeframeMs, type Timeframe } from '@noctria/canonical-bar';

export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;
export const WEEK_MS = 7 * DAY_MS;

export { TIMEFRAME_MS, timeframeMs, isTimeframe } from '@noctria/canonical-bar';

/** Floor to the bar-open boundary (UTC epoch multiples; every known timeframe divides a day). */
export function alignDown(ms: number, tf: Timeframe): number {
  const d = timeframeMs(tf);
  return Math.floor(ms / d) * d;
}

export function alignUp(ms: number, tf: Timeframe): number {
  const d = timeframeMs(tf);
  return Math.ceil(ms / d) * d;
}

export function isAligned(ms: number, tf: Timeframe): boolean {
  return ms % timeframeMs(tf) === 0;
}

/** RFC3339 UTC with milliseconds, the canonical `ts_utc` form. */
export function toTsUtc(ms: number): string {
  return new Date(ms).toISOString();
}

/** 0 = Sunday … 6 = Saturday, UTC. */
export function utcWeekday(ms: number): number {
  return new Date(ms).getUTCDay();
}

/** 24/5 calendar used by the synthetic source and the fake server: no bars opening on Saturday/Sunday UTC. */
export function isWeekdayUtc(ms: number): boolean {
  const d = utcWeekday(ms);
  return d !== 0 && d !== 6;
}
