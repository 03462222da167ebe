/**
 * One-shot entry: apply `configs/data_retention.yaml` to the ingest schema once and exit — drop canonical-bar
 * month partitions older than `canonical_months` (+ grace), raw responses older than `raw_days` (+ grace) and
 * published outbox rows. Run by the chart's retention CronJob (`node dist/services/ingest/src/retention.js`);
 * the service's in-process daily run and this Job share one advisory lock, so only one of them works at a time.
 * The policy validator refuses a retention shorter than the feature windows need before anything is dropped.
 * Exit codes: 0 done (or skipped because another run holds the lock), 1 failed, 78 invalid environment or policy.
 */
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import { loadPolicySet } from '@noctria/policy';
import { ENV_EXIT_CODE, baseEnvShape, createDatabase, createLogger, envUrl, loadEnv, reportError, type Logger } from '@noctria/platform';
import type { DB } from './db/schema.js';
import { INGEST_SCHEMA } from './db/migrations/index.js';
import { RetentionService, retentionSettingsFromPolicies, type RetentionSettings } from './pipeline/retention.service.js';

export const retentionEnvSchema = z.object({
  DATABASE_URL: envUrl(['postgres:', 'postgresql:'], 'expected a postgres:// URL'),
  LOG_LEVEL: baseEnvShape.LOG_LEVEL,
  SERVICE_ENV: baseEnvShape.SERVICE_ENV,
  NOCTRIA_CONFIG_DIR: baseEnvShape.NOCTRIA_CONFIG_DIR,
});

/** Runs retention once; resolves with the process exit code (never exits itself). */
export async function runIngestRetention(
  env: NodeJS.ProcessEnv | Record<string, string | undefined> = process.env,
  options: { logger?: Logger; nowMs?: number } = {},
): Promise<number> {
  const write = (line: string) => process.stderr.write(`${line}\n`);
  let parsed: z.output<typeof retentionEnvSchema>;
  let settings: RetentionSettings;
  try {
    parsed = loadEnv(retentionEnvSchema, { env, exit: false });
    settings = retentionSettingsFromPolicies(loadPolicySet(parsed.NOCTRIA_CONFIG_DIR));
  } catch (err) {
    write(err instanceof Error ? err.message : String(err));
    return ENV_EXIT_CODE;
  }
  const logger = options.logger ?? createLogger({ service: 'ingest-retention', level: parsed.LOG_LEVEL });
  const database = createDatabase<DB>({ connectionString: parsed.DATABASE_URL, schema: INGEST_SCHEMA, poolMax: 2, applicationName: 'ingest-retention' });
  try {
    // RetentionService logs retention_done / retention_skipped itself.
    await new RetentionService(database.db, logger).run(settings, options.nowMs ?? Date.now());
    return 0;
  } catch (err) {
    reportError(err, { logger, fallbackId: 'DATA_STORAGE_RETENTION', context: { event: 'retention_failed' } });
    return 1;
  } finally {
    await database.close();
    logger.flush();
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await runIngestRetention();
}
