/** Kysely view of the `features` schema (tables are addressed as `features.<table>`). */
import type { ColumnType, Generated } from 'kysely';

type Timestamp = ColumnType<Date, Date | string, Date | string>;
type GeneratedTimestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type Json<T = Record<string, unknown>> = ColumnType<T, T | string, T | string>;

export interface LegBarsTable {
  symbol: string;
  timeframe: string;
  ts_utc: Timestamp;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number | null;
  quality_flag: string;
  source_id: string;
  checksum: string;
  ingest_stale: Generated<boolean>;
  live: Generated<boolean>;
  closed_at: Timestamp | null;
  received_at: Timestamp;
  revision: Generated<number>;
}

export interface PairStateTable {
  pair_id: string;
  timeframe: string;
  schema_hash: string;
  symbol_a: string;
  symbol_b: string;
  last_ts: Timestamp | null;
  bars_seen: Generated<number>;
  updated_at: GeneratedTimestamp;
}

export interface VectorsTable {
  pair_id: string;
  timeframe: string;
  schema_hash: string;
  ts_utc: Timestamp;
  /** float8[] in FEATURE_NAMES order; NULL elements are undefined (warm-up) features. */
  feature_values: ColumnType<(number | null)[], string, string>;
  complete: boolean;
  quality_flag: string;
  quality_reasons: ColumnType<string[], string[] | undefined, string[]>;
  bars_seen: number;
  stored_at: Timestamp;
}

export interface CheckpointsTable {
  pair_id: string;
  timeframe: string;
  schema_hash: string;
  bars_seen: number;
  ts_utc: Timestamp;
  /** JSON text of `PairFeatureEngine.snapshot()`. */
  state: string;
  created_at: GeneratedTimestamp;
}

export interface OutboxTable {
  id: Generated<number>;
  subject: string;
  msg_id: string;
  payload: Buffer;
  headers: Json<Record<string, string>>;
  created_at: GeneratedTimestamp;
  sent_at: Timestamp | null;
  attempts: Generated<number>;
  last_error: string | null;
}

export interface DB {
  'features.leg_bars': LegBarsTable;
  'features.pair_state': PairStateTable;
  'features.vectors': VectorsTable;
  'features.checkpoints': CheckpointsTable;
  'features.outbox': OutboxTable;
}
