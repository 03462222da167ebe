/** The one-shot retention entry the chart's CronJob runs (services/ingest/src/retention.ts). */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { ENV_EXIT_CODE, createLogger } from '@noctria/platform';
import { createTestDatabase, type TestDatabase } from '@noctria/testing';
import { ingestMigrations, INGEST_SCHEMA } from '../src/db/migrations/index.js';
import type { DB } from '../src/db/schema.js';
import { BarsRepository } from '../src/repositories/bars.repository.js';
import { runIngestRetention } from '../src/retention.js';

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 10, 15);

describe('ingest retention entry (CronJob command)', () => {
  let db: TestDatabase;
  let kysely: Kysely<DB>;
  let configDir: string;
  const logger = createLogger({ service: 'retention-test', level: 'silent' });

  beforeAll(async () => {
    db = await createTestDatabase({ schema: INGEST_SCHEMA, migrations: ingestMigrations });
    kysely = new Kysely<DB>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: db.connectionString, max: 2 }) }) });
    configDir = mkdtempSync(join(tmpdir(), 'noctria-retention-'));
    cpSync('configs', configDir, { recursive: true });
  });
  afterAll(async () => {
    await kysely?.destroy();
    await db?.drop();
    rmSync(configDir, { recursive: true, force: true });
  });

  it('drops the month partitions older than canonical_months + grace and keeps the rest (exit 0)', async () => {
    const bars = new BarsRepository(kysely);
    const retention = (readFileSync(join(configDir, 'data_retention.yaml'), 'utf8').match(/canonical_months:\s*\n\s*value:\s*(\d+)/) ?? [])[1];
    const months = Number(retention);
    expect(months).toBeGreaterThan(3);
    // One partition well past the retention horizon, one just inside it, one current.
    const old = Date.UTC(2026, 10 - months - 2, 1);
    const inside = Date.UTC(2026, 10 - months + 1, 1);
    const current = Date.UTC(2026, 10, 1);
    for (const start of [old, inside, current]) await bars.ensurePartitions(start, start + DAY);
    const before = (await bars.listPartitions()).map((p) => p.fromMs);
    expect(before).toEqual(expect.arrayContaining([old, inside, current]));

    expect(await runIngestRetention({ DATABASE_URL: db.connectionString, NOCTRIA_CONFIG_DIR: configDir }, { logger, nowMs: NOW })).toBe(0);

    const after = (await bars.listPartitions()).map((p) => p.fromMs);
    expect(after).not.toContain(old);
    expect(after).toEqual(expect.arrayContaining([inside, current]));
  });

  it('refuses a retention shorter than the feature windows need before touching anything (exit 78)', async () => {
    const file = join(configDir, 'data_retention.yaml');
    writeFileSync(file, readFileSync(file, 'utf8').replace(/(canonical_months:\s*\n\s*value:\s*)\d+/, '$11'));
    const bars = new BarsRepository(kysely);
    const before = await bars.listPartitions();
    expect(await runIngestRetention({ DATABASE_URL: db.connectionString, NOCTRIA_CONFIG_DIR: configDir }, { logger, nowMs: NOW })).toBe(ENV_EXIT_CODE);
    expect(await bars.listPartitions()).toEqual(before);
  });

  it('exits 78 without DATABASE_URL', async () => {
    expect(await runIngestRetention({ NOCTRIA_CONFIG_DIR: configDir }, { logger })).toBe(ENV_EXIT_CODE);
  });
});
