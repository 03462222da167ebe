import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import {
  CanonicalBarError,
  MAX_TS_MS,
  MIN_TS_MS,
  daysFromCivil,
  formatTsUtc,
  isCanonicalTsUtc,
  normalizeTsUtc,
  parseTsUtcMs,
  tryNormalizeTsUtc,
} from '../src/index.js';

/** Reference: epoch ms → canonical string through the built-in Date. */
const iso = (ms: number): string => new Date(ms).toISOString();

describe('parseTsUtcMs / isCanonicalTsUtc', () => {
  it('agrees with Date for every representable instant', () => {
    fc.assert(
      fc.property(fc.integer({ min: MIN_TS_MS, max: MAX_TS_MS }), (ms) => {
        expect(parseTsUtcMs(iso(ms))).toBe(ms);
      }),
      { numRuns: 2000 },
    );
  });

  it.each([
    '2025-11-03T12:34:56Z', // no milliseconds
    '2025-11-03T12:34:56.78Z', // two fraction digits
    '2025-11-03T12:34:56.7890Z', // four fraction digits
    '2025-11-03T12:34:56.789+00:00', // offset instead of Z
    '2025-11-03 12:34:56.789Z', // space separator
    '2025-11-03t12:34:56.789Z', // lower-case t
    '2025-11-03T12:34:56.789z',
    '2025-02-29T00:00:00.000Z', // 2025 is not a leap year
    '2025-04-31T00:00:00.000Z',
    '2025-13-01T00:00:00.000Z',
    '2025-00-01T00:00:00.000Z',
    '2025-11-00T00:00:00.000Z',
    '2025-11-03T24:00:00.000Z',
    '2025-11-03T12:60:00.000Z',
    '2025-11-03T12:34:60.000Z', // leap second
    '2025-11-03T1a:34:56.789Z',
    '+02025-11-03T12:34:56.789Z',
    '',
  ])('rejects %j', (s) => {
    expect(parseTsUtcMs(s)).toBeNaN();
    expect(isCanonicalTsUtc(s)).toBe(false);
  });

  it('accepts leap days and rejects non-strings', () => {
    // 2024 is divisible by 4 and not by 100; 2000 by 400.
    expect(isCanonicalTsUtc('2024-02-29T23:59:59.999Z')).toBe(true);
    expect(isCanonicalTsUtc('2000-02-29T00:00:00.000Z')).toBe(true);
    expect(isCanonicalTsUtc('1900-02-29T00:00:00.000Z')).toBe(false);
    expect(isCanonicalTsUtc(1_700_000_000_000)).toBe(false);
    expect(isCanonicalTsUtc(null)).toBe(false);
  });
});

describe('daysFromCivil', () => {
  it('matches Date for random dates', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 9999 }), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 28 }), (y, m, d) => {
        const ref = new Date(0);
        ref.setUTCFullYear(y, m - 1, d); // setUTCFullYear has no 0..99 → 1900+ quirk
        expect(daysFromCivil(y, m, d) * 86_400_000).toBe(ref.getTime());
      }),
    );
  });
});

describe('formatTsUtc', () => {
  it('formats and refuses non-integers or out-of-range values', () => {
    expect(formatTsUtc(0)).toBe('1970-01-01T00:00:00.000Z');
    expect(() => formatTsUtc(1.5)).toThrow(CanonicalBarError);
    expect(() => formatTsUtc(MAX_TS_MS + 1)).toThrow(/DATA_DQ_TSFMT/);
  });
});

describe('normalizeTsUtc', () => {
  it.each([
    // hand-derived: 21:34 at +09:00 is 12:34 UTC
    ['2025-11-03T21:34:56.789+09:00', '2025-11-03T12:34:56.789Z'],
    ['2025-11-03t12:34:56Z', '2025-11-03T12:34:56.000Z'],
    ['2025-11-03 12:34:56.5Z', '2025-11-03T12:34:56.500Z'],
    // sub-millisecond fractions are truncated
    ['2025-11-03T12:34:56.1239999Z', '2025-11-03T12:34:56.123Z'],
    // 00:30 at -01:00 is 01:30 UTC
    ['2025-11-03T00:30:00-01:00', '2025-11-03T01:30:00.000Z'],
    // 00:30 at +01:00 on Jan 1 is 23:30 UTC on Dec 31 of the previous year
    ['2025-01-01T00:30:00+01:00', '2024-12-31T23:30:00.000Z'],
    ['2025-11-03T12:34:56.789Z', '2025-11-03T12:34:56.789Z'],
  ])('%s → %s', (input, expected) => {
    expect(normalizeTsUtc(input)).toBe(expected);
  });

  it('accepts epoch milliseconds and Dates', () => {
    expect(normalizeTsUtc(0)).toBe('1970-01-01T00:00:00.000Z');
    // 1_762_173_296_789 ms = 20395 days (2025-11-03) + 12:34:56.789
    expect(normalizeTsUtc(20395 * 86_400_000 + 12 * 3_600_000 + 34 * 60_000 + 56_789)).toBe('2025-11-03T12:34:56.789Z');
    expect(normalizeTsUtc(new Date(Date.UTC(2025, 10, 3)))).toBe('2025-11-03T00:00:00.000Z');
  });

  it.each([
    ['2025-02-30T00:00:00Z', /impossible date/],
    ['2025-06-30T23:59:60Z', /leap seconds/],
    ['2025-06-30T23:59:00+24:00', /impossible UTC offset/],
    ['yesterday', /not an RFC3339 timestamp/],
    [1.5, /must be an integer/],
    [Number.NaN, /must be an integer/],
    [new Date(Number.NaN), /Invalid Date/],
  ])('rejects %p with a precise message', (input, message) => {
    const r = tryNormalizeTsUtc(input as string);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.issues).toHaveLength(1);
      expect(r.issues[0]!.errorId).toBe('DATA_DQ_TSFMT');
      expect(r.issues[0]!.message).toMatch(message);
    }
    expect(() => normalizeTsUtc(input as string)).toThrow(CanonicalBarError);
  });

  it('normalises any offset rendering of an instant to the same canonical form', () => {
    const pad = (n: number, w = 2): string => String(n).padStart(w, '0');
    fc.assert(
      fc.property(
        fc.integer({ min: Date.UTC(1971, 0, 1), max: Date.UTC(2090, 0, 1) }),
        fc.integer({ min: -(23 * 60 + 59), max: 23 * 60 + 59 }),
        (ms, offMin) => {
          // Local wall-clock time at that offset, rendered by hand from Date's UTC getters.
          const local = new Date(ms + offMin * 60_000);
          const sign = offMin < 0 ? '-' : '+';
          const a = Math.abs(offMin);
          const s =
            `${pad(local.getUTCFullYear(), 4)}-${pad(local.getUTCMonth() + 1)}-${pad(local.getUTCDate())}` +
            `T${pad(local.getUTCHours())}:${pad(local.getUTCMinutes())}:${pad(local.getUTCSeconds())}.${pad(local.getUTCMilliseconds(), 3)}` +
            `${sign}${pad(Math.floor(a / 60))}:${pad(a % 60)}`;
          expect(normalizeTsUtc(s)).toBe(iso(ms));
        },
      ),
    );
  });
});
