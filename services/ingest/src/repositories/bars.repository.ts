import { sql, type Kysely, type RawBuilder, type Transaction } from 'kysely';
import type { ClientTransaction } from '@noctria/platform';
import type { CanonicalBar, QualityFlag, Timeframe } from '@noctria/canonical-bar';
import type { DB } from '../db/schema.js';
import {
  anyStoredInRange,
  binaryTextSafe,
  copyNewRows,
  copyStage,
  encodeNewRows,
  isoFormatter,
  monthPartitions,
  RESULT,
  seriesRanges,
  stageChunk,
  stagedUpsertSql,
  UNIQUE_VIOLATION,
} from './bar-stage.js';

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
  /** Whether binary COPY may carry text to this database (asked once). */
  private binaryCopy: Promise<boolean> | undefined;

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

  /**
   * Upsert with the rows sent as unnest arrays (one statement, any Kysely/transaction). Fine for a handful of
   * bars; the pipeline stores chunks through `upsertStaged` (COPY into a temp staging table), same semantics.
   */
  async upsert(trx: Transaction<DB> | Kysely<DB>, rows: readonly BarToStore[], diffThresh: number): Promise<UpsertResult> {
    if (rows.length === 0) return emptyUpsert();
    assertDistinctKeys(rows);
    const col = <T>(f: (r: BarToStore) => T): T[] => rows.map(f);
    const input = sql`
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
      ) as t(ts_utc, symbol, timeframe, open, high, low, close, volume, quality_flag, source_id, ingest_run_id, metadata, checksum)`;
    return upsertResult(rows.length, (await upsertFrom(input, rows, diffThresh).execute(trx)).rows);
  }

  /**
   * The same upsert for a chunk inside a `withClientTransaction` (see `bar-stage.ts`), committing or rolling
   * back with the rest of the chunk. The partitions must exist (`ensurePartitions`). One per transaction.
   * - New data (nothing stored for the chunk's series inside its time range): one binary COPY straight into
   *   `ingest.canonical_bars` under a savepoint; every row is inserted.
   * - Otherwise, or when a concurrent writer stored one of the keys meanwhile (unique violation → back to the
   *   savepoint): COPY into the session's staging table (emptied at commit) and one set-based
   *   `INSERT … SELECT … ON CONFLICT DO UPDATE … WHERE <changed> RETURNING` per month partition.
   */
  async upsertStaged(tx: ClientTransaction<DB>, rows: readonly BarToStore[], diffThresh: number): Promise<UpsertResult> {
    if (rows.length === 0) return emptyUpsert();
    if (stagedTransactions.has(tx)) throw new Error('upsertStaged runs once per transaction (the staging table is emptied at commit)');
    stagedTransactions.add(tx);
    const ranges = seriesRanges(rows);
    const metadata = new StoredMetadata();
    const metaTexts = rows.map((r) => metadata.json(r.bar.metadata));
    const client = tx as ClientTransaction<unknown>;
    this.binaryCopy ??= binaryTextSafe(client).catch((err: unknown) => {
      this.binaryCopy = undefined;
      throw err;
    });
    if ((await this.binaryCopy) && !(await anyStoredInRange(client, ranges))) {
      await tx.client.query('savepoint ingest_bars_new');
      try {
        await copyNewRows(client, encodeNewRows(rows, metaTexts));
        return allInserted(rows, metaTexts, metadata);
      } catch (err) {
        if ((err as { code?: unknown }).code !== UNIQUE_VIOLATION) throw err;
        await tx.client.query('rollback to savepoint ingest_bars_new');
      }
    }
    const staged = stageChunk(rows, metaTexts);
    await copyStage(client, staged);
    const statement = stagedUpsertSql(staged, monthPartitions(rows), (p) => conflictRules(p(diffThresh, 'float8')));
    const result = await tx.client.query<unknown[]>({ text: statement.text, values: statement.values, rowMode: 'array' });
    const locate = rowLocator(rows, staged.uniform.symbol !== undefined, staged.uniform.timeframe !== undefined);
    const iso = isoFormatter();
    const ords = new Array<number>(result.rows.length);
    const written: StoredBar[] = result.rows.map((w, k) => {
      const ord = locate(w[RESULT.ms] as number, w[RESULT.symbol] as string | null, w[RESULT.timeframe] as string | null);
      ords[k] = ord;
      const r = rows[ord] as BarToStore;
      const inserted = w[RESULT.inserted] as boolean;
      return {
        // Exactly what `rowToBar` makes of the stored row: an inserted row is its input; an updated one carries
        // the flag, source, revision and metadata (previous-values block) the conflict rules stored.
        bar: {
          ts_utc: iso(r.tsMs),
          symbol: r.bar.symbol,
          timeframe: r.bar.timeframe,
          open: r.bar.open,
          high: r.bar.high,
          low: r.bar.low,
          close: r.bar.close,
          volume: r.bar.volume ?? null,
          quality_flag: inserted ? r.bar.quality_flag : (w[RESULT.qualityFlag] as QualityFlag),
          source_id: inserted ? r.bar.source_id : (w[RESULT.sourceId] as string),
          ingest_run_id: r.bar.ingest_run_id,
          metadata: inserted ? metadata.storedText(metaTexts[ord]!) : ((w[RESULT.metadata] as Record<string, unknown> | null) ?? {}),
        },
        tsMs: r.tsMs,
        checksum: r.checksum,
        revision: inserted ? 0 : (w[RESULT.revision] as number),
        inserted,
      };
    });
    // Announcement order as before: by open time, then input order.
    const order = written.map((_, k) => k).sort((a, b) => written[a]!.tsMs - written[b]!.tsMs || ords[a]! - ords[b]!);
    return countWritten(rows.length, order.map((k) => written[k]!));
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

/** Every row of the chunk as inserted (the binary COPY path), in announcement order: open time, then input order. */
function allInserted(rows: readonly BarToStore[], metaTexts: readonly string[], metadata: StoredMetadata): UpsertResult {
  const order = rows.map((_, i) => i);
  let sorted = true;
  for (let i = 1; i < rows.length && sorted; i++) sorted = rows[i - 1]!.tsMs <= rows[i]!.tsMs;
  if (!sorted) order.sort((a, b) => rows[a]!.tsMs - rows[b]!.tsMs || a - b);
  const iso = isoFormatter();
  const written: StoredBar[] = order.map((i) => {
    const r = rows[i]!;
    return {
      bar: {
        ts_utc: iso(r.tsMs),
        symbol: r.bar.symbol,
        timeframe: r.bar.timeframe,
        open: r.bar.open,
        high: r.bar.high,
        low: r.bar.low,
        close: r.bar.close,
        volume: r.bar.volume ?? null,
        quality_flag: r.bar.quality_flag,
        source_id: r.bar.source_id,
        ingest_run_id: r.bar.ingest_run_id,
        metadata: metadata.storedText(metaTexts[i]!),
      },
      tsMs: r.tsMs,
      checksum: r.checksum,
      revision: 0,
      inserted: true,
    };
  });
  return countWritten(rows.length, written);
}

/** Transactions that already ran a staged upsert (their staging rows are only emptied at commit). */
const stagedTransactions = new WeakSet<object>();

/**
 * Input index of a returned row. Rows come back in staging order (a sequential scan of what was COPYed), so a
 * moving hint finds almost every row in O(1) without building keys; anything out of order falls back to a map.
 */
function rowLocator(rows: readonly BarToStore[], uniformSymbol: boolean, uniformTimeframe: boolean): (ms: number, symbol: string | null, timeframe: string | null) => number {
  let hint = 0;
  let byKey: Map<string, number> | undefined;
  const keyOf = (ms: number, symbol: string, timeframe: string): string => `${symbol}|${timeframe}|${ms}`;
  const matches = (i: number, ms: number, symbol: string | null, timeframe: string | null): boolean => {
    const r = rows[i] as BarToStore;
    return r.tsMs === ms && (uniformSymbol || r.bar.symbol === symbol) && (uniformTimeframe || r.bar.timeframe === timeframe);
  };
  return (ms, symbol, timeframe) => {
    if (!byKey) {
      for (let i = hint; i < rows.length; i++) {
        if (matches(i, ms, symbol, timeframe)) {
          hint = i + 1;
          return i;
        }
      }
      byKey = new Map(rows.map((r, i) => [keyOf(r.tsMs, r.bar.symbol, r.bar.timeframe), i]));
    }
    const first = rows[0] as BarToStore;
    const i = byKey.get(keyOf(ms, symbol ?? first.bar.symbol, timeframe ?? first.bar.timeframe));
    if (i === undefined) throw new Error(`the upsert returned a row that was not staged: ${symbol ?? first.bar.symbol} ${timeframe ?? first.bar.timeframe} ${ms}`);
    return i;
  };
}

function emptyUpsert(): UpsertResult {
  return { written: [], inserted: 0, updated: 0, duplicates: 0, revised: 0, conflicts: 0 };
}

function assertDistinctKeys(rows: readonly BarToStore[]): void {
  const keys = new Set<string>();
  for (const r of rows) {
    const k = `${r.bar.symbol}|${r.bar.timeframe}|${r.tsMs}`;
    if (keys.has(k)) throw new Error(`upsert batch holds the key ${k} twice; de-duplicate before storing`);
    keys.add(k);
  }
}

/**
 * The upsert statement over `input` (a SELECT with the stored columns, one row per key). `existing` flags the
 * input keys already stored (same snapshot, taken before the insert: system columns such as xmax are not
 * available in a partitioned table's RETURNING); the chunk's time bounds are constants so only the partitions
 * of its months are probed.
 */
function timeBounds(rows: readonly BarToStore[]): { from: string; to: string } {
  let minMs = Infinity;
  let maxMs = -Infinity;
  for (const r of rows) {
    if (r.tsMs < minMs) minMs = r.tsMs;
    if (r.tsMs > maxMs) maxMs = r.tsMs;
  }
  return { from: new Date(minMs).toISOString(), to: new Date(maxMs).toISOString() };
}

/**
 * `ON CONFLICT … DO UPDATE` of the upsert (target aliased `b`): the revised/conflict/duplicate rules, with the
 * diff threshold as the SQL expression `threshold` (a bound parameter). One text for both upsert paths.
 */
function conflictRules(threshold: string): string {
  return `
    on conflict (symbol, timeframe, ts_utc) do update set
      open = excluded.open,
      high = excluded.high,
      low = excluded.low,
      close = excluded.close,
      volume = excluded.volume,
      quality_flag = case
        when b.checksum = excluded.checksum then excluded.quality_flag
        when b.source_id <> excluded.source_id
             and abs(excluded.close - b.close) > ${threshold} * abs(b.close) then 'conflict'
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
       or ((b.quality_flag = 'outlier') is distinct from (excluded.quality_flag = 'outlier'))`;
}

/** The rules as a Kysely fragment with `diffThresh` bound (the unnest path). */
function onConflict(diffThresh: number): RawBuilder<unknown> {
  const [before, after] = conflictRules('\u0000').split('\u0000') as [string, string];
  return sql`${sql.raw(before)}${diffThresh}::float8${sql.raw(after)}`;
}

function upsertFrom(input: RawBuilder<unknown>, rows: readonly BarToStore[], diffThresh: number) {
  const { from, to } = timeBounds(rows);
  return sql<BarRow & { inserted: boolean }>`
    with input as (${input}),
    existing as (
      select c.symbol, c.timeframe, c.ts_utc
      from ingest.canonical_bars c join input i using (symbol, timeframe, ts_utc)
      where c.ts_utc >= ${from}::timestamptz and c.ts_utc <= ${to}::timestamptz
    ),
    upserted as (
    insert into ingest.canonical_bars as b
      (ts_utc, symbol, timeframe, open, high, low, close, volume, quality_flag, source_id, ingest_run_id, metadata, checksum)
    select ts_utc, symbol, timeframe, open, high, low, close, volume, quality_flag, source_id, ingest_run_id, metadata, checksum
    from input
    ${onConflict(diffThresh)}
    returning b.ts_utc, b.symbol, b.timeframe, b.open, b.high, b.low, b.close, b.volume, b.quality_flag,
      b.source_id, b.ingest_run_id, b.metadata, b.checksum, b.ingested_at, b.revision
    )
    select u.*, (e.ts_utc is null) as inserted
    from upserted u left join existing e using (symbol, timeframe, ts_utc)
    order by u.ts_utc`;
}

function upsertResult(received: number, rows: readonly (BarRow & { inserted: boolean })[]): UpsertResult {
  return countWritten(
    received,
    rows.map((row) => ({ bar: rowToBar(row), tsMs: row.ts_utc.getTime(), checksum: row.checksum, revision: row.revision, inserted: row.inserted })),
  );
}

function countWritten(received: number, written: StoredBar[]): UpsertResult {
  const inserted = written.filter((w) => w.inserted).length;
  return {
    written,
    inserted,
    updated: written.length - inserted,
    duplicates: received - written.length,
    revised: written.filter((w) => !w.inserted && w.bar.quality_flag === 'revised').length,
    conflicts: written.filter((w) => !w.inserted && w.bar.quality_flag === 'conflict').length,
  };
}

/**
 * Metadata as the pipeline stores and reads it back: the JSON text written (cached per distinct object text, so
 * a chunk's repeated metadata is serialised once) and the object a read of the jsonb column would return — keys
 * in jsonb's order (shorter first, then bytewise), which is what the unnest path handed to the outbox.
 */
class StoredMetadata {
  private readonly canonical = new Map<string, string>();
  private readonly texts = new WeakMap<object, string>();

  json(value: Record<string, unknown> | undefined): string {
    const v = value ?? EMPTY;
    let text = this.texts.get(v);
    if (text === undefined) {
      text = JSON.stringify(v);
      this.texts.set(v, text);
    }
    return text;
  }

  stored(value: Record<string, unknown> | undefined): Record<string, unknown> {
    return this.storedText(this.json(value));
  }

  /** `stored` from the JSON text `json` returned. */
  storedText(text: string): Record<string, unknown> {
    let c = this.canonical.get(text);
    if (c === undefined) {
      c = JSON.stringify(jsonbOrder(JSON.parse(text)));
      this.canonical.set(text, c);
    }
    return JSON.parse(c) as Record<string, unknown>;
  }
}

const EMPTY: Record<string, unknown> = {};

function compareJsonbKeys(a: string, b: string): number {
  const la = Buffer.byteLength(a);
  const lb = Buffer.byteLength(b);
  return la !== lb ? la - lb : Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** A parsed JSON value with object keys re-inserted in jsonb's storage order (recursively). */
export function jsonbOrder(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(jsonbOrder);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(value).sort(compareJsonbKeys)) out[k] = jsonbOrder((value as Record<string, unknown>)[k]);
  return out;
}
