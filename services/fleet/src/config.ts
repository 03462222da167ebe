/**
 * Environment of the embedded fleet: the platform base keys and every composed service's keys (validated by
 * their own schemas) plus the launcher's knobs below.
 */
import { z } from 'zod';
import { envBoolean, envInt } from '@noctria/platform';

export const fleetEnvSchema = z.object({
  /**
   * Market-clock multiplier of the live loop: market milliseconds per real millisecond. Default 1200: a 1h bar
   * closes every 3 s.
   */
  NOCTRIA_LIVE_SPEED: envInt(1200, { min: 1, max: 10_000_000 }),
  /** Keep producing live bars after the backfill (default true). */
  NOCTRIA_LIVE: envBoolean(true),
  /** Real milliseconds between live polls (default 1000). */
  NOCTRIA_LIVE_POLL_MS: envInt(1000, { min: 20, max: 60_000 }),
  /** Backfill the universe at start (default true). */
  NOCTRIA_BACKFILL: envBoolean(true),
  /** History of a series without a watermark, in months (default: history_lookback_months of pipeline_policy). */
  NOCTRIA_BACKFILL_MONTHS: z
    .string()
    .regex(/^\d{1,3}$/, 'expected a number of months between 1 and 120')
    .transform(Number)
    .refine((n) => n >= 1 && n <= 120, 'expected a number of months between 1 and 120')
    .optional(),
  /**
   * Timeframes backfilled and produced live, comma separated (default: timeframe_default of pipeline_policy);
   * each must be in timeframe_allowed.
   */
  NOCTRIA_TIMEFRAMES: z
    .string()
    .regex(/^\s*[0-9a-z]+\s*(,\s*[0-9a-z]+\s*)*$/, 'expected a comma separated list of timeframes, e.g. 1h,4h')
    .transform((s) => [...new Set(s.split(',').map((x) => x.trim()))])
    .optional(),
  /** Real milliseconds between live status lines on the console (default 10000; 0 = off). */
  NOCTRIA_STATUS_INTERVAL_MS: envInt(10_000, { min: 0, max: 3_600_000 }),
  /** `text` (banner, progress bar on a terminal) or `json` (one JSON object per line on stdout). */
  NOCTRIA_OUTPUT: z.enum(['text', 'json'], { error: 'expected text|json' }).default('text'),
  /** Where the pino JSON logs go (default `<NOCTRIA_DATA_DIR>/logs/fleet.log`; `-` = stderr). */
  NOCTRIA_LOG_FILE: z.string().min(1).optional(),
});

export type FleetEnv = z.output<typeof fleetEnvSchema>;
