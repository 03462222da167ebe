import { sql, type Kysely } from 'kysely';
import type { DB } from '../db/schema.js';

export interface SeriesKey {
  pairId: string;
  timeframe: string;
  schemaHash: string;
}

export interface PairStateRow {
  last_ts: Date | null;
  bars_seen: number;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** `pair_state` (how far each series has advanced) and `checkpoints` (engine snapshots). */
export class StateRepository {
  /**
   * Creates the series row when missing and locks it for the transaction, in one round trip: the no-op update of
   * an existing row takes its row lock and returns it like `select … for update` would.
   */
  async lock(trx: Kysely<DB>, key: SeriesKey, legs: { symbolA: string; symbolB: string }): Promise<PairStateRow> {
    const r = await sql<PairStateRow>`
      insert into features.pair_state (pair_id, timeframe, schema_hash, symbol_a, symbol_b)
      values (${key.pairId}, ${key.timeframe}, ${key.schemaHash}, ${legs.symbolA}, ${legs.symbolB})
      on conflict (pair_id, timeframe, schema_hash) do update set symbol_a = features.pair_state.symbol_a
      returning last_ts, bars_seen`.execute(trx);
    return r.rows[0]!;
  }

  async advance(trx: Kysely<DB>, key: SeriesKey, lastMs: number, barsSeen: number): Promise<void> {
    await sql`
      update features.pair_state set last_ts = ${iso(lastMs)}::timestamptz, bars_seen = ${barsSeen}, updated_at = now()
      where pair_id = ${key.pairId} and timeframe = ${key.timeframe} and schema_hash = ${key.schemaHash}`.execute(trx);
  }

  /** The newest checkpoint at or before `maxBarsSeen` bars. */
  async latestCheckpoint(trx: Kysely<DB>, key: SeriesKey, maxBarsSeen: number): Promise<{ bars_seen: number; ts_utc: Date; state: string } | undefined> {
    const r = await sql<{ bars_seen: number; ts_utc: Date; state: string }>`
      select bars_seen, ts_utc, state from features.checkpoints
      where pair_id = ${key.pairId} and timeframe = ${key.timeframe} and schema_hash = ${key.schemaHash} and bars_seen <= ${maxBarsSeen}
      order by bars_seen desc limit 1`.execute(trx);
    return r.rows[0];
  }

  async latestCheckpointBars(trx: Kysely<DB>, key: SeriesKey): Promise<number> {
    const r = await sql<{ n: number | null }>`
      select max(bars_seen) as n from features.checkpoints
      where pair_id = ${key.pairId} and timeframe = ${key.timeframe} and schema_hash = ${key.schemaHash}`.execute(trx);
    return r.rows[0]?.n ?? 0;
  }

  /** Writes a checkpoint and keeps only the newest `keep` of the series. */
  async writeCheckpoint(trx: Kysely<DB>, key: SeriesKey, c: { barsSeen: number; tsMs: number; state: string }, keep = 2): Promise<void> {
    await sql`
      insert into features.checkpoints (pair_id, timeframe, schema_hash, bars_seen, ts_utc, state)
      values (${key.pairId}, ${key.timeframe}, ${key.schemaHash}, ${c.barsSeen}, ${iso(c.tsMs)}::timestamptz, ${c.state})
      on conflict (pair_id, timeframe, schema_hash, bars_seen) do update set state = excluded.state, ts_utc = excluded.ts_utc, created_at = now()`.execute(trx);
    await sql`
      delete from features.checkpoints
      where pair_id = ${key.pairId} and timeframe = ${key.timeframe} and schema_hash = ${key.schemaHash}
        and bars_seen < (select min(bars_seen) from (
          select bars_seen from features.checkpoints
          where pair_id = ${key.pairId} and timeframe = ${key.timeframe} and schema_hash = ${key.schemaHash}
          order by bars_seen desc limit ${keep}) newest)`.execute(trx);
  }

  async list(db: Kysely<DB>): Promise<Array<{ pair_id: string; timeframe: string; schema_hash: string; last_ts: Date | null; bars_seen: number; updated_at: Date }>> {
    return db.selectFrom('features.pair_state').select(['pair_id', 'timeframe', 'schema_hash', 'last_ts', 'bars_seen', 'updated_at']).orderBy('pair_id').orderBy('timeframe').execute();
  }
}
