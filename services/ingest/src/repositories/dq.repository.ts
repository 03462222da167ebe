import { sql, type Kysely } from 'kysely';
import type { DB } from '../db/schema.js';

export const DQ_COUNTER_FIELDS = [
  'expected',
  'received',
  'missing',
  'outliers',
  'spikes',
  'duplicates_dropped',
  'rejected',
  'filled',
  'revised',
  'conflicts',
] as const;
export type DqCounterField = (typeof DQ_COUNTER_FIELDS)[number];
export type DqCounts = Record<DqCounterField, number>;

export function emptyDqCounts(): DqCounts {
  return Object.fromEntries(DQ_COUNTER_FIELDS.map((f) => [f, 0])) as DqCounts;
}

export interface DqCounterRow extends DqCounts {
  ingest_run_id: string;
  symbol: string;
  timeframe: string;
  /** First day of the month, YYYY-MM-DD. */
  month: string;
  updated_at: Date;
}

export class DqRepository {
  constructor(private readonly db: Kysely<DB>) {}

  /** Adds counts for (run, symbol, timeframe, month) — additive, in the caller's transaction. */
  async add(db: Kysely<DB>, key: { runId: string; symbol: string; timeframe: string; month: string }, counts: DqCounts): Promise<void> {
    await sql`
      insert into ingest.dq_counters as d
        (ingest_run_id, symbol, timeframe, month, expected, received, missing, outliers, spikes,
         duplicates_dropped, rejected, filled, revised, conflicts)
      values (${key.runId}, ${key.symbol}, ${key.timeframe}, ${key.month}::date, ${counts.expected}, ${counts.received},
        ${counts.missing}, ${counts.outliers}, ${counts.spikes}, ${counts.duplicates_dropped}, ${counts.rejected},
        ${counts.filled}, ${counts.revised}, ${counts.conflicts})
      on conflict (ingest_run_id, symbol, timeframe, month) do update set
        expected = d.expected + excluded.expected,
        received = d.received + excluded.received,
        missing = d.missing + excluded.missing,
        outliers = d.outliers + excluded.outliers,
        spikes = d.spikes + excluded.spikes,
        duplicates_dropped = d.duplicates_dropped + excluded.duplicates_dropped,
        rejected = d.rejected + excluded.rejected,
        filled = d.filled + excluded.filled,
        revised = d.revised + excluded.revised,
        conflicts = d.conflicts + excluded.conflicts,
        updated_at = now()`.execute(db);
  }

  async list(filter: { runId?: string; symbol?: string; timeframe?: string; month?: string } = {}): Promise<DqCounterRow[]> {
    let q = this.db.selectFrom('ingest.dq_counters').selectAll();
    if (filter.runId) q = q.where('ingest_run_id', '=', filter.runId);
    if (filter.symbol) q = q.where('symbol', '=', filter.symbol);
    if (filter.timeframe) q = q.where('timeframe', '=', filter.timeframe);
    if (filter.month) q = q.where('month', '=', filter.month);
    return (await q.orderBy('symbol').orderBy('timeframe').orderBy('month').limit(5000).execute()) as DqCounterRow[];
  }
}
