import { sql, type Kysely } from 'kysely';
import { createTestDatabase, type TestDatabase } from '@noctria/testing';
import { createDatabase, type Database, type Migration } from '../../src/db/index.js';

export interface OpenDb {
  test: TestDatabase;
  database: Database<any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  db: Kysely<any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  close(): Promise<void>;
}

/** A cloned test database with a pool on it (search_path = schema). */
export async function openTestDb(schema: string, migrations: Record<string, Migration> = {}, poolMax = 6): Promise<OpenDb> {
  const test = await createTestDatabase({ schema, migrations });
  const database = createDatabase({ connectionString: test.connectionString, schema, poolMax, applicationName: `test-${schema}` });
  return {
    test,
    database,
    db: database.db,
    async close() {
      await database.close();
      await test.drop();
    },
  };
}

/** Canonical-bar-like table used by the bulk tests. */
export const barsTable: Migration = {
  async up(db) {
    await sql`create table bars (
      symbol text not null, timeframe text not null, ts_utc timestamptz not null,
      open double precision not null, close double precision not null, volume double precision,
      note text, primary key (symbol, timeframe, ts_utc))`.execute(db);
    await sql`create table bars_m (
      symbol text not null, timeframe text not null, ts_utc timestamptz not null,
      open double precision not null, close double precision not null, volume double precision,
      note text, primary key (symbol, timeframe, ts_utc)) partition by range (ts_utc)`.execute(db);
    await sql`create table bars_m_2024_01 partition of bars_m for values from ('2024-01-01') to ('2024-02-01')`.execute(db);
    await sql`create table bars_m_2024_02 partition of bars_m for values from ('2024-02-01') to ('2024-03-01')`.execute(db);
    await sql`create table bars_m_2024_03 partition of bars_m for values from ('2024-03-01') to ('2024-04-01')`.execute(db);
    await sql`create table nasty (id int8 primary key, t text, f double precision, d timestamptz, b bytea, j jsonb, flag boolean, n numeric)`.execute(db);
  },
  async down(db) {
    await sql`drop table nasty, bars_m, bars`.execute(db);
  },
};

export const BAR_COLUMNS = ['symbol', 'timeframe', 'ts_utc', 'open', 'close', 'volume', 'note'] as const;

export interface Bar {
  symbol: string;
  timeframe: string;
  ts_utc: Date;
  open: number;
  close: number;
  volume: number | null;
  note: string | null;
}

export function bar(symbol: string, minute: number, open: number, note: string | null = null, month = 0): Bar {
  return {
    symbol,
    timeframe: 'M1',
    ts_utc: new Date(Date.UTC(2024, month, 1 + Math.floor(minute / 1440), 0, minute % 1440)),
    open,
    close: open + 0.5,
    volume: minute % 7 === 0 ? null : minute * 1.5,
    note,
  };
}
