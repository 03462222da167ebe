import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { Registry } from 'prom-client';
import type { ConsumerDefinition, StreamDefinition } from '@noctria/contracts';
import { BusErrorIds, deadLetterMsgId, JetStreamBus, jetStreamDurables, type BusLogger, type BusMessage } from '../../src/bus/index.js';
import { runBusContract } from './bus.contract.js';
import { dec, enc, gate, randomPrefix, waitFor } from './helpers.js';
import { PrivateNatsServer } from './nats-server.js';

const NATS_URL = process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222';

/** Collects bus logs instead of printing them (tests assert on behaviour, not logs). */
function memoryLogger(): BusLogger & { lines: string[] } {
  const lines: string[] = [];
  const log = (level: string) => (obj: object, msg?: string) => lines.push(`${level} ${msg ?? ''} ${JSON.stringify(obj)}`);
  return { lines, debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}

async function deleteStreams(servers: string, prefix: string): Promise<void> {
  const nc = await connect({ servers });
  try {
    const jsm = await jetstreamManager(nc);
    for await (const name of jsm.streams.names()) {
      if (name.startsWith(prefix.toUpperCase())) await jsm.streams.delete(name);
    }
  } finally {
    await nc.close();
  }
}

runBusContract('JetStreamBus', async () => {
  const prefix = randomPrefix('js');
  const registry = new Registry();
  const bus = await JetStreamBus.connect({ servers: NATS_URL, name: `bus-contract-${prefix}`, registry, logger: memoryLogger() });
  return {
    bus,
    prefix,
    registry,
    cleanup: async () => {
      await bus.close();
      await deleteStreams(NATS_URL, prefix);
    },
  };
});

describe('JetStreamBus specifics', () => {
  let admin: NatsConnection;
  let jsm: JetStreamManager;
  const prefixes: string[] = [];

  beforeAll(async () => {
    admin = await connect({ servers: NATS_URL });
    jsm = await jetstreamManager(admin);
  });

  afterEach(async () => {
    for (const p of prefixes.splice(0)) await deleteStreams(NATS_URL, p);
  });

  afterAll(async () => {
    await admin.close();
  });

  it('creates file streams and durable pull consumers with the definition settings (one per filter subject)', async () => {
    const p = randomPrefix('jx');
    prefixes.push(p);
    const bus = await JetStreamBus.connect({ servers: NATS_URL, name: 'jx', logger: memoryLogger() });
    try {
      const stream: StreamDefinition = { name: `${p.toUpperCase()}_S`, subjects: [`${p}.s.>`], maxAgeMs: 3_600_000, duplicateWindowMs: 90_000, storage: 'file' };
      await bus.ensureStreams([stream]);
      const si = await jsm.streams.info(stream.name);
      expect(si.config.storage).toBe('file');
      expect(si.config.max_age).toBe(3_600_000 * 1e6);
      expect(si.config.duplicate_window).toBe(90_000 * 1e6);
      expect(si.config.subjects).toEqual([`${p}.s.>`]);

      const def: ConsumerDefinition = {
        stream: stream.name,
        durable: 'multi',
        filterSubjects: [`${p}.s.a`, `${p}.s.b.>`],
        maxDeliver: 4,
        backoffMs: [10],
        ackWaitMs: 7_000,
        maxAckPending: 42,
        deadLetterSubject: `${p}.dlq`,
      };
      const sub = await bus.consume(def, async () => undefined);
      const durables = jetStreamDurables(def);
      expect(durables).toHaveLength(2);
      for (const d of durables) {
        const ci = await jsm.consumers.info(stream.name, d.name);
        expect(ci.config.durable_name).toBe(d.name);
        expect(ci.config.filter_subject).toBe(d.filterSubject);
        expect(ci.config.ack_policy).toBe('explicit');
        expect(ci.config.ack_wait).toBe(7_000 * 1e6);
        expect(ci.config.max_ack_pending).toBe(42);
      }
      await sub.stop();
    } finally {
      await bus.close();
    }
  });

  it('dead-letters a redelivery beyond maxDeliver (handler outlived ack_wait) without running the handler again', async () => {
    const p = randomPrefix('jh');
    prefixes.push(p);
    const bus = await JetStreamBus.connect({ servers: NATS_URL, name: 'jh', logger: memoryLogger() });
    const hold = gate();
    try {
      const P = p.toUpperCase();
      await bus.ensureStreams([
        { name: `${P}_S`, subjects: [`${p}.s.>`], maxAgeMs: 0, duplicateWindowMs: 60_000, storage: 'file' },
        { name: `${P}_DLQ`, subjects: [`${p}.dlq.>`], maxAgeMs: 0, duplicateWindowMs: 60_000, storage: 'file' },
      ]);
      const runs: number[] = [];
      const def: ConsumerDefinition = {
        stream: `${P}_S`,
        durable: 'hung',
        filterSubjects: [`${p}.s.>`],
        maxDeliver: 1,
        backoffMs: [10],
        ackWaitMs: 500,
        maxAckPending: 10,
        deadLetterSubject: `${p}.dlq.hung`,
      };
      await bus.consume(
        def,
        async (m) => {
          runs.push(m.deliveryCount);
          await hold.promise;
        },
        { concurrency: 2 },
      );
      const dead: BusMessage[] = [];
      await bus.consume({ ...def, stream: `${P}_DLQ`, durable: 'watch', filterSubjects: [`${p}.dlq.>`], deadLetterSubject: `${p}.dlq.x` }, async (m) => {
        dead.push(m);
      });
      await bus.publish(`${p}.s.1`, enc('hangs'));
      await waitFor(() => dead.length >= 1, 'dead letter after ack_wait expiry', 15_000);
      hold.open();
      expect(runs).toEqual([1]);
      expect(dead[0]!.headers['Noctria-Dlq-Error-Id']).toBe(BusErrorIds.MaxDeliverExceeded);
      expect(dead[0]!.headers['Noctria-Dlq-Delivery-Count']).toBe('2');
    } finally {
      hold.open();
      await bus.close();
    }
  });

  it('keeps exactly one dead letter when the dead-letter publish is repeated (crash between DLQ publish and term)', async () => {
    const p = randomPrefix('jd');
    prefixes.push(p);
    const bus = await JetStreamBus.connect({ servers: NATS_URL, name: 'jd', logger: memoryLogger() });
    try {
      const P = p.toUpperCase();
      await bus.ensureStreams([
        { name: `${P}_S`, subjects: [`${p}.s.>`], maxAgeMs: 0, duplicateWindowMs: 60_000, storage: 'file' },
        { name: `${P}_DLQ`, subjects: [`${p}.dlq.>`], maxAgeMs: 0, duplicateWindowMs: 60_000, storage: 'file' },
      ]);
      const ack = await bus.publish(`${p}.s.1`, enc('poison'));
      // What a consumer that crashed right after its dead-letter publish left behind:
      const earlier = await bus.publish(`${p}.dlq.main`, enc('poison'), { msgId: deadLetterMsgId(`${P}_S`, 'main', ack.sequence) });
      let runs = 0;
      const sub = await bus.consume(
        { stream: `${P}_S`, durable: 'main', filterSubjects: [`${p}.s.>`], maxDeliver: 1, backoffMs: [10], ackWaitMs: 5_000, maxAckPending: 10, deadLetterSubject: `${p}.dlq.main` },
        async () => {
          runs++;
          throw new Error('still poison');
        },
      );
      await waitFor(async () => (await jsm.consumers.info(`${P}_S`, 'main')).num_ack_pending === 0 && runs === 1, 'source settled');
      await sub.stop();
      const dlq = await jsm.streams.info(`${P}_DLQ`);
      expect(dlq.state.messages).toBe(1);
      expect(dlq.state.last_seq).toBe(earlier.sequence);
    } finally {
      await bus.close();
    }
  });

  it('close() completes while the NATS server is down (graceful shutdown during an outage)', async () => {
    const server = await PrivateNatsServer.start();
    let bus: JetStreamBus | undefined;
    try {
      bus = await JetStreamBus.connect({ servers: server.url, name: 'outage-close', logger: memoryLogger(), reconnectTimeWaitMs: 100, apiTimeoutMs: 1_000 });
      await bus.ensureStreams([{ name: 'OUTAGE', subjects: ['outage.>'], maxAgeMs: 0, duplicateWindowMs: 60_000, storage: 'file' }]);
      const got: string[] = [];
      await bus.consume(
        { stream: 'OUTAGE', durable: 'd', filterSubjects: ['outage.>'], maxDeliver: 3, backoffMs: [10], ackWaitMs: 1_000, maxAckPending: 10, deadLetterSubject: 'outage.dead' },
        async (m) => {
          got.push(dec(m.data));
        },
      );
      await bus.publish('outage.x', enc('one'));
      await waitFor(() => got.length === 1, 'delivery before the outage');
      await server.kill();
      await waitFor(async () => !(await bus!.ping()), 'outage seen');
      await bus.close();
      expect(bus.connection.isClosed()).toBe(true);
      expect(await bus.ping()).toBe(false);
    } finally {
      await bus?.close();
      await server.dispose();
    }
  });

  it('survives a kill -9 and restart of the NATS server: every published message is handled, none lost', async () => {
    const server = await PrivateNatsServer.start();
    const logger = memoryLogger();
    let bus: JetStreamBus | undefined;
    const hold = gate();
    try {
      bus = await JetStreamBus.connect({ servers: server.url, name: 'restart-test', logger, reconnectTimeWaitMs: 100, pullExpiresMs: 1_000 });
      const p = randomPrefix('rs');
      const stream: StreamDefinition = { name: 'RESTART', subjects: [`${p}.>`], maxAgeMs: 0, duplicateWindowMs: 120_000, storage: 'file' };
      await bus.ensureStreams([stream]);
      const def: ConsumerDefinition = {
        stream: 'RESTART',
        durable: 'survivor',
        filterSubjects: [`${p}.>`],
        maxDeliver: 1_000,
        backoffMs: [20, 50],
        ackWaitMs: 2_000,
        maxAckPending: 1_000,
        deadLetterSubject: `${p}.dead`,
      };
      const handled = new Map<string, number>();
      const sub = await bus.consume(
        def,
        async (m: BusMessage) => {
          const id = dec(m.data);
          // Message 20 is held across the outage: its ack goes to the restarted server.
          if (id === 'before-20') await hold.promise;
          handled.set(id, (handled.get(id) ?? 0) + 1);
        },
        { concurrency: 4 },
      );

      const publishWithRetry = async (id: string): Promise<void> => {
        // Publishes right after a restart may fail until JetStream has recovered; the msgId makes retries safe.
        await waitFor(
          async () => {
            try {
              await bus!.publish(`${p}.m`, enc(id), { msgId: id });
              return true;
            } catch {
              return false;
            }
          },
          `publish ${id}`,
          30_000,
          50,
        );
      };
      const before = Array.from({ length: 50 }, (_, i) => `before-${i}`);
      for (const id of before) await publishWithRetry(id);
      await waitFor(() => handled.size >= 20, 'some messages handled before the crash');

      let reconnectAttempts = 0;
      void (async () => {
        for await (const s of bus!.connection.status()) if (s.type === 'reconnecting') reconnectAttempts++;
      })();
      await server.kill();
      await waitFor(async () => !(await bus!.ping()), 'ping reports the outage', 10_000);
      // Stay down through several reconnect attempts: the client must keep trying (maxReconnectAttempts -1).
      await waitFor(() => reconnectAttempts >= 8, 'eight reconnect attempts', 30_000);
      await server.launch();
      await waitFor(() => bus!.ping(), 'reconnected', 30_000, 50);
      hold.open();

      const after = Array.from({ length: 50 }, (_, i) => `after-${i}`);
      for (const id of after) await publishWithRetry(id);

      const all = [...before, ...after];
      await waitFor(() => all.every((id) => handled.has(id)), 'every message handled after the restart', 60_000, 20);
      expect([...handled.keys()].filter((id) => !all.includes(id))).toEqual([]);

      // Nothing left behind on the server: the 100 messages stored once each, all acked.
      let state = await streamState(server.url);
      await waitFor(
        async () => {
          state = await streamState(server.url);
          return state.pending === 0 && state.ackPending === 0;
        },
        'consumer fully acked',
        15_000,
        50,
      );
      expect(state.messages).toBe(100);
      await sub.stop();
    } finally {
      hold.open();
      await bus?.close();
      await server.dispose();
    }
  });
});

/** Stream and consumer state of RESTART on a private server, through a short-lived admin connection. */
async function streamState(servers: string): Promise<{ messages: number; pending: number; ackPending: number }> {
  const nc = await connect({ servers });
  try {
    const m = await jetstreamManager(nc);
    const si = await m.streams.info('RESTART');
    const ci = await m.consumers.info('RESTART', 'survivor');
    return { messages: si.state.messages, pending: ci.num_pending, ackPending: ci.num_ack_pending };
  } finally {
    await nc.close();
  }
}
