import { describe, expect, it } from '@jest/globals';
import { Registry } from 'prom-client';
import { BusErrorIds, InProcessBus, type BusMessage } from '../../src/bus/index.js';
import { runBusContract } from './bus.contract.js';
import { dec, enc, randomPrefix, waitFor } from './helpers.js';

runBusContract('InProcessBus', async () => {
  const registry = new Registry();
  const bus = new InProcessBus({ registry });
  return { bus, prefix: randomPrefix('ip'), registry, cleanup: () => bus.close() };
});

describe('InProcessBus specifics', () => {
  it('forgets a msgId once the duplicate window has passed, and drops messages older than maxAge', async () => {
    let now = 1_000_000;
    const bus = new InProcessBus({ now: () => now });
    await bus.ensureStreams([{ name: 'W', subjects: ['w.>'], maxAgeMs: 10_000, duplicateWindowMs: 1_000, storage: 'memory' }]);
    const a = await bus.publish('w.x', enc('a'), { msgId: 'k' });
    now += 999;
    expect((await bus.publish('w.x', enc('a'), { msgId: 'k' })).duplicate).toBe(true);
    now += 2;
    const b = await bus.publish('w.x', enc('b'), { msgId: 'k' });
    expect(b).toEqual({ stream: 'W', sequence: a.sequence + 1, duplicate: false });
    now += 9_500; // 'a' is now 10_501 ms old, 'b' 9_500 ms
    const got: BusMessage[] = [];
    const sub = await bus.consume(
      { stream: 'W', durable: 'd', filterSubjects: ['w.>'], maxDeliver: 1, backoffMs: [], ackWaitMs: 1_000, maxAckPending: 10, deadLetterSubject: 'w.dlq' },
      async (m) => {
        got.push(m);
      },
    );
    await waitFor(() => got.length >= 1, 'the surviving message');
    await bus.publish('w.x', enc('c'));
    await waitFor(() => got.length >= 2, 'the next message');
    expect(got.map((m) => dec(m.data))).toEqual(['b', 'c']);
    await sub.stop();
    await bus.close();
  });

  it('keeps a dead letter for retry when no stream stores the dead-letter subject', async () => {
    const bus = new InProcessBus({ logger: { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined } });
    await bus.ensureStreams([{ name: 'S', subjects: ['s.>'], maxAgeMs: 0, duplicateWindowMs: 1_000, storage: 'memory' }]);
    const counts: number[] = [];
    const def = { stream: 'S', durable: 'd', filterSubjects: ['s.>'], maxDeliver: 2, backoffMs: [1], ackWaitMs: 1_000, maxAckPending: 10, deadLetterSubject: 'dead.s' };
    const sub = await bus.consume(def, async (m) => {
      counts.push(m.deliveryCount);
      throw new Error('always');
    });
    await bus.publish('s.x', enc('x'));
    await waitFor(() => counts.length >= 2, 'two failed deliveries');
    // Dead-lettering fails (no stream for dead.s): once a DLQ stream exists the message lands there, without
    // running the handler again.
    await bus.ensureStreams([{ name: 'DEAD', subjects: ['dead.>'], maxAgeMs: 0, duplicateWindowMs: 1_000, storage: 'memory' }]);
    const dead: BusMessage[] = [];
    await bus.consume({ ...def, stream: 'DEAD', durable: 'w', filterSubjects: ['dead.>'], deadLetterSubject: 'dead.never' }, async (m) => {
      dead.push(m);
    });
    await waitFor(() => dead.length >= 1, 'the dead letter after the DLQ stream appeared');
    expect(counts).toEqual([1, 2]);
    expect(dead[0]!.headers['Noctria-Dlq-Error-Id']).toBe(BusErrorIds.MaxDeliverExceeded);
    await sub.stop();
    await bus.close();
  });
});
