/**
 * Error ids of the canonical-bar library. This library is framework-free, so the ids are plain strings
 * in the platform format `{DOMAIN}_{CATEGORY}_{CODE}` (CODE: 3–6 upper-case alphanumerics).
 */
export const ERROR_ID_PATTERN = /^(DATA|CORE|BT|ANALYTICS|OPS|UI)_[A-Z]+_[A-Z0-9]{3,6}$/;

export const DQ_ERROR = {
  /** A field is missing, has the wrong type, or is an empty string where a value is required. */
  FIELD: 'DATA_DQ_FIELD',
  /** `ts_utc` is not RFC3339 UTC with milliseconds (`YYYY-MM-DDTHH:mm:ss.sssZ`) or not a valid instant. */
  TSFMT: 'DATA_DQ_TSFMT',
  /** `symbol` is not canonical (upper-case A-Z0-9, no separators). */
  SYMBOL: 'DATA_DQ_SYMBOL',
  /** `timeframe` is not in the configured allowed set (or not a known timeframe). */
  TFRAME: 'DATA_DQ_TFRAME',
  /** The bar open time is not on a timeframe boundary. */
  ALIGN: 'DATA_DQ_ALIGN',
  /** A price is NaN or infinite. */
  NONFIN: 'DATA_DQ_NONFIN',
  /** A price is zero or negative. */
  NONPOS: 'DATA_DQ_NONPOS',
  /** OHLC inconsistency (low ≤ open, close ≤ high violated). */
  OHLC: 'DATA_DQ_OHLC',
  /** Volume (or tick size) negative, non-finite or of the wrong type. */
  VOLUME: 'DATA_DQ_VOLUME',
  /** `quality_flag` outside the enum. */
  FLAG: 'DATA_DQ_FLAG',
  /** Crossed quote: bid > ask. */
  CROSS: 'DATA_DQ_CROSS',
  /** A tick without a usable price (neither mid nor both bid and ask). */
  NOPX: 'DATA_DQ_NOPX',
  /** Streaming DQ: a bar older than the last accepted bar. */
  LATE: 'DATA_DQ_LATE',
  /** Streaming DQ: a bar with the same time as the last accepted bar. */
  DUP: 'DATA_DQ_DUP',
  /** A batch operation received bars of more than one (symbol, timeframe) series. */
  SERIES: 'DATA_DQ_SERIES',
  /** An operation requiring time-ordered input received unordered input. */
  ORDER: 'DATA_DQ_ORDER',
  /** Invalid options (thresholds, windows, allowed timeframes). */
  CONFIG: 'DATA_DQ_CONFIG',
} as const;

export type DqErrorId = (typeof DQ_ERROR)[keyof typeof DQ_ERROR];

export interface ValidationIssue {
  errorId: DqErrorId;
  /** Dotted path of the offending field (`'$'` for the whole value), e.g. `metadata.symbol_source`. */
  field: string;
  message: string;
}

/** Result of a validation: never thrown, always returned. */
export type ValidationResult<T> = { ok: true; value: T } | { ok: false; issues: ValidationIssue[] };

/**
 * Thrown only for programming/configuration errors (invalid options, mixed series handed to a batch
 * function, un-normalisable input to a throwing helper) — never by the validators for bad data.
 */
export class CanonicalBarError extends Error {
  constructor(
    readonly errorId: DqErrorId,
    message: string,
  ) {
    super(`${errorId}: ${message}`);
    this.name = 'CanonicalBarError';
  }
}

/** Short, safe description of a value for error messages. */
export function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (typeof v === 'string') return JSON.stringify(v.length > 64 ? `${v.slice(0, 61)}...` : v);
  if (typeof v === 'number') return String(v);
  if (Array.isArray(v)) return 'an array';
  return `a ${typeof v}`;
}
