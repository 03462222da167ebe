import { sql, type Kysely } from 'kysely';
import type { DB } from '../db/schema.js';

export interface Watermark {
  symbol: string;
  timeframe: string;
  last_ts: Date;
  source_id: string;
  updated_at: Date;
}

export class WatermarksRepository {
  constructor(private readonly db: Kysely<DB>) {}

  /** Moves the watermark forward only (GREATEST); call inside the transaction that stores the bars it covers. */
  async advance(db: Kysely<DB>, symbol: string, timeframe: string, lastTsMs: number, sourceId: string): Promise<void> {
    await sql`
      insert into ingest.watermarks as w (symbol, timeframe, last_ts, source_id)
      values (${symbol}, ${timeframe}, ${new Date(lastTsMs).toISOString()}::timestamptz, ${sourceId})
      on conflict (symbol, timeframe) do update set
        last_ts = greatest(w.last_ts, excluded.last_ts),
        source_id = case when excluded.last_ts >= w.last_ts then excluded.source_id else w.source_id end,
        updated_at = now()`.execute(db);
  }

  async get(symbol: string, timeframe: string, db: Kysely<DB> = this.db): Promise<Watermark | undefined> {
    return (await db
      .selectFrom('ingest.watermarks')
      .selectAll()
      .where('symbol', '=', symbol)
      .where('timeframe', '=', timeframe)
      .executeTakeFirst()) as Watermark | undefined;
  }

  async list(filter: { symbol?: string; timeframe?: string } = {}): Promise<Watermark[]> {
    let q = this.db.selectFrom('ingest.watermarks').selectAll();
    if (filter.symbol) q = q.where('symbol', '=', filter.symbol);
    if (filter.timeframe) q = q.where('timeframe', '=', filter.timeframe);
    return (await q.orderBy('symbol').orderBy('timeframe').execute()) as Watermark[];
  }
}
