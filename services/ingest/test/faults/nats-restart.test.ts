/**
 * Fault: the NATS server (a private nats-server with JetStream file storage) is SIGKILLed while a backfill is
 * storing bars and the outbox relay is publishing them, then started again on the same store. After recovery the
 * relay must have published every closed bar exactly once (JetStream de-duplicates rows republished after an
 * unacknowledged publish), and the stored bars must equal an undisturbed reference run in another fresh database.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sql } from 'kysely';
import { startPrivateNats, uniquePrefix, waitFor, type PrivateNats } from '@noctria/testing';
import { streamFor } from '@noctria/contracts';
import type { JetStreamBus } from '@noctria/platform';
import { openTestDb, type TestDb } from '../helpers/harness.js';
import { canonicalRows, duplicateKeys, expectedBusKeys, pendingOutbox, readBarStream, storedBarCount, watermarks } from './support/compare.js';
import { FAULT_REQUEST, connectBus, counterTotal, faultIngest } from './support/inprocess.js';

describe('fault: NATS killed and restarted during a backfill', () => {
  let nats: PrivateNats;
  let ref: TestDb;
  let victim: TestDb;
  let bus: JetStreamBus;
  const refPrefix = uniquePrefix('.');
  const victimPrefix = uniquePrefix('.');

  beforeAll(async () => {
    [nats, ref, victim] = await Promise.all([startPrivateNats(), openTestDb(), openTestDb()]);
    bus = await connectBus(nats.url, refPrefix);
    await bus.ensureStreams([streamFor(victimPrefix, 'MD')]);
  });
  afterAll(async () => {
    await bus?.close();
    await nats?.stop();
    await ref?.close();
    await victim?.close();
  });

  const sentCount = async (t: TestDb) => (await sql<{ n: number }>`select count(*)::int as n from ingest.outbox where sent_at is not null`.execute(t.db)).rows[0]!.n;

  it('publishes every closed bar exactly once after NATS comes back; stored bars equal the reference', async () => {
    const r = faultIngest(ref.db, bus, refPrefix);
    expect((await r.backfill.run(FAULT_REQUEST)).status).toBe('succeeded');
    await r.relay.flush();
    const refRows = await canonicalRows(ref.db);

    const v = faultIngest(victim.db, bus, victimPrefix);
    v.relay.start();
    let finished = false;
    const running = v.backfill.run(FAULT_REQUEST).finally(() => (finished = true));

    // Kill NATS once the relay has published part of the run while the backfill is still storing.
    await waitFor(async () => (await sentCount(victim)) > 0 && (await storedBarCount(victim.db)) >= refRows.length * 0.3, {
      timeoutMs: 120_000,
      intervalMs: 5,
      message: 'part of the run stored and published',
    });
    await nats.kill();
    const sentAtKill = await sentCount(victim);
    const storedAtKill = await storedBarCount(victim.db);
    expect(finished).toBe(false);
    expect(storedAtKill).toBeLessThan(refRows.length);

    // While NATS is down: storing goes on, publishing fails and the rows stay pending.
    await waitFor(async () => (await storedBarCount(victim.db)) >= Math.min(refRows.length, storedAtKill + 500) && (await counterTotal(v.metrics.outboxPublished)) > 0, {
      timeoutMs: 60_000,
      message: 'more bars stored while the bus is down',
    });
    await waitFor(async () => (await v.metrics.outboxPublished.get()).values.some((x) => x.labels['outcome'] === 'failed' && x.value > 0), {
      timeoutMs: 60_000,
      message: 'a publish failed while NATS is down',
    });
    expect(await pendingOutbox(victim.db)).toBeGreaterThan(0);
    await nats.restart();

    const summary = await running;
    expect(summary.status).toBe('succeeded');
    await waitFor(async () => (await pendingOutbox(victim.db)) === 0, { timeoutMs: 120_000, message: 'outbox drained after NATS restart' });
    await v.relay.stop();
    expect(await sentCount(victim)).toBeGreaterThan(sentAtKill);

    const rows = await canonicalRows(victim.db);
    expect(rows).toEqual(refRows);
    expect(await duplicateKeys(victim.db)).toEqual([]);
    expect(await watermarks(victim.db)).toEqual(await watermarks(ref.db));

    for (const [db, prefix] of [
      [ref, refPrefix],
      [victim, victimPrefix],
    ] as const) {
      const stream = await readBarStream(nats.url, prefix);
      expect(stream.keys.length).toBe(stream.messages);
      expect(new Set(stream.msgIds).size).toBe(stream.messages);
      expect([...stream.keys].sort()).toEqual(expectedBusKeys(await canonicalRows(db.db)));
    }
  }, 300_000);
});
