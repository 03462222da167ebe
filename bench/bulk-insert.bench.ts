/**
 * Bulk store of canonical-bar-like rows with de-duplication (`copyInto`: COPY → staging → INSERT … ON CONFLICT;
 * `unnestInsert`: batched INSERT … SELECT FROM unnest(…) ON CONFLICT), measured next to a raw `COPY` of the same
 * rows into an unindexed table — the reference, in the same run, on the same server. Also a month-partitioned
 * target (PARTITION BY RANGE (ts_utc), primary key including ts_utc), as the ingest service stores bars.
 *
 * Works in a throwaway database it creates and drops. `DATABASE_URL` (a superuser URL) or 127.0.0.1:5432.
 * `BENCH_BULK_ROWS` overrides the row count (default 1,000,000). Figures are printed, never asserted.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { sql } from 'kysely';
import { copyInto, copyRaw, createDatabase, unnestInsert, type BulkWriteResult, type UnnestColumn } from '@noctria/platform';

const COLUMNS = ['symbol', 'timeframe', 'ts_utc', 'open', 'high', 'low', 'close', 'volume', 'quality_flag', 'source_id', 'ingest_run_id', 'checksum'] as const;
const UNNEST_COLUMNS: UnnestColumn[] = COLUMNS.map((name) => ({
  name,
  pgType: name === 'ts_utc' ? 'timestamptz' : ['open', 'high', 'low', 'close', 'volume'].includes(name) ? 'float8' : 'text',
}));
const KEY = ['symbol', 'timeframe', 'ts_utc'];
const SYMBOLS = ['EURUSD', 'USDJPY', 'GBPUSD', 'AUDUSD'];

const TABLE_BODY = `(
  symbol text not null, timeframe text not null, ts_utc timestamptz not null,
  open double precision not null, high double precision not null, low double precision not null, close double precision not null,
  volume double precision, quality_flag text not null, source_id text not null, ingest_run_id text not null, checksum text not null`;

/**
 * Deterministic rows: SYMBOLS × consecutive M1 bars from 2024-01-01 (1M rows ≈ 174 days → 6 monthly partitions),
 * with every 1000th row followed later by a re-sent copy of an earlier bar (≈0.1 % duplicates, last one wins).
 */
function* bars(n: number): Generator<unknown[]> {
  const t0 = Date.UTC(2024, 0, 1);
  let seed = 42;
  const rnd = (): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
  const make = (i: number, rerun: string): unknown[] => {
    const s = SYMBOLS[i % SYMBOLS.length] as string;
    const minute = Math.floor(i / SYMBOLS.length);
    const open = 1 + rnd();
    const close = open + (rnd() - 0.5) * 0.01;
    return [
      s,
      'M1',
      new Date(t0 + minute * 60_000),
      open,
      Math.max(open, close) + rnd() * 0.001,
      Math.min(open, close) - rnd() * 0.001,
      close,
      i % 50 === 0 ? null : rnd() * 1e6,
      'ok',
      'bench-provider',
      rerun,
      (i * 2654435761 >>> 0).toString(16).padStart(8, '0'),
    ];
  };
  let emitted = 0;
  for (let i = 0; emitted < n; i++) {
    yield make(i, 'run-1');
    emitted++;
    if (i % 1000 === 999 && emitted < n) {
      yield make(i - 500, 'run-2'); // a duplicate key of an earlier row in the same call
      emitted++;
    }
  }
}

interface Measured {
  seconds: number;
  rowsPerSecond: number;
  ratioToRawCopy?: number;
  result?: BulkWriteResult;
}

export async function run(): Promise<Record<string, unknown>> {
  const n = Number(process.env['BENCH_BULK_ROWS'] ?? 1_000_000);
  const serverUrl = process.env['DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const dbName = `noctria_bench_${randomBytes(4).toString('hex')}`;
  const adminUrl = new URL(serverUrl);
  adminUrl.pathname = '/postgres';
  const admin = new pg.Client({ connectionString: adminUrl.toString() });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  const url = new URL(serverUrl);
  url.pathname = `/${dbName}`;
  const d = createDatabase({ connectionString: url.toString(), schema: 'bench', poolMax: 4, applicationName: 'noctria-bench' });
  const out: Record<string, unknown> = { rows: n, duplicateRate: 0.001 };
  try {
    await sql`create schema bench`.execute(d.db);
    await sql.raw(`create table bars_raw ${TABLE_BODY})`).execute(d.db);
    await sql.raw(`create table bars ${TABLE_BODY}, primary key (symbol, timeframe, ts_utc))`).execute(d.db);
    await sql.raw(`create table bars_part ${TABLE_BODY}, primary key (symbol, timeframe, ts_utc)) partition by range (ts_utc)`).execute(d.db);
    for (let m = 0; m < 12; m++) {
      const from = new Date(Date.UTC(2024, m, 1)).toISOString();
      const to = new Date(Date.UTC(2024, m + 1, 1)).toISOString();
      await sql.raw(`create table bars_part_2024_${String(m + 1).padStart(2, '0')} partition of bars_part for values from ('${from}') to ('${to}')`).execute(d.db);
    }

    const measure = async (label: string, table: string, body: () => Promise<BulkWriteResult | number>): Promise<Measured> => {
      await sql.raw(`truncate ${table}`).execute(d.db);
      await sql`checkpoint`.execute(d.db);
      const t = performance.now();
      const r = await body();
      const seconds = (performance.now() - t) / 1000;
      const m: Measured = { seconds: Number(seconds.toFixed(3)), rowsPerSecond: Math.round(n / seconds) };
      if (typeof r !== 'number') m.result = r;
      process.stderr.write(`  ${label}: ${m.rowsPerSecond.toLocaleString('en')} rows/s (${m.seconds} s)\n`);
      return m;
    };
    const conflict = { columns: KEY, action: 'update' as const };

    const raw = await measure('raw COPY, unindexed table (reference)', 'bars_raw', () => copyRaw(d.pool, { table: 'bars_raw', columns: COLUMNS, rows: bars(n) }));
    const variants: Record<string, Measured> = {
      copyInto_temp: await measure('copyInto (temp staging)', 'bars', () => copyInto(d.pool, { table: 'bars', columns: COLUMNS, rows: bars(n), onConflict: conflict })),
      copyInto_unlogged: await measure('copyInto (unlogged staging)', 'bars', () =>
        copyInto(d.pool, { table: 'bars', columns: COLUMNS, rows: bars(n), onConflict: conflict, staging: 'unlogged' }),
      ),
      copyInto_temp_orderByKey: await measure('copyInto (temp staging, ORDER BY key)', 'bars', () =>
        copyInto(d.pool, { table: 'bars', columns: COLUMNS, rows: bars(n), onConflict: conflict, orderByKey: true }),
      ),
      unnestInsert_10k: await measure('unnestInsert (10k batches)', 'bars', () =>
        unnestInsert(d.db, { table: 'bars', columns: UNNEST_COLUMNS, rows: bars(n), batchSize: 10_000, conflict }),
      ),
      copyInto_partitioned: await measure('copyInto, month-partitioned', 'bars_part', () =>
        copyInto(d.pool, { table: 'bars_part', columns: COLUMNS, rows: bars(n), onConflict: conflict, staging: 'unlogged' }),
      ),
      unnestInsert_partitioned: await measure('unnestInsert, month-partitioned', 'bars_part', () =>
        unnestInsert(d.db, { table: 'bars_part', columns: UNNEST_COLUMNS, rows: bars(n), batchSize: 10_000, conflict }),
      ),
    };
    // Re-ingest of the same rows into the filled table: every key conflicts, nothing changes.
    const t = performance.now();
    const again = await copyInto(d.pool, { table: 'bars', columns: COLUMNS, rows: bars(n), onConflict: { ...conflict, onlyIfChanged: true } });
    const againSeconds = (performance.now() - t) / 1000;
    variants['copyInto_reingest_unchanged'] = { seconds: Number(againSeconds.toFixed(3)), rowsPerSecond: Math.round(n / againSeconds), result: again };

    for (const v of Object.values(variants)) v.ratioToRawCopy = Number((v.rowsPerSecond / raw.rowsPerSecond).toFixed(3));
    out['reference_rawCopy'] = raw;
    out['variants'] = variants;
    out['target'] = 'de-dup store ≥ 0.5 × raw COPY rows/s';
    process.stderr.write(`  ratios to raw COPY: ${Object.entries(variants).map(([k, v]) => `${k}=${v.ratioToRawCopy}`).join(', ')}\n`);
    return out;
  } finally {
    await d.close();
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin.end();
  }
}
