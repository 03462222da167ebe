/**
 * Bulk store of 1,000,000 canonical bars through the ingest service's storage path — per chunk, one transaction on
 * one connection (`withClientTransaction`): COPY into a temp staging table (ON COMMIT DROP), then the set-based
 * `INSERT … SELECT … ON CONFLICT DO UPDATE … WHERE <changed> RETURNING` with the revised/conflict rules and the
 * per-row written set (`BarsRepository.upsertStaged`), into the monthly-partitioned `ingest.canonical_bars`,
 * partitions created on demand — next to a raw `COPY` of the same rows into an unindexed table (the reference,
 * same run, same server). Also: a re-ingest of the same rows (all duplicates), 1000-bar chunks, the previous
 * unnest-array upsert and the platform's `copyInto` (no revised/conflict semantics) on fewer rows, since they
 * are references only (`BENCH_INGEST_LEGACY_ROWS`, default 100,000; `BENCH_INGEST_COPYINTO_ROWS`, default 300,000).
 *
 * Throwaway database (created and dropped). `DATABASE_URL` (superuser) or 127.0.0.1:5432.
 * `BENCH_INGEST_ROWS` overrides the main row count. Figures are printed, never asserted.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { sql } from 'kysely';
import { copyInto, copyRaw, createDatabase, migrateToLatest, withClientTransaction, withTransaction } from '@noctria/platform';
import type { CanonicalBar } from '@noctria/canonical-bar';

import { BarsRepository, ingestMigrations, INGEST_SCHEMA, type BarToStore, type IngestDB, type UpsertResult } from '@noctria/ingest';

const SYMBOLS = ['EURUSD', 'GBPUSD', 'USDJPY', 'AUDUSD', 'NZDUSD', 'USDCAD', 'USDCHF', 'XAUUSD', 'XAGUSD', 'EURJPY'];
const COLUMNS = ['ts_utc', 'symbol', 'timeframe', 'open', 'high', 'low', 'close', 'volume', 'quality_flag', 'source_id', 'ingest_run_id', 'metadata', 'checksum'] as const;
const T0 = Date.UTC(2024, 0, 1);

/** Row i: SYMBOLS round-robin × consecutive 1m bars (1M rows ≈ 69 days → 3 monthly partitions); deterministic. */
function makeBar(i: number): BarToStore {
  const symbol = SYMBOLS[i % SYMBOLS.length] as string;
  const tsMs = T0 + Math.floor(i / SYMBOLS.length) * 60_000;
  const x = Math.sin(i * 12.9898) * 43758.5453;
  const u = x - Math.floor(x);
  const open = 1 + (i % 997) / 10_000;
  const close = open + (u - 0.5) * 0.001;
  const bar: CanonicalBar = {
    ts_utc: new Date(tsMs).toISOString(),
    symbol,
    timeframe: '1m',
    open,
    high: Math.max(open, close) + u * 0.0002,
    low: Math.min(open, close) - u * 0.0002,
    close,
    volume: i % 50 === 0 ? null : Math.round(u * 1e6),
    quality_flag: 'ok',
    source_id: 'bench',
    ingest_run_id: 'bench-run',
    metadata: { provider_version: 'bench/1' },
  };
  return { bar, tsMs, checksum: ((i * 2654435761) >>> 0).toString(16).padStart(8, '0') };
}

function* batches(n: number, size: number): Generator<BarToStore[]> {
  for (let i = 0; i < n; i += size) {
    const b: BarToStore[] = [];
    for (let j = i; j < Math.min(n, i + size); j++) b.push(makeBar(j));
    yield b;
  }
}

function add(totals: { inserted: number; updated: number; duplicates: number; transactions: number }, up: UpsertResult): void {
  totals.inserted += up.inserted;
  totals.updated += up.updated;
  totals.duplicates += up.duplicates;
  totals.transactions += 1;
}

function* copyRows(n: number): Generator<unknown[]> {
  for (let i = 0; i < n; i++) {
    const { bar, tsMs, checksum } = makeBar(i);
    yield [new Date(tsMs), bar.symbol, bar.timeframe, bar.open, bar.high, bar.low, bar.close, bar.volume, bar.quality_flag, bar.source_id, bar.ingest_run_id, bar.metadata, checksum];
  }
}

export async function run(): Promise<Record<string, unknown>> {
  const n = Number(process.env['BENCH_INGEST_ROWS'] ?? 1_000_000);
  const serverUrl = process.env['DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const dbName = `noctria_bench_ingest_${randomBytes(4).toString('hex')}`;
  const adminUrl = new URL(serverUrl);
  adminUrl.pathname = '/postgres';
  const admin = new pg.Client({ connectionString: adminUrl.toString() });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  const url = new URL(serverUrl);
  url.pathname = `/${dbName}`;
  const d = createDatabase<IngestDB>({ connectionString: url.toString(), schema: INGEST_SCHEMA, poolMax: 4, applicationName: 'noctria-bench-ingest' });
  const out: Record<string, unknown> = { rows: n, symbols: SYMBOLS.length, timeframe: '1m', target: 'pipeline store ≥ 0.5 × raw COPY rows/s' };
  try {
    await migrateToLatest({ db: d.db, schema: INGEST_SCHEMA, migrations: ingestMigrations });
    await sql.raw(`create table ingest.bars_raw (ts_utc timestamptz, symbol text, timeframe text, open float8, high float8, low float8, close float8, volume float8, quality_flag text, source_id text, ingest_run_id text, metadata jsonb, checksum text)`).execute(d.db);
    const repo = new BarsRepository(d.db);
    const reset = async (table: string) => {
      await sql.raw(`truncate ${table}`).execute(d.db);
      await sql`checkpoint`.execute(d.db);
    };
    const timed = async <T>(label: string, rows: number, body: () => Promise<T>) => {
      const t = performance.now();
      const result = await body();
      const seconds = (performance.now() - t) / 1000;
      const m = { seconds: Number(seconds.toFixed(3)), rowsPerSecond: Math.round(rows / seconds), result };
      process.stderr.write(`  ${label}: ${m.rowsPerSecond.toLocaleString('en')} rows/s (${m.seconds} s)\n`);
      return m;
    };
    // As IngestPipeline.processFetched: partitions first (own short transaction), then the chunk's transaction on
    // one connection — COPY into a temp staging table + the set-based upsert with the revised/conflict rules.
    const pipelineStore = (rows: number, batchSize: number) => async () => {
      const totals = { inserted: 0, updated: 0, duplicates: 0, transactions: 0 };
      for (const batch of batches(rows, batchSize)) {
        await repo.ensurePartitions(batch[0]!.tsMs, batch[batch.length - 1]!.tsMs + 1);
        const up = await withClientTransaction<IngestDB, UpsertResult>(d.pool, (tx) => repo.upsertStaged(tx, batch, 0.003));
        add(totals, up);
      }
      return totals;
    };
    // The previous store path (unnest arrays in a Kysely transaction), for comparison on fewer rows (it is slow).
    const legacyStore = (rows: number, batchSize: number) => async () => {
      const totals = { inserted: 0, updated: 0, duplicates: 0, transactions: 0 };
      for (const batch of batches(rows, batchSize)) {
        await repo.ensurePartitions(batch[0]!.tsMs, batch[batch.length - 1]!.tsMs + 1);
        add(totals, await withTransaction(d.db, (trx) => repo.upsert(trx, batch, 0.003)));
      }
      return totals;
    };

    await reset('ingest.bars_raw');
    const raw = await timed('raw COPY into an unindexed table (reference)', n, () => copyRaw(d.pool, { schema: 'ingest', table: 'bars_raw', columns: COLUMNS, rows: copyRows(n) }));
    await reset('ingest.canonical_bars');
    const staged10k = await timed('pipeline store (COPY → temp staging → upsert, 10000-bar chunks, partitioned)', n, pipelineStore(n, 10_000));
    const reingest = await timed('pipeline store re-ingest of the same rows (all duplicates, 10000-bar chunks)', n, pipelineStore(n, 10_000));
    await reset('ingest.canonical_bars');
    const legacyRows = Math.min(n, Number(process.env['BENCH_INGEST_LEGACY_ROWS'] ?? 100_000));
    const legacy = await timed(`previous pipeline upsert (unnest arrays, 10000-bar chunks), ${legacyRows} rows`, legacyRows, legacyStore(legacyRows, 10_000));
    const staged1k = await timed(`pipeline store, 1000-bar chunks (after ${legacyRows} rows), ${legacyRows} rows`, legacyRows, async () => {
      await reset('ingest.canonical_bars');
      return pipelineStore(legacyRows, 1_000)();
    });
    await reset('ingest.canonical_bars');
    await repo.ensurePartitions(T0, makeBar(n - 1).tsMs + 1);
    const copyIntoRows = Math.min(n, Number(process.env['BENCH_INGEST_COPYINTO_ROWS'] ?? 300_000));
    const staged = await timed(`platform copyInto (COPY → temp staging → INSERT … ON CONFLICT), partitioned, ${copyIntoRows} rows`, copyIntoRows, () =>
      copyInto(d.pool, { schema: 'ingest', table: 'canonical_bars', columns: COLUMNS, rows: copyRows(copyIntoRows), onConflict: { columns: ['symbol', 'timeframe', 'ts_utc'], action: 'update' } }),
    );
    const ratio = (m: { rowsPerSecond: number }) => Number((m.rowsPerSecond / raw.rowsPerSecond).toFixed(3));
    out['reference_rawCopy'] = { seconds: raw.seconds, rowsPerSecond: raw.rowsPerSecond };
    out['pipelineStore_10000'] = { ...staged10k, ratioToRawCopy: ratio(staged10k) };
    out['pipelineStore_reingest_10000'] = { ...reingest, ratioToRawCopy: ratio(reingest) };
    out['pipelineStore_1000'] = { ...staged1k, rows: legacyRows, ratioToRawCopy: ratio(staged1k) };
    out['previousUnnestUpsert_10000'] = { ...legacy, rows: legacyRows, ratioToRawCopy: ratio(legacy) };
    out['copyInto_staging'] = { ...staged, rows: copyIntoRows, ratioToRawCopy: ratio(staged), note: 'no revised/conflict flags, no per-row written set (outbox)' };
    process.stderr.write(`  ratios to raw COPY: ${['pipelineStore_10000', 'pipelineStore_reingest_10000', 'pipelineStore_1000', 'previousUnnestUpsert_10000', 'copyInto_staging'].map((k) => `${k}=${(out[k] as { ratioToRawCopy: number }).ratioToRawCopy}`).join(', ')}\n`);
    return out;
  } finally {
    await d.close();
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin.end();
  }
}
