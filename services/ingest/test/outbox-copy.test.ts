/**
 * Outbox rows written by binary COPY (`OutboxRepository.enqueueCopy`, the chunk store path) against the
 * multi-row INSERT (`enqueue`, the reference): same rows, same order of ids, payload bytes untouched.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sql } from 'kysely';
import { withClientTransaction } from '@noctria/platform';
import type { DB } from '../src/db/schema.js';
import { OutboxRepository, type OutboxMessage } from '../src/repositories/outbox.repository.js';
import { openTestDb, type TestDb } from './helpers/harness.js';

let reference: TestDb;
let copied: TestDb;
beforeAll(async () => {
  reference = await openTestDb();
  copied = await openTestDb();
});
afterAll(async () => {
  await reference?.close();
  await copied?.close();
});

async function rows(db: TestDb['db']) {
  const r = await sql<{ id: number; subject: string; msg_id: string; payload: Buffer; headers: Record<string, string>; sent_at: Date | null; attempts: number }>`
    select id, subject, msg_id, payload, headers, sent_at, attempts from ingest.outbox order by id`.execute(db);
  return r.rows.map((x) => ({ ...x, payload: x.payload.toString('hex') }));
}

describe('outbox enqueue by binary COPY', () => {
  it('writes the same rows as the INSERT path, ids in message order, any payload byte and header text intact', async () => {
    const messages: OutboxMessage[] = Array.from({ length: 2_500 }, (_, i) => ({
      subject: `md.bar.1h.SYM${i % 7}`,
      msgId: `SYM${i % 7}|1h|${i}|${'ab'.repeat(32)}|ok`,
      // Every byte value, zero bytes included, and an empty payload.
      payload: i === 3 ? new Uint8Array(0) : Uint8Array.from({ length: 40 + (i % 200) }, (_, k) => (i * 31 + k) % 256),
      headers: { traceparent: `00-${i.toString(16).padStart(32, '0')}-${'1'.repeat(16)}-01`, 'Noctria-Msg-Id': `m\t${i}\\"é` },
    }));
    await reference.db.transaction().execute((trx) => new OutboxRepository(reference.db).enqueue(trx, messages));
    await withClientTransaction<DB, void>(copied.database.pool, (tx) => new OutboxRepository(copied.db).enqueueCopy(tx, messages));
    const expected = await rows(reference.db);
    expect(expected).toHaveLength(2_500);
    expect(await rows(copied.db)).toEqual(expected);
    // The payloads are the messages' bytes (independent of both write paths).
    expect((await rows(copied.db)).map((r) => r.payload)).toEqual(messages.map((m) => Buffer.from(m.payload).toString('hex')));
  });

  it('rolls back with the transaction', async () => {
    const before = (await rows(copied.db)).length;
    await expect(
      withClientTransaction<DB, void>(copied.database.pool, async (tx) => {
        await new OutboxRepository(copied.db).enqueueCopy(tx, [{ subject: 'md.bar.1h.X', msgId: 'x', payload: new Uint8Array([1]), headers: {} }]);
        throw new Error('abort');
      }),
    ).rejects.toThrow('abort');
    expect(await rows(copied.db)).toHaveLength(before);
  });
});
