/** Error ids raised by the ingest service (`{DOMAIN}_{CATEGORY}_{CODE}`, seed 003 命名規約). */
export const INGEST_ERROR = {
  /** A provider call failed after retries/failover. */
  FETCH: 'DATA_API_FETCH',
  /** A row/bar/message was rejected by validation (kept in ingest.rejected_rows). */
  REJECTED: 'DATA_DQ_REJECTED',
  /** A bar of a different symbol/timeframe or outside the requested range came back from a provider. */
  MISMATCH: 'DATA_DQ_MISMATCH',
  /** DQ thresholds breached: the month is quarantined. */
  THRESHOLD: 'DATA_DQ_THRESHOLD',
  /** Storing a chunk failed. */
  STORE: 'DATA_STORAGE_WRITE',
  /** Publishing to the bus failed (the outbox keeps the message). */
  PUBLISH: 'DATA_BUS_PUBLISH',
  /** A request (HTTP or bus) was invalid. */
  BAD_REQUEST: 'DATA_API_BADREQ',
  /** Unknown run / resource. */
  NOT_FOUND: 'DATA_API_NOTFOUND',
  /** Freshness budget exceeded. */
  STALE: 'DATA_LATENCY_STALE',
  /** Configuration (policy/sources) invalid. */
  CONFIG: 'DATA_CONFIG_INVALID',
  /** Import file missing/unreadable. */
  IMPORT: 'DATA_IMPORT_FILE',
} as const;
export type IngestErrorId = (typeof INGEST_ERROR)[keyof typeof INGEST_ERROR];
