import { CanonicalBarError, DQ_ERROR, describeValue, type DqErrorId, type ValidationIssue, type ValidationResult } from './errors.js';
import { isCanonicalSymbol } from './symbol.js';
import { parseTsUtcMs } from './time.js';
import { TIMEFRAME_MS, isTimeframe } from './timeframe.js';
import { QUALITY_FLAGS, type CanonicalBar, type CanonicalTick, type Timeframe } from './types.js';

export interface BarValidationOptions {
  /** The configured `timeframe_allowed` set; every entry must be a known timeframe. */
  timeframe_allowed: readonly Timeframe[] | readonly string[];
  /** Check that `ts_utc` is on a boundary of `timeframe` (default true). */
  check_alignment?: boolean;
}

export type BarValidator = (input: unknown) => ValidationResult<CanonicalBar>;

const FLAG_SET: ReadonlySet<string> = new Set(QUALITY_FLAGS);

function add(
  issues: ValidationIssue[] | null,
  errorId: DqErrorId,
  field: string,
  message: string,
): ValidationIssue[] {
  const list = issues ?? [];
  list.push({ errorId, field, message });
  return list;
}

/** 0 = valid positive finite price; otherwise records the issue. Returns the (possibly new) issue list. */
function checkPrice(v: unknown, field: string, issues: ValidationIssue[] | null): ValidationIssue[] | null {
  if (typeof v !== 'number') return add(issues, DQ_ERROR.FIELD, field, `${field} must be a number, got ${describeValue(v)}`);
  if (v > 0 && v < Infinity) return issues;
  if (v !== v || v === Infinity || v === -Infinity) {
    return add(issues, DQ_ERROR.NONFIN, field, `${field} must be finite, got ${v}`);
  }
  return add(issues, DQ_ERROR.NONPOS, field, `${field} must be > 0, got ${v}`);
}

function checkNonEmpty(v: unknown, field: string, issues: ValidationIssue[] | null): ValidationIssue[] | null {
  if (typeof v === 'string' && v.length > 0) return issues;
  return add(issues, DQ_ERROR.FIELD, field, `${field} must be a non-empty string, got ${describeValue(v)}`);
}

function checkTs(v: unknown, issues: ValidationIssue[] | null): { ms: number; issues: ValidationIssue[] | null } {
  if (typeof v !== 'string') {
    return { ms: NaN, issues: add(issues, DQ_ERROR.TSFMT, 'ts_utc', `ts_utc must be a string, got ${describeValue(v)}`) };
  }
  const ms = parseTsUtcMs(v);
  if (ms !== ms) {
    return {
      ms,
      issues: add(
        issues,
        DQ_ERROR.TSFMT,
        'ts_utc',
        `ts_utc ${describeValue(v)} is not RFC3339 UTC with milliseconds (YYYY-MM-DDTHH:mm:ss.sssZ); use normalizeTsUtc()`,
      ),
    };
  }
  return { ms, issues };
}

function checkSymbol(v: unknown, issues: ValidationIssue[] | null): ValidationIssue[] | null {
  if (isCanonicalSymbol(v)) return issues;
  return add(
    issues,
    DQ_ERROR.SYMBOL,
    'symbol',
    `symbol ${describeValue(v)} is not canonical (1..32 characters of A-Z0-9, no separators); use normalizeSymbol() and keep the provider spelling in metadata.symbol_source`,
  );
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkMetadata(v: unknown, issues: ValidationIssue[] | null): ValidationIssue[] | null {
  if (!isPlainObject(v)) {
    return add(issues, DQ_ERROR.FIELD, 'metadata', `metadata must be an object, got ${describeValue(v)}`);
  }
  const ss = v.symbol_source;
  if (ss !== undefined && typeof ss !== 'string') {
    issues = add(issues, DQ_ERROR.FIELD, 'metadata.symbol_source', `metadata.symbol_source must be a string, got ${describeValue(ss)}`);
  }
  const pv = v.provider_version;
  if (pv !== undefined && typeof pv !== 'string') {
    issues = add(issues, DQ_ERROR.FIELD, 'metadata.provider_version', `metadata.provider_version must be a string, got ${describeValue(pv)}`);
  }
  const sl = v.source_latency_ms;
  if (sl !== undefined && !(typeof sl === 'number' && Number.isFinite(sl))) {
    issues = add(issues, DQ_ERROR.FIELD, 'metadata.source_latency_ms', `metadata.source_latency_ms must be a finite number, got ${describeValue(sl)}`);
  }
  const sq = v.ingest_seq;
  if (sq !== undefined && !(typeof sq === 'number' && Number.isFinite(sq))) {
    issues = add(issues, DQ_ERROR.FIELD, 'metadata.ingest_seq', `metadata.ingest_seq must be a finite number, got ${describeValue(sq)}`);
  }
  return issues;
}

/**
 * OHLC relations of a bar whose four prices are already known to be finite and > 0:
 * `low ≤ open`, `low ≤ close`, `open ≤ high`, `close ≤ high` (which imply `low ≤ high`).
 */
function checkOhlc(o: number, h: number, l: number, c: number, issues: ValidationIssue[] | null): ValidationIssue[] | null {
  if (l <= o && l <= c && o <= h && c <= h) return issues;
  if (l > h) issues = add(issues, DQ_ERROR.OHLC, 'low', `low ${l} is above high ${h}`);
  if (l > o) issues = add(issues, DQ_ERROR.OHLC, 'low', `low ${l} is above open ${o}`);
  if (l > c) issues = add(issues, DQ_ERROR.OHLC, 'low', `low ${l} is above close ${c}`);
  if (o > h) issues = add(issues, DQ_ERROR.OHLC, 'high', `high ${h} is below open ${o}`);
  if (c > h) issues = add(issues, DQ_ERROR.OHLC, 'high', `high ${h} is below close ${c}`);
  return issues;
}

/**
 * First price/volume problem of a bar (used by the DQ price-rejection rule), or null when the prices are
 * finite, > 0, OHLC-consistent and the volume is null or a finite number ≥ 0.
 */
export function checkBarPrices(bar: Pick<CanonicalBar, 'open' | 'high' | 'low' | 'close' | 'volume'>): ValidationIssue | null {
  let issues: ValidationIssue[] | null = null;
  issues = checkPrice(bar.open, 'open', issues);
  issues = checkPrice(bar.high, 'high', issues);
  issues = checkPrice(bar.low, 'low', issues);
  issues = checkPrice(bar.close, 'close', issues);
  if (issues === null) issues = checkOhlc(bar.open, bar.high, bar.low, bar.close, issues);
  issues = checkVolume(bar.volume, 'volume', issues);
  return issues === null ? null : issues[0]!;
}

function checkVolume(v: unknown, field: string, issues: ValidationIssue[] | null): ValidationIssue[] | null {
  if (v === null) return issues;
  if (v === undefined) {
    return add(issues, DQ_ERROR.FIELD, field, `${field} is required: use null when the source has no ${field} (0 means nothing traded)`);
  }
  if (typeof v !== 'number') return add(issues, DQ_ERROR.VOLUME, field, `${field} must be a number or null, got ${describeValue(v)}`);
  if (v >= 0 && v < Infinity) return issues;
  if (v !== v || v === Infinity) return add(issues, DQ_ERROR.VOLUME, field, `${field} must be finite, got ${v}`);
  return add(issues, DQ_ERROR.VOLUME, field, `${field} must be ≥ 0, got ${v}`);
}

/**
 * Builds a bar validator for a configured set of allowed timeframes. The returned function never throws
 * for bad data; it reports every problem found (one issue per problem) with its error id and field.
 * On success `value` is the input object itself (no copy). The ok path allocates only the result object.
 * Throws {@link CanonicalBarError} `DATA_DQ_CONFIG` if the options are invalid.
 */
export function createBarValidator(options: BarValidationOptions): BarValidator {
  const allowedList = options?.timeframe_allowed;
  if (!Array.isArray(allowedList) || allowedList.length === 0) {
    throw new CanonicalBarError(DQ_ERROR.CONFIG, 'timeframe_allowed must be a non-empty array of timeframes');
  }
  for (const tf of allowedList) {
    if (!isTimeframe(tf)) {
      throw new CanonicalBarError(DQ_ERROR.CONFIG, `timeframe_allowed contains unknown timeframe ${describeValue(tf)}`);
    }
  }
  const allowed = new Map<string, number>(allowedList.map((tf) => [tf, TIMEFRAME_MS[tf as Timeframe]]));
  const allowedText = allowedList.join(', ');
  const checkAlignment = options.check_alignment !== false;

  return (input: unknown): ValidationResult<CanonicalBar> => {
    if (!isPlainObject(input)) {
      return { ok: false, issues: [{ errorId: DQ_ERROR.FIELD, field: '$', message: `bar must be an object, got ${describeValue(input)}` }] };
    }
    const b = input;
    let issues: ValidationIssue[] | null = null;

    const ts = b.ts_utc;
    let tsMs = NaN;
    if (typeof ts === 'string') tsMs = parseTsUtcMs(ts);
    if (tsMs !== tsMs) issues = checkTs(ts, issues).issues;

    issues = checkSymbol(b.symbol, issues);

    const tf = b.timeframe;
    const tfMs = typeof tf === 'string' ? allowed.get(tf) : undefined;
    if (tfMs === undefined) {
      issues = add(issues, DQ_ERROR.TFRAME, 'timeframe', `timeframe ${describeValue(tf)} is not in timeframe_allowed [${allowedText}]`);
    } else if (checkAlignment && tsMs === tsMs && tsMs % tfMs !== 0) {
      issues = add(issues, DQ_ERROR.ALIGN, 'ts_utc', `ts_utc ${describeValue(ts)} is not on a ${tf as string} bar boundary`);
    }

    const o = b.open;
    const h = b.high;
    const l = b.low;
    const c = b.close;
    const before = issues === null ? 0 : issues.length;
    issues = checkPrice(o, 'open', issues);
    issues = checkPrice(h, 'high', issues);
    issues = checkPrice(l, 'low', issues);
    issues = checkPrice(c, 'close', issues);
    if ((issues === null ? 0 : issues.length) === before) {
      issues = checkOhlc(o as number, h as number, l as number, c as number, issues);
    }
    issues = checkVolume(b.volume, 'volume', issues);

    const flag = b.quality_flag;
    if (typeof flag !== 'string' || !FLAG_SET.has(flag)) {
      issues = add(issues, DQ_ERROR.FLAG, 'quality_flag', `quality_flag ${describeValue(flag)} is not one of ${QUALITY_FLAGS.join(', ')}`);
    }
    issues = checkNonEmpty(b.source_id, 'source_id', issues);
    issues = checkNonEmpty(b.ingest_run_id, 'ingest_run_id', issues);
    issues = checkMetadata(b.metadata, issues);

    if (issues !== null) return { ok: false, issues };
    return { ok: true, value: input as unknown as CanonicalBar };
  };
}

const validatorCache = new WeakMap<BarValidationOptions, BarValidator>();

/** Validates one bar (the validator for `options` is built once per options object and cached). */
export function validateBar(input: unknown, options: BarValidationOptions): ValidationResult<CanonicalBar> {
  let v = validatorCache.get(options);
  if (!v) {
    v = createBarValidator(options);
    validatorCache.set(options, v);
  }
  return v(input);
}

/** Validates many bars; `invalid` carries the input index of each rejected bar. */
export function validateBars(
  inputs: readonly unknown[],
  options: BarValidationOptions,
): { valid: CanonicalBar[]; invalid: { index: number; issues: ValidationIssue[] }[] } {
  const validator = createBarValidator(options);
  const valid: CanonicalBar[] = [];
  const invalid: { index: number; issues: ValidationIssue[] }[] = [];
  for (let i = 0; i < inputs.length; i++) {
    const r = validator(inputs[i]);
    if (r.ok) valid.push(r.value);
    else invalid.push({ index: i, issues: r.issues });
  }
  return { valid, invalid };
}

function checkNullablePrice(v: unknown, field: string, issues: ValidationIssue[] | null): ValidationIssue[] | null {
  if (v === null) return issues;
  if (v === undefined) return add(issues, DQ_ERROR.FIELD, field, `${field} is required (null when the source does not provide it)`);
  return checkPrice(v, field, issues);
}

/**
 * Validates a canonical tick: canonical `ts_utc` and `symbol`; `bid`/`ask`/`mid` present and either null or
 * finite > 0; `size` null or finite ≥ 0; not crossed (`bid ≤ ask`); a usable price (`mid`, or both `bid` and
 * `ask`); `metadata` an object.
 */
export function validateTick(input: unknown): ValidationResult<CanonicalTick> {
  if (!isPlainObject(input)) {
    return { ok: false, issues: [{ errorId: DQ_ERROR.FIELD, field: '$', message: `tick must be an object, got ${describeValue(input)}` }] };
  }
  const t = input;
  let issues: ValidationIssue[] | null = checkTs(t.ts_utc, null).issues;
  issues = checkSymbol(t.symbol, issues);
  const before = issues === null ? 0 : issues.length;
  issues = checkNullablePrice(t.bid, 'bid', issues);
  issues = checkNullablePrice(t.ask, 'ask', issues);
  issues = checkNullablePrice(t.mid, 'mid', issues);
  if ((issues === null ? 0 : issues.length) === before) {
    const bid = t.bid as number | null;
    const ask = t.ask as number | null;
    if (bid !== null && ask !== null && bid > ask) {
      issues = add(issues, DQ_ERROR.CROSS, 'bid', `crossed quote: bid ${bid} is above ask ${ask}`);
    }
    if (t.mid === null && (bid === null || ask === null)) {
      issues = add(issues, DQ_ERROR.NOPX, 'mid', 'tick carries no usable price: needs mid, or both bid and ask');
    }
  }
  issues = checkVolume(t.size, 'size', issues);
  if (!isPlainObject(t.metadata)) {
    issues = add(issues, DQ_ERROR.FIELD, 'metadata', `metadata must be an object, got ${describeValue(t.metadata)}`);
  }
  if (issues !== null) return { ok: false, issues };
  return { ok: true, value: input as unknown as CanonicalTick };
}

/** Price of a tick: `mid` when present, else `(bid + ask) / 2`, else null. */
export function tickPrice(tick: Pick<CanonicalTick, 'bid' | 'ask' | 'mid'>): number | null {
  if (tick.mid !== null && tick.mid !== undefined) return tick.mid;
  if (tick.bid !== null && tick.ask !== null && tick.bid !== undefined && tick.ask !== undefined) return (tick.bid + tick.ask) / 2;
  return null;
}
