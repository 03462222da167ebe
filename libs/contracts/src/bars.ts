import { create, fromBinary, toBinary, type JsonObject, type JsonValue } from '@bufbuild/protobuf';
import type { BarMetadata, CanonicalBar, QualityFlag, Timeframe } from '@noctria/canonical-bar';
import type { Envelope } from './gen/noctria/v1/envelope_pb.js';
import {
  BarClosedEventSchema,
  BarStaleEventSchema,
  CanonicalBarSchema,
  QualityFlag as PbQualityFlag,
  type CanonicalBar as PbCanonicalBar,
} from './gen/noctria/v1/market_data_pb.js';
import { ContractError } from './errors.js';

// Exhaustive maps: adding a flag/timeframe to @noctria/canonical-bar without updating them fails to compile.
const FLAG_TO_PB: Record<QualityFlag, PbQualityFlag> = {
  ok: PbQualityFlag.OK,
  missing: PbQualityFlag.MISSING,
  outlier: PbQualityFlag.OUTLIER,
  resampled: PbQualityFlag.RESAMPLED,
  conflict: PbQualityFlag.CONFLICT,
  stale: PbQualityFlag.STALE,
  revised: PbQualityFlag.REVISED,
};
const PB_TO_FLAG = new Map<PbQualityFlag, QualityFlag>(
  (Object.entries(FLAG_TO_PB) as [QualityFlag, PbQualityFlag][]).map(([k, v]) => [v, k]),
);
const TIMEFRAMES: Record<Timeframe, true> = { '1m': true, '5m': true, '15m': true, '1h': true, '4h': true, '1d': true };

/** Strict RFC3339 UTC ("Z") with at most millisecond precision. */
const TS_RE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,3}))?Z$/;

export function isTimeframe(value: string): value is Timeframe {
  return Object.prototype.hasOwnProperty.call(TIMEFRAMES, value);
}

/** RFC3339 UTC → epoch ms; refuses offsets, sub-millisecond digits and impossible dates (no silent loss). */
export function tsUtcToMs(ts: string): number {
  const m = TS_RE.exec(ts);
  if (!m) throw new ContractError('DATA_CONTRACT_ENCODE', `ts_utc must be RFC3339 UTC with at most millisecond precision (e.g. 2025-11-03T12:00:00.000Z), got ${JSON.stringify(ts)}`);
  const ms = Date.parse(ts);
  const [, y, mo, d, h, mi, s] = m;
  const back = Number.isNaN(ms) ? '' : new Date(ms).toISOString();
  if (back.slice(0, 19) !== `${y}-${mo}-${d}T${h}:${mi}:${s}`) {
    throw new ContractError('DATA_CONTRACT_ENCODE', `ts_utc is not a valid calendar time: ${JSON.stringify(ts)}`);
  }
  return ms;
}

/** Epoch ms → canonical RFC3339 UTC with milliseconds (`toISOString`). */
export function msToTsUtc(ms: number): string {
  return new Date(ms).toISOString();
}

function toJsonValue(value: unknown, path: string): JsonValue | undefined {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new ContractError('DATA_CONTRACT_ENCODE', `metadata${path} must be a finite number, got ${value}`);
    return value;
  }
  if (value === undefined) return undefined;
  if (Array.isArray(value)) {
    return value.map((v, i) => {
      const j = toJsonValue(v, `${path}[${i}]`);
      if (j === undefined) throw new ContractError('DATA_CONTRACT_ENCODE', `metadata${path}[${i}] is undefined; arrays must hold JSON values`);
      return j;
    });
  }
  if (typeof value === 'object' && (Object.getPrototypeOf(value) === Object.prototype || Object.getPrototypeOf(value) === null)) {
    return toJsonObject(value as Record<string, unknown>, path);
  }
  throw new ContractError('DATA_CONTRACT_ENCODE', `metadata${path} is not a JSON value (${typeof value})`);
}

function toJsonObject(obj: Record<string, unknown>, path: string): JsonObject {
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(obj)) {
    const j = toJsonValue(v, `${path}.${k}`);
    if (j !== undefined) out[k] = j;
  }
  return out;
}

export interface BarProtoOptions {
  /** Provenance checksum (hex sha256) to embed; empty when omitted. */
  checksum?: string;
}

function requireTimeframe(tf: string): Timeframe {
  if (!isTimeframe(tf)) throw new ContractError('DATA_CONTRACT_DECODE', `unknown timeframe ${JSON.stringify(tf)}`);
  return tf;
}

function msFromBigint(v: bigint, field: string): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw new ContractError('DATA_CONTRACT_DECODE', `${field}=${v} is outside the safe integer range`);
  return n;
}

/** TypeScript canonical bar → protobuf message. `volume: null` becomes an absent optional field. */
export function barToProto(bar: CanonicalBar, opts: BarProtoOptions = {}): PbCanonicalBar {
  const flag = FLAG_TO_PB[bar.quality_flag];
  if (flag === undefined) throw new ContractError('DATA_CONTRACT_ENCODE', `unknown quality_flag ${JSON.stringify(bar.quality_flag)}`);
  if (!isTimeframe(bar.timeframe)) throw new ContractError('DATA_CONTRACT_ENCODE', `unknown timeframe ${JSON.stringify(bar.timeframe)}`);
  return create(CanonicalBarSchema, {
    tsUtcMs: BigInt(tsUtcToMs(bar.ts_utc)),
    symbol: bar.symbol,
    timeframe: bar.timeframe,
    open: bar.open,
    high: bar.high,
    low: bar.low,
    close: bar.close,
    volume: bar.volume === null ? undefined : bar.volume,
    qualityFlag: flag,
    sourceId: bar.source_id,
    ingestRunId: bar.ingest_run_id,
    metadata: toJsonObject(bar.metadata ?? {}, ''),
    checksum: opts.checksum ?? '',
  });
}

/** Protobuf message → TypeScript canonical bar. An absent volume becomes `null` (never 0). */
export function barFromProto(msg: PbCanonicalBar): CanonicalBar {
  const flag = PB_TO_FLAG.get(msg.qualityFlag);
  if (flag === undefined) throw new ContractError('DATA_CONTRACT_DECODE', `bar ${msg.symbol} has quality_flag ${msg.qualityFlag} (unspecified or unknown)`);
  return {
    ts_utc: msToTsUtc(msFromBigint(msg.tsUtcMs, 'ts_utc_ms')),
    symbol: msg.symbol,
    timeframe: requireTimeframe(msg.timeframe),
    open: msg.open,
    high: msg.high,
    low: msg.low,
    close: msg.close,
    volume: msg.volume === undefined ? null : msg.volume,
    quality_flag: flag,
    source_id: msg.sourceId,
    ingest_run_id: msg.ingestRunId,
    metadata: (msg.metadata ?? {}) as BarMetadata,
  };
}

function decodeWith<T>(fn: () => T, what: string): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof ContractError) throw err;
    throw new ContractError('DATA_CONTRACT_DECODE', `cannot decode ${what}: ${(err as Error).message}`);
  }
}

export function encodeBar(bar: CanonicalBar, opts: BarProtoOptions = {}): Uint8Array {
  return toBinary(CanonicalBarSchema, barToProto(bar, opts));
}

export function decodeBar(bytes: Uint8Array): CanonicalBar {
  return barFromProto(decodeWith(() => fromBinary(CanonicalBarSchema, bytes), 'CanonicalBar'));
}

/** Checksum embedded in an encoded bar ('' when none). */
export function decodeBarChecksum(bytes: Uint8Array): string {
  return decodeWith(() => fromBinary(CanonicalBarSchema, bytes), 'CanonicalBar').checksum;
}

export interface BarClosed {
  envelope: Envelope;
  bar: CanonicalBar;
  checksum: string;
  stale: boolean;
  closedAtMs: number;
}
export type BarClosedInput = Omit<BarClosed, 'checksum'> & { checksum?: string };

export function encodeBarClosed(event: BarClosedInput): Uint8Array {
  if (!Number.isSafeInteger(event.closedAtMs)) throw new ContractError('DATA_CONTRACT_ENCODE', `closedAtMs must be integer ms, got ${event.closedAtMs}`);
  return toBinary(
    BarClosedEventSchema,
    create(BarClosedEventSchema, {
      envelope: event.envelope,
      bar: barToProto(event.bar, { checksum: event.checksum ?? '' }),
      stale: event.stale,
      closedAtMs: BigInt(event.closedAtMs),
    }),
  );
}

export function decodeBarClosed(bytes: Uint8Array): BarClosed {
  const msg = decodeWith(() => fromBinary(BarClosedEventSchema, bytes), 'BarClosedEvent');
  if (!msg.envelope) throw new ContractError('DATA_CONTRACT_DECODE', 'BarClosedEvent without envelope');
  if (!msg.bar) throw new ContractError('DATA_CONTRACT_DECODE', 'BarClosedEvent without bar');
  return {
    envelope: msg.envelope,
    bar: barFromProto(msg.bar),
    checksum: msg.bar.checksum,
    stale: msg.stale,
    closedAtMs: msFromBigint(msg.closedAtMs, 'closed_at_ms'),
  };
}

/** Freshness-budget breach for one symbol/timeframe (`md.stale.<tf>.<symbol>`). */
export interface BarStale {
  envelope: Envelope;
  symbol: string;
  timeframe: Timeframe;
  /** Open time of the late bar, epoch ms. */
  expectedBarTsMs: number;
  /** Open time of the last received bar, epoch ms; null when nothing was received yet. */
  lastBarTsMs: number | null;
  lagSeconds: number;
  budgetSeconds: number;
  /** true: suppress signals; false: the condition cleared. */
  suppress: boolean;
  sourceId: string;
}

export function encodeBarStale(event: BarStale): Uint8Array {
  for (const [k, v] of [['expectedBarTsMs', event.expectedBarTsMs], ['budgetSeconds', event.budgetSeconds]] as const) {
    if (!Number.isSafeInteger(v) || v < 0) throw new ContractError('DATA_CONTRACT_ENCODE', `${k} must be a non-negative integer, got ${v}`);
  }
  if (event.lastBarTsMs !== null && (!Number.isSafeInteger(event.lastBarTsMs) || event.lastBarTsMs <= 0)) {
    throw new ContractError('DATA_CONTRACT_ENCODE', `lastBarTsMs must be a positive integer or null, got ${event.lastBarTsMs}`);
  }
  if (!isTimeframe(event.timeframe)) throw new ContractError('DATA_CONTRACT_ENCODE', `unknown timeframe ${JSON.stringify(event.timeframe)}`);
  return toBinary(
    BarStaleEventSchema,
    create(BarStaleEventSchema, {
      envelope: event.envelope,
      symbol: event.symbol,
      timeframe: event.timeframe,
      expectedBarTsMs: BigInt(event.expectedBarTsMs),
      lastBarTsMs: BigInt(event.lastBarTsMs ?? 0),
      lagSeconds: event.lagSeconds,
      budgetSeconds: BigInt(event.budgetSeconds),
      suppress: event.suppress,
      sourceId: event.sourceId,
    }),
  );
}

export function decodeBarStale(bytes: Uint8Array): BarStale {
  const msg = decodeWith(() => fromBinary(BarStaleEventSchema, bytes), 'BarStaleEvent');
  if (!msg.envelope) throw new ContractError('DATA_CONTRACT_DECODE', 'BarStaleEvent without envelope');
  const last = msFromBigint(msg.lastBarTsMs, 'last_bar_ts_ms');
  return {
    envelope: msg.envelope,
    symbol: msg.symbol,
    timeframe: requireTimeframe(msg.timeframe),
    expectedBarTsMs: msFromBigint(msg.expectedBarTsMs, 'expected_bar_ts_ms'),
    lastBarTsMs: last === 0 ? null : last,
    lagSeconds: msg.lagSeconds,
    budgetSeconds: msFromBigint(msg.budgetSeconds, 'budget_seconds'),
    suppress: msg.suppress,
    sourceId: msg.sourceId,
  };
}
