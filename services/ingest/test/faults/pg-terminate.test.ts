/**
 * Fault: the ingest pool's PostgreSQL connections are terminated (pg_terminate_backend from another connection)
 * several times while chunks are being stored. A chunk whose transaction died must be retried with backoff,
 * never lost: the run succeeds and ends equal to an undisturbed reference run in another fresh database, with
 * no duplicate keys, equal watermarks, and each closed bar published exactly once.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { natsUrl, postgresUrl, uniquePrefix, waitFor, withDatabase } from '@noctria/testing';
import type { JetStreamBus } from '@noctria/platform';
import { openTestDb, type TestDb } from '../helpers/harness.js';
import { canonicalRows, duplicateKeys, expectedBusKeys, pendingOutbox, readBarStream, storedBarCount, watermarks } from './support/compare.js';
import { FAULT_REQUEST, connectBus, counterTotal, faultIngest } from './support/inprocess.js';

describe('fault: PostgreSQL connections dropped mid-batch', () => {
  let ref: TestDb;
  let victim: TestDb;
  let bus: JetStreamBus;
  let admin: pg.Client;
  const refPrefix = uniquePrefix('.');
  const victimPrefix = uniquePrefix('.');

  beforeAll(async () => {
    [ref, victim] = await Promise.all([openTestDb(), openTestDb()]);
    bus = await connectBus(await natsUrl(), refPrefix);
    await bus.ensureStreams([(await import('@noctria/contracts')).streamFor(victimPrefix, 'MD')]);
    admin = new pg.Client({ connectionString: withDatabase(await postgresUrl(), 'postgres') });
    await admin.connect();
  });
  afterAll(async () => {
    await admin?.end();
    await bus?.close();
    await ref?.close();
    await victim?.close();
  });

  const terminate = async (dbName: string): Promise<number> => {
    const r = await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, [dbName]);
    return r.rowCount ?? 0;
  };

  it('retries the chunks whose transaction died and ends equal to the reference run', async () => {
    // Reference: undisturbed.
    const r = faultIngest(ref.db, bus, refPrefix);
    expect((await r.backfill.run(FAULT_REQUEST)).status).toBe('succeeded');
    await r.relay.flush();
    const refRows = await canonicalRows(ref.db);
    expect(refRows.length).toBeGreaterThan(1000);

    // Disturbed: relay running in the background, backfill running, connections killed at three points.
    const v = faultIngest(victim.db, bus, victimPrefix);
    v.relay.start();
    const running = v.backfill.run(FAULT_REQUEST);
    let finished = false;
    void running.finally(() => (finished = true));
    let terminated = 0;
    for (const fraction of [0.2, 0.5, 0.8]) {
      await waitFor(async () => finished || (await storedBarCount(victim.db)) >= refRows.length * fraction, { timeoutMs: 120_000, intervalMs: 5, message: `${fraction * 100}% stored` });
      if (finished) break;
      // Kill every backend of the database until one of them was inside a chunk's store step (a retry happens).
      const retriesBefore = await counterTotal(v.metrics.storeRetries);
      await waitFor(
        async () => {
          terminated += await terminate(victim.test.databaseName);
          return finished || (await counterTotal(v.metrics.storeRetries)) > retriesBefore;
        },
        { timeoutMs: 60_000, intervalMs: 2, message: 'a chunk store retried after its connection was terminated' },
      );
    }
    const summary = await running;
    // The series errors are part of the expectation so a failure says which step gave up and why.
    expect({ status: summary.status, errors: summary.series.filter((s) => s.error).map((s) => s.error) }).toEqual({ status: 'succeeded', errors: [] });
    expect(terminated).toBeGreaterThanOrEqual(3);
    // The failures really hit chunk transactions, and each was retried (none dropped).
    expect(await counterTotal(v.metrics.storeRetries)).toBeGreaterThanOrEqual(3);

    // The relay (its own connections were killed too) catches up.
    await waitFor(async () => (await pendingOutbox(victim.db)) === 0, { timeoutMs: 60_000, message: 'outbox drained' });
    await v.relay.stop();

    const rows = await canonicalRows(victim.db);
    expect(rows.length).toBe(refRows.length);
    expect(rows).toEqual(refRows);
    expect(await duplicateKeys(victim.db)).toEqual([]);
    expect(await watermarks(victim.db)).toEqual(await watermarks(ref.db));

    const nats = await natsUrl();
    for (const [db, prefix] of [
      [ref, refPrefix],
      [victim, victimPrefix],
    ] as const) {
      const stream = await readBarStream(nats, prefix);
      expect(stream.keys.length).toBe(stream.messages);
      expect(new Set(stream.msgIds).size).toBe(stream.messages);
      expect([...stream.keys].sort()).toEqual(expectedBusKeys(await canonicalRows(db.db)));
    }
  }, 300_000);
});
