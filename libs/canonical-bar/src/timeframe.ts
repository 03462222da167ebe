import { CanonicalBarError, DQ_ERROR, describeValue } from './errors.js';
import { MS_PER_DAY } from './time.js';
import type { Timeframe } from './types.js';

/**
 * Timeframe math. All boundaries are UTC and aligned to the Unix epoch; every known timeframe divides a
 * day, so bars of every timeframe start at 00:00 UTC and a 4h bar opens at 00,04,08,12,16,20 UTC.
 * A bar covers the half-open interval `[open, open + duration)`; its "close" time is `open + duration`.
 */
export const TIMEFRAME_MS: Readonly<Record<Timeframe, number>> = Object.freeze({
  '1m': 60_000,
  '5m': 300_000,
  '15m': 900_000,
  '1h': 3_600_000,
  '4h': 14_400_000,
  '1d': 86_400_000,
});

/**
 * Trading calendars.
 * - `'24/7'`: every bar is a trading bar (crypto).
 * - `'24/5'`: FX-style week. Convention: a bar is a weekend (non-trading) bar iff its **open** falls on
 *   Saturday or Sunday UTC (calendar days, 00:00–24:00 UTC). Real FX sessions run roughly Sun 22:00 →
 *   Fri 22:00 UTC; bars a provider delivers on Sunday evening are kept by DQ as observed data, they are
 *   simply not *expected* (never counted as missing, never synthesised).
 */
export const CALENDARS = ['24/5', '24/7'] as const;
export type Calendar = (typeof CALENDARS)[number];

export function isTimeframe(x: unknown): x is Timeframe {
  return typeof x === 'string' && Object.prototype.hasOwnProperty.call(TIMEFRAME_MS, x);
}

function assertTimeframe(tf: Timeframe): number {
  const d = (TIMEFRAME_MS as Record<string, number>)[tf];
  if (d === undefined) throw new CanonicalBarError(DQ_ERROR.TFRAME, `unknown timeframe ${describeValue(tf)}`);
  return d;
}

function assertCalendar(c: Calendar): void {
  if (c !== '24/5' && c !== '24/7') {
    throw new CanonicalBarError(DQ_ERROR.CONFIG, `unknown calendar ${describeValue(c)} (expected '24/5' or '24/7')`);
  }
}

/** Duration of one bar in milliseconds. */
export function timeframeMs(tf: Timeframe): number {
  return assertTimeframe(tf);
}

/** Timeframes ordered from finest to coarsest. */
export function compareTimeframes(a: Timeframe, b: Timeframe): number {
  return assertTimeframe(a) - assertTimeframe(b);
}

/** Open time of the bar containing `tsMs` (floor to the timeframe boundary, UTC). */
export function barOpenMs(tsMs: number, tf: Timeframe): number {
  const d = assertTimeframe(tf);
  return Math.floor(tsMs / d) * d;
}

/** Close time (exclusive end) of the bar opening at `openMs`: `openMs + duration`. */
export function barCloseMs(openMs: number, tf: Timeframe): number {
  return openMs + assertTimeframe(tf);
}

/** Open time of the bar after the one containing `tsMs` (strictly greater than `tsMs`). */
export function nextBarOpenMs(tsMs: number, tf: Timeframe): number {
  const d = assertTimeframe(tf);
  return Math.floor(tsMs / d) * d + d;
}

/** True when `tsMs` is exactly on a bar boundary. */
export function isBarAligned(tsMs: number, tf: Timeframe): boolean {
  return tsMs % assertTimeframe(tf) === 0;
}

/** A bar opening at `openMs` is closed (final) once `nowMs >= openMs + duration`. */
export function isBarClosed(openMs: number, tf: Timeframe, nowMs: number): boolean {
  return nowMs >= openMs + assertTimeframe(tf);
}

/** Bars in one UTC day (1440 for 1m … 1 for 1d). */
export function barsPerDay(tf: Timeframe): number {
  return MS_PER_DAY / assertTimeframe(tf);
}

/** 5 for `'24/5'`, 7 for `'24/7'`. */
export function tradingDaysPerWeek(calendar: Calendar): number {
  assertCalendar(calendar);
  return calendar === '24/5' ? 5 : 7;
}

/** Trading bars per week: `tradingDaysPerWeek × barsPerDay`. */
export function barsPerWeek(tf: Timeframe, calendar: Calendar): number {
  return tradingDaysPerWeek(calendar) * barsPerDay(tf);
}

/**
 * Converts a window given in **calendar days** into a number of bars of `tf` under `calendar`, using the
 * average trading density: `ceil(days × tradingDaysPerWeek / 7 × barsPerDay)`. Under `'24/7'` this is
 * `days × barsPerDay`; under `'24/5'` 7 days are 5 trading days (`7d @ 1h → 120 bars`). Rounded up so the
 * window covers at least the requested span on average (a tolerance of 1e-9 bar absorbs floating error).
 */
export function daysToBars(days: number, tf: Timeframe, calendar: Calendar): number {
  if (!Number.isFinite(days) || days < 0) {
    throw new CanonicalBarError(DQ_ERROR.CONFIG, `days must be a finite number ≥ 0, got ${describeValue(days)}`);
  }
  const exact = (days * tradingDaysPerWeek(calendar) * barsPerDay(tf)) / 7;
  return Math.max(0, Math.ceil(exact - 1e-9));
}

/** Inverse of {@link daysToBars} without rounding: calendar days spanned on average by `bars` bars. */
export function barsToDays(bars: number, tf: Timeframe, calendar: Calendar): number {
  if (!Number.isFinite(bars) || bars < 0) {
    throw new CanonicalBarError(DQ_ERROR.CONFIG, `bars must be a finite number ≥ 0, got ${describeValue(bars)}`);
  }
  return (bars * 7) / (tradingDaysPerWeek(calendar) * barsPerDay(tf));
}

/** UTC day of week of an instant: 0 = Sunday … 6 = Saturday (1970-01-01 was a Thursday). */
export function utcDayOfWeek(ms: number): number {
  return (((Math.floor(ms / MS_PER_DAY) + 4) % 7) + 7) % 7;
}

/** Whether a bar opening at `openMs` is a trading bar of `calendar` (see {@link Calendar} for the convention). */
export function isTradingBar(openMs: number, calendar: Calendar): boolean {
  if (calendar === '24/7') return true;
  assertCalendar(calendar);
  const dow = utcDayOfWeek(openMs);
  return dow !== 0 && dow !== 6;
}

function ceilAlign(ms: number, d: number): number {
  return Math.ceil(ms / d) * d;
}

/** First trading bar open `>= tsMs` (tsMs need not be aligned). */
export function firstTradingBarOpenAtOrAfter(tsMs: number, tf: Timeframe, calendar: Calendar): number {
  const d = assertTimeframe(tf);
  const t = ceilAlign(tsMs, d);
  if (isTradingBar(t, calendar)) return t;
  // Weekend under 24/5: jump to the next Monday 00:00 UTC (aligned for every timeframe).
  const day = Math.floor(t / MS_PER_DAY);
  const dow = utcDayOfWeek(t);
  return (day + (dow === 6 ? 2 : 1)) * MS_PER_DAY;
}

/** The trading bar open following the bar at `openMs`. */
export function nextTradingBarOpenMs(openMs: number, tf: Timeframe, calendar: Calendar): number {
  return firstTradingBarOpenAtOrAfter(openMs + assertTimeframe(tf), tf, calendar);
}

/**
 * Expected bar opens (the bar grid of the calendar) in the half-open range `[startMs, endMs)`:
 * every boundary of `tf` at or after `startMs`, skipping non-trading bars. Used for gap detection.
 */
export function* expectedBarOpens(startMs: number, endMs: number, tf: Timeframe, calendar: Calendar): Generator<number> {
  const d = assertTimeframe(tf);
  assertCalendar(calendar);
  for (let t = ceilAlign(startMs, d); t < endMs; t += d) {
    if (isTradingBar(t, calendar)) yield t;
  }
}

/** Number of trading bar opens strictly before the aligned time `t` (relative to a fixed Monday origin). */
function tradingBarsBefore(t: number, d: number, calendar: Calendar): number {
  if (calendar === '24/7') return t / d;
  const day = Math.floor(t / MS_PER_DAY);
  const rem = t - day * MS_PER_DAY;
  const k = day + 3; // Monday-based day index: 1970-01-01 (day 0) is a Thursday = position 3.
  const week = Math.floor(k / 7);
  const pos = k - week * 7; // 0 = Monday … 4 = Friday, 5 = Saturday, 6 = Sunday
  const bpd = MS_PER_DAY / d;
  return (week * 5 + Math.min(pos, 5)) * bpd + (pos < 5 ? rem / d : 0);
}

/** Count of {@link expectedBarOpens} in `[startMs, endMs)` in O(1). */
export function countExpectedBars(startMs: number, endMs: number, tf: Timeframe, calendar: Calendar): number {
  const d = assertTimeframe(tf);
  assertCalendar(calendar);
  if (!(endMs > startMs)) return 0;
  const a = ceilAlign(startMs, d);
  const b = ceilAlign(endMs, d);
  if (b <= a) return 0;
  return tradingBarsBefore(b, d, calendar) - tradingBarsBefore(a, d, calendar);
}

