/**
 * The staged bulk store (`BarsRepository.upsertStaged`: COPY into the session staging table, per-partition
 * upsert, `xmax` for inserted-vs-updated) against the unnest upsert (`BarsRepository.upsert`, a separate
 * implementation of the same rules) as the reference: the same batches go to two databases, one per path, and
 * every result and the stored rows must agree. Counts are also checked against what each batch was built to do.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sql } from 'kysely';
import pg from 'pg';
import type { CanonicalBar } from '@noctria/canonical-bar';
import { createDatabase, withClientTransaction, type Database } from '@noctria/platform';
import { waitFor } from '@noctria/testing';
import type { DB } from '../src/db/schema.js';
import { isoFormatter } from '../src/repositories/bar-stage.js';
import { BarsRepository, type BarToStore, type UpsertResult } from '../src/repositories/bars.repository.js';
import { bar, openTestDb, toStore, type TestDb } from './helpers/harness.js';

const H = 3_600_000;
// 2024-01-31 20:00 UTC: a 10-hour series crosses into February (two partitions per chunk).
const T0 = Date.UTC(2024, 0, 31, 20);
const DIFF = 0.003;

let reference: TestDb;
let staged: TestDb;
/** One connection: every staged chunk reuses the same session staging table. */
let single: Database<DB>;

beforeAll(async () => {
  reference = await openTestDb();
  staged = await openTestDb();
  single = createDatabase<DB>({ connectionString: staged.test.connectionString, schema: 'ingest', poolMax: 1 });
  for (const db of [reference.db, staged.db]) await new BarsRepository(db).ensurePartitions(Date.UTC(2023, 11, 1), Date.UTC(2024, 3, 1));
});
afterAll(async () => {
  await single?.close();
  await reference?.close();
  await staged?.close();
});

function sortWritten(r: UpsertResult): UpsertResult {
  const written = [...r.written].sort((a, b) => a.tsMs - b.tsMs || a.bar.symbol.localeCompare(b.bar.symbol) || a.bar.timeframe.localeCompare(b.bar.timeframe));
  return { ...r, written };
}

async function storeBoth(batch: readonly CanonicalBar[]): Promise<{ ref: UpsertResult; got: UpsertResult }> {
  const rows: BarToStore[] = batch.map(toStore);
  const ref = await new BarsRepository(reference.db).upsert(reference.db, rows, DIFF);
  const got = await withClientTransaction<DB, UpsertResult>(single.pool, (tx) => new BarsRepository(single.db).upsertStaged(tx, rows, DIFF));
  return { ref: sortWritten(ref), got: sortWritten(got) };
}

async function table(db: TestDb['db']): Promise<unknown[]> {
  const rows = await sql<Record<string, unknown>>`
    select ts_utc, symbol, timeframe, open, high, low, close, volume, quality_flag, source_id, ingest_run_id, metadata, checksum, revision
    from ingest.canonical_bars order by symbol, timeframe, ts_utc`.execute(db);
  return rows.rows;
}

/** A deterministic shuffle (input order must not matter). */
function shuffled<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  let x = seed;
  for (let i = out.length - 1; i > 0; i--) {
    x = (x * 1_103_515_245 + 12_345) % 2_147_483_648;
    const j = x % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

const series = (symbol: string, n: number, extra: (i: number) => Partial<CanonicalBar> = () => ({})): CanonicalBar[] =>
  Array.from({ length: n }, (_, i) => bar(symbol, '1h', T0 + i * H, 100 + i, extra(i)));

describe('staged bulk store (upsertStaged) = unnest upsert (reference)', () => {
  it('stores a mixed chunk across two months in any order: several series, odd strings, null volume, shared and distinct metadata', async () => {
    const batch = shuffled(
      [
        ...series('EURUSD', 10, (i) => ({ volume: i % 3 === 0 ? null : i * 10.5, metadata: { provider_version: 'v1' } })),
        // Strings the COPY text format must escape (tab, backslash, newline) in a column that varies in the chunk.
        ...series('XAUUSD', 10, (i) => ({ source_id: i % 2 === 0 ? 'feed\\tab\there' : 'feed\nline', metadata: { provider_version: 'v1', seq: i } })),
        ...Array.from({ length: 6 }, (_, i) => bar('XAUUSD', '4h', T0 + i * 4 * H, 2000 + i, { quality_flag: i === 2 ? 'resampled' : 'ok', metadata: {} })),
      ],
      7,
    );
    const { ref, got } = await storeBoth(batch);
    expect(got).toMatchObject({ inserted: 26, updated: 0, duplicates: 0, revised: 0, conflicts: 0 });
    expect(got).toEqual(ref);
    expect(await table(staged.db)).toEqual(await table(reference.db));
    const months = await sql<{ p: string; n: number }>`select tableoid::regclass::text as p, count(*)::int as n from ingest.canonical_bars group by 1 order by 1`.execute(staged.db);
    // EURUSD/XAUUSD 1h: 4 bars in January (20:00–23:00), 6 in February; XAUUSD 4h: 1 in January, 5 in February.
    expect(months.rows.map((r) => [r.p.replace(/^ingest\./, ''), r.n])).toEqual([
      ['canonical_bars_p202401', 9],
      ['canonical_bars_p202402', 17],
    ]);
  });

  it('counts a re-sent chunk as duplicates only and writes nothing', async () => {
    const batch = [...series('EURUSD', 10, (i) => ({ volume: i % 3 === 0 ? null : i * 10.5, metadata: { provider_version: 'v1' } }))];
    const before = await table(staged.db);
    const { ref, got } = await storeBoth(batch);
    expect(got).toEqual({ written: [], inserted: 0, updated: 0, duplicates: 10, revised: 0, conflicts: 0 });
    expect(got).toEqual(ref);
    expect(await table(staged.db)).toEqual(before);
  });

  it('applies the revised / conflict / flag-only / fill-replacement rules with new rows in the same chunk', async () => {
    const eur = series('EURUSD', 10, (i) => ({ volume: i % 3 === 0 ? null : i * 10.5, metadata: { provider_version: 'v1' } }));
    const batch = [
      // Same source, new close: revised (revision 1).
      { ...eur[2]!, close: 102.5, high: 103, metadata: { provider_version: 'v2' } },
      // Other source, |Δclose|/close = 0.1 % < 0.3 %: revised; 5 % > 0.3 %: conflict.
      { ...eur[4]!, source_id: 'secondary', close: 104 * 1.001, high: 105 },
      { ...eur[6]!, source_id: 'secondary', close: 106 * 1.05, high: 112 },
      // Same content, DQ now says outlier: only the flag changes, revision stays 0.
      { ...eur[8]!, quality_flag: 'outlier' as const },
      // Identical: duplicate.
      eur[9]!,
      // The stored fill (resampled) replaced by a real bar keeps the new bar's flag.
      bar('XAUUSD', '4h', T0 + 2 * 4 * H, 2010, { metadata: {} }),
      // New rows after the series end.
      ...Array.from({ length: 3 }, (_, i) => bar('EURUSD', '1h', T0 + (10 + i) * H, 200 + i, { metadata: { provider_version: 'v1' } })),
    ];
    const { ref, got } = await storeBoth(batch);
    expect(got).toMatchObject({ inserted: 3, updated: 5, duplicates: 1, revised: 2, conflicts: 1 });
    expect(got).toEqual(ref);
    const byTs = (symbol: string, tf: string, ms: number) => got.written.find((w) => w.bar.symbol === symbol && w.bar.timeframe === tf && w.tsMs === ms)!;
    expect(byTs('EURUSD', '1h', T0 + 2 * H)).toMatchObject({ revision: 1, inserted: false, bar: { quality_flag: 'revised', metadata: { provider_version: 'v2', previous: { close: 102 } } } });
    expect(byTs('EURUSD', '1h', T0 + 6 * H)).toMatchObject({ revision: 1, bar: { quality_flag: 'conflict', source_id: 'secondary' } });
    expect(byTs('EURUSD', '1h', T0 + 8 * H)).toMatchObject({ revision: 0, bar: { quality_flag: 'outlier' } });
    expect(byTs('XAUUSD', '4h', T0 + 8 * H)).toMatchObject({ revision: 1, bar: { quality_flag: 'ok' } });
    expect(await table(staged.db)).toEqual(await table(reference.db));
  });

  it('handles every metadata shape on both paths: one object for the chunk, a few distinct ones, more than the dictionary holds', async () => {
    const uniform = (close: number) => series('GBPUSD', 5, (i) => ({ close: close + i, metadata: { a: 1 } }));
    const few = (close: number) => series('USDJPY', 6, (i) => ({ close: close + i, metadata: { b: i % 3, nested: { k: 'v' } } }));
    const many = (close: number) => Array.from({ length: 70 }, (_, i) => bar('AUDUSD', '15m', T0 + i * 900_000, close + i / 1000, { metadata: { i, text: `t\t${i}` } }));
    for (const make of [uniform, few, many]) {
      // New series (binary COPY), then every bar revised (staged upsert with the same metadata shape).
      const first = await storeBoth(make(100));
      expect(first.got.inserted).toBe(make(100).length);
      expect(first.got).toEqual(first.ref);
      const again = await storeBoth(make(100.5));
      expect(again.got).toMatchObject({ inserted: 0, updated: make(100).length, revised: make(100).length });
      expect(again.got).toEqual(again.ref);
    }
    expect(await table(staged.db)).toEqual(await table(reference.db));
  });

  it('keeps a negative zero and the last bit of every double on both paths (binary COPY, staged COPY text)', async () => {
    // The unnest path sends -0 as "0"; both COPY paths keep the stored double the one that was checksummed.
    const repo = new BarsRepository(single.db);
    const store = (b: CanonicalBar) => withClientTransaction<DB, UpsertResult>(single.pool, (tx) => repo.upsertStaged(tx, [toStore(b)], DIFF));
    const read = async () => (await sql<{ volume: number; open: number; revision: number }>`select volume, open, revision from ingest.canonical_bars where symbol = 'USDCAD'`.execute(staged.db)).rows[0]!;
    expect((await store(bar('USDCAD', '1h', T0, 1.25, { volume: -0, open: 1.2500000000000002 }))).inserted).toBe(1);
    let row = await read();
    expect([Object.is(row.volume, -0), row.open, row.revision]).toEqual([true, 1.2500000000000002, 0]);
    expect((await store(bar('USDCAD', '1h', T0, 1.26, { volume: -0, open: 0.30000000000000004 }))).updated).toBe(1);
    row = await read();
    expect([Object.is(row.volume, -0), row.open, row.revision]).toEqual([true, 0.30000000000000004, 1]);
  });

  it('refuses a second staged upsert in one transaction, and a chunk outside the existing partitions, committing nothing', async () => {
    const repo = new BarsRepository(single.db);
    const a = [toStore(bar('NZDUSD', '1h', T0, 1))];
    const b = [toStore(bar('NZDUSD', '1h', T0 + H, 1))];
    await expect(withClientTransaction<DB, unknown>(single.pool, async (tx) => {
      await repo.upsertStaged(tx, a, DIFF);
      return repo.upsertStaged(tx, b, DIFF);
    })).rejects.toThrow(/once per transaction/);
    await expect(withClientTransaction<DB, unknown>(single.pool, (tx) => repo.upsertStaged(tx, [toStore(bar('NZDUSD', '1h', Date.UTC(2030, 0, 1), 1))], DIFF))).rejects.toThrow(
      /no partition of relation/,
    );
    const n = await sql<{ n: number }>`select count(*)::int as n from ingest.canonical_bars where symbol = 'NZDUSD'`.execute(staged.db);
    expect(n.rows[0]?.n).toBe(0);
    // The connection that failed was replaced; the next chunk stages into an empty table.
    const ok = await withClientTransaction<DB, UpsertResult>(single.pool, (tx) => repo.upsertStaged(tx, [...a, ...b], DIFF));
    expect(ok).toMatchObject({ inserted: 2, duplicates: 0 });
  });

  it('new data takes the binary COPY path (no staging table); a key stored concurrently after the range check falls back to the conflict rules', async () => {
    const fresh = createDatabase<DB>({ connectionString: staged.test.connectionString, schema: 'ingest', poolMax: 1 });
    const other = new pg.Client({ connectionString: staged.test.connectionString });
    await other.connect();
    try {
      const repo = new BarsRepository(fresh.db);
      const first = series('CHFJPY', 4);
      const viaCopy = await withClientTransaction<DB, { up: UpsertResult; stage: string | null }>(fresh.pool, async (tx) => {
        const up = await repo.upsertStaged(tx, first.map(toStore), DIFF);
        const stage = await tx.client.query<{ t: string | null }>(`select to_regclass('pg_temp.ingest_bars_stage')::text as t`);
        return { up, stage: stage.rows[0]!.t };
      });
      expect(viaCopy.stage).toBeNull();
      expect(viaCopy.up).toMatchObject({ inserted: 4, duplicates: 0 });

      // Another session inserts (without committing) the first key of the next chunk: invisible to the range check.
      const next = series('CADJPY', 5);
      await other.query('begin');
      await other.query(
        `insert into ingest.canonical_bars (ts_utc, symbol, timeframe, open, high, low, close, volume, quality_flag, source_id, ingest_run_id, metadata, checksum)
         values ($1, 'CADJPY', '1h', $2, $3, $4, $5, null, 'ok', 'test', 'run-test', '{}', $6)`,
        [new Date(T0).toISOString(), next[0]!.open, next[0]!.high, next[0]!.low, next[0]!.close, toStore(next[0]!).checksum],
      );
      const storing = withClientTransaction<DB, UpsertResult>(fresh.pool, (tx) => repo.upsertStaged(tx, next.map(toStore), DIFF));
      // The COPY waits on the other session's uncommitted key; once it commits, the COPY fails with a unique violation.
      // (Polled outside the other session's transaction: statistics views are snapshotted per transaction.)
      await waitFor(async () => {
        const r = await sql<{ n: number }>`select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and query ilike 'copy ingest.canonical_bars%'`.execute(staged.db);
        return r.rows[0]!.n === 1;
      }, { timeoutMs: 10_000 });
      await other.query('commit');
      const up = await storing;
      // The same bar was already there: a duplicate; the other four are inserted by the staged upsert.
      expect(up).toMatchObject({ inserted: 4, updated: 0, duplicates: 1 });
      expect(up.written.map((w) => w.tsMs)).toEqual([1, 2, 3, 4].map((i) => T0 + i * H));
      const n = await sql<{ n: number }>`select count(*)::int as n from ingest.canonical_bars where symbol = 'CADJPY'`.execute(staged.db);
      expect(n.rows[0]?.n).toBe(5);
    } finally {
      await other.end();
      await fresh.close();
    }
  });
});

describe('isoFormatter', () => {
  it('formats exactly as Date#toISOString across days, years and the epoch', () => {
    const iso = isoFormatter();
    const instants = [
      0, -1, -86_400_000, 86_399_999, 86_400_000, T0, T0 + 59_999, Date.UTC(2024, 1, 29, 23, 59, 59, 999), Date.UTC(1999, 11, 31, 23, 59, 59, 1),
      Date.UTC(9999, 11, 31, 23, 59, 59, 999), Date.UTC(10000, 0, 1), -62_198_755_200_000 /* year -0001 */,
      ...Array.from({ length: 2_000 }, (_, i) => T0 + i * 7_777_777 + (i % 1000)),
    ];
    for (const ms of instants) expect([ms, iso(ms)]).toEqual([ms, new Date(ms).toISOString()]);
  });
});
