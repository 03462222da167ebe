/** Kysely view of the `ingest` schema (tables are addressed as `ingest.<table>`). */
import type { ColumnType, Generated } from 'kysely';

type Timestamp = ColumnType<Date, Date | string, Date | string>;
type GeneratedTimestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type Json<T = Record<string, unknown>> = ColumnType<T, T | string, T | string>;

export interface CanonicalBarsTable {
  ts_utc: Timestamp;
  symbol: string;
  timeframe: string;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number | null;
  quality_flag: string;
  source_id: string;
  ingest_run_id: string;
  metadata: Json;
  checksum: string;
  ingested_at: GeneratedTimestamp;
  revision: Generated<number>;
}

export interface RawResponsesTable {
  id: Generated<number>;
  ingest_run_id: string;
  source_id: string;
  request: Json;
  content_type: string;
  body: string;
  received_at: GeneratedTimestamp;
}

export type RunKind = 'backfill' | 'live' | 'import';
export type RunStatus = 'running' | 'succeeded' | 'partial' | 'failed' | 'interrupted';

export interface IngestRunsTable {
  id: string;
  kind: RunKind;
  source: string;
  params: Json;
  status: RunStatus;
  started_at: GeneratedTimestamp;
  finished_at: Timestamp | null;
  heartbeat_at: GeneratedTimestamp;
  counts: Json<Record<string, number>>;
  error: Json | null;
}

export interface WatermarksTable {
  symbol: string;
  timeframe: string;
  last_ts: Timestamp;
  source_id: string;
  updated_at: GeneratedTimestamp;
}

export interface DqCountersTable {
  ingest_run_id: string;
  symbol: string;
  timeframe: string;
  month: string;
  expected: Generated<number>;
  received: Generated<number>;
  missing: Generated<number>;
  outliers: Generated<number>;
  spikes: Generated<number>;
  duplicates_dropped: Generated<number>;
  rejected: Generated<number>;
  filled: Generated<number>;
  revised: Generated<number>;
  conflicts: Generated<number>;
  updated_at: GeneratedTimestamp;
}

export interface QuarantineTable {
  id: Generated<number>;
  symbol: string;
  timeframe: string;
  month: string;
  reason: string;
  metrics: Json;
  thresholds: Json;
  range_from: Timestamp;
  range_to: Timestamp;
  ingest_run_id: string;
  created_at: GeneratedTimestamp;
  released_at: Timestamp | null;
  released_by_run_id: string | null;
}

export interface RejectedRowsTable {
  id: Generated<number>;
  ingest_run_id: string;
  source_id: string;
  symbol: string | null;
  timeframe: string | null;
  line: number | null;
  error_id: string;
  reason: string;
  raw: string | null;
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

export interface StaleFlagsTable {
  symbol: string;
  timeframe: string;
  expected_ts: Timestamp;
  budget_seconds: number;
  raised_at: GeneratedTimestamp;
  cleared_at: Timestamp | null;
}

export interface ChunkLedgerTable {
  token: string;
  ingest_run_id: string;
  symbol: string;
  timeframe: string;
  start_ts: Timestamp;
  end_ts: Timestamp;
  outcome: Json<Record<string, number>>;
  committed_at: GeneratedTimestamp;
}

export interface DB {
  'ingest.canonical_bars': CanonicalBarsTable;
  'ingest.raw_responses': RawResponsesTable;
  'ingest.ingest_runs': IngestRunsTable;
  'ingest.watermarks': WatermarksTable;
  'ingest.dq_counters': DqCountersTable;
  'ingest.quarantine': QuarantineTable;
  'ingest.rejected_rows': RejectedRowsTable;
  'ingest.outbox': OutboxTable;
  'ingest.stale_flags': StaleFlagsTable;
  'ingest.chunk_ledger': ChunkLedgerTable;
}
