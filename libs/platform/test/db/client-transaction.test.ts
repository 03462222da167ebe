import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { sql } from 'kysely';
import { waitFor } from '@noctria/testing';
import { copyRowsWithClient, poolOf, withClientTransaction, withTransaction } from '../../src/db/index.js';
import { BAR_COLUMNS, bar, barsTable, openTestDb, type OpenDb } from './fixtures.js';

describe('withClientTransaction', () => {
  let t: OpenDb;
  beforeAll(async () => {
    t = await openTestDb('clienttx', { '20240101000000-bars': barsTable });
  });
  afterAll(async () => {
    await t?.close();
  });
  beforeEach(async () => {
    await sql`truncate bars, bars_m, nasty`.execute(t.db);
  });

  const count = async (table: string) => (await sql<{ n: number }>`select count(*) as n from ${sql.table(table)}`.execute(t.db)).rows[0]?.n;

  it('runs COPY into a temp staging table and Kysely statements in one transaction on one connection', async () => {
    const pool = poolOf(t.db)?.pool;
    expect(pool).toBe(t.database.pool);
    const rows = Array.from({ length: 500 }, (_, i) => bar('EURUSD', i, 1 + i / 100, i % 3 === 0 ? 'tab\there' : null));
    const moved = await withClientTransaction<any, number>(pool!, async ({ db, client }) => { // eslint-disable-line @typescript-eslint/no-explicit-any
      expect(db.isTransaction).toBe(true);
      await sql`create temp table stage (like bars) on commit drop`.execute(db);
      const copied = await copyRowsWithClient(client, { table: 'stage', columns: BAR_COLUMNS, rows });
      expect(copied).toBe(500);
      // Same backend for both, and withTransaction inside joins instead of nesting.
      const pids = await withTransaction(db, async (trx) => (await sql<{ p: number }>`select pg_backend_pid() as p`.execute(trx)).rows[0]?.p);
      expect(pids).toBe((await client.query<{ p: number }>('select pg_backend_pid() as p')).rows[0]?.p);
      const r = await sql<{ n: number }>`with w as (insert into bars select * from stage returning 1) select count(*) as n from w`.execute(db);
      return r.rows[0]!.n;
    });
    // int8 count parsed by the database's type parsers (number, not string).
    expect(moved).toBe(500);
    expect(await count('bars')).toBe(500);
    const stored = await t.db.selectFrom('bars' as never).selectAll().orderBy('ts_utc' as never).execute();
    expect(stored).toEqual(rows.map((r) => ({ ...r })));
    // The temp table was dropped at commit.
    const stage = await withClientTransaction(pool!, async ({ client }) => (await client.query(`select to_regclass('pg_temp.stage') as r`)).rows[0]?.r);
    expect(stage).toBeNull();
  });

  it('rolls everything back when the body fails after the COPY, and discards that connection', async () => {
    const pool = t.database.pool;
    let pid: number | undefined;
    await expect(
      withClientTransaction(pool, async ({ db, client }) => {
        pid = (await client.query<{ p: number }>('select pg_backend_pid() as p')).rows[0]?.p;
        await copyRowsWithClient(client, { table: 'bars', columns: BAR_COLUMNS, rows: [bar('GBPUSD', 1, 1)] });
        await sql`insert into bars (symbol, timeframe, ts_utc, open, close) values ('GBPUSD', 'M1', '2024-01-01T00:05:00Z', 1, 2)`.execute(db);
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await count('bars')).toBe(0);
    // The connection that ran it is closed, not returned to the pool.
    await waitFor(async () => (await sql<{ n: number }>`select count(*) as n from pg_stat_activity where pid = ${pid!}`.execute(t.db)).rows[0]?.n === 0, {
      timeoutMs: 10_000,
      message: 'failed transaction connection discarded',
    });
  });

  it('a bad value aborts the COPY and the transaction; the pool stays usable', async () => {
    await expect(
      withClientTransaction(t.database.pool, async ({ client }) => copyRowsWithClient(client, { table: 'bars', columns: BAR_COLUMNS, rows: [bar('A', 1, 1), { ...bar('A', 2, 1), open: Number.NaN }] })),
    ).rejects.toMatchObject({ id: 'DATA_STORAGE_BADVALUE' });
    expect(await count('bars')).toBe(0);
    expect(await withClientTransaction(t.database.pool, async ({ client }) => copyRowsWithClient(client, { table: 'bars', columns: BAR_COLUMNS, rows: [bar('A', 1, 1)] }))).toBe(1);
  });
});
