import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sql } from 'kysely';
import { freePort, waitFor } from '@noctria/testing';
import { createDatabase, isDataStorageError, isDatabaseReachable, parseInt8 } from '../../src/db/index.js';
import { openTestDb, type OpenDb } from './fixtures.js';

describe('createDatabase', () => {
  let t: OpenDb;
  beforeAll(async () => {
    t = await openTestDb('dbconn');
  });
  afterAll(async () => {
    await t?.close();
  });

  it('puts the service schema first on search_path of every connection', async () => {
    const rows = await Promise.all(
      [1, 2, 3, 4].map(() => sql<{ sp: string; cs: string }>`select current_setting('search_path') as sp, current_schema() as cs`.execute(t.db)),
    );
    for (const r of rows) {
      expect(r.rows[0]?.sp).toBe('dbconn,public');
      expect(r.rows[0]?.cs).toBe('dbconn');
    }
    await sql`create table if not exists unqualified (x int)`.execute(t.db);
    const where = await sql<{ s: string }>`select table_schema as s from information_schema.tables where table_name = 'unqualified'`.execute(t.db);
    expect(where.rows.map((r) => r.s)).toEqual(['dbconn']);
  });

  it('parses int8 to number, numeric to string, timestamptz to Date, date to string, timestamp as UTC', async () => {
    const r = await sql<{ c: unknown; big: unknown; n: unknown; tz: unknown; d: unknown; ts: unknown; arr: unknown }>`
      select count(*) as c, 9007199254740991::int8 as big, 12345678901234567890.123456789::numeric as n,
             '2024-03-10 12:34:56.789+02'::timestamptz as tz, '2024-03-10'::date as d,
             '2024-03-10 12:34:56.789'::timestamp as ts, array[1, -2, null]::int8[] as arr
      from generate_series(1, 3)`.execute(t.db);
    const row = r.rows[0]!;
    expect(row.c).toBe(3);
    expect(row.big).toBe(Number.MAX_SAFE_INTEGER);
    expect(row.n).toBe('12345678901234567890.123456789');
    expect(row.tz).toBeInstanceOf(Date);
    expect((row.tz as Date).toISOString()).toBe('2024-03-10T10:34:56.789Z');
    expect(row.d).toBe('2024-03-10');
    expect((row.ts as Date).toISOString()).toBe('2024-03-10T12:34:56.789Z');
    expect(row.arr).toEqual([1, -2, null]);
  });

  it('refuses int8 values a JS number cannot hold exactly', async () => {
    expect(() => parseInt8('9007199254740993')).toThrow(/DATA_STORAGE_INT8RANGE|outside/);
    const err = await sql`select 9007199254740993::int8 as x`.execute(t.db).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isDataStorageError(err, 'DATA_STORAGE_INT8RANGE')).toBe(true);
    // The connection stays usable after the parse failure.
    const ok = await sql<{ x: number }>`select (-9007199254740991)::int8 as x`.execute(t.db);
    expect(ok.rows[0]?.x).toBe(-Number.MAX_SAFE_INTEGER);
  });

  it('applies statement_timeout and application_name', async () => {
    const d = createDatabase({ connectionString: t.test.connectionString, schema: 'dbconn', statementTimeoutMs: 150, applicationName: 'noctria-app-name-test', poolMax: 2 });
    try {
      const err = await sql`select pg_sleep(5)`.execute(d.db).then(
        () => undefined,
        (e: { code?: string }) => e,
      );
      expect(err?.code).toBe('57014');
      const r = await sql<{ a: string; st: string }>`select current_setting('application_name') as a, current_setting('statement_timeout') as st`.execute(d.db);
      expect(r.rows[0]).toEqual({ a: 'noctria-app-name-test', st: '150ms' });
    } finally {
      await d.close();
    }
  });

  it('merges options given in the URL with its own search_path', async () => {
    const url = new URL(t.test.connectionString);
    url.searchParams.set('options', '-c work_mem=7MB');
    const d = createDatabase({ connectionString: url.toString(), schema: 'dbconn', poolMax: 1 });
    try {
      const r = await sql<{ wm: string; sp: string }>`select current_setting('work_mem') as wm, current_setting('search_path') as sp`.execute(d.db);
      expect(r.rows[0]).toEqual({ wm: '7MB', sp: 'dbconn,public' });
    } finally {
      await d.close();
    }
  });

  it('reports reachability for /readyz', async () => {
    expect(await isDatabaseReachable(t.db)).toBe(true);
    const port = await freePort();
    const down = createDatabase({ connectionString: `postgres://postgres@127.0.0.1:${port}/postgres`, schema: 'dbconn', connectionTimeoutMs: 500 });
    try {
      expect(await isDatabaseReachable(down.db, 2_000)).toBe(false);
    } finally {
      await down.close();
    }
  });

  it('survives a backend killed while a transaction is idle (no unhandled error; pool recovers)', async () => {
    const d = createDatabase({ connectionString: t.test.connectionString, schema: 'dbconn', applicationName: 'idle-in-trx-victim', poolMax: 2 });
    try {
      const err = await d.db
        .transaction()
        .execute(async (trx) => {
          await sql`select 1`.execute(trx);
          await sql`select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'idle-in-trx-victim' and state like 'idle in transaction%'`.execute(t.db);
          await waitFor(
            async () => (await sql<{ n: number }>`select count(*) as n from pg_stat_activity where application_name = 'idle-in-trx-victim'`.execute(t.db)).rows[0]?.n === 0,
            { message: 'victim backend gone' },
          );
          await sql`select 2`.execute(trx);
        })
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(err).toBeInstanceOf(Error);
      expect(await isDatabaseReachable(d.db)).toBe(true);
    } finally {
      await d.close();
    }
  });

  it('refuses schema names that are not plain identifiers', () => {
    expect(() => createDatabase({ connectionString: t.test.connectionString, schema: 'bad schema;drop' })).toThrow(/DATA_STORAGE_CONFIG|invalid schema/);
  });
});
