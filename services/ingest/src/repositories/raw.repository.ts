import { sql, type Kysely } from 'kysely';
import type { DB } from '../db/schema.js';

export class RawResponsesRepository {
  constructor(private readonly db: Kysely<DB>) {}

  async insert(db: Kysely<DB>, row: { runId: string; sourceId: string; request: Record<string, unknown>; contentType: string; body: string }): Promise<void> {
    await db
      .insertInto('ingest.raw_responses')
      .values({
        ingest_run_id: row.runId,
        source_id: row.sourceId,
        request: JSON.stringify(row.request),
        content_type: row.contentType,
        body: row.body,
      })
      .execute();
  }

  /** Deletes raw responses received before `beforeMs`; returns how many. */
  async deleteOlderThan(beforeMs: number): Promise<number> {
    const r = await sql`delete from ingest.raw_responses where received_at < ${new Date(beforeMs).toISOString()}::timestamptz`.execute(this.db);
    return Number(r.numAffectedRows ?? 0n);
  }
}
