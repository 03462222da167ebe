/** Error ids raised by the features service (`{DOMAIN}_{CATEGORY}_{CODE}`; documented in docs/error-codes.md). */
export const FEATURES_ERROR = {
  /** Storing a leg bar / vector failed after the transient-failure retries (the message is redelivered). */
  STORE: 'DATA_FEATURES_STORE',
  /** An engine checkpoint could not be used (unreadable, or the replay did not land on the stored state): the engine was rebuilt from the stored bars. */
  RESTORE: 'DATA_FEATURES_RESTORE',
  /** The universe/timeframe configuration of the service is unusable. */
  CONFIG: 'DATA_FEATURES_CONFIG',
  /** An HTTP/bus request was invalid. */
  BAD_REQUEST: 'DATA_FEATURES_BADREQ',
  /** Unknown pair/timeframe. */
  NOT_FOUND: 'DATA_FEATURES_NOTFOUND',
  /** beta_stability jumped beyond dq_thresholds.beta_stability_std_jump × its recent median. */
  BETA_JUMP: 'DATA_DQ_BETAJUMP',
  /** A received bar message could not be decoded (dead-lettered). */
  DECODE: 'DATA_CONTRACT_DECODE',
  /** A leg bar arrived for a bar time its pair has already passed (dropped, counted). */
  LATE: 'DATA_DQ_LATE',
  /** A vector was flagged stale (a leg later than the freshness budget). */
  STALE: 'DATA_LATENCY_STALE',
  /** Publishing an outbox message failed (kept and retried). */
  PUBLISH: 'DATA_BUS_PUBLISH',
  /** Retention kept data older than features_cache_months because an engine restart needs it (cutoff clamped). */
  RETENTION_CLAMP: 'DATA_RETENTION_CLAMP',
  /** The features retention run failed. */
  RETENTION: 'DATA_FEATURES_RETENTION',
} as const;
export type FeaturesErrorId = (typeof FEATURES_ERROR)[keyof typeof FEATURES_ERROR];
