import { sql, type Kysely } from 'kysely';
import type { QualityFlag } from '@noctria/canonical-bar';
import type { DB } from '../db/schema.js';

/** A closed bar as consumed from md.bar.<tf>.<symbol>, with how and when it arrived. */
export interface LegBarRow {
  symbol: string;
  timeframe: string;
  tsMs: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number | null;
  qualityFlag: QualityFlag;
  sourceId: string;
  checksum: string;
  ingestStale: boolean;
  live: boolean;
  closedAtMs: number | null;
  receivedMs: number;
}

export interface LegKey {
  symbol: string;
  timeframe: string;
  tsMs: number;
}

/** What the engine and the quality rule need of a stored leg (checksum/flag to recognise a redelivery). */
export interface LegState {
  open: number;
  high: number;
  low: number;
  close: number;
  qualityFlag: QualityFlag;
  ingestStale: boolean;
  live: boolean;
  receivedMs: number;
  checksum: string;
}

/** Both legs of one bar time, as the engine and the quality rule need them. */
export interface AlignedRow {
  ts_utc: Date;
  a_open: number;
  a_high: number;
  a_low: number;
  a_close: number;
  a_flag: QualityFlag;
  a_ingest_stale: boolean;
  a_live: boolean;
  a_received_at: Date;
  b_open: number;
  b_high: number;
  b_low: number;
  b_close: number;
  b_flag: QualityFlag;
  b_ingest_stale: boolean;
  b_live: boolean;
  b_received_at: Date;
}

const iso = (ms: number) => new Date(ms).toISOString();

export class LegBarsRepository {
  /** The stored legs among `keys`, by `symbol|timeframe|tsMs`. */
  async fetch(trx: Kysely<DB>, keys: readonly LegKey[]): Promise<Map<string, LegState>> {
    const out = new Map<string, LegState>();
    if (keys.length === 0) return out;
    const r = await sql<{ symbol: string; timeframe: string; ts_utc: Date; open: number; high: number; low: number; close: number; quality_flag: QualityFlag; ingest_stale: boolean; live: boolean; received_at: Date; checksum: string }>`
      select l.symbol, l.timeframe, l.ts_utc, l.open, l.high, l.low, l.close, l.quality_flag, l.ingest_stale, l.live, l.received_at, l.checksum
      from unnest(${keys.map((k) => k.symbol)}::text[], ${keys.map((k) => k.timeframe)}::text[], ${keys.map((k) => iso(k.tsMs))}::timestamptz[]) as k(symbol, timeframe, ts_utc)
      join features.leg_bars l on l.symbol = k.symbol and l.timeframe = k.timeframe and l.ts_utc = k.ts_utc`.execute(trx);
    for (const x of r.rows) {
      out.set(`${x.symbol}|${x.timeframe}|${x.ts_utc.getTime()}`, {
        open: x.open,
        high: x.high,
        low: x.low,
        close: x.close,
        qualityFlag: x.quality_flag,
        ingestStale: x.ingest_stale,
        live: x.live,
        receivedMs: x.received_at.getTime(),
        checksum: x.checksum,
      });
    }
    return out;
  }

  /** Inserts new legs in one statement (a key stored meanwhile by another writer is left as it is). */
  async insertMany(trx: Kysely<DB>, rows: readonly LegBarRow[]): Promise<void> {
    for (let i = 0; i < rows.length; i += 500) {
      const values = rows.slice(i, i + 500).map(
        (r) =>
          sql`(${r.symbol}, ${r.timeframe}, ${iso(r.tsMs)}::timestamptz, ${r.open}, ${r.high}, ${r.low}, ${r.close}, ${r.volume}::float8,
               ${r.qualityFlag}, ${r.sourceId}, ${r.checksum}, ${r.ingestStale}, ${r.live},
               ${r.closedAtMs === null ? null : iso(r.closedAtMs)}::timestamptz, ${iso(r.receivedMs)}::timestamptz)`,
      );
      await sql`
        insert into features.leg_bars
          (symbol, timeframe, ts_utc, open, high, low, close, volume, quality_flag, source_id, checksum, ingest_stale, live, closed_at, received_at)
        values ${sql.join(values)}
        on conflict (symbol, timeframe, ts_utc) do nothing`.execute(trx);
    }
  }

  /** Replaces a stored bar no engine has consumed yet (ingest's latest-wins revision). */
  async revise(trx: Kysely<DB>, r: LegBarRow): Promise<void> {
    await sql`
      update features.leg_bars set open = ${r.open}, high = ${r.high}, low = ${r.low}, close = ${r.close}, volume = ${r.volume},
        quality_flag = ${r.qualityFlag}, source_id = ${r.sourceId}, checksum = ${r.checksum}, ingest_stale = ${r.ingestStale}, live = ${r.live},
        closed_at = ${r.closedAtMs === null ? null : iso(r.closedAtMs)}::timestamptz, received_at = ${iso(r.receivedMs)}::timestamptz,
        revision = revision + 1
      where symbol = ${r.symbol} and timeframe = ${r.timeframe} and ts_utc = ${iso(r.tsMs)}::timestamptz`.execute(trx);
  }

  /**
   * Bar times in (`afterMs`, `uptoMs`] (null = unbounded) where both legs are stored, oldest first. Both legs'
   * ranges are stated so the planner can drive the join from the leg with fewer bars in the range.
   */
  async aligned(trx: Kysely<DB>, q: { symbolA: string; symbolB: string; timeframe: string; afterMs: number | null; uptoMs?: number; limit: number }): Promise<AlignedRow[]> {
    const after = q.afterMs === null ? sql`` : sql`and a.ts_utc > ${iso(q.afterMs)}::timestamptz and b.ts_utc > ${iso(q.afterMs)}::timestamptz`;
    const upto = q.uptoMs === undefined ? sql`` : sql`and a.ts_utc <= ${iso(q.uptoMs)}::timestamptz and b.ts_utc <= ${iso(q.uptoMs)}::timestamptz`;
    const r = await sql<AlignedRow>`
      select a.ts_utc,
             a.open as a_open, a.high as a_high, a.low as a_low, a.close as a_close, a.quality_flag as a_flag,
             a.ingest_stale as a_ingest_stale, a.live as a_live, a.received_at as a_received_at,
             b.open as b_open, b.high as b_high, b.low as b_low, b.close as b_close, b.quality_flag as b_flag,
             b.ingest_stale as b_ingest_stale, b.live as b_live, b.received_at as b_received_at
      from features.leg_bars a
      join features.leg_bars b on b.symbol = ${q.symbolB} and b.timeframe = a.timeframe and b.ts_utc = a.ts_utc
      where a.symbol = ${q.symbolA} and a.timeframe = ${q.timeframe} ${after} ${upto}
      order by a.ts_utc
      limit ${q.limit}`.execute(trx);
    return r.rows;
  }

  /**
   * The bars a series' engine consumed after `afterMs` up to `uptoMs` (both legs of every stored vector), oldest
   * first: exactly the input of the live computation, for replay after a checkpoint.
   */
  async consumed(
    trx: Kysely<DB>,
    q: { pairId: string; timeframe: string; schemaHash: string; symbolA: string; symbolB: string; afterMs: number | null; uptoMs: number; limit: number },
  ): Promise<AlignedRow[]> {
    const after = q.afterMs === null ? sql`` : sql`and v.ts_utc > ${iso(q.afterMs)}::timestamptz`;
    const r = await sql<AlignedRow>`
      select v.ts_utc,
             a.open as a_open, a.high as a_high, a.low as a_low, a.close as a_close, a.quality_flag as a_flag,
             a.ingest_stale as a_ingest_stale, a.live as a_live, a.received_at as a_received_at,
             b.open as b_open, b.high as b_high, b.low as b_low, b.close as b_close, b.quality_flag as b_flag,
             b.ingest_stale as b_ingest_stale, b.live as b_live, b.received_at as b_received_at
      from features.vectors v
      join features.leg_bars a on a.symbol = ${q.symbolA} and a.timeframe = v.timeframe and a.ts_utc = v.ts_utc
      join features.leg_bars b on b.symbol = ${q.symbolB} and b.timeframe = v.timeframe and b.ts_utc = v.ts_utc
      where v.pair_id = ${q.pairId} and v.timeframe = ${q.timeframe} and v.schema_hash = ${q.schemaHash}
        ${after} and v.ts_utc <= ${iso(q.uptoMs)}::timestamptz
      order by v.ts_utc
      limit ${q.limit}`.execute(trx);
    return r.rows;
  }

  async count(db: Kysely<DB>, symbol: string, timeframe: string): Promise<number> {
    const r = await sql<{ n: number }>`select count(*)::int as n from features.leg_bars where symbol = ${symbol} and timeframe = ${timeframe}`.execute(db);
    return r.rows[0]?.n ?? 0;
  }
}
