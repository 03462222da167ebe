import { sql, type Kysely } from 'kysely';
import type { DB } from '../db/schema.js';
import { float8ArrayFromDb, float8ArrayLiteral } from '../pipeline/float8-array.js';
import type { SeriesKey } from './state.repository.js';

export interface VectorToStore {
  tsMs: number;
  values: Float64Array;
  complete: boolean;
  qualityFlag: string;
  qualityReasons: readonly string[];
  barsSeen: number;
  storedMs: number;
}

export interface StoredVector {
  pairId: string;
  timeframe: string;
  schemaHash: string;
  tsMs: number;
  values: Float64Array;
  complete: boolean;
  qualityFlag: string;
  qualityReasons: string[];
  barsSeen: number;
  storedMs: number;
}

interface VectorDbRow {
  pair_id: string;
  timeframe: string;
  schema_hash: string;
  ts_utc: Date;
  feature_values: (number | null)[];
  complete: boolean;
  quality_flag: string;
  quality_reasons: string[];
  bars_seen: number;
  stored_at: Date;
}

const iso = (ms: number) => new Date(ms).toISOString();

function fromRow(r: VectorDbRow): StoredVector {
  return {
    pairId: r.pair_id,
    timeframe: r.timeframe,
    schemaHash: r.schema_hash,
    tsMs: r.ts_utc.getTime(),
    values: float8ArrayFromDb(r.feature_values),
    complete: r.complete,
    qualityFlag: r.quality_flag,
    qualityReasons: r.quality_reasons,
    barsSeen: r.bars_seen,
    storedMs: r.stored_at.getTime(),
  };
}

export class VectorsRepository {
  async insert(trx: Kysely<DB>, key: SeriesKey, v: VectorToStore): Promise<void> {
    await sql`
      insert into features.vectors (pair_id, timeframe, schema_hash, ts_utc, feature_values, complete, quality_flag, quality_reasons, bars_seen, stored_at)
      values (${key.pairId}, ${key.timeframe}, ${key.schemaHash}, ${iso(v.tsMs)}::timestamptz, ${float8ArrayLiteral(v.values)}::float8[],
              ${v.complete}, ${v.qualityFlag}, ${[...v.qualityReasons]}::text[], ${v.barsSeen}, ${iso(v.storedMs)}::timestamptz)`.execute(trx);
  }

  /** Inserts vectors of any series in one statement. */
  async insertMany(trx: Kysely<DB>, rows: ReadonlyArray<{ key: SeriesKey; v: VectorToStore }>): Promise<void> {
    for (let i = 0; i < rows.length; i += 500) {
      const values = rows.slice(i, i + 500).map(
        ({ key, v }) =>
          sql`(${key.pairId}, ${key.timeframe}, ${key.schemaHash}, ${iso(v.tsMs)}::timestamptz, ${float8ArrayLiteral(v.values)}::float8[],
               ${v.complete}, ${v.qualityFlag}, ${[...v.qualityReasons]}::text[], ${v.barsSeen}, ${iso(v.storedMs)}::timestamptz)`,
      );
      await sql`
        insert into features.vectors (pair_id, timeframe, schema_hash, ts_utc, feature_values, complete, quality_flag, quality_reasons, bars_seen, stored_at)
        values ${sql.join(values)}`.execute(trx);
    }
  }

  /** The newest stored vector at or before `uptoMs`. */
  async last(trx: Kysely<DB>, key: SeriesKey, uptoMs: number): Promise<StoredVector | undefined> {
    const r = await sql<VectorDbRow>`
      select * from features.vectors
      where pair_id = ${key.pairId} and timeframe = ${key.timeframe} and schema_hash = ${key.schemaHash} and ts_utc <= ${iso(uptoMs)}::timestamptz
      order by ts_utc desc limit 1`.execute(trx);
    return r.rows[0] ? fromRow(r.rows[0]) : undefined;
  }

  /**
   * The last `n` defined values of feature `index` at or before `uptoMs` (oldest first) and whether the newest of
   * those vectors carried `reason`: the state of the beta_stability jump rule.
   */
  async featureHistory(trx: Kysely<DB>, key: SeriesKey, index: number, uptoMs: number, n: number, reason: string): Promise<{ values: number[]; lastHadReason: boolean }> {
    // float8[] subscripts are 1-based.
    const r = await sql<{ v: number; has_reason: boolean }>`
      select feature_values[${index + 1}] as v, ${reason} = any(quality_reasons) as has_reason
      from features.vectors
      where pair_id = ${key.pairId} and timeframe = ${key.timeframe} and schema_hash = ${key.schemaHash}
        and ts_utc <= ${iso(uptoMs)}::timestamptz and feature_values[${index + 1}] is not null
      order by ts_utc desc limit ${n}`.execute(trx);
    const rows = r.rows.reverse();
    return { values: rows.map((x) => x.v), lastHadReason: rows.at(-1)?.has_reason ?? false };
  }

  /** Vectors of one series in [fromMs, toMs) after the cursor `afterMs`, oldest first. */
  async query(
    db: Kysely<DB>,
    q: { pairId: string; timeframe: string; schemaHash?: string; fromMs?: number; toMs?: number; afterMs?: number; completeOnly?: boolean; limit: number },
  ): Promise<StoredVector[]> {
    const parts = [sql`pair_id = ${q.pairId}`, sql`timeframe = ${q.timeframe}`];
    if (q.schemaHash !== undefined) parts.push(sql`schema_hash = ${q.schemaHash}`);
    if (q.fromMs !== undefined) parts.push(sql`ts_utc >= ${iso(q.fromMs)}::timestamptz`);
    if (q.toMs !== undefined) parts.push(sql`ts_utc < ${iso(q.toMs)}::timestamptz`);
    if (q.afterMs !== undefined) parts.push(sql`ts_utc > ${iso(q.afterMs)}::timestamptz`);
    if (q.completeOnly) parts.push(sql`complete`);
    const r = await sql<VectorDbRow>`
      select * from features.vectors where ${sql.join(parts, sql` and `)}
      order by ts_utc limit ${q.limit}`.execute(db);
    return r.rows.map(fromRow);
  }

  async count(db: Kysely<DB>, key: SeriesKey): Promise<{ all: number; complete: number }> {
    const r = await sql<{ all: number; complete: number }>`
      select count(*)::int as all, count(*) filter (where complete)::int as complete from features.vectors
      where pair_id = ${key.pairId} and timeframe = ${key.timeframe} and schema_hash = ${key.schemaHash}`.execute(db);
    return r.rows[0] ?? { all: 0, complete: 0 };
  }
}
