import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sql } from 'kysely';
import { consumerFor, decodeBarClosed, streamFor, subjects } from '@noctria/contracts';
import { JetStreamBus, type BusMessage, type Subscription } from '@noctria/platform';
import { natsUrl, uniquePrefix, waitFor } from '@noctria/testing';
import { OutboxRelay } from '../src/pipeline/outbox-relay.js';
import { openTestDb, testLogger, testMetrics, type TestDb } from './helpers/harness.js';
import { buildPipeline, storedBars } from './helpers/pipeline.js';
import { ScriptedProvider } from './support/scripted-provider.js';

const FROM = Date.UTC(2024, 0, 8);
const TO = Date.UTC(2024, 0, 13);
const NOW = Date.UTC(2024, 1, 1);

describe('transactional outbox → JetStream', () => {
  let t: TestDb;
  let bus: JetStreamBus;
  let sub: Subscription | undefined;
  const prefix = uniquePrefix('.');
  const received: BusMessage[] = [];

  beforeAll(async () => {
    t = await openTestDb();
    bus = await JetStreamBus.connect({ servers: await natsUrl(), name: 'ingest-outbox-test' });
    await bus.ensureStreams([streamFor(prefix, 'MD')]);
    sub = await bus.consume(
      consumerFor({ prefix, stream: 'MD', durable: `${prefix.replace(/\./g, '')}_bars`, filterSubjects: [subjects(prefix).barClosedFilter()] }),
      async (m) => {
        received.push(m);
      },
      { concurrency: 4 },
    );
  });
  afterAll(async () => {
    await sub?.stop();
    await bus?.close();
    await t?.close();
  });

  const pending = async () => (await sql<{ n: number }>`select count(*)::int as n from ingest.outbox where sent_at is null`.execute(t.db)).rows[0]!.n;

  it('publishes each closed bar exactly once, also after a crash before publishing and after a crash before marking sent', async () => {
    const logger = testLogger();
    const { metrics } = testMetrics();
    // 1. Bars + outbox committed, process "dies" before any publish (no relay running).
    const { backfill } = buildPipeline(t.db, { provider: new ScriptedProvider('scripted', { seed: 2 }), nowMs: NOW, busPrefix: prefix, chunkBars: 24 });
    const run = await backfill.run({ symbols: ['XAUUSD', 'XAGUSD'], timeframes: ['1h'], fromMs: FROM, toMs: TO });
    expect(run.status).toBe('succeeded');
    const stored = await storedBars(t.db);
    expect(await pending()).toBe(stored.length);
    expect(received.length).toBe(0);

    // 2. A new relay (the restarted process) publishes every pending row.
    const relay = new OutboxRelay({ db: t.db, bus, logger, metrics, batchSize: 37 });
    expect(await relay.flush()).toBe(stored.length);
    expect(await pending()).toBe(0);
    await waitFor(() => received.length >= stored.length, { timeoutMs: 20_000, message: 'all bars consumed' });

    // 3. Crash after publishing but before the "sent" commit: the rows are pending again and republished with
    //    the same msgIds, which JetStream drops as duplicates.
    await sql`update ingest.outbox set sent_at = null where id in (select id from ingest.outbox order by id limit 40)`.execute(t.db);
    const relay2 = new OutboxRelay({ db: t.db, bus, logger, metrics });
    expect(await relay2.flush()).toBe(40);
    const dupes = await metrics.outboxPublished.get();
    expect(dupes.values.find((v) => v.labels['outcome'] === 'duplicate')?.value).toBe(40);
    // A sentinel published after the duplicates proves the consumer has seen everything before it.
    await relay2.flush();
    await bus.publish(subjects(prefix).barClosed('1h', 'ZZZEND'), new Uint8Array([0]), { msgId: 'sentinel' });
    await waitFor(() => received.some((m) => m.subject.endsWith('ZZZEND')), { timeoutMs: 20_000, message: 'sentinel consumed' });

    const bars = received.filter((m) => !m.subject.endsWith('ZZZEND'));
    expect(bars.length).toBe(stored.length);
    const events = bars.map((m) => decodeBarClosed(m.data));
    const keys = events.map((e) => `${e.bar.symbol}|${e.bar.ts_utc}`);
    expect(new Set(keys).size).toBe(stored.length);
    expect(keys.sort()).toEqual(stored.map((r) => `${r.symbol}|${r.ts_utc}`).sort());
    // The message carries the stored bar and its checksum, on md.bar.<tf>.<symbol>.
    const byKey = new Map(stored.map((r) => [`${r.symbol}|${r.ts_utc}`, r]));
    for (const [i, e] of events.entries()) {
      const row = byKey.get(`${e.bar.symbol}|${e.bar.ts_utc}`)!;
      expect([e.bar.close, e.checksum, e.bar.quality_flag]).toEqual([row.close, row.checksum, row.quality_flag]);
      expect(bars[i]!.subject).toBe(subjects(prefix).barClosed('1h', e.bar.symbol));
      expect(bars[i]!.headers['Nats-Msg-Id']).toBe(`${row.source_id}|${row.symbol}|1h|${row.ts_utc}|${row.checksum}|${row.quality_flag}`);
    }

    // 4. Re-running the same backfill changes nothing, so nothing new is enqueued or published.
    await backfill.run({ symbols: ['XAUUSD', 'XAGUSD'], timeframes: ['1h'], fromMs: FROM, toMs: TO });
    expect(await pending()).toBe(0);
  });

  it('keeps rows pending when publishing fails and publishes them once the bus is back', async () => {
    const logger = testLogger();
    const { metrics } = testMetrics();
    await sql`insert into ingest.outbox (subject, msg_id, payload, headers) values (${subjects(prefix).barClosed('1h', 'FAILX')}, 'fail-1', '\\x00'::bytea, '{}'::jsonb)`.execute(t.db);
    let fail = true;
    const flaky = new Proxy(bus, {
      get(target, prop, recv) {
        if (prop === 'publish') {
          return async (...args: Parameters<JetStreamBus['publish']>) => {
            if (fail) throw new Error('nats down');
            return target.publish(...args);
          };
        }
        const v = Reflect.get(target, prop, recv);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    const relay = new OutboxRelay({ db: t.db, bus: flaky, logger, metrics });
    expect(await relay.drainOnce()).toBe(0);
    const row = await t.db.selectFrom('ingest.outbox').selectAll().where('msg_id', '=', 'fail-1').executeTakeFirstOrThrow();
    expect(row).toMatchObject({ sent_at: null, attempts: 1, last_error: 'nats down' });
    fail = false;
    expect(await relay.flush()).toBe(1);
    await waitFor(() => received.some((m) => m.subject.endsWith('FAILX')), { timeoutMs: 20_000, message: 'FAILX consumed' });
  });
});
