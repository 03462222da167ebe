import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { sql } from 'kysely';
import { isDataStorageError, unnestInsert, withTransaction, type UnnestColumn } from '../../src/db/index.js';
import { bar, barsTable, openTestDb, type Bar, type OpenDb } from './fixtures.js';

const BAR_COLS: UnnestColumn[] = [
  { name: 'symbol', pgType: 'text' },
  { name: 'timeframe', pgType: 'text' },
  { name: 'ts_utc', pgType: 'timestamptz' },
  { name: 'open', pgType: 'float8' },
  { name: 'close', pgType: 'double precision' },
  { name: 'volume', pgType: 'float8' },
  { name: 'note', pgType: 'text' },
];
const KEY = ['symbol', 'timeframe', 'ts_utc'];

describe('unnestInsert', () => {
  let t: OpenDb;
  beforeAll(async () => {
    t = await openTestDb('bulkunnest', { '20240101000000-bars': barsTable });
  });
  afterAll(async () => {
    await t?.close();
  });
  beforeEach(async () => {
    await sql`truncate bars, bars_m, nasty`.execute(t.db);
  });

  it('round-trips nasty strings, NULL, exact doubles, -0, bytes and JSON', async () => {
    const strings = ['', '\\N', 'NULL', 'a\tb', 'x\ny', '{"a",b}', '\\', 'ユニコード 🚀', "it's", '{}', 'NaN'];
    type Row = { id: number; t: string | null; f: number; b: Uint8Array | null; j: unknown; n: string | null };
    const rows: Row[] = strings.map((s, i) => ({
      id: i,
      t: s,
      f: [0.1 + 0.2, 5e-324, -0, 1.7976931348623157e308, 1 / 3][i % 5]!,
      b: new Uint8Array([i, 0, 92]),
      j: i % 2 ? [1, 'two', { three: s }] : null,
      n: i % 3 ? null : '123456789012345678901234567890.5',
    }));
    rows.push({ id: 99, t: null, f: 1, b: null, j: null, n: null });
    const r = await unnestInsert(t.db, {
      table: 'nasty',
      columns: [
        { name: 'id', pgType: 'int8' },
        { name: 't', pgType: 'text' },
        { name: 'f', pgType: 'float8' },
        { name: 'b', pgType: 'bytea' },
        { name: 'j', pgType: 'jsonb' },
        { name: 'n', pgType: 'numeric' },
      ],
      rows,
      batchSize: 4,
      conflict: { columns: ['id'], action: 'update' },
    });
    expect(r).toEqual({ rows: rows.length, inserted: rows.length, updated: 0, unchanged: 0, duplicates: 0 });
    const back = await sql<{ id: number; t: string | null; f: number; b: Buffer | null; j: unknown; n: string | null }>`select id, t, f, b, j, n from nasty order by id`.execute(t.db);
    expect(back.rows.map((x) => x.t)).toEqual(rows.map((x) => x.t));
    expect(back.rows.every((x, i) => Object.is(x.f, rows[i]!.f))).toBe(true);
    expect(back.rows.map((x) => (x.b ? [...x.b] : null))).toEqual(rows.map((x) => (x.b ? [...x.b] : null)));
    expect(back.rows.map((x) => x.j)).toEqual(rows.map((x) => x.j));
    expect(back.rows.map((x) => x.n)).toEqual(rows.map((x) => x.n));
  });

  it('refuses NaN unless allowed; a failure stores nothing of any batch', async () => {
    const rows = Array.from({ length: 20 }, (_, i) => ({ id: i, f: i === 17 ? NaN : i }));
    const err = await unnestInsert(t.db, { table: 'nasty', columns: [{ name: 'id', pgType: 'int8' }, { name: 'f', pgType: 'float8' }], rows, batchSize: 5, conflict: { columns: ['id'], action: 'nothing' } }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isDataStorageError(err, 'DATA_STORAGE_BADVALUE')).toBe(true);
    expect((await sql<{ n: number }>`select count(*) as n from nasty`.execute(t.db)).rows[0]?.n).toBe(0);
    const ok = await unnestInsert(t.db, { table: 'nasty', columns: [{ name: 'id', pgType: 'int8' }, { name: 'f', pgType: 'float8' }], rows, batchSize: 5, allowNonFinite: true, conflict: { columns: ['id'], action: 'nothing' } });
    expect(ok.inserted).toBe(20);
    const nan = await sql<{ f: number }>`select f from nasty where id = 17`.execute(t.db);
    expect(Number.isNaN(nan.rows[0]?.f)).toBe(true);
  });

  describe.each([
    ['plain table', 'bars'],
    ['month-partitioned table', 'bars_m'],
  ])('de-duplication and counts on a %s', (_label, table) => {
    it('drops in-batch duplicates (last wins) and splits inserted / updated / unchanged', async () => {
      const first: Bar[] = [];
      for (let m = 0; m < 100; m++) first.push(bar('EURUSD', m, m, 'v1', m % 3));
      const stale = [first[10]!, first[20]!, first[20]!].map((b) => ({ ...b, open: -1, note: 'stale' }));
      // One batch holds everything, so the three stale rows are in-batch duplicates that lose to the later v1 rows.
      const r1 = await unnestInsert(t.db, { table, columns: BAR_COLS, rows: [...stale, ...first], batchSize: 1000, conflict: { columns: KEY, action: 'update' } });
      expect(r1).toEqual({ rows: 103, inserted: 100, updated: 0, unchanged: 0, duplicates: 3 });
      const stored = await sql<{ n: number; stale: number }>`select count(*) as n, count(*) filter (where note = 'stale') as stale from ${sql.table(table)}`.execute(t.db);
      expect(stored.rows[0]).toEqual({ n: 100, stale: 0 });

      const batch2: Bar[] = [];
      for (let m = 0; m < 40; m++) batch2.push(m % 2 === 0 ? { ...first[m]!, note: 'v2' } : first[m]!);
      for (let m = 100; m < 110; m++) batch2.push(bar('EURUSD', m, m, 'new', m % 3));
      batch2.push({ ...batch2[45]!, note: 'new-last' }, { ...batch2[0]!, note: 'v2-last' });
      const r2 = await unnestInsert(t.db, { table, columns: BAR_COLS, rows: batch2, batchSize: 1000, conflict: { columns: KEY, action: 'update', onlyIfChanged: true } });
      expect(r2).toEqual({ rows: 52, inserted: 10, updated: 20, unchanged: 20, duplicates: 2 });
      const notes = await sql<{ note: string; n: number }>`select note, count(*) as n from ${sql.table(table)} group by note order by note`.execute(t.db);
      expect(notes.rows).toEqual([
        { note: 'new', n: 9 },
        { note: 'new-last', n: 1 },
        { note: 'v1', n: 80 },
        { note: 'v2', n: 19 },
        { note: 'v2-last', n: 1 },
      ]);

      const keep = await unnestInsert(t.db, {
        table,
        columns: BAR_COLS,
        rows: [{ ...first[0]!, note: 'ignored' }, bar('USDJPY', 1, 150), bar('USDJPY', 1, 151)],
        conflict: { columns: KEY, action: 'nothing' },
      });
      expect(keep).toEqual({ rows: 3, inserted: 1, updated: 0, unchanged: 1, duplicates: 1 });
      expect((await sql<{ open: number }>`select open from ${sql.table(table)} where symbol = 'USDJPY'`.execute(t.db)).rows).toEqual([{ open: 151 }]);
    });

    it('a key repeated in a later batch updates the earlier row (counted as updated, last still wins)', async () => {
      const rows = [bar('GBPUSD', 1, 1, 'a'), bar('GBPUSD', 2, 2, 'a'), bar('GBPUSD', 1, 1, 'b'), bar('GBPUSD', 1, 1, 'c')];
      const r = await unnestInsert(t.db, { table, columns: BAR_COLS, rows, batchSize: 2, conflict: { columns: KEY, action: 'update' } });
      // batch 1: two inserts; batch 2: the same key twice → one duplicate, one update of the batch-1 row.
      expect(r).toEqual({ rows: 4, inserted: 2, updated: 1, unchanged: 0, duplicates: 1 });
      expect((await sql<{ note: string }>`select note from ${sql.table(table)} order by ts_utc`.execute(t.db)).rows.map((x) => x.note)).toEqual(['c', 'a']);
    });
  });

  it('joins a caller transaction (rolled back with it) and plain-inserts without conflict spec', async () => {
    await expect(
      withTransaction(t.db, async (trx) => {
        await unnestInsert(trx, { table: 'nasty', columns: [{ name: 'id', pgType: 'int8' }], rows: [[1], [2]] });
        throw new Error('abort outer');
      }),
    ).rejects.toThrow('abort outer');
    expect((await sql<{ n: number }>`select count(*) as n from nasty`.execute(t.db)).rows[0]?.n).toBe(0);
    const r = await unnestInsert(t.db, { table: 'nasty', columns: [{ name: 'id', pgType: 'int8' }], rows: [[1], [2], [3]], batchSize: 2 });
    expect(r).toEqual({ rows: 3, inserted: 3, updated: 0, unchanged: 0, duplicates: 0 });
    const dup = await unnestInsert(t.db, { table: 'nasty', columns: [{ name: 'id', pgType: 'int8' }], rows: [[4], [1]] }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isDataStorageError(dup, 'DATA_STORAGE_BULKWRITE')).toBe(true);
    expect((await sql<{ n: number }>`select count(*) as n from nasty`.execute(t.db)).rows[0]?.n).toBe(3);
  });

  it('refuses types that are not plain type names', async () => {
    await expect(unnestInsert(t.db, { table: 'nasty', columns: [{ name: 'id', pgType: 'int8[]); drop table nasty; --' }], rows: [[1]] })).rejects.toMatchObject({
      id: 'DATA_STORAGE_CONFIG',
    });
  });
});
