import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sql } from 'kysely';
import { barChecksum } from '@noctria/canonical-bar';
import { createDatabase, migrateDown, migrateToLatest } from '@noctria/platform';
import { createTestDatabase } from '@noctria/testing';
import { ingestMigrations, INGEST_SCHEMA } from '../src/db/migrations/index.js';
import { BarsRepository } from '../src/repositories/bars.repository.js';
import { WatermarksRepository } from '../src/repositories/watermarks.repository.js';
import { bar, openTestDb, toStore, type TestDb } from './helpers/harness.js';

const H = 3_600_000;
const T0 = Date.UTC(2024, 0, 15, 0); // Monday

let t: TestDb;
beforeAll(async () => {
  t = await openTestDb();
});
afterAll(async () => {
  await t?.close();
});

async function tables(db: TestDb['db']): Promise<string[]> {
  const r = await sql<{ t: string }>`select table_name as t from information_schema.tables where table_schema = 'ingest' and table_name not like 'kysely%' and table_name not like 'canonical_bars_p%' order by 1`.execute(db);
  return r.rows.map((x) => x.t);
}

describe('migrations', () => {
  it('go down to nothing and back up to the same tables', async () => {
    const test = await createTestDatabase({ schema: INGEST_SCHEMA, migrations: ingestMigrations });
    const database = createDatabase({ connectionString: test.connectionString, schema: INGEST_SCHEMA, poolMax: 3 });
    try {
      const expected = ['canonical_bars', 'chunk_ledger', 'dq_counters', 'ingest_runs', 'outbox', 'quarantine', 'raw_responses', 'rejected_rows', 'stale_flags', 'watermarks'];
      expect(await tables(database.db as never)).toEqual(expected);
      expect(await migrateDown({ db: database.db, schema: INGEST_SCHEMA, migrations: ingestMigrations })).toBe('20250801000000-chunk-ledger');
      expect(await tables(database.db as never)).toEqual(expected.filter((x) => x !== 'chunk_ledger'));
      const reverted = await migrateDown({ db: database.db, schema: INGEST_SCHEMA, migrations: ingestMigrations });
      expect(reverted).toBe('20250601000000-initial');
      expect(await tables(database.db as never)).toEqual([]);
      const fn = await sql<{ n: number }>`select count(*)::int as n from pg_proc p join pg_namespace n on n.oid = p.pronamespace where n.nspname = 'ingest' and p.proname = 'ensure_bar_partitions'`.execute(database.db);
      expect(fn.rows[0]?.n).toBe(0);
      const applied = await migrateToLatest({ db: database.db, schema: INGEST_SCHEMA, migrations: ingestMigrations });
      expect(applied).toEqual(Object.keys(ingestMigrations));
      expect(await tables(database.db as never)).toEqual(expected);
    } finally {
      await database.close();
      await test.drop();
    }
  });
});

describe('monthly partitions', () => {
  it('are created on demand for exactly the months of the range, concurrently without errors', async () => {
    const repo = new BarsRepository(t.db);
    const from = Date.UTC(2023, 10, 20); // Nov 2023
    const to = Date.UTC(2024, 2, 2); // into Mar 2024
    // 12 concurrent writers asking for overlapping new months.
    const created = await Promise.all(Array.from({ length: 12 }, (_, i) => repo.ensurePartitions(from + i * 86_400_000, to)));
    const expectedMonths = ['202311', '202312', '202401', '202402', '202403'];
    expect(created.reduce((a, b) => a + b, 0)).toBe(expectedMonths.length);
    const parts = await repo.listPartitions();
    expect(parts.map((p) => p.name)).toEqual(expectedMonths.map((m) => `canonical_bars_p${m}`));
    // Bounds follow calendar months in UTC.
    const feb = parts.find((p) => p.name === 'canonical_bars_p202402')!;
    expect([feb.fromMs, feb.toMs]).toEqual([Date.UTC(2024, 1, 1), Date.UTC(2024, 2, 1)]);
    const bounds = await sql<{ b: string }>`select pg_get_expr(c.relpartbound, c.oid) as b from pg_class c where c.relname = 'canonical_bars_p202402'`.execute(t.db);
    expect(bounds.rows[0]?.b).toContain('2024-02-01');
    expect(await repo.ensurePartitions(from, to)).toBe(0);
    // A row lands in its month's partition.
    await repo.upsert(t.db, [toStore(bar('PARTX', '1h', Date.UTC(2024, 1, 10, 5), 10))], 0.003);
    const where = await sql<{ p: string }>`select tableoid::regclass::text as p from ingest.canonical_bars where symbol = 'PARTX'`.execute(t.db);
    expect(where.rows[0]?.p).toMatch(/^(ingest\.)?canonical_bars_p202402$/);
  });
});

describe('canonical bar upsert', () => {
  const repo = () => new BarsRepository(t.db);
  const chunk = () => Array.from({ length: 24 }, (_, i) => bar('XAUUSD', '1h', T0 + i * H, 2000 + i * 0.25));

  async function snapshot(symbol: string) {
    return (await t.db.selectFrom('ingest.canonical_bars').selectAll().where('symbol', '=', symbol).orderBy('ts_utc').execute()).map((r) => ({ ...r }));
  }

  it('is idempotent: the same chunk twice leaves the same rows and counts every row as a duplicate', async () => {
    await repo().ensurePartitions(T0, T0 + 24 * H);
    const first = await repo().upsert(t.db, chunk().map(toStore), 0.003);
    expect(first).toMatchObject({ inserted: 24, updated: 0, duplicates: 0 });
    const before = await snapshot('XAUUSD');
    const second = await repo().upsert(t.db, chunk().map(toStore), 0.003);
    expect(second).toMatchObject({ inserted: 0, updated: 0, duplicates: 24, revised: 0, conflicts: 0 });
    expect(second.written).toEqual([]);
    expect(await snapshot('XAUUSD')).toEqual(before);
    // Another source with identical content is the same observation (checksum excludes source): duplicate.
    const other = await repo().upsert(t.db, chunk().map((b) => toStore({ ...b, source_id: 'secondary' })), 0.003);
    expect(other.duplicates).toBe(24);
    expect(before.every((r) => r.checksum === barChecksum({ ...r, ts_utc: r.ts_utc.toISOString() } as never))).toBe(true);
  });

  it('flags a changed bar of the same source revised, and a different source beyond diff_thresh conflict', async () => {
    const base = chunk();
    const b3 = base[3]!;
    const b5 = base[5]!;
    const b7 = base[7]!;
    const revisedBar = { ...b3, close: b3.close + 0.1, high: b3.high + 0.1 };
    // Relative close difference: 0.2% (below 0.3%) from another source, and 1% (above) from another source.
    const smallDiff = { ...b5, source_id: 'secondary', close: b5.close * 1.002, high: b5.close * 1.002 + 1 };
    const bigDiff = { ...b7, source_id: 'secondary', close: b7.close * 1.01, high: b7.close * 1.01 + 1 };
    const r = await repo().upsert(t.db, [revisedBar, smallDiff, bigDiff].map(toStore), 0.003);
    expect(r).toMatchObject({ inserted: 0, updated: 3, duplicates: 0, revised: 2, conflicts: 1 });
    const rows = await snapshot('XAUUSD');
    const at = (ms: number) => rows.find((x) => x.ts_utc.getTime() === ms)!;
    expect(at(T0 + 3 * H)).toMatchObject({ quality_flag: 'revised', revision: 1, close: revisedBar.close, checksum: barChecksum(revisedBar) });
    expect((at(T0 + 3 * H).metadata as Record<string, Record<string, unknown>>)['previous']).toMatchObject({ close: b3.close, checksum: barChecksum(b3), source_id: 'test' });
    expect(at(T0 + 5 * H)).toMatchObject({ quality_flag: 'revised', source_id: 'secondary', close: smallDiff.close });
    expect(at(T0 + 7 * H)).toMatchObject({ quality_flag: 'conflict', source_id: 'secondary', close: bigDiff.close, revision: 1 });
    // Untouched neighbours keep their flag and revision.
    expect(at(T0 + 4 * H)).toMatchObject({ quality_flag: 'ok', revision: 0 });
    // Re-sending the revision is a duplicate now.
    expect((await repo().upsert(t.db, [toStore(revisedBar)], 0.003)).duplicates).toBe(1);
  });

  it('keeps the watermark monotonic', async () => {
    const wm = new WatermarksRepository(t.db);
    await wm.advance(t.db, 'WMX', '1h', T0 + 10 * H, 'a');
    await wm.advance(t.db, 'WMX', '1h', T0 + 5 * H, 'b');
    expect((await wm.get('WMX', '1h'))?.last_ts.getTime()).toBe(T0 + 10 * H);
    await wm.advance(t.db, 'WMX', '1h', T0 + 11 * H, 'c');
    expect(await wm.get('WMX', '1h')).toMatchObject({ source_id: 'c', last_ts: new Date(T0 + 11 * H) });
  });

  it('refuses a batch holding the same key twice', async () => {
    const b = bar('DUPX', '1h', T0, 1);
    await expect(repo().upsert(t.db, [toStore(b), toStore({ ...b, close: 1.5, high: 2 })], 0.003)).rejects.toThrow(/twice/);
  });
});
