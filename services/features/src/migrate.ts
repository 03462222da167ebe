/**
 * One-shot entry: apply the features schema migrations against DATABASE_URL (or its seed alias POSTGRES_URL) and
 * exit. Run by the Helm `pre-install,pre-upgrade` hook Job (`node dist/services/features/src/migrate.js`) so that a
 * new release starts only on an up-to-date schema. Exit codes: 0 applied / already up to date, 1 a migration failed
 * (`DATA_STORAGE_MIGRATE`, nothing of the run applied), 78 invalid environment.
 */
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import { ENV_EXIT_CODE, baseEnvShape, createDatabase, createLogger, envInt, envUrl, loadEnv, migrateToLatest, reportError, type Logger } from '@noctria/platform';
import { featuresMigrations, FEATURES_SCHEMA } from './db/migrations/index.js';

export const featuresMigrateEnvSchema = z.object({
  DATABASE_URL: envUrl(['postgres:', 'postgresql:'], 'expected a postgres:// URL'),
  LOG_LEVEL: baseEnvShape.LOG_LEVEL,
  SERVICE_ENV: baseEnvShape.SERVICE_ENV,
  /** Give up waiting for another replica's migration lock after this long (0 = wait). */
  MIGRATE_LOCK_TIMEOUT_MS: envInt(0, { min: 0, max: 3_600_000 }),
});

/** Runs the features migrations; resolves with the process exit code (never exits itself). */
export async function runFeaturesMigrations(
  env: NodeJS.ProcessEnv | Record<string, string | undefined> = process.env,
  options: { logger?: Logger } = {},
): Promise<number> {
  let parsed: z.output<typeof featuresMigrateEnvSchema>;
  try {
    parsed = loadEnv(featuresMigrateEnvSchema, { env, exit: false });
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    return ENV_EXIT_CODE;
  }
  const logger = options.logger ?? createLogger({ service: 'features-migrate', level: parsed.LOG_LEVEL });
  const database = createDatabase<unknown>({ connectionString: parsed.DATABASE_URL, schema: FEATURES_SCHEMA, poolMax: 2, applicationName: 'features-migrate' });
  try {
    const applied = await migrateToLatest({
      db: database.db,
      schema: FEATURES_SCHEMA,
      migrations: featuresMigrations,
      ...(parsed.MIGRATE_LOCK_TIMEOUT_MS > 0 ? { lockTimeoutMs: parsed.MIGRATE_LOCK_TIMEOUT_MS } : {}),
    });
    logger.info({ event: 'migrations_done', schema: FEATURES_SCHEMA, details: { applied } }, applied.length > 0 ? 'migrations applied' : 'schema up to date');
    return 0;
  } catch (err) {
    reportError(err, { logger, fallbackId: 'DATA_STORAGE_MIGRATE', context: { event: 'migrations_failed', schema: FEATURES_SCHEMA } });
    return 1;
  } finally {
    await database.close();
    logger.flush();
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await runFeaturesMigrations();
}
