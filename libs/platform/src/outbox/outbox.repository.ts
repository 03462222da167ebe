import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { sql, type Kysely } from 'kysely';
import type pg from 'pg';
import copyStreams from 'pg-copy-streams';
import { qualifiedName } from '../db/identifiers.js';
import type { ClientTransaction } from '../db/transactions.js';

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

/** Where a service keeps its outbox: `<schema>.<table>` with the columns of the services' outbox migrations. */
export interface OutboxTableName {
  schema: string;
  /** Default `outbox`. */
  table?: string;
}

/** The insertable columns, as Kysely sees any service's outbox table. */
interface OutboxInsert {
  subject: string;
  msg_id: string;
  payload: Buffer;
  headers: string;
}
type OutboxDb = Record<string, OutboxInsert>;

/**
 * A service's transactional outbox table. The schema varies per service, so the table name is validated once
 * and interpolated as an identifier; everything else is the same for every service.
 */
export class OutboxRepository<DB> {
  /** `schema.table` as Kysely's `insertInto` takes it. */
  private readonly tableRef: string;
  /** `"schema"."table"`, for raw SQL. */
  private readonly quoted: string;
  /** Whether binary COPY may carry text to this database (asked once). */
  private binaryCopy: Promise<boolean> | undefined;

  constructor(
    private readonly db: Kysely<DB>,
    name: OutboxTableName,
  ) {
    const table = name.table ?? 'outbox';
    this.quoted = qualifiedName(name.schema, table);
    this.tableRef = `${name.schema}.${table}`;
  }

  /**
   * Writes messages in the caller's `withClientTransaction` with one binary COPY (payload bytes as they are,
   * no hex or parameter round-trip): ids are assigned in message order as with `enqueue`. Falls back to
   * `enqueue` where binary COPY cannot carry text (a server encoding other than UTF8/SQL_ASCII).
   */
  async enqueueCopy(tx: ClientTransaction<DB>, messages: readonly OutboxMessage[]): Promise<void> {
    if (messages.length === 0) return;
    this.binaryCopy ??= binaryTextSafe(tx.client).catch((err: unknown) => {
      this.binaryCopy = undefined;
      throw err;
    });
    if (!(await this.binaryCopy)) return this.enqueue(tx.db, messages);
    await copyBinary(tx.client, `copy ${this.quoted} (subject, msg_id, payload, headers) from stdin with (format binary)`, encodeOutboxRows(messages));
  }

  /** Writes messages in the caller's transaction (the same one that stores what they announce). */
  async enqueue(db: Kysely<DB>, messages: readonly OutboxMessage[]): Promise<void> {
    const kdb = db as unknown as Kysely<OutboxDb>;
    for (let i = 0; i < messages.length; i += 1000) {
      await kdb
        .insertInto(this.tableRef)
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
      from ${sql.raw(this.quoted)}
      where sent_at is null
      order by id
      limit ${limit}
      for update skip locked`.execute(trx);
    return r.rows;
  }

  async markSent(trx: Kysely<DB>, ids: readonly number[]): Promise<void> {
    if (ids.length === 0) return;
    await sql`update ${sql.raw(this.quoted)} set sent_at = now(), attempts = attempts + 1 where id = any(${ids}::bigint[])`.execute(trx);
  }

  async markFailed(trx: Kysely<DB>, id: number, error: string): Promise<void> {
    await sql`update ${sql.raw(this.quoted)} set attempts = attempts + 1, last_error = ${error.slice(0, 2000)} where id = ${id}`.execute(trx);
  }

  async pendingCount(): Promise<number> {
    const r = await sql<{ n: number }>`select count(*)::int as n from ${sql.raw(this.quoted)} where sent_at is null`.execute(this.db);
    return r.rows[0]?.n ?? 0;
  }

  /** Deletes rows sent before `beforeMs`. */
  async deleteSentBefore(beforeMs: number): Promise<number> {
    const r = await sql`delete from ${sql.raw(this.quoted)} where sent_at is not null and sent_at < ${new Date(beforeMs).toISOString()}::timestamptz`.execute(
      this.db,
    );
    return Number(r.numAffectedRows ?? 0n);
  }
}

/** Binary COPY carries text in the server encoding unconverted: only UTF8 (and SQL_ASCII, which takes any bytes) match what we send. */
async function binaryTextSafe(client: pg.PoolClient): Promise<boolean> {
  const r = await client.query<{ enc: string }>(`select current_setting('server_encoding') as enc`);
  const enc = r.rows[0]?.enc;
  return enc === 'UTF8' || enc === 'SQL_ASCII';
}

async function copyBinary(client: pg.PoolClient, statement: string, data: Buffer): Promise<void> {
  const stream = client.query(copyStreams.from(statement));
  await pipeline(Readable.from([data], { objectMode: false }), stream);
}

/** Binary COPY header: signature, flags (no OIDs), header extension length 0. */
const PGCOPY_HEADER = Buffer.concat([Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1'), Buffer.alloc(8)]);

/** The messages as one binary COPY buffer for `<outbox> (subject, msg_id, payload, headers)`. */
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
