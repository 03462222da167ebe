import { sql, type Kysely } from 'kysely';
import type { ClientTransaction } from '@noctria/platform';
import type { DB } from '../db/schema.js';
import { binaryTextSafe, copyBinary, PGCOPY_HEADER } from './bar-stage.js';

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
  /** Whether binary COPY may carry text to this database (asked once). */
  private binaryCopy: Promise<boolean> | undefined;

  constructor(private readonly db: Kysely<DB>) {}

  /**
   * Writes messages in the caller's `withClientTransaction` with one binary COPY (payload bytes as they are,
   * no hex or parameter round-trip): ids are assigned in message order as with `enqueue`. Falls back to
   * `enqueue` where binary COPY cannot carry text (a server encoding other than UTF8/SQL_ASCII).
   */
  async enqueueCopy(tx: ClientTransaction<DB>, messages: readonly OutboxMessage[]): Promise<void> {
    if (messages.length === 0) return;
    const client = tx as ClientTransaction<unknown>;
    this.binaryCopy ??= binaryTextSafe(client).catch((err: unknown) => {
      this.binaryCopy = undefined;
      throw err;
    });
    if (!(await this.binaryCopy)) return this.enqueue(tx.db, messages);
    await copyBinary(client, 'copy ingest.outbox (subject, msg_id, payload, headers) from stdin with (format binary)', encodeOutboxRows(messages));
  }

  /** Writes messages in the caller's transaction (the same one that stores what they announce). */
  async enqueue(db: Kysely<DB>, messages: readonly OutboxMessage[]): Promise<void> {
    for (let i = 0; i < messages.length; i += 1000) {
      await db
        .insertInto('ingest.outbox')
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
      from ingest.outbox
      where sent_at is null
      order by id
      limit ${limit}
      for update skip locked`.execute(trx);
    return r.rows;
  }

  async markSent(trx: Kysely<DB>, ids: readonly number[]): Promise<void> {
    if (ids.length === 0) return;
    await sql`update ingest.outbox set sent_at = now(), attempts = attempts + 1 where id = any(${ids}::bigint[])`.execute(trx);
  }

  async markFailed(trx: Kysely<DB>, id: number, error: string): Promise<void> {
    await sql`update ingest.outbox set attempts = attempts + 1, last_error = ${error.slice(0, 2000)} where id = ${id}`.execute(trx);
  }

  async pendingCount(): Promise<number> {
    const r = await sql<{ n: number }>`select count(*)::int as n from ingest.outbox where sent_at is null`.execute(this.db);
    return r.rows[0]?.n ?? 0;
  }

  /** Deletes rows sent before `beforeMs`. */
  async deleteSentBefore(beforeMs: number): Promise<number> {
    const r = await sql`delete from ingest.outbox where sent_at is not null and sent_at < ${new Date(beforeMs).toISOString()}::timestamptz`.execute(this.db);
    return Number(r.numAffectedRows ?? 0n);
  }
}

/** The messages as one binary COPY buffer for `ingest.outbox (subject, msg_id, payload, headers)`. */
export function encodeOutboxRows(messages: readonly OutboxMessage[]): Buffer {
  const texts = messages.map((m) => {
    const subject = Buffer.from(m.subject, 'utf8');
    const msgId = Buffer.from(m.msgId, 'utf8');
    const headers = Buffer.from(JSON.stringify(m.headers), 'utf8');
    if (subject.includes(0) || msgId.includes(0) || headers.includes(0)) throw new Error('outbox text contains a NUL character');
    return { subject, msgId, headers };
  });
  let size = PGCOPY_HEADER.length + 2;
  for (let i = 0; i < messages.length; i++) {
    const t = texts[i]!;
    // field count + 4 length words + jsonb version byte
    size += 2 + 16 + 1 + t.subject.length + t.msgId.length + messages[i]!.payload.byteLength + t.headers.length;
  }
  const buf = Buffer.allocUnsafe(size);
  buf.set(PGCOPY_HEADER, 0);
  let off = PGCOPY_HEADER.length;
  const field = (v: Uint8Array): void => {
    buf.writeInt32BE(v.byteLength, off);
    buf.set(v, off + 4);
    off += 4 + v.byteLength;
  };
  for (let i = 0; i < messages.length; i++) {
    const t = texts[i]!;
    buf.writeInt16BE(4, off);
    off += 2;
    field(t.subject);
    field(t.msgId);
    field(messages[i]!.payload);
    buf.writeInt32BE(t.headers.length + 1, off);
    buf[off + 4] = 1;
    buf.set(t.headers, off + 5);
    off += 5 + t.headers.length;
  }
  buf.writeInt16BE(-1, off);
  off += 2;
  if (off !== size) throw new Error(`binary COPY buffer size mismatch: ${off} of ${size}`);
  return buf;
}
