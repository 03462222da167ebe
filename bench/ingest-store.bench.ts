/**
 * Bulk store of 1,000,000 canonical bars through the ingest service's storage path — `BarsRepository.upsert`
 * (INSERT … SELECT FROM unnest(…) ON CONFLICT with the revised/conflict rules and per-row written/duplicate
 * reporting) into the monthly-partitioned `ingest.canonical_bars`, partitions created on demand, one transaction
 * per batch as the pipeline commits chunks — next to a raw `COPY` of the same rows into an unindexed table (the
 * reference, same run, same server), and next to the platform's `copyInto` staging path into the same table
 * (which has no revised/conflict semantics). Also a re-ingest of the same rows (all duplicates).
 *
 * Throwaway database (created and dropped). `DATABASE_URL` (superuser) or 127.0.0.1:5432.
 * `BENCH_INGEST_ROWS` overrides the row count. Figures are printed, never asserted.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { sql } from 'kysely';
import { copyInto, copyRaw, createDatabase, migrateToLatest, withTransaction } from '@noctria/platform';
import type { CanonicalBar } from '@noctria/canonical-bar';

import { BarsRepository, ingestMigrations, INGEST_SCHEMA, type BarToStore, type IngestDB } from '@noctria/ingest';

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
    const timed = async <T>(label: string, body: () => Promise<T>) => {
      const t = performance.now();
      const result = await body();
      const seconds = (performance.now() - t) / 1000;
      const m = { seconds: Number(seconds.toFixed(3)), rowsPerSecond: Math.round(n / seconds), result };
      process.stderr.write(`  ${label}: ${m.rowsPerSecond.toLocaleString('en')} rows/s (${m.seconds} s)\n`);
      return m;
    };
    const pipelineStore = (batchSize: number) => async () => {
      const totals = { inserted: 0, updated: 0, duplicates: 0, transactions: 0 };
      for (const batch of batches(n, batchSize)) {
        // As IngestPipeline.processFetched: partitions first, then the upsert in the chunk's transaction.
        await repo.ensurePartitions(batch[0]!.tsMs, batch[batch.length - 1]!.tsMs + 1);
        const up = await withTransaction(d.db, (trx) => repo.upsert(trx, batch, 0.003));
        totals.inserted += up.inserted;
        totals.updated += up.updated;
        totals.duplicates += up.duplicates;
        totals.transactions += 1;
      }
      return totals;
    };

    await reset('ingest.bars_raw');
    const raw = await timed('raw COPY into an unindexed table (reference)', () => copyRaw(d.pool, { schema: 'ingest', table: 'bars_raw', columns: COLUMNS, rows: copyRows(n) }));
    await reset('ingest.canonical_bars');
    const upsert10k = await timed('pipeline upsert (unnest, 10000-bar chunks, partitioned)', pipelineStore(10_000));
    const reingest = await timed('pipeline upsert re-ingest of the same rows (all duplicates, 10000-bar chunks)', pipelineStore(10_000));
    await reset('ingest.canonical_bars');
    await repo.ensurePartitions(T0, makeBar(n - 1).tsMs + 1);
    const staged = await timed('platform copyInto (COPY → temp staging → INSERT … ON CONFLICT), partitioned', () =>
      copyInto(d.pool, { schema: 'ingest', table: 'canonical_bars', columns: COLUMNS, rows: copyRows(n), onConflict: { columns: ['symbol', 'timeframe', 'ts_utc'], action: 'update' } }),
    );
    const ratio = (m: { rowsPerSecond: number }) => Number((m.rowsPerSecond / raw.rowsPerSecond).toFixed(3));
    out['reference_rawCopy'] = { seconds: raw.seconds, rowsPerSecond: raw.rowsPerSecond };
    out['pipelineUpsert_10000'] = { ...upsert10k, ratioToRawCopy: ratio(upsert10k) };
    out['pipelineUpsert_reingest_10000'] = { ...reingest, ratioToRawCopy: ratio(reingest) };
    out['copyInto_staging'] = { ...staged, ratioToRawCopy: ratio(staged), note: 'no revised/conflict flags, no per-row written set (outbox)' };
    return out;
  } finally {
    await d.close();
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin.end();
  }
}
