/**
 * One-shot entry: apply `configs/data_retention.yaml` to the features schema once and exit — drop `leg_bars` and
 * `vectors` month partitions older than `features_cache_months` (+ `deletion_grace_days`), clamped so every
 * series keeps its checkpoints and replay tail, and delete outbox rows published more than
 * FEATURES_RETENTION_OUTBOX_HOURS ago. Run by the chart's features retention CronJob
 * (`node dist/services/features/src/retention.js`); `--dry-run` (or FEATURES_RETENTION_DRY_RUN=true) logs the
 * plan and changes nothing. One run at a time (advisory lock); an overlapping run skips.
 * Exit codes: 0 done (or skipped), 1 failed, 78 invalid environment or policy.
 */
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import { loadPolicySet } from '@noctria/policy';
import { ENV_EXIT_CODE, baseEnvShape, createDatabase, createLogger, createMetricsRegistry, envBoolean, envInt, envUrl, loadEnv, reportError, type Logger } from '@noctria/platform';
import type { DB } from './db/schema.js';
import { FEATURES_SCHEMA } from './db/migrations/index.js';
import { FEATURES_ERROR } from './errors.js';
import { FeaturesRetentionService, featuresRetentionSettingsFromPolicies, type FeaturesRetentionSettings, type RetentionResult } from './retention.service.js';

export const featuresRetentionEnvSchema = z.object({
  DATABASE_URL: envUrl(['postgres:', 'postgresql:'], 'expected a postgres:// URL'),
  LOG_LEVEL: baseEnvShape.LOG_LEVEL,
  SERVICE_ENV: baseEnvShape.SERVICE_ENV,
  NOCTRIA_CONFIG_DIR: baseEnvShape.NOCTRIA_CONFIG_DIR,
  /** Same value as the service's: the jump rule's history a restart reads back is kept. */
  FEATURES_BETA_JUMP_WINDOW: envInt(180, { min: 10, max: 10_000 }),
  /** Published outbox rows older than this many hours are deleted. */
  FEATURES_RETENTION_OUTBOX_HOURS: envInt(24, { min: 1, max: 24 * 90 }),
  /** Log the plan, change nothing. */
  FEATURES_RETENTION_DRY_RUN: envBoolean(false),
});

/** Runs the features retention once; resolves with the process exit code (never exits itself). */
export async function runFeaturesRetention(
  env: NodeJS.ProcessEnv | Record<string, string | undefined> = process.env,
  options: { logger?: Logger; nowMs?: number; argv?: readonly string[]; onResult?: (r: RetentionResult) => void } = {},
): Promise<number> {
  let parsed: z.output<typeof featuresRetentionEnvSchema>;
  let settings: FeaturesRetentionSettings;
  try {
    parsed = loadEnv(featuresRetentionEnvSchema, { env, exit: false });
    settings = featuresRetentionSettingsFromPolicies(loadPolicySet(parsed.NOCTRIA_CONFIG_DIR), {
      betaJumpWindow: parsed.FEATURES_BETA_JUMP_WINDOW,
      outboxSentHours: parsed.FEATURES_RETENTION_OUTBOX_HOURS,
    });
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    return ENV_EXIT_CODE;
  }
  const dryRun = parsed.FEATURES_RETENTION_DRY_RUN || (options.argv ?? process.argv.slice(2)).includes('--dry-run');
  const logger = options.logger ?? createLogger({ service: 'features-retention', level: parsed.LOG_LEVEL });
  const database = createDatabase<DB>({ connectionString: parsed.DATABASE_URL, schema: FEATURES_SCHEMA, poolMax: 2, applicationName: 'features-retention' });
  // A one-shot process is not scraped: the run's log line (retention_done / retention_clamped) carries the figures.
  const registry = createMetricsRegistry({ service: 'features-retention', defaultMetrics: false });
  try {
    const result = await new FeaturesRetentionService(database.db, logger, registry).run(settings, options.nowMs ?? Date.now(), { dryRun });
    options.onResult?.(result);
    return 0;
  } catch (err) {
    reportError(err, { logger, fallbackId: FEATURES_ERROR.RETENTION, context: { event: 'retention_failed' } });
    return 1;
  } finally {
    await database.close();
    logger.flush();
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await runFeaturesRetention();
}
