import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import {
  KNOWN_TIMEFRAMES,
  barCloseMs,
  barOpenMs,
  barsPerDay,
  barsPerWeek,
  barsToDays,
  countExpectedBars,
  daysToBars,
  expectedBarOpens,
  firstTradingBarOpenAtOrAfter,
  isBarAligned,
  isBarClosed,
  isTradingBar,
  nextBarOpenMs,
  nextTradingBarOpenMs,
  timeframeMs,
  utcDayOfWeek,
  type Calendar,
  type Timeframe,
} from '../src/index.js';

const T = (s: string): number => Date.parse(s);
const tfArb = fc.constantFrom<Timeframe>(...KNOWN_TIMEFRAMES);
const calArb = fc.constantFrom<Calendar>('24/5', '24/7');

describe('bar boundaries', () => {
  it('floors to UTC boundaries (hand-checked examples)', () => {
    const t = T('2025-11-03T12:34:56.789Z');
    expect(barOpenMs(t, '1m')).toBe(T('2025-11-03T12:34:00.000Z'));
    expect(barOpenMs(t, '5m')).toBe(T('2025-11-03T12:30:00.000Z'));
    expect(barOpenMs(t, '15m')).toBe(T('2025-11-03T12:30:00.000Z'));
    expect(barOpenMs(t, '1h')).toBe(T('2025-11-03T12:00:00.000Z'));
    expect(barOpenMs(t, '4h')).toBe(T('2025-11-03T12:00:00.000Z'));
    expect(barOpenMs(T('2025-11-03T11:59:59.999Z'), '4h')).toBe(T('2025-11-03T08:00:00.000Z'));
    expect(barOpenMs(t, '1d')).toBe(T('2025-11-03T00:00:00.000Z'));
    expect(barCloseMs(T('2025-11-03T20:00:00.000Z'), '4h')).toBe(T('2025-11-04T00:00:00.000Z'));
    expect(nextBarOpenMs(T('2025-11-03T12:00:00.000Z'), '1h')).toBe(T('2025-11-03T13:00:00.000Z'));
    expect(timeframeMs('15m')).toBe(15 * 60 * 1000);
  });

  it('open ≤ t < close, aligned, next open = close (including before 1970)', () => {
    fc.assert(
      fc.property(fc.integer({ min: -1e13, max: 4e12 }), tfArb, (t, tf) => {
        const open = barOpenMs(t, tf);
        const close = barCloseMs(open, tf);
        expect(open).toBeLessThanOrEqual(t);
        expect(t).toBeLessThan(close);
        expect(isBarAligned(open, tf)).toBe(true);
        expect(nextBarOpenMs(t, tf)).toBe(close);
        expect(close - open).toBe(timeframeMs(tf));
      }),
    );
  });

  it('isBarClosed flips exactly at the close time', () => {
    const open = T('2025-11-03T12:00:00.000Z');
    expect(isBarClosed(open, '1h', T('2025-11-03T12:59:59.999Z'))).toBe(false);
    expect(isBarClosed(open, '1h', T('2025-11-03T13:00:00.000Z'))).toBe(true);
  });
});

describe('bars per day / week and day windows', () => {
  it('bars per day', () => {
    // 24 h × 60 min = 1440 one-minute bars; /5 = 288; /15 = 96; 24 hourly; 24/4 = 6; 1 daily.
    expect(KNOWN_TIMEFRAMES.map(barsPerDay)).toEqual([1440, 288, 96, 24, 6, 1]);
    expect(barsPerWeek('1h', '24/5')).toBe(120); // 5 × 24
    expect(barsPerWeek('1h', '24/7')).toBe(168); // 7 × 24
  });

  it('daysToBars / barsToDays (hand-derived)', () => {
    expect(daysToBars(7, '1h', '24/5')).toBe(120); // one week = 5 trading days × 24
    expect(daysToBars(7, '1h', '24/7')).toBe(168);
    expect(daysToBars(30, '15m', '24/7')).toBe(2880); // 30 × 96
    expect(daysToBars(1, '4h', '24/5')).toBe(5); // 6 × 5/7 = 4.29 → rounded up
    expect(daysToBars(14, '1d', '24/5')).toBe(10);
    expect(daysToBars(0, '1m', '24/5')).toBe(0);
    expect(barsToDays(120, '1h', '24/5')).toBe(7);
    expect(barsToDays(180, '4h', '24/7')).toBe(30); // 180 / 6
    expect(() => daysToBars(-1, '1h', '24/5')).toThrow(/DATA_DQ_CONFIG/);
  });

  it('daysToBars covers the requested days and is the smallest such count', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 3650 }), tfArb, calArb, (days, tf, cal) => {
        const bars = daysToBars(days, tf, cal);
        expect(barsToDays(bars, tf, cal)).toBeGreaterThanOrEqual(days - 1e-9);
        if (bars > 0) expect(barsToDays(bars - 1, tf, cal)).toBeLessThan(days);
      }),
    );
  });
});

describe('calendars', () => {
  it('weekend convention: the bar open falls on Saturday/Sunday UTC', () => {
    expect(isTradingBar(T('2024-01-05T23:00:00.000Z'), '24/5')).toBe(true); // Friday
    expect(isTradingBar(T('2024-01-06T00:00:00.000Z'), '24/5')).toBe(false); // Saturday
    expect(isTradingBar(T('2024-01-07T22:00:00.000Z'), '24/5')).toBe(false); // Sunday evening
    expect(isTradingBar(T('2024-01-08T00:00:00.000Z'), '24/5')).toBe(true); // Monday
    expect(isTradingBar(T('2024-01-06T00:00:00.000Z'), '24/7')).toBe(true);
    expect(firstTradingBarOpenAtOrAfter(T('2024-01-06T05:00:00.000Z'), '1h', '24/5')).toBe(T('2024-01-08T00:00:00.000Z'));
    expect(firstTradingBarOpenAtOrAfter(T('2024-01-07T05:00:00.000Z'), '1h', '24/5')).toBe(T('2024-01-08T00:00:00.000Z'));
    expect(nextTradingBarOpenMs(T('2024-01-05T23:00:00.000Z'), '1h', '24/5')).toBe(T('2024-01-08T00:00:00.000Z'));
    expect(nextTradingBarOpenMs(T('2024-01-05T20:00:00.000Z'), '4h', '24/7')).toBe(T('2024-01-06T00:00:00.000Z'));
  });

  it('utcDayOfWeek agrees with Date#getUTCDay', () => {
    fc.assert(
      fc.property(fc.integer({ min: -1e13, max: 4e12 }), (t) => {
        expect(utcDayOfWeek(t)).toBe(new Date(t).getUTCDay());
      }),
    );
  });

  it('expectedBarOpens equals a naive grid walk and countExpectedBars counts it', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: T('2023-12-25T00:00:00.000Z'), max: T('2024-03-01T00:00:00.000Z') }),
        fc.integer({ min: -1000, max: 20 * 86_400_000 }),
        fc.constantFrom<Timeframe>('15m', '1h', '4h', '1d'),
        calArb,
        (start, len, tf, cal) => {
          const end = start + len;
          const d = timeframeMs(tf);
          const naive: number[] = [];
          for (let t = Math.ceil(start / d) * d; t < end; t += d) {
            const dow = new Date(t).getUTCDay();
            if (cal === '24/7' || (dow !== 0 && dow !== 6)) naive.push(t);
          }
          expect([...expectedBarOpens(start, end, tf, cal)]).toEqual(naive);
          expect(countExpectedBars(start, end, tf, cal)).toBe(naive.length);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('counts a full FX week of 1m bars as 5 × 1440 (O(1) count over a long range)', () => {
    expect(countExpectedBars(T('2024-01-01T00:00:00.000Z'), T('2024-01-08T00:00:00.000Z'), '1m', '24/5')).toBe(7200);
    // 2024 has 366 days = 52 weeks + 2 days; Jan 1 2024 is a Monday, so the extra days (Dec 30 Mon, Dec 31 Tue) trade.
    expect(countExpectedBars(T('2024-01-01T00:00:00.000Z'), T('2025-01-01T00:00:00.000Z'), '1d', '24/5')).toBe(52 * 5 + 2);
  });
});
