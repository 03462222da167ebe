import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import type { Timeframe } from '@noctria/canonical-bar';
import type { Envelope } from './gen/noctria/v1/envelope_pb.js';
import { FeatureQualityFlag as PbFeatureQualityFlag, FeatureVectorEventSchema } from './gen/noctria/v1/features_pb.js';
import { isTimeframe, msToTsUtc } from './bars.js';
import { ContractError } from './errors.js';
import { consumerFor, type ConsumerDefinition } from './streams.js';
import { assertToken, subjects } from './subjects.js';

/**
 * Quality flag of a feature vector, most severe first (the order is the precedence when several apply).
 * The rule that sets it lives in the features service (docs/architecture.md, "The features service").
 */
export const FEATURE_VECTOR_FLAGS = ['missing', 'outlier', 'stale', 'beta_jump', 'ok'] as const;
export type FeatureVectorFlag = (typeof FEATURE_VECTOR_FLAGS)[number];

const FLAG_TO_PB: Record<FeatureVectorFlag, PbFeatureQualityFlag> = {
  ok: PbFeatureQualityFlag.OK,
  stale: PbFeatureQualityFlag.STALE,
  outlier: PbFeatureQualityFlag.OUTLIER,
  missing: PbFeatureQualityFlag.MISSING,
  beta_jump: PbFeatureQualityFlag.BETA_JUMP,
};
const PB_TO_FLAG = new Map<PbFeatureQualityFlag, FeatureVectorFlag>(
  (Object.entries(FLAG_TO_PB) as [FeatureVectorFlag, PbFeatureQualityFlag][]).map(([k, v]) => [v, k]),
);

export function isFeatureVectorFlag(value: string): value is FeatureVectorFlag {
  return (FEATURE_VECTOR_FLAGS as readonly string[]).includes(value);
}

/** The most severe of the given flags (`ok` when none). */
export function worstFeatureFlag(flags: Iterable<FeatureVectorFlag>): FeatureVectorFlag {
  let best = FEATURE_VECTOR_FLAGS.length - 1;
  for (const f of flags) best = Math.min(best, FEATURE_VECTOR_FLAGS.indexOf(f));
  return FEATURE_VECTOR_FLAGS[best]!;
}

const SCHEMA_HASH_RE = /^[0-9a-f]{64}$/;

/**
 * The feature key `<pair_id>|<timeframe>|<ts_utc>|<feature_schema_hash>`: the idempotency key of a vector (its
 * `Nats-Msg-Id` and envelope message id). ts_utc is the bar open time in canonical RFC3339 UTC with milliseconds.
 */
export function featureKey(pairId: string, timeframe: string, tsMs: number, schemaHash: string): string {
  assertToken(pairId, 'pair_id');
  if (!isTimeframe(timeframe)) throw new ContractError('DATA_CONTRACT_ENCODE', `unknown timeframe ${JSON.stringify(timeframe)}`);
  if (!Number.isSafeInteger(tsMs)) throw new ContractError('DATA_CONTRACT_ENCODE', `feature ts must be integer ms, got ${tsMs}`);
  if (!SCHEMA_HASH_RE.test(schemaHash)) throw new ContractError('DATA_CONTRACT_ENCODE', `feature_schema_hash must be 64 lower-case hex digits, got ${JSON.stringify(schemaHash)}`);
  return `${pairId}|${timeframe}|${msToTsUtc(tsMs)}|${schemaHash}`;
}

/** A feature vector as carried on `feat.<tf>.<pair_id>` (FeatureVectorEvent). */
export interface FeatureVector {
  envelope: Envelope;
  pairId: string;
  timeframe: Timeframe;
  /** Bar open time, epoch ms UTC. */
  tsMs: number;
  /** Values in FEATURE_NAMES order (@noctria/features), pinned by `schemaHash`. */
  values: Float64Array;
  schemaHash: string;
  qualityFlag: FeatureVectorFlag;
  barsSeen: number;
  barCloseMs: number;
}

function checkVector(v: Omit<FeatureVector, 'envelope'>, code: 'DATA_CONTRACT_ENCODE' | 'DATA_CONTRACT_DECODE'): void {
  const bad = (msg: string) => new ContractError(code, `FeatureVectorEvent ${msg}`);
  try {
    assertToken(v.pairId, 'pair_id');
  } catch (err) {
    throw bad((err as Error).message);
  }
  if (!isTimeframe(v.timeframe)) throw bad(`has unknown timeframe ${JSON.stringify(v.timeframe)}`);
  if (!Number.isSafeInteger(v.tsMs) || v.tsMs < 0) throw bad(`ts_utc_ms must be a non-negative integer, got ${v.tsMs}`);
  if (!Number.isSafeInteger(v.barCloseMs) || v.barCloseMs <= v.tsMs) throw bad(`bar_close_ms must be an integer after ts_utc_ms, got ${v.barCloseMs}`);
  if (!Number.isSafeInteger(v.barsSeen) || v.barsSeen < 1) throw bad(`bars_seen must be a positive integer, got ${v.barsSeen}`);
  if (v.values.length === 0) throw bad('has no values');
  if (!SCHEMA_HASH_RE.test(v.schemaHash)) throw bad(`feature_schema_hash must be 64 lower-case hex digits, got ${JSON.stringify(v.schemaHash)}`);
  if (!isFeatureVectorFlag(v.qualityFlag)) throw bad(`has unknown quality flag ${JSON.stringify(v.qualityFlag)}`);
}

export function encodeFeatureVector(v: FeatureVector): Uint8Array {
  checkVector(v, 'DATA_CONTRACT_ENCODE');
  return toBinary(
    FeatureVectorEventSchema,
    create(FeatureVectorEventSchema, {
      envelope: v.envelope,
      pairId: v.pairId,
      timeframe: v.timeframe,
      tsUtcMs: BigInt(v.tsMs),
      values: Array.from(v.values),
      featureSchemaHash: v.schemaHash,
      qualityFlag: FLAG_TO_PB[v.qualityFlag],
      barsSeen: BigInt(v.barsSeen),
      barCloseMs: BigInt(v.barCloseMs),
    }),
  );
}

export function decodeFeatureVector(bytes: Uint8Array): FeatureVector {
  let msg;
  try {
    msg = fromBinary(FeatureVectorEventSchema, bytes);
  } catch (err) {
    throw new ContractError('DATA_CONTRACT_DECODE', `cannot decode FeatureVectorEvent: ${(err as Error).message}`);
  }
  if (!msg.envelope) throw new ContractError('DATA_CONTRACT_DECODE', 'FeatureVectorEvent without envelope');
  const flag = PB_TO_FLAG.get(msg.qualityFlag);
  if (flag === undefined) throw new ContractError('DATA_CONTRACT_DECODE', `FeatureVectorEvent has quality_flag ${msg.qualityFlag} (unspecified or unknown)`);
  const v: FeatureVector = {
    envelope: msg.envelope,
    pairId: msg.pairId,
    timeframe: msg.timeframe as Timeframe,
    tsMs: Number(msg.tsUtcMs),
    values: Float64Array.from(msg.values),
    schemaHash: msg.featureSchemaHash,
    qualityFlag: flag,
    barsSeen: Number(msg.barsSeen),
    barCloseMs: Number(msg.barCloseMs),
  };
  checkVector(v, 'DATA_CONTRACT_DECODE');
  return v;
}

export interface FeatureBarsConsumerOptions {
  prefix?: string;
  /** Timeframes whose closed bars are consumed (`md.bar.<tf>.*` each). */
  timeframes: readonly string[];
  /** Durable name (default `features_bars`). */
  durable?: string;
  maxDeliver?: number;
  backoffMs?: number[];
  ackWaitMs?: number;
  maxAckPending?: number;
}

/** The features service's durable pull consumer of closed bars: stream MD, one filter `md.bar.<tf>.*` per timeframe. */
export function featureBarsConsumer(opts: FeatureBarsConsumerOptions): ConsumerDefinition {
  const prefix = opts.prefix ?? '';
  if (opts.timeframes.length === 0) throw new ContractError('DATA_CONTRACT_CONSUMER', 'featureBarsConsumer: timeframes must not be empty');
  const s = subjects(prefix);
  return consumerFor({
    prefix,
    stream: 'MD',
    durable: opts.durable ?? 'features_bars',
    filterSubjects: [...new Set(opts.timeframes)].map((tf) => s.barClosedFilter(tf)),
    ...(opts.maxDeliver !== undefined ? { maxDeliver: opts.maxDeliver } : {}),
    ...(opts.backoffMs !== undefined ? { backoffMs: opts.backoffMs } : {}),
    ...(opts.ackWaitMs !== undefined ? { ackWaitMs: opts.ackWaitMs } : {}),
    ...(opts.maxAckPending !== undefined ? { maxAckPending: opts.maxAckPending } : {}),
  });
}

export interface FeatureVectorsConsumerOptions {
  prefix?: string;
  /** Durable name of the consuming service (e.g. `inference_features`). */
  durable: string;
  /** Timeframes to receive (default: every timeframe). */
  timeframes?: readonly string[];
  /** Pairs to receive (default: every pair). */
  pairIds?: readonly string[];
  maxDeliver?: number;
  backoffMs?: number[];
  ackWaitMs?: number;
  maxAckPending?: number;
}

/** A durable consumer of feature vectors on stream FEAT: `feat.<tf|*>.<pair_id|*>` for each requested combination. */
export function featureVectorsConsumer(opts: FeatureVectorsConsumerOptions): ConsumerDefinition {
  const prefix = opts.prefix ?? '';
  const s = subjects(prefix);
  const tfs = opts.timeframes && opts.timeframes.length > 0 ? [...new Set(opts.timeframes)] : [undefined];
  const pairs = opts.pairIds && opts.pairIds.length > 0 ? [...new Set(opts.pairIds)] : [undefined];
  return consumerFor({
    prefix,
    stream: 'FEAT',
    durable: opts.durable,
    filterSubjects: tfs.flatMap((tf) => pairs.map((p) => s.featuresFilter(tf, p))),
    ...(opts.maxDeliver !== undefined ? { maxDeliver: opts.maxDeliver } : {}),
    ...(opts.backoffMs !== undefined ? { backoffMs: opts.backoffMs } : {}),
    ...(opts.ackWaitMs !== undefined ? { ackWaitMs: opts.ackWaitMs } : {}),
    ...(opts.maxAckPending !== undefined ? { maxAckPending: opts.maxAckPending } : {}),
  });
}
