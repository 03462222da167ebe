import { sql, type Kysely } from 'kysely';
import type { DB } from '../db/schema.js';

export interface QuarantineRow {
  id: number;
  symbol: string;
  timeframe: string;
  month: string;
  reason: string;
  metrics: Record<string, unknown>;
  thresholds: Record<string, unknown>;
  range_from: Date;
  range_to: Date;
  ingest_run_id: string;
  created_at: Date;
  released_at: Date | null;
  released_by_run_id: string | null;
}

export interface QuarantineInput {
  symbol: string;
  timeframe: string;
  month: string;
  reason: string;
  metrics: Record<string, unknown>;
  thresholds: Record<string, unknown>;
  rangeFromMs: number;
  rangeToMs: number;
  runId: string;
}

export class QuarantineRepository {
  constructor(private readonly db: Kysely<DB>) {}

  /** Opens (or refreshes) the active quarantine of a series month. Returns true when newly opened. */
  async open(q: QuarantineInput): Promise<boolean> {
    const r = await sql<{ inserted: boolean }>`
      insert into ingest.quarantine as q (symbol, timeframe, month, reason, metrics, thresholds, range_from, range_to, ingest_run_id)
      values (${q.symbol}, ${q.timeframe}, ${q.month}::date, ${q.reason}, ${JSON.stringify(q.metrics)}::jsonb,
        ${JSON.stringify(q.thresholds)}::jsonb, ${new Date(q.rangeFromMs).toISOString()}::timestamptz,
        ${new Date(q.rangeToMs).toISOString()}::timestamptz, ${q.runId})
      on conflict (symbol, timeframe, month) where released_at is null do update set
        reason = excluded.reason, metrics = excluded.metrics, thresholds = excluded.thresholds,
        range_from = excluded.range_from, range_to = excluded.range_to, ingest_run_id = excluded.ingest_run_id
      returning (q.xmax = 0) as inserted`.execute(this.db);
    return r.rows[0]?.inserted === true;
  }

  /** Releases the active quarantine of a series month, if any. Returns true when one was released. */
  async release(symbol: string, timeframe: string, month: string, runId: string): Promise<boolean> {
    const r = await sql`
      update ingest.quarantine set released_at = now(), released_by_run_id = ${runId}
      where symbol = ${symbol} and timeframe = ${timeframe} and month = ${month}::date and released_at is null`.execute(this.db);
    return Number(r.numAffectedRows ?? 0n) > 0;
  }

  async list(filter: { symbol?: string; timeframe?: string; activeOnly?: boolean } = {}): Promise<QuarantineRow[]> {
    let q = this.db.selectFrom('ingest.quarantine').selectAll();
    if (filter.symbol) q = q.where('symbol', '=', filter.symbol);
    if (filter.timeframe) q = q.where('timeframe', '=', filter.timeframe);
    if (filter.activeOnly) q = q.where('released_at', 'is', null);
    return (await q.orderBy('symbol').orderBy('timeframe').orderBy('month').orderBy('id').limit(5000).execute()) as QuarantineRow[];
  }
}
