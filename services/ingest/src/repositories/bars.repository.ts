import { sql, type Kysely, type Transaction } from 'kysely';
import type { CanonicalBar, QualityFlag, Timeframe } from '@noctria/canonical-bar';
import type { DB } from '../db/schema.js';

/** A canonical bar ready to store: its content checksum and open time in ms are computed once upstream. */
export interface BarToStore {
  bar: CanonicalBar;
  tsMs: number;
  checksum: string;
}

/** A row as written (inserted or changed) by an upsert, i.e. what must be announced on the bus. */
export interface StoredBar {
  bar: CanonicalBar;
  tsMs: number;
  checksum: string;
  revision: number;
  inserted: boolean;
}

export interface UpsertResult {
  written: StoredBar[];
  inserted: number;
  updated: number;
  /** Rows whose stored checksum was already identical: dropped as duplicates (`data_dedupe_drops_total`). */
  duplicates: number;
  revised: number;
  conflicts: number;
}

export interface BarRow {
  ts_utc: Date;
  symbol: string;
  timeframe: string;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number | null;
  quality_flag: string;
  source_id: string;
  ingest_run_id: string;
  metadata: Record<string, unknown>;
  checksum: string;
  ingested_at: Date;
  revision: number;
}

export function rowToBar(row: Pick<BarRow, 'ts_utc' | 'symbol' | 'timeframe' | 'open' | 'high' | 'low' | 'close' | 'volume' | 'quality_flag' | 'source_id' | 'ingest_run_id' | 'metadata'>): CanonicalBar {
  return {
    ts_utc: row.ts_utc.toISOString(),
    symbol: row.symbol,
    timeframe: row.timeframe as Timeframe,
    open: row.open,
    high: row.high,
    low: row.low,
    close: row.close,
    volume: row.volume,
    quality_flag: row.quality_flag as QualityFlag,
    source_id: row.source_id,
    ingest_run_id: row.ingest_run_id,
    metadata: row.metadata ?? {},
  };
}

/**
 * Canonical bar storage. The upsert is one `INSERT … SELECT FROM unnest(…) ON CONFLICT DO UPDATE` so it runs
 * inside the caller's transaction (bars + watermark + outbox commit together) and reports, per row, whether it
 * was inserted, changed or a duplicate:
 * - same key, same checksum → untouched, counted as a duplicate;
 * - same key, different checksum, different source and |Δclose|/|close_prev| > diffThresh → `conflict`;
 * - same key, different checksum otherwise → latest wins, `revised` (unless DQ flagged the new bar
 *   `outlier`/`missing`, or the stored bar was only a DQ fill (`resampled`/`missing`), whose flag is kept
 *   from the new bar); `revision` is incremented and the previous source/close/checksum kept in metadata;
 * - same key, same checksum but a different DQ verdict (outlier or not — it depends on the neighbours, so a
 *   clean re-fetch around a bar can clear it) → the flag and metadata are rewritten, revision unchanged.
 */
export class BarsRepository {
  constructor(private readonly db: Kysely<DB>) {}

  /** Creates the monthly partitions covering [fromMs, toMs) in its own short transaction. */
  async ensurePartitions(fromMs: number, toMs: number, db: Kysely<DB> = this.db): Promise<number> {
    const r = await sql<{ created: number }>`
      select ingest.ensure_bar_partitions(${new Date(fromMs).toISOString()}::timestamptz, ${new Date(toMs).toISOString()}::timestamptz) as created`.execute(db);
    return r.rows[0]?.created ?? 0;
  }

  async listPartitions(db: Kysely<DB> = this.db): Promise<{ name: string; fromMs: number; toMs: number }[]> {
    const r = await sql<{ name: string }>`
      select c.relname as name
      from pg_inherits i
      join pg_class c on c.oid = i.inhrelid
      join pg_class p on p.oid = i.inhparent
      join pg_namespace n on n.oid = p.relnamespace
      where n.nspname = 'ingest' and p.relname = 'canonical_bars'
      order by c.relname`.execute(db);
    return r.rows.map(({ name }) => {
      const y = Number(name.slice(-6, -2));
      const m = Number(name.slice(-2));
      return { name, fromMs: Date.UTC(y, m - 1, 1), toMs: Date.UTC(y, m, 1) };
    });
  }

  async upsert(trx: Transaction<DB> | Kysely<DB>, rows: readonly BarToStore[], diffThresh: number): Promise<UpsertResult> {
    if (rows.length === 0) return { written: [], inserted: 0, updated: 0, duplicates: 0, revised: 0, conflicts: 0 };
    const keys = new Set<string>();
    for (const r of rows) {
      const k = `${r.bar.symbol}|${r.bar.timeframe}|${r.tsMs}`;
      if (keys.has(k)) throw new Error(`upsert batch holds the key ${k} twice; de-duplicate before storing`);
      keys.add(k);
    }
    const col = <T>(f: (r: BarToStore) => T): T[] => rows.map(f);
    // System columns (xmax) are not available in a partitioned table's RETURNING: `existing` (same snapshot,
    // taken before the insert) tells inserted rows from updated ones.
    const result = await sql<BarRow & { inserted: boolean }>`
      with input as (
        select * from unnest(
          ${col((r) => new Date(r.tsMs).toISOString())}::timestamptz[],
          ${col((r) => r.bar.symbol)}::text[],
          ${col((r) => r.bar.timeframe)}::text[],
          ${col((r) => r.bar.open)}::float8[],
          ${col((r) => r.bar.high)}::float8[],
          ${col((r) => r.bar.low)}::float8[],
          ${col((r) => r.bar.close)}::float8[],
          ${col((r) => r.bar.volume)}::float8[],
          ${col((r) => r.bar.quality_flag)}::text[],
          ${col((r) => r.bar.source_id)}::text[],
          ${col((r) => r.bar.ingest_run_id)}::text[],
          ${col((r) => JSON.stringify(r.bar.metadata ?? {}))}::jsonb[],
          ${col((r) => r.checksum)}::text[]
        ) as t(ts_utc, symbol, timeframe, open, high, low, close, volume, quality_flag, source_id, ingest_run_id, metadata, checksum)
      ),
      existing as (
        select c.symbol, c.timeframe, c.ts_utc
        from ingest.canonical_bars c join input i using (symbol, timeframe, ts_utc)
      ),
      upserted as (
      insert into ingest.canonical_bars as b
        (ts_utc, symbol, timeframe, open, high, low, close, volume, quality_flag, source_id, ingest_run_id, metadata, checksum)
      select ts_utc, symbol, timeframe, open, high, low, close, volume, quality_flag, source_id, ingest_run_id, metadata, checksum
      from input
      on conflict (symbol, timeframe, ts_utc) do update set
        open = excluded.open,
        high = excluded.high,
        low = excluded.low,
        close = excluded.close,
        volume = excluded.volume,
        quality_flag = case
          when b.checksum = excluded.checksum then excluded.quality_flag
          when b.source_id <> excluded.source_id
               and abs(excluded.close - b.close) > ${diffThresh}::float8 * abs(b.close) then 'conflict'
          when excluded.quality_flag in ('outlier', 'missing') then excluded.quality_flag
          when b.quality_flag in ('resampled', 'missing') then excluded.quality_flag
          else 'revised'
        end,
        source_id = case when b.checksum = excluded.checksum then b.source_id else excluded.source_id end,
        ingest_run_id = excluded.ingest_run_id,
        metadata = case when b.checksum = excluded.checksum then excluded.metadata
          else excluded.metadata || jsonb_build_object('previous',
            jsonb_build_object('source_id', b.source_id, 'close', b.close, 'checksum', b.checksum, 'quality_flag', b.quality_flag)) end,
        checksum = excluded.checksum,
        ingested_at = now(),
        revision = case when b.checksum = excluded.checksum then b.revision else b.revision + 1 end
      -- Same content: only a changed DQ verdict (outlier or not, which depends on the neighbours) is written.
      where b.checksum is distinct from excluded.checksum
         or ((b.quality_flag = 'outlier') is distinct from (excluded.quality_flag = 'outlier'))
      returning b.ts_utc, b.symbol, b.timeframe, b.open, b.high, b.low, b.close, b.volume, b.quality_flag,
        b.source_id, b.ingest_run_id, b.metadata, b.checksum, b.ingested_at, b.revision
      )
      select u.*, (e.ts_utc is null) as inserted
      from upserted u left join existing e using (symbol, timeframe, ts_utc)
      order by u.ts_utc`.execute(trx);

    const written: StoredBar[] = result.rows.map((row) => ({
      bar: rowToBar(row),
      tsMs: row.ts_utc.getTime(),
      checksum: row.checksum,
      revision: row.revision,
      inserted: row.inserted,
    }));
    const inserted = written.filter((w) => w.inserted).length;
    return {
      written,
      inserted,
      updated: written.length - inserted,
      duplicates: rows.length - written.length,
      revised: written.filter((w) => !w.inserted && w.bar.quality_flag === 'revised').length,
      conflicts: written.filter((w) => !w.inserted && w.bar.quality_flag === 'conflict').length,
    };
  }

  async query(params: {
    symbol: string;
    timeframe: string;
    fromMs?: number;
    toMs?: number;
    limit: number;
    afterMs?: number;
    excludeFlags?: readonly string[];
  }): Promise<BarRow[]> {
    let q = this.db
      .selectFrom('ingest.canonical_bars')
      .selectAll()
      .where('symbol', '=', params.symbol)
      .where('timeframe', '=', params.timeframe);
    if (params.fromMs !== undefined) q = q.where('ts_utc', '>=', new Date(params.fromMs));
    if (params.toMs !== undefined) q = q.where('ts_utc', '<', new Date(params.toMs));
    if (params.afterMs !== undefined) q = q.where('ts_utc', '>', new Date(params.afterMs));
    if (params.excludeFlags && params.excludeFlags.length > 0) q = q.where('quality_flag', 'not in', [...params.excludeFlags]);
    const rows = await q.orderBy('ts_utc').limit(params.limit).execute();
    return rows as unknown as BarRow[];
  }

  /** The last `count` stored bars strictly before `beforeMs`, oldest first (DQ warm-up context). */
  async tail(symbol: string, timeframe: string, beforeMs: number, count: number, db: Kysely<DB> = this.db): Promise<BarRow[]> {
    const rows = await db
      .selectFrom('ingest.canonical_bars')
      .selectAll()
      .where('symbol', '=', symbol)
      .where('timeframe', '=', timeframe)
      .where('ts_utc', '<', new Date(beforeMs))
      .orderBy('ts_utc', 'desc')
      .limit(count)
      .execute();
    return (rows as unknown as BarRow[]).reverse();
  }
}
