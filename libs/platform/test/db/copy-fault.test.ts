import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sql } from 'kysely';
import { startPrivatePostgres, waitFor, type PrivatePostgres } from '@noctria/testing';
import { copyInto, createDatabase, isDataStorageError, migrateToLatest, unnestInsert, type BulkRow } from '../../src/db/index.js';
import { BAR_COLUMNS, bar, barsTable, openTestDb, type Bar, type OpenDb } from './fixtures.js';

const N = 60_000;
const KEY = ['symbol', 'timeframe', 'ts_utc'];

function rowsWithDuplicates(): Bar[] {
  const rows: Bar[] = [];
  for (let i = 0; i < N; i++) rows.push(bar(i % 2 ? 'EURUSD' : 'USDJPY', Math.floor(i / 2), i, 'r', (i >> 10) % 3));
  for (let i = 0; i < N; i += 997) rows.push({ ...rows[i]!, note: 'dup-last' }); // in-call duplicates
  return rows;
}

/** Yields `rows`; after `at` rows it runs `hook` once (while the COPY is in flight) and keeps yielding. */
async function* withHook(rows: readonly BulkRow[], at: number, hook: () => Promise<void>): AsyncGenerator<BulkRow> {
  for (let i = 0; i < rows.length; i++) {
    if (i === at) await hook();
    yield rows[i]!;
  }
}

async function expectExactlyStored(count: (q: string) => Promise<number>, rows: Bar[]): Promise<void> {
  const distinct = new Set(rows.map((r) => `${r.symbol}|${r.ts_utc.toISOString()}`)).size;
  expect(await count('select count(*)::int as n from bars')).toBe(distinct);
  expect(await count(`select count(*)::int as n from bars where note = 'dup-last'`)).toBe(Math.ceil(N / 997));
}

describe('bulk writes when the connection dies mid-batch', () => {
  let t: OpenDb;
  beforeAll(async () => {
    t = await openTestDb('faultcopy', { '20240101000000-bars': barsTable });
  });
  afterAll(async () => {
    await t?.close();
  });
  const count = async (q: string): Promise<number> => (await sql<{ n: number }>`${sql.raw(q)}`.execute(t.db)).rows[0]!.n;

  it('copyInto: pg_terminate_backend during COPY → error, nothing committed, retry stores exactly the rows', async () => {
    await sql`truncate bars`.execute(t.db);
    const rows = rowsWithDuplicates();
    let killed = 0;
    // The COPY runs on its own pool with a distinctive application_name, so the kill hits exactly its backend.
    const writer = createDatabase({ connectionString: t.test.connectionString, schema: 'faultcopy', poolMax: 2, applicationName: 'fault-copy-writer' });
    const kill = async (): Promise<void> => {
      const r = await sql<{ n: number }>`
        select count(pg_terminate_backend(pid))::int as n from pg_stat_activity
        where application_name = 'fault-copy-writer' and state = 'active' and query ilike 'COPY%'`.execute(t.db);
      killed = r.rows[0]!.n;
    };
    let err: unknown;
    try {
      err = await copyInto(writer.pool, {
        table: 'bars',
        columns: [...BAR_COLUMNS],
        rows: withHook(rows, 20_000, kill),
        onConflict: { columns: KEY, action: 'update' },
      }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(killed).toBe(1);
      expect(isDataStorageError(err, 'DATA_STORAGE_BULKWRITE')).toBe(true);
      // The dead connection was discarded, not returned to the pool.
      expect(writer.pool.totalCount).toBe(0);
    } finally {
      await writer.close();
    }
    expect(await count('select count(*)::int as n from bars')).toBe(0);

    const r = await copyInto(t.database.pool, { table: 'bars', columns: [...BAR_COLUMNS], rows, onConflict: { columns: KEY, action: 'update' } });
    expect(r.duplicates).toBe(Math.ceil(N / 997));
    expect(r.inserted).toBe(N);
    await expectExactlyStored(count, rows);
  });

  it('unnestInsert: backend killed between batches → error, nothing committed, retry stores exactly the rows', async () => {
    await sql`truncate bars`.execute(t.db);
    const rows = rowsWithDuplicates().slice(0, 30_000);
    let killed = 0;
    const writer = createDatabase({ connectionString: t.test.connectionString, schema: 'faultcopy', poolMax: 2, applicationName: 'fault-unnest-writer' });
    const err = await unnestInsert(writer.db, {
      table: 'bars',
      columns: [
        { name: 'symbol', pgType: 'text' },
        { name: 'timeframe', pgType: 'text' },
        { name: 'ts_utc', pgType: 'timestamptz' },
        { name: 'open', pgType: 'float8' },
        { name: 'close', pgType: 'float8' },
        { name: 'volume', pgType: 'float8' },
        { name: 'note', pgType: 'text' },
      ],
      rows: withHook(rows, 12_000, async () => {
        const r = await sql<{ n: number }>`
          select count(pg_terminate_backend(pid))::int as n from pg_stat_activity
          where application_name = 'fault-unnest-writer' and state like 'idle in transaction%'`.execute(t.db);
        killed = r.rows[0]!.n;
      }),
      batchSize: 5_000,
      conflict: { columns: KEY, action: 'update' },
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(killed).toBe(1);
    expect(err).toBeInstanceOf(Error);
    expect(await count('select count(*)::int as n from bars')).toBe(0);
    const distinct = new Set(rows.map((r) => `${r.symbol}|${r.ts_utc.toISOString()}`)).size;
    const ok = await unnestInsert(t.db, {
      table: 'bars',
      columns: BAR_COLUMNS.map((name) => ({ name, pgType: name === 'ts_utc' ? 'timestamptz' : ['open', 'close', 'volume'].includes(name) ? 'float8' : 'text' })),
      rows,
      batchSize: 5_000,
      conflict: { columns: KEY, action: 'update' },
    });
    expect(ok.inserted).toBe(distinct);
    expect(await count('select count(*)::int as n from bars')).toBe(distinct);
  });
});

describe('bulk writes when the whole server crashes mid-COPY (private postgres)', () => {
  let server: PrivatePostgres | undefined;
  afterAll(async () => {
    await server?.stop();
  });

  it('immediate shutdown during copyInto → error; after restart nothing partial exists and a retry stores exactly the rows', async () => {
    server = await startPrivatePostgres();
    const open = () => createDatabase({ connectionString: server!.url, schema: 'crash', poolMax: 3, connectionTimeoutMs: 2_000 });
    let d = open();
    await migrateToLatest({ db: d.db, schema: 'crash', migrations: { '20240101000000-bars': barsTable } });
    const rows = rowsWithDuplicates();
    const err = await copyInto(d.pool, {
      table: 'bars',
      columns: [...BAR_COLUMNS],
      rows: withHook(rows, 25_000, () => server!.crash()),
      onConflict: { columns: KEY, action: 'update' },
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isDataStorageError(err, 'DATA_STORAGE_BULKWRITE')).toBe(true);
    await d.close();
    await server.restart();
    d = open();
    try {
      const count = async (q: string): Promise<number> => (await sql<{ n: number }>`${sql.raw(q)}`.execute(d.db)).rows[0]!.n;
      await waitFor(() => count('select 1 as n').then((n) => n === 1), { message: 'restarted private postgres answers' });
      expect(await count('select count(*)::int as n from bars')).toBe(0);
      const r = await copyInto(d.pool, { table: 'bars', columns: [...BAR_COLUMNS], rows, onConflict: { columns: KEY, action: 'update' } });
      expect(r.inserted).toBe(N);
      await expectExactlyStored(count, rows);
    } finally {
      await d.close();
    }
  });
});
