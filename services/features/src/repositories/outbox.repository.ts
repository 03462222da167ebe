import { sql, type Kysely } from 'kysely';
import type { DB } from '../db/schema.js';

export interface OutboxMessage {
  subject: string;
  msgId: string;
  payload: Uint8Array;
  headers: Record<string, string>;
}

export interface PendingOutboxRow {
  id: number;
  subject: string;
  msg_id: string;
  payload: Buffer;
  headers: Record<string, string>;
  attempts: number;
}

export class OutboxRepository {
  constructor(private readonly db: Kysely<DB>) {}

  /** Writes messages in the caller's transaction (the same one that stores what they announce). */
  async enqueue(db: Kysely<DB>, messages: readonly OutboxMessage[]): Promise<void> {
    for (let i = 0; i < messages.length; i += 1000) {
      await db
        .insertInto('features.outbox')
        .values(
          messages.slice(i, i + 1000).map((m) => ({
            subject: m.subject,
            msg_id: m.msgId,
            payload: Buffer.from(m.payload.buffer, m.payload.byteOffset, m.payload.byteLength),
            headers: JSON.stringify(m.headers),
          })),
        )
        .execute();
    }
  }

  /** Locks up to `limit` unsent rows (oldest first), skipping rows another relay holds. Use inside a transaction. */
  async lockPending(trx: Kysely<DB>, limit: number): Promise<PendingOutboxRow[]> {
    const r = await sql<PendingOutboxRow>`
      select id, subject, msg_id, payload, headers, attempts
      from features.outbox
      where sent_at is null
      order by id
      limit ${limit}
      for update skip locked`.execute(trx);
    return r.rows;
  }

  async markSent(trx: Kysely<DB>, ids: readonly number[]): Promise<void> {
    if (ids.length === 0) return;
    await sql`update features.outbox set sent_at = now(), attempts = attempts + 1 where id = any(${ids}::bigint[])`.execute(trx);
  }

  async markFailed(trx: Kysely<DB>, id: number, error: string): Promise<void> {
    await sql`update features.outbox set attempts = attempts + 1, last_error = ${error.slice(0, 2000)} where id = ${id}`.execute(trx);
  }

  async pendingCount(): Promise<number> {
    const r = await sql<{ n: number }>`select count(*)::int as n from features.outbox where sent_at is null`.execute(this.db);
    return r.rows[0]?.n ?? 0;
  }

  /** Deletes rows sent before `beforeMs`. */
  async deleteSentBefore(beforeMs: number): Promise<number> {
    const r = await sql`delete from features.outbox where sent_at is not null and sent_at < ${new Date(beforeMs).toISOString()}::timestamptz`.execute(this.db);
    return Number(r.numAffectedRows ?? 0n);
  }
}
