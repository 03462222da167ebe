import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { sql } from 'kysely';
import { copyInto, copyRaw, isDataStorageError, type BulkWriteResult, type CopyFormat } from '../../src/db/index.js';
import { BAR_COLUMNS, bar, barsTable, openTestDb, type Bar, type OpenDb } from './fixtures.js';

const NASTY = [
  '',
  ' ',
  '\\N',
  'NULL',
  '\\',
  '\\\\',
  'tab\there',
  'new\nline',
  'carriage\rreturn\r\n',
  '"quoted", with comma',
  "it's",
  '\\x41',
  'ユニコード 🚀 émoji',
  'trailing backslash\\',
  '\u2028\u2029',
  ',',
  '""',
];

/** Deterministic pseudo-random doubles across many magnitudes (xorshift). */
function doubles(n: number): number[] {
  let s = 0x9e3779b9;
  const out: number[] = [5e-324, -5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, 0.1 + 0.2, -0];
  const buf = new DataView(new ArrayBuffer(8));
  while (out.length < n) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    buf.setUint32(0, s >>> 0);
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    buf.setUint32(4, s >>> 0);
    const x = buf.getFloat64(0);
    if (Number.isFinite(x)) out.push(x);
  }
  return out;
}

const total = (r: BulkWriteResult): number => r.inserted + r.updated + r.unchanged + r.duplicates;

describe('copyInto', () => {
  let t: OpenDb;
  beforeAll(async () => {
    t = await openTestDb('bulkcopy', { '20240101000000-bars': barsTable });
  });
  afterAll(async () => {
    await t?.close();
  });
  beforeEach(async () => {
    await sql`truncate bars, bars_m, nasty`.execute(t.db);
  });

  describe.each<CopyFormat>(['text', 'csv'])('%s format round trip', (format) => {
    it('stores nasty strings, NULL, doubles, dates, bytes, JSON and numerics exactly', async () => {
      const xs = doubles(400);
      const rows = xs.map((f, i) => ({
        id: i,
        t: i < NASTY.length ? NASTY[i] : i % 5 === 0 ? null : `row ${i}\t${NASTY[i % NASTY.length]}`,
        f,
        d: new Date(Date.UTC(2024, 1, 29, 23, 59, 59, i)),
        b: i % 3 === 0 ? null : new Uint8Array([i % 256, 0, 92, 10, 9]),
        j: i % 4 === 0 ? null : { k: NASTY[i % NASTY.length], n: f, arr: [1, null, 'x'] },
        flag: i % 2 === 0,
        n: i % 6 === 0 ? null : `${i}.000000000000000000${i}`,
      }));
      const r = await copyInto(t.database.pool, {
        table: 'nasty',
        columns: ['id', 't', 'f', 'd', 'b', 'j', 'flag', 'n'],
        rows,
        format,
        onConflict: { columns: ['id'], action: 'update' },
      });
      expect(r).toEqual({ rows: rows.length, inserted: rows.length, updated: 0, unchanged: 0, duplicates: 0 });
      const back = await sql<{ id: number; t: string | null; f: number; ftext: string; d: Date; b: Buffer | null; j: unknown; flag: boolean; n: string | null }>`
        select id, t, f, f::text as ftext, d, b, j, flag, n from nasty order by id`.execute(t.db);
      expect(back.rows).toHaveLength(rows.length);
      for (const [i, got] of back.rows.entries()) {
        const want = rows[i]!;
        expect(got.t).toBe(want.t);
        expect(Object.is(got.f, want.f)).toBe(true); // bit-exact, including -0
        expect(got.d.getTime()).toBe(want.d.getTime());
        expect(got.b === null ? null : [...got.b]).toEqual(want.b === null ? null : [...want.b]);
        expect(got.j).toEqual(want.j === null ? null : JSON.parse(JSON.stringify(want.j)));
        expect(got.flag).toBe(want.flag);
        expect(got.n).toBe(want.n);
      }
      // Postgres prints the same shortest round-trip text as JS for every double (extra_float_digits = 1).
      expect(back.rows.filter((r2) => !Object.is(r2.f, -0)).every((r2) => Number(r2.ftext) === r2.f)).toBe(true);
    });
  });

  it('refuses NaN by default (nothing stored, pool still usable) and stores it when allowed', async () => {
    const rows = [
      { id: 1, f: 1.5 },
      { id: 2, f: NaN },
    ];
    const err = await copyInto(t.database.pool, { table: 'nasty', columns: ['id', 'f'], rows, onConflict: { columns: ['id'], action: 'nothing' } }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isDataStorageError(err, 'DATA_STORAGE_BADVALUE')).toBe(true);
    expect((err as Error).message).toMatch(/row 1, column f/);
    expect((await sql<{ n: number }>`select count(*) as n from nasty`.execute(t.db)).rows[0]?.n).toBe(0);
    const ok = await copyInto(t.database.pool, {
      table: 'nasty',
      columns: ['id', 'f'],
      rows: [...rows, { id: 3, f: -Infinity }],
      allowNonFinite: true,
      onConflict: { columns: ['id'], action: 'nothing' },
    });
    expect(ok.inserted).toBe(3);
    const back = await sql<{ f: number }>`select f from nasty order by id`.execute(t.db);
    expect(back.rows.map((r) => r.f)).toEqual([1.5, NaN, -Infinity]);
    expect(t.database.pool.totalCount).toBeLessThanOrEqual(6);
    expect(t.database.pool.waitingCount).toBe(0);
  });

  describe.each([
    ['plain table', 'bars'],
    ['month-partitioned table', 'bars_m'],
  ])('de-duplication and counts on a %s', (_label, table) => {
    it.each<['temp' | 'unlogged', CopyFormat]>([
      ['temp', 'text'],
      ['unlogged', 'csv'],
    ])('staging %s / %s', async (staging, format) => {
      // Rows spread over three monthly partitions; keys k0..k99, with in-call duplicates whose LAST copy wins.
      const first: Bar[] = [];
      for (let m = 0; m < 100; m++) first.push(bar('EURUSD', m, m, 'v1', m % 3));
      const dupes = [first[10]!, first[20]!, first[20]!].map((b) => ({ ...b, open: -1, note: 'stale' }));
      const batch1 = [...dupes, ...first]; // duplicates come first, so the later (v1) rows must win
      const r1 = await copyInto(t.database.pool, { table, columns: [...BAR_COLUMNS], rows: batch1, format, staging, onConflict: { columns: ['symbol', 'timeframe', 'ts_utc'], action: 'update' } });
      expect(r1).toEqual({ rows: 103, inserted: 100, updated: 0, unchanged: 0, duplicates: 3 });
      const stored = await sql<{ n: number; stale: number }>`select count(*) as n, count(*) filter (where note = 'stale') as stale from ${sql.table(table)}`.execute(t.db);
      expect(stored.rows[0]).toEqual({ n: 100, stale: 0 });

      // Second call: 40 existing keys (half changed), 10 new, plus in-call duplicates of a new and an existing key.
      const batch2: Bar[] = [];
      for (let m = 0; m < 40; m++) batch2.push(m % 2 === 0 ? { ...first[m]!, note: 'v2' } : first[m]!);
      for (let m = 100; m < 110; m++) batch2.push(bar('EURUSD', m, m, 'new', m % 3));
      batch2.push({ ...batch2[45]!, note: 'new-last' }, { ...batch2[0]!, note: 'v2-last' });
      const upd = await copyInto(t.database.pool, {
        table,
        columns: [...BAR_COLUMNS],
        rows: batch2,
        format,
        staging,
        onConflict: { columns: ['symbol', 'timeframe', 'ts_utc'], action: 'update', onlyIfChanged: true },
      });
      expect(upd).toEqual({ rows: 52, inserted: 10, updated: 20, unchanged: 20, duplicates: 2 });
      expect(total(upd)).toBe(upd.rows);
      const notes = await sql<{ note: string; n: number }>`select note, count(*) as n from ${sql.table(table)} group by note order by note`.execute(t.db);
      expect(notes.rows).toEqual([
        { note: 'new', n: 9 },
        { note: 'new-last', n: 1 },
        { note: 'v1', n: 80 },
        { note: 'v2', n: 19 },
        { note: 'v2-last', n: 1 },
      ]);

      // Plain update (not only-if-changed): every existing key counts as updated.
      const again = await copyInto(t.database.pool, { table, columns: [...BAR_COLUMNS], rows: first.slice(0, 30), format, staging, onConflict: { columns: ['symbol', 'timeframe', 'ts_utc'], action: 'update' } });
      expect(again).toEqual({ rows: 30, inserted: 0, updated: 30, unchanged: 0, duplicates: 0 });

      // DO NOTHING keeps existing rows.
      const keep = await copyInto(t.database.pool, {
        table,
        columns: [...BAR_COLUMNS],
        rows: [{ ...first[0]!, note: 'ignored' }, bar('USDJPY', 1, 150), bar('USDJPY', 1, 151)],
        format,
        staging,
        onConflict: { columns: ['symbol', 'timeframe', 'ts_utc'], action: 'nothing' },
      });
      expect(keep).toEqual({ rows: 3, inserted: 1, updated: 0, unchanged: 1, duplicates: 1 });
      const jpy = await sql<{ open: number }>`select open from ${sql.table(table)} where symbol = 'USDJPY'`.execute(t.db);
      expect(jpy.rows).toEqual([{ open: 151 }]);

      // No staging table is left behind.
      const leftovers = await sql<{ n: number }>`select count(*) as n from pg_class where relname like '__noctria_stage_%'`.execute(t.db);
      expect(leftovers.rows[0]?.n).toBe(0);
    });
  });

  it('accepts async iterables and array rows; copyRaw copies straight in', async () => {
    async function* gen(): AsyncGenerator<unknown[]> {
      for (let i = 0; i < 2_500; i++) yield [i, `r${i}`];
    }
    const r = await copyInto(t.database.pool, { table: 'nasty', columns: ['id', 't'], rows: gen(), onConflict: { columns: ['id'], action: 'nothing' } });
    expect(r.inserted).toBe(2_500);
    await sql`truncate nasty`.execute(t.db);
    expect(await copyRaw(t.database.pool, { table: 'nasty', columns: ['id', 't'], rows: gen() })).toBe(2_500);
    const s = await sql<{ n: number; sum: number }>`select count(*) as n, sum(id)::int8 as sum from nasty`.execute(t.db);
    expect(s.rows[0]).toEqual({ n: 2_500, sum: (2_499 * 2_500) / 2 });
  });

  it('without onConflict a duplicate key fails the whole call and stores nothing', async () => {
    const err = await copyInto(t.database.pool, { table: 'nasty', columns: ['id'], rows: [[1], [2], [1]] }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isDataStorageError(err, 'DATA_STORAGE_BULKWRITE')).toBe(true);
    expect((err as { details: { sqlState?: string } }).details.sqlState).toBe('23505');
    expect((await sql<{ n: number }>`select count(*) as n from nasty`.execute(t.db)).rows[0]?.n).toBe(0);
  });

  it('rejects unknown conflict columns and missing tables as configuration errors', async () => {
    await expect(copyInto(t.database.pool, { table: 'nasty', columns: ['id'], rows: [], onConflict: { columns: ['nope'], action: 'nothing' } })).rejects.toMatchObject({
      id: 'DATA_STORAGE_CONFIG',
    });
    await expect(copyInto(t.database.pool, { table: 'no_such', columns: ['id'], rows: [[1]], onConflict: { columns: ['id'], action: 'nothing' } })).rejects.toMatchObject({
      id: 'DATA_STORAGE_BULKWRITE',
    });
  });
});
