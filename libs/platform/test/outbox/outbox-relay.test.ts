/**
 * The shared transactional outbox (repository + relay) on a real PostgreSQL and the in-process bus (which keeps
 * JetStream's msgId de-duplication): id order, marking sent, a crash before the commit, concurrent relays.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { sql } from 'kysely';
import { Registry } from 'prom-client';
import type { BusMessage, PublishAck, Subscription } from '../../src/bus/index.js';
import { InProcessBus } from '../../src/bus/index.js';
import { withClientTransaction, type Migration } from '../../src/db/index.js';
import { createLogger } from '../../src/logging/index.js';
import {
  OutboxRelay,
  OutboxRepository,
  outboxLiveLagSeconds,
  type OutboxMessage,
  type OutboxPublishOutcome,
  type PendingOutboxRow,
} from '../../src/outbox/index.js';
import { gate, waitFor } from '../bus/helpers.js';
import { openTestDb, type OpenDb } from '../db/fixtures.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- the test table has no generated Kysely types */
type Db = any;
/* eslint-enable @typescript-eslint/no-explicit-any */

const SCHEMA = 'obxtest';
// Same columns as the services' outbox migrations.
const outboxTable: Migration = {
  async up(db) {
    await sql`create table ${sql.raw(SCHEMA)}.outbox (
      id bigserial primary key, subject text not null, msg_id text not null, payload bytea not null,
      headers jsonb not null default '{}'::jsonb, created_at timestamptz not null default now(),
      sent_at timestamptz null, attempts integer not null default 0, last_error text null)`.execute(db);
  },
  async down(db) {
    await sql`drop table ${sql.raw(SCHEMA)}.outbox`.execute(db);
  },
};

const logger = createLogger({ service: 'outbox-test', level: 'silent' });

let t: OpenDb;
let repo: OutboxRepository<Db>;
let bus: InProcessBus;
let sub: Subscription;
const received: BusMessage[] = [];

beforeAll(async () => {
  t = await openTestDb(SCHEMA, { '20240101000000-outbox': outboxTable });
  repo = new OutboxRepository<Db>(t.db, { schema: SCHEMA });
  bus = new InProcessBus();
  await bus.ensureStreams([{ name: 'OBX', subjects: ['obx.>'], maxAgeMs: 0, duplicateWindowMs: 120_000, storage: 'memory' }]);
  sub = await bus.consume(
    { stream: 'OBX', durable: 'all', filterSubjects: ['obx.>'], maxDeliver: 1, backoffMs: [], ackWaitMs: 10_000, maxAckPending: 10_000, deadLetterSubject: 'obxdead.x' },
    async (m) => {
      received.push(m);
    },
  );
});
afterAll(async () => {
  await sub?.stop();
  await bus?.close();
  await t?.close();
});
beforeEach(async () => {
  await sql`truncate ${sql.raw(SCHEMA)}.outbox restart identity`.execute(t.db);
});

/** Message i of a test batch: subject by i mod 3, payload bytes derived from i (including 0 and 255). */
function message(tag: string, i: number): OutboxMessage {
  return {
    subject: `obx.${tag}.s${i % 3}`,
    msgId: `${tag}-${i}`,
    payload: Uint8Array.from([i & 0xff, 0, 255, (i * 7) & 0xff]),
    headers: { n: String(i), tag },
  };
}

async function enqueue(messages: readonly OutboxMessage[]): Promise<void> {
  await t.db.transaction().execute((trx) => repo.enqueue(trx, messages));
}

async function rows() {
  const r = await sql<{ id: string; msg_id: string; sent: boolean; attempts: number; last_error: string | null }>`
    select id, msg_id, sent_at is not null as sent, attempts, last_error from ${sql.raw(SCHEMA)}.outbox order by id`.execute(t.db);
  return r.rows;
}

/** Publishes a sentinel and waits until the consumer has it: everything published before it has been seen. */
async function settle(tag: string): Promise<BusMessage[]> {
  await bus.publish(`obx.end.${tag}`, new Uint8Array([1]));
  await waitFor(() => received.some((m) => m.subject === `obx.end.${tag}`), `sentinel ${tag}`);
  return received.filter((m) => m.headers['tag'] === tag);
}

interface Seen {
  published: Array<{ msgId: string; outcome: OutboxPublishOutcome }>;
  failed: string[];
}

function relayOf(options: { repository?: OutboxRepository<Db>; bus?: InProcessBus | typeof bus; batchSize?: number; registry?: Registry }, seen: Seen) {
  return new OutboxRelay<Db>({
    db: t.db,
    repository: options.repository ?? repo,
    bus: options.bus ?? bus,
    logger,
    registry: options.registry,
    fallbackErrorId: 'DATA_BUS_PUBLISH',
    batchSize: options.batchSize,
    onPublished: (row: PendingOutboxRow, outcome) => seen.published.push({ msgId: row.msg_id, outcome }),
    onFailed: (row) => seen.failed.push(row.msg_id),
  });
}

describe('OutboxRelay + OutboxRepository', () => {
  it('publishes rows in id order across batches and marks each sent once', async () => {
    const messages = Array.from({ length: 23 }, (_, i) => message('order', i));
    // Two transactions: the second's ids follow the first's.
    await enqueue(messages.slice(0, 10));
    await enqueue(messages.slice(10));
    expect(await repo.pendingCount()).toBe(23);

    const seen: Seen = { published: [], failed: [] };
    const relay = relayOf({ batchSize: 5 }, seen);
    expect(await relay.flush()).toBe(23);
    expect(await relay.pendingCount()).toBe(0);

    const expectedIds = messages.map((m) => m.msgId);
    expect(seen.published).toEqual(expectedIds.map((msgId) => ({ msgId, outcome: 'published' })));
    const stored = await rows();
    expect(stored.map((r) => r.msg_id)).toEqual(expectedIds);
    expect(stored.every((r) => r.sent && r.attempts === 1 && r.last_error === null)).toBe(true);

    const got = await settle('order');
    expect(got.map((m) => m.headers['Nats-Msg-Id'])).toEqual(expectedIds);
    expect(got.map((m) => m.subject)).toEqual(messages.map((m) => m.subject));
    expect(got.map((m) => Array.from(m.data))).toEqual(messages.map((m) => Array.from(m.payload)));
    expect(got.map((m) => m.headers['n'])).toEqual(messages.map((_, i) => String(i)));

    // Nothing left: a second flush publishes nothing.
    expect(await relay.flush()).toBe(0);
    // Pruning: every row was sent before a time an hour from now, none before the epoch.
    expect(await repo.deleteSentBefore(0)).toBe(0);
    expect(await repo.deleteSentBefore(Date.now() + 3_600_000)).toBe(23);
    expect(await rows()).toEqual([]);
  });

  it('writes the same rows by binary COPY as by INSERT, ids in message order, payload bytes intact', async () => {
    const messages = Array.from({ length: 7 }, (_, i) => message('copy', i));
    messages.push({ subject: 'obx.copy.u', msgId: 'copy-ü', payload: new Uint8Array(0), headers: { tag: 'copy', text: 'añ€😀' } });
    await withClientTransaction<Db, void>(t.database.pool, (tx) => repo.enqueueCopy(tx, messages));
    const r = await sql<{ subject: string; msg_id: string; payload: Buffer; headers: Record<string, string> }>`
      select subject, msg_id, payload, headers from ${sql.raw(SCHEMA)}.outbox order by id`.execute(t.db);
    expect(r.rows.map((x) => ({ subject: x.subject, msgId: x.msg_id, payload: Array.from(x.payload), headers: x.headers }))).toEqual(
      messages.map((m) => ({ subject: m.subject, msgId: m.msgId, payload: Array.from(m.payload), headers: m.headers })),
    );
  });

  it('republishes a batch whose commit was lost with the same msgIds, which the bus drops as duplicates', async () => {
    const messages = Array.from({ length: 12 }, (_, i) => message('crash', i));
    await enqueue(messages);

    // The process dies after publishing the batch but before the transaction that marks it sent commits.
    class CrashingRepository extends OutboxRepository<Db> {
      override async markSent(): Promise<void> {
        throw new Error('process killed before commit');
      }
    }
    const first: Seen = { published: [], failed: [] };
    const crashing = relayOf({ repository: new CrashingRepository(t.db, { schema: SCHEMA }) }, first);
    await expect(crashing.drainOnce()).rejects.toThrow('process killed before commit');
    expect(first.published.map((p) => p.outcome)).toEqual(Array(12).fill('published'));
    // Rolled back: every row is still pending, not even the attempt counted.
    const afterCrash = await rows();
    expect(afterCrash.filter((r) => !r.sent && r.attempts === 0).length).toBe(12);

    const second: Seen = { published: [], failed: [] };
    const restarted = relayOf({}, second);
    expect(await restarted.flush()).toBe(12);
    expect(second.published).toEqual(messages.map((m) => ({ msgId: m.msgId, outcome: 'duplicate' })));
    expect((await rows()).every((r) => r.sent && r.attempts === 1)).toBe(true);

    // Consumers saw each message exactly once, in order.
    const got = await settle('crash');
    expect(got.map((m) => m.headers['Nats-Msg-Id'])).toEqual(messages.map((m) => m.msgId));
  });

  it('keeps a row pending after a failed publish, stops the batch there, reports the fallback id, then publishes it', async () => {
    const messages = Array.from({ length: 4 }, (_, i) => message('fail', i));
    await enqueue(messages);
    let down = true;
    const flaky = Object.create(bus) as InProcessBus;
    flaky.publish = async (subject, data, options): Promise<PublishAck> => {
      if (down && options?.msgId === 'fail-2') throw new Error('nats down');
      return bus.publish(subject, data, options);
    };
    const registry = new Registry();
    const seen: Seen = { published: [], failed: [] };
    const relay = relayOf({ bus: flaky, registry }, seen);
    expect(await relay.drainOnce()).toBe(2);
    expect(seen.failed).toEqual(['fail-2']);
    expect((await rows()).map((r) => [r.msg_id, r.sent, r.attempts, r.last_error])).toEqual([
      ['fail-0', true, 1, null],
      ['fail-1', true, 1, null],
      ['fail-2', false, 1, 'nats down'],
      ['fail-3', false, 0, null],
    ]);
    const errors = await registry.getSingleMetric('noctria_errors_total')!.get();
    expect(errors.values.find((v) => v.labels['error_id'] === 'DATA_BUS_PUBLISH')?.value).toBe(1);

    down = false;
    expect(await relay.flush()).toBe(2);
    expect(seen.published.map((p) => p.msgId)).toEqual(['fail-0', 'fail-1', 'fail-2', 'fail-3']);
    const got = await settle('fail');
    expect(got.map((m) => m.headers['Nats-Msg-Id'])).toEqual(['fail-0', 'fail-1', 'fail-2', 'fail-3']);
  });

  it('never lets two relays publish the same row: the second skips the rows the first holds', async () => {
    const messages = Array.from({ length: 14 }, (_, i) => message('skip', i));
    await enqueue(messages);

    // Relay A locks its batch (rows 1–5) and stalls on its first publish, holding the row locks.
    const holding = gate();
    const release = gate();
    const stalled = Object.create(bus) as InProcessBus;
    stalled.publish = async (subject, data, options): Promise<PublishAck> => {
      if (!holding.isOpen) {
        holding.open();
        await release.promise;
      }
      return bus.publish(subject, data, options);
    };
    const seenA: Seen = { published: [], failed: [] };
    const seenB: Seen = { published: [], failed: [] };
    const a = relayOf({ bus: stalled, batchSize: 5 }, seenA);
    const b = relayOf({ batchSize: 5 }, seenB);
    const aDone = a.drainOnce();
    await holding.promise;

    // B, on its own connection, publishes everything A does not hold, without waiting for A.
    expect(await b.flush()).toBe(9);
    release.open();
    expect(await aDone).toBe(5);
    expect(await a.flush()).toBe(0);
    expect(await b.flush()).toBe(0);

    const ids = messages.map((m) => m.msgId);
    expect(seenA.published.map((p) => p.msgId)).toEqual(ids.slice(0, 5));
    expect(seenB.published.map((p) => p.msgId)).toEqual(ids.slice(5));
    expect([...seenA.published, ...seenB.published].every((p) => p.outcome === 'published')).toBe(true);
    expect((await rows()).every((r) => r.sent && r.attempts === 1)).toBe(true);
    const got = await settle('skip');
    expect(got.map((m) => m.headers['Nats-Msg-Id']).sort()).toEqual([...ids].sort());
  });

  it('runs in the background: a kick publishes committed rows without waiting for the poll', async () => {
    const seen: Seen = { published: [], failed: [] };
    const relay = new OutboxRelay<Db>({
      db: t.db,
      repository: repo,
      bus,
      logger,
      fallbackErrorId: 'DATA_BUS_PUBLISH',
      // A poll far longer than the wait below: only the kick can get the rows out in time.
      pollMs: 600_000,
      onPublished: (row) => seen.published.push({ msgId: row.msg_id, outcome: 'published' }),
    });
    relay.start();
    try {
      await waitFor(async () => (await relay.pendingCount()) === 0, 'idle relay');
      await enqueue([message('kick', 0), message('kick', 1)]);
      relay.kick();
      await waitFor(() => seen.published.length === 2, 'kicked rows published', 20_000);
    } finally {
      await relay.stop();
    }
    expect(seen.published.map((p) => p.msgId)).toEqual(['kick-0', 'kick-1']);
  });
});

describe('outboxLiveLagSeconds', () => {
  it('is the time from the live bar close to now, never negative, and undefined without the live flag or a close time', () => {
    let reads = 0;
    const now = (): number => {
      reads++;
      return 10_000;
    };
    expect(outboxLiveLagSeconds({ headers: { 'Noctria-Live': '1', 'Noctria-Bar-Close-Ms': '7500' } }, now)).toBe(2.5);
    expect(outboxLiveLagSeconds({ headers: { 'Noctria-Live': '1', 'Noctria-Bar-Close-Ms': '12000' } }, now)).toBe(0);
    expect(reads).toBe(2);
    expect(outboxLiveLagSeconds({ headers: { 'Noctria-Bar-Close-Ms': '7500' } }, now)).toBeUndefined();
    expect(outboxLiveLagSeconds({ headers: { 'Noctria-Live': '1' } }, now)).toBeUndefined();
    expect(outboxLiveLagSeconds({ headers: { 'Noctria-Live': '1', 'Noctria-Bar-Close-Ms': 'x' } }, now)).toBeUndefined();
    // The clock is read only for rows that feed the metric.
    expect(reads).toBe(2);
  });
});
