import { CanonicalBarError, DQ_ERROR, describeValue, type ValidationResult } from './errors.js';

export const MS_PER_MINUTE = 60_000;
export const MS_PER_HOUR = 3_600_000;
export const MS_PER_DAY = 86_400_000;

/**
 * Days since 1970-01-01 of a proleptic Gregorian civil date (H. Hinnant's `days_from_civil`).
 * Pure integer arithmetic, valid for every year representable in the canonical format.
 */
export function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const mp = month > 2 ? month - 3 : month + 9;
  const doy = Math.floor((153 * mp + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/** Smallest / largest epoch ms whose canonical form has a four-digit year (0000..9999). */
export const MIN_TS_MS = daysFromCivil(0, 1, 1) * MS_PER_DAY;
export const MAX_TS_MS = daysFromCivil(10000, 1, 1) * MS_PER_DAY - 1;

function d2(s: string, i: number): number {
  const a = s.charCodeAt(i) - 48;
  const b = s.charCodeAt(i + 1) - 48;
  if (a < 0 || a > 9 || b < 0 || b > 9) return -1;
  return a * 10 + b;
}

/**
 * Parses the canonical timestamp form `YYYY-MM-DDTHH:mm:ss.sssZ` (exactly 24 characters, UTC, milliseconds)
 * into epoch milliseconds. Returns `NaN` for anything else (including impossible dates such as Feb 30 and
 * leap second `60`). Allocation-free, no regular expression: this is the validation fast path.
 */
export function parseTsUtcMs(s: string): number {
  if (s.length !== 24) return NaN;
  if (
    s.charCodeAt(4) !== 45 || // -
    s.charCodeAt(7) !== 45 ||
    s.charCodeAt(10) !== 84 || // T
    s.charCodeAt(13) !== 58 || // :
    s.charCodeAt(16) !== 58 ||
    s.charCodeAt(19) !== 46 || // .
    s.charCodeAt(23) !== 90 // Z
  ) {
    return NaN;
  }
  const yh = d2(s, 0);
  const yl = d2(s, 2);
  const mo = d2(s, 5);
  const da = d2(s, 8);
  const hh = d2(s, 11);
  const mi = d2(s, 14);
  const ss = d2(s, 17);
  const m1 = d2(s, 20);
  const m2 = s.charCodeAt(22) - 48;
  if (yh < 0 || yl < 0 || mo < 1 || mo > 12 || da < 1 || hh < 0 || hh > 23 || mi < 0 || mi > 59) return NaN;
  if (ss < 0 || ss > 59 || m1 < 0 || m2 < 0 || m2 > 9) return NaN;
  const year = yh * 100 + yl;
  if (da > daysInMonth(year, mo)) return NaN;
  return (
    daysFromCivil(year, mo, da) * MS_PER_DAY + hh * MS_PER_HOUR + mi * MS_PER_MINUTE + ss * 1000 + m1 * 10 + m2
  );
}

/** True when `s` is a string in the exact canonical form and denotes a real instant. */
export function isCanonicalTsUtc(s: unknown): s is string {
  return typeof s === 'string' && parseTsUtcMs(s) === parseTsUtcMs(s);
}

/** Formats epoch milliseconds (integer, years 0000..9999) as `YYYY-MM-DDTHH:mm:ss.sssZ`. Throws otherwise. */
export function formatTsUtc(ms: number): string {
  if (!Number.isInteger(ms) || ms < MIN_TS_MS || ms > MAX_TS_MS) {
    throw new CanonicalBarError(DQ_ERROR.TSFMT, `cannot format ${describeValue(ms)} as a canonical timestamp`);
  }
  return new Date(ms).toISOString();
}

const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

function tsIssue(message: string): ValidationResult<string> {
  return { ok: false, issues: [{ errorId: DQ_ERROR.TSFMT, field: 'ts_utc', message }] };
}

/**
 * Normalises an RFC3339 timestamp (any offset, optional fraction of any length, `T`/`t`/space separator)
 * or epoch milliseconds (integer number, or a `Date`) into the canonical `YYYY-MM-DDTHH:mm:ss.sssZ` form.
 * Fractions finer than a millisecond are truncated (floored) to the millisecond. Leap seconds (`:60`) are
 * rejected. Never throws; see {@link normalizeTsUtc} for the throwing variant.
 */
export function tryNormalizeTsUtc(input: string | number | Date): ValidationResult<string> {
  let ms: number;
  if (input instanceof Date) {
    ms = input.getTime();
    if (Number.isNaN(ms)) return tsIssue('Invalid Date');
  } else if (typeof input === 'number') {
    if (!Number.isInteger(input)) return tsIssue(`epoch milliseconds must be an integer, got ${describeValue(input)}`);
    ms = input;
  } else if (typeof input === 'string') {
    const m = RFC3339.exec(input);
    if (!m) {
      return tsIssue(
        `${describeValue(input)} is not an RFC3339 timestamp (YYYY-MM-DDTHH:mm:ss[.fraction](Z|±HH:mm))`,
      );
    }
    const [, ys, mos, ds, hs, mis, ss, frac, z, sign, ohs, oms] = m as unknown as string[];
    const year = Number(ys);
    const mo = Number(mos);
    const da = Number(ds);
    const hh = Number(hs);
    const mi = Number(mis);
    const se = Number(ss);
    if (mo < 1 || mo > 12 || da < 1 || da > daysInMonth(year, mo)) {
      return tsIssue(`${describeValue(input)} has an impossible date`);
    }
    if (hh > 23 || mi > 59) return tsIssue(`${describeValue(input)} has an impossible time of day`);
    if (se > 59) return tsIssue(`${describeValue(input)} has second ${se}; leap seconds are not representable`);
    let offsetMin = 0;
    if (!z) {
      const oh = Number(ohs);
      const om = Number(oms);
      if (oh > 23 || om > 59) return tsIssue(`${describeValue(input)} has an impossible UTC offset`);
      offsetMin = (sign === '-' ? -1 : 1) * (oh * 60 + om);
    }
    const fracMs = frac ? Number((frac + '00').slice(0, 3)) : 0;
    ms =
      daysFromCivil(year, mo, da) * MS_PER_DAY +
      hh * MS_PER_HOUR +
      mi * MS_PER_MINUTE +
      se * 1000 +
      fracMs -
      offsetMin * MS_PER_MINUTE;
  } else {
    return tsIssue(`expected an RFC3339 string, epoch milliseconds or a Date, got ${describeValue(input)}`);
  }
  if (ms < MIN_TS_MS || ms > MAX_TS_MS) {
    return tsIssue(`${describeValue(input)} is outside the representable years 0000..9999`);
  }
  return { ok: true, value: new Date(ms).toISOString() };
}

/** Throwing variant of {@link tryNormalizeTsUtc} (throws {@link CanonicalBarError} `DATA_DQ_TSFMT`). */
export function normalizeTsUtc(input: string | number | Date): string {
  const r = tryNormalizeTsUtc(input);
  if (!r.ok) throw new CanonicalBarError(DQ_ERROR.TSFMT, r.issues[0]!.message);
  return r.value;
}
