/**
 * The features schema on a real PostgreSQL: the migrate entry (Helm hook Job command) applies and reverts the
 * migrations, and a vector's float8[] keeps every double bit for bit (NaN ↔ NULL, −0, subnormals, extremes).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { sql } from 'kysely';
import { createDatabase, createLogger, ENV_EXIT_CODE, migrateDown, type Database } from '@noctria/platform';
import { createTestDatabase, type TestDatabase } from '@noctria/testing';
import { featuresMigrations, FEATURES_SCHEMA } from '../src/db/migrations/index.js';
import type { DB } from '../src/db/schema.js';
import { runFeaturesMigrations } from '../src/migrate.js';
import { VectorsRepository } from '../src/repositories/vectors.repository.js';

const logger = createLogger({ service: 'features-migrate-test', level: 'silent' });
const HASH = 'c'.repeat(64);

describe('features schema', () => {
  let test: TestDatabase;
  let database: Database<DB>;

  beforeAll(async () => {
    test = await createTestDatabase({ schema: FEATURES_SCHEMA, migrations: {} });
    database = createDatabase<DB>({ connectionString: test.connectionString, schema: FEATURES_SCHEMA, poolMax: 3 });
  });
  afterAll(async () => {
    await database?.close();
    await test?.drop();
  });

  const tables = async () =>
    (await sql<{ t: string }>`select table_name as t from information_schema.tables where table_schema = 'features' and table_name <> 'kysely_migration' and table_name <> 'kysely_migration_lock'
      and table_name not in (select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'features' and c.relispartition) order by 1`.execute(database.db)).rows.map((r) => r.t);

  it('the migrate entry applies every migration, is a no-op the second time, and exits 78 / 1 on a bad environment', async () => {
    expect(await runFeaturesMigrations({ DATABASE_URL: test.connectionString }, { logger })).toBe(0);
    expect(await tables()).toEqual(['checkpoints', 'dataset_snapshots', 'leg_bars', 'outbox', 'pair_state', 'vectors']);
    const applied = await sql<{ name: string }>`select name from features.kysely_migration order by name`.execute(database.db);
    expect(applied.rows.map((r) => r.name)).toEqual(Object.keys(featuresMigrations).sort());
    expect(await runFeaturesMigrations({ POSTGRES_URL: test.connectionString }, { logger })).toBe(0);
    expect(await runFeaturesMigrations({}, { logger })).toBe(ENV_EXIT_CODE);
    const missing = new URL(test.connectionString);
    missing.pathname = '/noctria_database_that_does_not_exist';
    expect(await runFeaturesMigrations({ DATABASE_URL: missing.toString() }, { logger })).toBe(1);
  });

  it('stores feature values as float8[] bit for bit, undefined features as NULL', async () => {
    const repo = new VectorsRepository();
    const key = { pairId: 'AAA_BBB', timeframe: '1h', schemaHash: HASH };
    const special = [Number.NaN, -0, 0, 5e-324, -5e-324, Number.MAX_VALUE, -Number.MAX_VALUE, Number.MIN_VALUE * 3, 0.1 + 0.2, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY];
    let t = Date.UTC(2024, 0, 1);
    const cases = [special, ...fc.sample(fc.array(fc.double(), { minLength: 21, maxLength: 21 }), 60)];
    for (const vals of cases) {
      t += 3_600_000;
      await repo.insert(database.db, key, { tsMs: t, values: Float64Array.from(vals), complete: false, qualityFlag: 'ok', qualityReasons: ['a_stale'], barsSeen: 1, storedMs: t });
    }
    const back = await repo.query(database.db, { ...key, limit: 1000 });
    expect(back).toHaveLength(cases.length);
    back.forEach((row, i) => {
      const want = cases[i]!;
      expect(row.values.length).toBe(want.length);
      want.forEach((v, j) => expect({ i, j, same: Object.is(row.values[j], v) }).toEqual({ i, j, same: true }));
    });
    // NaN is NULL in the database (not the float8 'NaN'), so SQL aggregates skip warm-up values.
    const nulls = await sql<{ n: number }>`select count(*)::int as n from features.vectors v, unnest(v.feature_values) x where x is null`.execute(database.db);
    const nans = cases.flat().filter((v) => Number.isNaN(v)).length;
    expect(nulls.rows[0]!.n).toBe(nans);
    expect(back[0]!.qualityReasons).toEqual(['a_stale']);
  });

  it('migrates down to an empty schema', async () => {
    const opts = { db: database.db, schema: FEATURES_SCHEMA, migrations: featuresMigrations };
    for (let name = await migrateDown(opts); name !== undefined; name = await migrateDown(opts));
    expect(await tables()).toEqual([]);
  });
});
