import type { Kysely } from 'kysely';
import type { DB } from '../db/schema.js';

export interface RejectedRowInput {
  runId: string;
  sourceId: string;
  symbol?: string | null;
  timeframe?: string | null;
  line?: number | null;
  errorId: string;
  reason: string;
  raw?: string | null;
}

export class RejectedRepository {
  constructor(private readonly db: Kysely<DB>) {}

  async insert(db: Kysely<DB>, rows: readonly RejectedRowInput[]): Promise<void> {
    for (let i = 0; i < rows.length; i += 1000) {
      await db
        .insertInto('ingest.rejected_rows')
        .values(
          rows.slice(i, i + 1000).map((r) => ({
            ingest_run_id: r.runId,
            source_id: r.sourceId,
            symbol: r.symbol ?? null,
            timeframe: r.timeframe ?? null,
            line: r.line ?? null,
            error_id: r.errorId,
            reason: r.reason,
            raw: r.raw === undefined || r.raw === null ? null : r.raw.slice(0, 4000),
          })),
        )
        .execute();
    }
  }

  async list(runId: string, limit = 1000) {
    return this.db.selectFrom('ingest.rejected_rows').selectAll().where('ingest_run_id', '=', runId).orderBy('id').limit(limit).execute();
  }
}
