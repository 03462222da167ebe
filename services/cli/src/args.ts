/** Argument validation shared by the commands: every problem is a `UI_CLI_ARGS` error naming the option. */
import { isTimeframe, TIMEFRAME_MS, type Timeframe } from '@noctria/canonical-bar';
import { parseTimeZoneSpec, type BrokerTimeZone } from '@noctria/ingest';
import { argsError } from './io.js';

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;
const SYMBOL_RE = /^[A-Z0-9][A-Z0-9._-]{1,19}$/;

/** `YYYY-MM-DD` (UTC midnight) or a full ISO timestamp with zone → epoch ms. */
export function parseDateOption(value: string, option: string): number {
  const m = DATE_RE.exec(value);
  if (m) {
    const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
    const d = new Date(ms);
    if (d.getUTCFullYear() === Number(m[1]) && d.getUTCMonth() === Number(m[2]) - 1 && d.getUTCDate() === Number(m[3])) return ms;
  } else if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/.test(value)) {
    const ms = Date.parse(value);
    if (Number.isFinite(ms)) return ms;
  }
  throw argsError(`${option} expects a UTC date YYYY-MM-DD (or an ISO timestamp with zone), got ${JSON.stringify(value)}`, { option, value });
}

export function parseTimeframeOption(value: string, allowed: readonly string[] = Object.keys(TIMEFRAME_MS)): Timeframe {
  if (!isTimeframe(value) || !allowed.includes(value)) {
    throw argsError(`--timeframe must be one of ${allowed.join(', ')}, got ${JSON.stringify(value)}`, { option: '--timeframe', value, allowed });
  }
  return value;
}

export function parseIntOption(value: string, option: string, min: number, max: number): number {
  if (!/^-?\d+$/.test(value.trim())) throw argsError(`${option} expects an integer, got ${JSON.stringify(value)}`, { option, value });
  const n = Number(value);
  if (n < min || n > max) throw argsError(`${option} must be between ${min} and ${max}, got ${n}`, { option, value });
  return n;
}

/** Canonical symbols from `--symbols A,B C` (variadic and/or comma separated), upper-cased, unique, in order. */
export function parseSymbols(values: readonly string[] | string | undefined, option = '--symbols'): string[] | undefined {
  if (values === undefined) return undefined;
  const list = (Array.isArray(values) ? values : [values])
    .flatMap((v) => v.split(','))
    .map((s) => s.trim().toUpperCase())
    .filter((s) => s !== '');
  if (list.length === 0) throw argsError(`${option} needs at least one symbol`, { option });
  for (const s of list) if (!SYMBOL_RE.test(s)) throw argsError(`${option}: ${JSON.stringify(s)} is not a symbol (letters/digits, e.g. XAUUSD)`, { option, value: s });
  return [...new Set(list)];
}

export function parseChoice<T extends string>(value: string, option: string, choices: readonly T[]): T {
  if (!(choices as readonly string[]).includes(value)) throw argsError(`${option} must be one of ${choices.join(', ')}, got ${JSON.stringify(value)}`, { option, value, choices });
  return value as T;
}

/** `from < to` or a clear error. */
export function assertRange(fromMs: number, toMs: number): void {
  if (!(fromMs < toMs)) throw argsError(`--from (${new Date(fromMs).toISOString()}) must be before --to (${new Date(toMs).toISOString()})`, { from: fromMs, to: toMs });
}

/** A time zone for `--tz`: UTC, a fixed offset (+02:00) or an IANA name known to this Node (the ImportService's parser). */
export function parseTimeZone(value: string): BrokerTimeZone {
  try {
    return parseTimeZoneSpec(value);
  } catch (err) {
    throw argsError(`--tz: ${(err as Error).message}`, { option: '--tz', value });
  }
}
