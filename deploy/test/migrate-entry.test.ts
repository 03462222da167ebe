import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { ingestMigrations, INGEST_SCHEMA } from '@noctria/ingest';
import { ENV_EXIT_CODE, createLogger } from '@noctria/platform';
import { createTestDatabase, type TestDatabase } from '@noctria/testing';
import { runIngestMigrations } from '../../services/ingest/src/migrate.js';

/** The entry the chart's pre-install/pre-upgrade hook Job runs (services/ingest/src/migrate.ts). */
describe('ingest migrate entry (Helm hook Job command)', () => {
  let db: TestDatabase;
  const logger = createLogger({ service: 'migrate-test', level: 'silent' });

  beforeAll(async () => {
    // A database with the ingest schema created but no migration applied.
    db = await createTestDatabase({ schema: INGEST_SCHEMA, migrations: {} });
  });
  afterAll(async () => {
    await db?.drop();
  });

  async function applied(): Promise<string[]> {
    const client = new pg.Client({ connectionString: db.connectionString });
    await client.connect();
    try {
      const r = await client.query<{ name: string }>(`select name from ${INGEST_SCHEMA}.kysely_migration order by name`);
      return r.rows.map((row) => row.name);
    } finally {
      await client.end();
    }
  }

  it('applies every ingest migration, then is a no-op on the next run (exit 0 both times)', async () => {
    expect(await runIngestMigrations({ DATABASE_URL: db.connectionString }, { logger })).toBe(0);
    expect(await applied()).toEqual(Object.keys(ingestMigrations).sort());
    expect(await runIngestMigrations({ POSTGRES_URL: db.connectionString }, { logger })).toBe(0);
    expect(await applied()).toEqual(Object.keys(ingestMigrations).sort());
  });

  it('exits 78 without DATABASE_URL and 1 when the database is unreachable', async () => {
    expect(await runIngestMigrations({}, { logger })).toBe(ENV_EXIT_CODE);
    const url = new URL(db.connectionString);
    url.pathname = '/noctria_database_that_does_not_exist';
    expect(await runIngestMigrations({ DATABASE_URL: url.toString() }, { logger })).toBe(1);
  });
});
