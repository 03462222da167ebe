import { z } from 'zod';
import { baseEnvShape, envInt, envPort } from '@noctria/platform';

/** Features environment: the platform base keys plus the features ones. */
export const featuresEnvSchema = z.object({
  ...baseEnvShape,
  FEATURES_HTTP_PORT: envPort(8082),
  /**
   * Timeframes whose bars are consumed, comma separated (default: timeframe_allowed of pipeline_policy); each must
   * be in timeframe_allowed. A pair gets an engine for every one of them its `allowed_timeframes` lists.
   */
  FEATURES_TIMEFRAMES: z
    .string()
    .regex(/^\s*[0-9a-z]+\s*(,\s*[0-9a-z]+\s*)*$/, 'expected a comma separated list of timeframes, e.g. 1h,4h')
    .transform((s) => [...new Set(s.split(',').map((x) => x.trim()))])
    .optional(),
  /** Engine checkpoint every this many bars per pair (also one at shutdown). */
  FEATURES_CHECKPOINT_EVERY: envInt(100, { min: 1, max: 100_000 }),
  /** Bars of beta_stability history whose median the jump rule compares against. */
  FEATURES_BETA_JUMP_WINDOW: envInt(180, { min: 10, max: 10_000 }),
  /** Bar messages in flight, applied together in one group-commit transaction (1 = one transaction per bar). */
  FEATURES_BATCH_MAX: envInt(64, { min: 1, max: 1_000 }),
  /** Outbox poll interval in ms when nothing kicks the relay. */
  FEATURES_RELAY_POLL_MS: envInt(1000, { min: 10, max: 60_000 }),
  /**
   * Ack wait of the bar consumer (ms): an unacked bar is redelivered after it. Also how long a start waits before
   * consuming when the durable holds bars a previous process received but never acked, so they come back first.
   */
  FEATURES_ACK_WAIT_MS: envInt(30_000, { min: 1_000, max: 600_000 }),
  /**
   * How long (ms) one batch transaction is retried after transient database failures before its messages are handed
   * back to the bus (redelivered with backoff); capped at a third of FEATURES_ACK_WAIT_MS.
   */
  FEATURES_STORE_RETRY_MS: envInt(10_000, { min: 0, max: 300_000 }),
  /** In-process retention (data_retention.yaml features_cache_months) every this many ms; 0 = only the CronJob. */
  FEATURES_RETENTION_INTERVAL_MS: envInt(86_400_000, { min: 0, max: 7 * 86_400_000 }),
});

export type FeaturesEnv = z.output<typeof featuresEnvSchema>;
