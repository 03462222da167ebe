/**
 * Bulk store of 1,000,000 canonical bars through the ingest service's storage path — per chunk, one transaction on
 * one connection (`withClientTransaction`, `BarsRepository.upsertStaged`) into the monthly-partitioned
 * `ingest.canonical_bars`, partitions created on demand, with the per-row written set the outbox needs: new data
 * by one binary COPY per chunk, anything overlapping stored bars through the staging table and the set-based
 * `INSERT … SELECT … ON CONFLICT DO UPDATE … WHERE <changed> RETURNING` (revised/conflict rules) — next to a raw
 * text `COPY` of the same rows into an unindexed table (the reference, `copyRaw`: same run, same server).
 *
 * The machine is shared, so reference and subject are measured in alternating rounds (`BENCH_INGEST_ROUNDS`,
 * default 4: raw COPY of a quarter of the rows, then the pipeline store of the same quarter, …) and summed: a
 * load change hits both. Also: a re-ingest of the same rows (all duplicates, the staged path), alternating with
 * raw COPY the same way; the outbox rows of 1M written bars by binary COPY (`enqueueCopy`, the chunk store) and
 * by the previous multi-row INSERT (`enqueue`); 1000-bar chunks, the previous unnest-array upsert and the
 * platform's `copyInto` (no revised/conflict semantics) on fewer rows, since they are references only
 * (`BENCH_INGEST_LEGACY_ROWS`, default 100,000; `BENCH_INGEST_COPYINTO_ROWS`, default 300,000).
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
// Not part of the service's public entry: the bench measures the repository the chunk store uses.
import { OutboxRepository, type OutboxMessage } from '../services/ingest/src/repositories/outbox.repository.js';

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

function* batches(from: number, to: number, size: number): Generator<BarToStore[]> {
  for (let i = from; i < to; i += size) {
    const b: BarToStore[] = [];
    for (let j = i; j < Math.min(to, i + size); j++) b.push(makeBar(j));
    yield b;
  }
}

/** An outbox message of the size the pipeline writes for a bar (BarClosedEvent ≈ 200 bytes, trace headers). */
function outboxMessage(i: number): OutboxMessage {
  const { bar, checksum } = makeBar(i);
  const payload = new Uint8Array(180 + (i % 40));
  for (let k = 0; k < payload.length; k++) payload[k] = (i * 31 + k * 7) & 0xff;
  return {
    subject: `md.bar.1m.${bar.symbol}`,
    msgId: `${bar.source_id}|${bar.symbol}|1m|${bar.ts_utc}|${checksum}|ok`,
    payload,
    headers: { traceparent: `00-${i.toString(16).padStart(32, '0')}-${'0'.repeat(15)}1-01`, 'Noctria-Msg-Id': `${bar.symbol}|${i}`, 'Noctria-Bar-Close': String(Date.parse(bar.ts_utc) + 60_000) },
  };
}

function add(totals: { inserted: number; updated: number; duplicates: number; transactions: number }, up: UpsertResult): void {
  totals.inserted += up.inserted;
  totals.updated += up.updated;
  totals.duplicates += up.duplicates;
  totals.transactions += 1;
}

function* copyRows(from: number, to: number): Generator<unknown[]> {
  for (let i = from; i < to; i++) {
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
    // one connection — the store with the revised/conflict rules and the written set.
    const pipelineStore = (from: number, to: number, batchSize: number) => async () => {
      const totals = { inserted: 0, updated: 0, duplicates: 0, transactions: 0 };
      for (const batch of batches(from, to, batchSize)) {
        await repo.ensurePartitions(batch[0]!.tsMs, batch[batch.length - 1]!.tsMs + 1);
        const up = await withClientTransaction<IngestDB, UpsertResult>(d.pool, (tx) => repo.upsertStaged(tx, batch, 0.003));
        add(totals, up);
      }
      return totals;
    };
    // The previous store path (unnest arrays in a Kysely transaction), for comparison on fewer rows (it is slow).
    const legacyStore = (rows: number, batchSize: number) => async () => {
      const totals = { inserted: 0, updated: 0, duplicates: 0, transactions: 0 };
      for (const batch of batches(0, rows, batchSize)) {
        await repo.ensurePartitions(batch[0]!.tsMs, batch[batch.length - 1]!.tsMs + 1);
        add(totals, await withTransaction(d.db, (trx) => repo.upsert(trx, batch, 0.003)));
      }
      return totals;
    };
    const rawCopy = (from: number, to: number) => () => copyRaw(d.pool, { schema: 'ingest', table: 'bars_raw', columns: COLUMNS, rows: copyRows(from, to) });

    /** Reference and subject in alternating rounds over the same rows; each part after a checkpoint, times summed. */
    const alternating = async (label: string, subject: (from: number, to: number) => () => Promise<{ inserted: number; updated: number; duplicates: number; transactions: number }>) => {
      const rounds = Math.max(1, Number(process.env['BENCH_INGEST_ROUNDS'] ?? 4));
      let rawSeconds = 0;
      let subjectSeconds = 0;
      const totals = { inserted: 0, updated: 0, duplicates: 0, transactions: 0 };
      for (let r = 0; r < rounds; r++) {
        const from = Math.floor((r * n) / rounds);
        const to = Math.floor(((r + 1) * n) / rounds);
        await sql`checkpoint`.execute(d.db);
        rawSeconds += (await timed(`  round ${r + 1}/${rounds} raw COPY`, to - from, rawCopy(from, to))).seconds;
        await sql`checkpoint`.execute(d.db);
        const m = await timed(`  round ${r + 1}/${rounds} ${label}`, to - from, subject(from, to));
        subjectSeconds += m.seconds;
        totals.inserted += m.result.inserted;
        totals.updated += m.result.updated;
        totals.duplicates += m.result.duplicates;
        totals.transactions += m.result.transactions;
      }
      const raw = { seconds: Number(rawSeconds.toFixed(3)), rowsPerSecond: Math.round(n / rawSeconds) };
      const subj = { seconds: Number(subjectSeconds.toFixed(3)), rowsPerSecond: Math.round(n / subjectSeconds), result: totals };
      process.stderr.write(`  ${label}: ${subj.rowsPerSecond.toLocaleString('en')} rows/s vs raw COPY ${raw.rowsPerSecond.toLocaleString('en')} rows/s, ratio ${(subj.rowsPerSecond / raw.rowsPerSecond).toFixed(3)}\n`);
      return { raw, subject: { ...subj, ratioToRawCopy: Number((subj.rowsPerSecond / raw.rowsPerSecond).toFixed(3)) } };
    };

    await reset('ingest.bars_raw');
    await reset('ingest.canonical_bars');
    const first = await alternating('pipeline store (new data: binary COPY per 10000-bar chunk, partitioned)', (from, to) => pipelineStore(from, to, 10_000));
    await reset('ingest.bars_raw');
    const again = await alternating('pipeline store re-ingest of the same rows (all duplicates: staged upsert, 10000-bar chunks)', (from, to) => pipelineStore(from, to, 10_000));
    const raw = first.raw;
    const staged10k = first.subject;
    const reingest = again.subject;

    // Outbox rows of the written bars (the rest of the chunk transaction's bulk): binary COPY vs multi-row INSERT.
    const outboxRows = Math.min(n, Number(process.env['BENCH_INGEST_OUTBOX_ROWS'] ?? n));
    const outbox = new OutboxRepository(d.db);
    const outboxBatches = function* (): Generator<OutboxMessage[]> {
      for (let i = 0; i < outboxRows; i += 10_000) yield Array.from({ length: Math.min(10_000, outboxRows - i) }, (_, k) => outboxMessage(i + k));
    };
    await reset('ingest.outbox');
    const outboxCopy = await timed(`outbox rows by binary COPY (enqueueCopy, 10000 per transaction), ${outboxRows} rows`, outboxRows, async () => {
      for (const messages of outboxBatches()) await withClientTransaction<IngestDB, void>(d.pool, (tx) => outbox.enqueueCopy(tx, messages));
      return { rows: outboxRows };
    });
    await reset('ingest.outbox');
    const outboxInsert = await timed(`outbox rows by multi-row INSERT (enqueue, previous path), ${outboxRows} rows`, outboxRows, async () => {
      for (const messages of outboxBatches()) await withTransaction(d.db, (trx) => outbox.enqueue(trx, messages));
      return { rows: outboxRows };
    });
    await reset('ingest.outbox');

    const legacyRows = Math.min(n, Number(process.env['BENCH_INGEST_LEGACY_ROWS'] ?? 100_000));
    await reset('ingest.canonical_bars');
    const legacy = await timed(`previous pipeline upsert (unnest arrays, 10000-bar chunks), ${legacyRows} rows`, legacyRows, legacyStore(legacyRows, 10_000));
    const staged1k = await timed(`pipeline store, 1000-bar chunks (after ${legacyRows} rows), ${legacyRows} rows`, legacyRows, async () => {
      await reset('ingest.canonical_bars');
      return pipelineStore(0, legacyRows, 1_000)();
    });
    await reset('ingest.canonical_bars');
    await repo.ensurePartitions(T0, makeBar(n - 1).tsMs + 1);
    const copyIntoRows = Math.min(n, Number(process.env['BENCH_INGEST_COPYINTO_ROWS'] ?? 300_000));
    const staged = await timed(`platform copyInto (COPY → temp staging → INSERT … ON CONFLICT), partitioned, ${copyIntoRows} rows`, copyIntoRows, () =>
      copyInto(d.pool, { schema: 'ingest', table: 'canonical_bars', columns: COLUMNS, rows: copyRows(0, copyIntoRows), onConflict: { columns: ['symbol', 'timeframe', 'ts_utc'], action: 'update' } }),
    );
    const ratio = (m: { rowsPerSecond: number }) => Number((m.rowsPerSecond / raw.rowsPerSecond).toFixed(3));
    out['reference_rawCopy'] = { seconds: raw.seconds, rowsPerSecond: raw.rowsPerSecond, note: 'summed over the rounds alternating with pipelineStore_10000' };
    out['pipelineStore_10000'] = staged10k;
    out['reference_rawCopy_reingestRounds'] = { ...again.raw, note: 'summed over the rounds alternating with pipelineStore_reingest_10000' };
    out['pipelineStore_reingest_10000'] = reingest;
    out['outbox_binaryCopy'] = { ...outboxCopy, ratioToRawCopy: ratio(outboxCopy) };
    out['outbox_previousInsert'] = { ...outboxInsert, ratioToRawCopy: ratio(outboxInsert) };
    out['pipelineStore_1000'] = { ...staged1k, rows: legacyRows, ratioToRawCopy: ratio(staged1k) };
    out['previousUnnestUpsert_10000'] = { ...legacy, rows: legacyRows, ratioToRawCopy: ratio(legacy) };
    out['copyInto_staging'] = { ...staged, rows: copyIntoRows, ratioToRawCopy: ratio(staged), note: 'no revised/conflict flags, no per-row written set (outbox)' };
    process.stderr.write(`  ratios to raw COPY: ${['pipelineStore_10000', 'pipelineStore_reingest_10000', 'outbox_binaryCopy', 'outbox_previousInsert', 'pipelineStore_1000', 'previousUnnestUpsert_10000', 'copyInto_staging'].map((k) => `${k}=${(out[k] as { ratioToRawCopy: number }).ratioToRawCopy}`).join(', ')}\n`);
    return out;
  } finally {
    await d.close();
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin.end();
  }
}
