/**
 * The one contract suite both bus adapters must pass (see bus.port.ts). Each test gets a fresh bus and a unique
 * prefix from `makeBus`; subjects are `<prefix>.…` and stream names `<PREFIX>_…`, so runs never collide.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { context, propagation, SpanKind, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { Registry } from 'prom-client';
import type { ConsumerDefinition, StreamDefinition } from '@noctria/contracts';
import { BusError, BusErrorIds, BusHeaders, type Bus, type BusMessage, type PublishAck, type Subscription } from '../../src/bus/index.js';
import { NoctriaError } from '../../src/errors/index.js';
import { dec, enc, gate, turns, waitFor, type Gate } from './helpers.js';

export interface BusContext {
  bus: Bus;
  /** Lower-case token, unique per test: subject root and (upper-cased) stream-name prefix. */
  prefix: string;
  cleanup: () => Promise<void>;
  /** When the bus was built with a metrics registry, the suite checks the bus_* metrics too. */
  registry?: Registry;
}

function bytesOf(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

async function metricValue(registry: Registry, name: string, labels: Record<string, string>): Promise<number> {
  const metric = registry.getSingleMetric(name);
  if (!metric) return 0;
  const { values } = await metric.get();
  const hit = values.find((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val));
  return hit?.value ?? 0;
}

function expectBusError(err: unknown, id: string): BusError {
  expect(err).toBeInstanceOf(BusError);
  expect(err).toBeInstanceOf(NoctriaError);
  expect((err as BusError).id).toBe(id);
  return err as BusError;
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected the promise to reject');
}

export function runBusContract(name: string, makeBus: () => Promise<BusContext>): void {
  describe(`Bus contract: ${name}`, () => {
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });

    beforeAll(() => {
      propagation.setGlobalPropagator(new W3CTraceContextPropagator());
      context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
      trace.setGlobalTracerProvider(provider);
    });

    afterAll(async () => {
      await provider.shutdown();
      trace.disable();
      context.disable();
      propagation.disable();
    });

    let ctx: BusContext;
    let bus: Bus;
    let p: string;
    let EVENTS: StreamDefinition;
    let DLQ: StreamDefinition;
    const subs: Subscription[] = [];

    const consumer = (durable: string, overrides: Partial<ConsumerDefinition> = {}): ConsumerDefinition => ({
      stream: EVENTS.name,
      durable,
      filterSubjects: [`${p}.ev.>`],
      maxDeliver: 5,
      backoffMs: [50, 100],
      ackWaitMs: 30_000,
      maxAckPending: 100,
      deadLetterSubject: `${p}.dlq.${durable}`,
      ...overrides,
    });

    /** Subscribes with a recording handler; `behave` may throw to fail a delivery. */
    const collect = async (
      def: ConsumerDefinition,
      behave: (m: BusMessage) => Promise<void> | void = () => undefined,
      concurrency = 1,
    ): Promise<{ got: BusMessage[]; names: () => string[]; sub: Subscription }> => {
      const got: BusMessage[] = [];
      const sub = await bus.consume(
        def,
        async (m) => {
          got.push(m);
          await behave(m);
        },
        { concurrency },
      );
      subs.push(sub);
      return { got, names: () => got.map((m) => dec(m.data)), sub };
    };

    beforeEach(async () => {
      exporter.reset();
      ctx = await makeBus();
      bus = ctx.bus;
      p = ctx.prefix;
      const P = p.toUpperCase();
      EVENTS = { name: `${P}_EVENTS`, subjects: [`${p}.ev.>`], maxAgeMs: 0, duplicateWindowMs: 60_000, storage: 'file' };
      DLQ = { name: `${P}_DLQ`, subjects: [`${p}.dlq.>`], maxAgeMs: 0, duplicateWindowMs: 60_000, storage: 'file' };
      await bus.ensureStreams([EVENTS, DLQ]);
    });

    afterEach(async () => {
      await Promise.allSettled(subs.splice(0).map((s) => s.stop()));
      await ctx.cleanup();
    });

    it('publishes durably and consumes in order with the exact payload bytes', async () => {
      const payloads = Array.from({ length: 20 }, (_, i) => new Uint8Array(randomBytes((i * 37) % 300)));
      const subjects = payloads.map((_, i) => `${p}.ev.${i % 2 === 0 ? 'bar' : 'tick'}.EURUSD`);
      const acks: PublishAck[] = [];
      for (let i = 0; i < payloads.length; i++) acks.push(await bus.publish(subjects[i]!, payloads[i]!));
      for (let i = 0; i < acks.length; i++) {
        expect(acks[i]!.stream).toBe(EVENTS.name);
        expect(acks[i]!.duplicate).toBe(false);
        if (i > 0) expect(acks[i]!.sequence).toBeGreaterThan(acks[i - 1]!.sequence);
      }
      const { got } = await collect(consumer('order'));
      await waitFor(() => got.length >= payloads.length, 'all 20 messages');
      expect(got).toHaveLength(payloads.length);
      got.forEach((m, i) => {
        expect(m.subject).toBe(subjects[i]);
        expect(bytesOf(m.data)).toEqual(bytesOf(payloads[i]!));
        expect(m.streamSequence).toBe(acks[i]!.sequence);
        expect(m.deliveryCount).toBe(1);
      });
      if (ctx.registry) {
        expect(await metricValue(ctx.registry, 'bus_published_total', { subject_root: p })).toBe(20);
        expect(await metricValue(ctx.registry, 'bus_consumed_total', { durable: 'order', outcome: 'ack' })).toBe(20);
      }
    });

    it('drops a repeated msgId inside the duplicate window, reports it, and never delivers it', async () => {
      const subject = `${p}.ev.sig.PAIR1`;
      const first = await bus.publish(subject, enc('one'), { msgId: 'sig-1' });
      const again = await bus.publish(subject, enc('one-again'), { msgId: 'sig-1' });
      const other = await bus.publish(subject, enc('two'), { msgId: 'sig-2' });
      expect(first.duplicate).toBe(false);
      expect(again).toEqual({ stream: EVENTS.name, sequence: first.sequence, duplicate: true });
      expect(other.duplicate).toBe(false);
      expect(other.sequence).toBe(first.sequence + 1);
      const { got, names } = await collect(consumer('dedup'));
      await waitFor(() => names().includes('two'), 'the message after the duplicate');
      expect(names()).toEqual(['one', 'two']);
      expect(got[0]!.headers[BusHeaders.MessageId]).toBe('sig-1');
      expect(got[1]!.headers[BusHeaders.MessageId]).toBe('sig-2');
    });

    it('redelivers a failed handling with an increasing deliveryCount until it succeeds', async () => {
      const counts: number[] = [];
      const { names } = await collect(consumer('retry'), (m) => {
        if (dec(m.data) !== 'flaky') return;
        counts.push(m.deliveryCount);
        if (m.deliveryCount < 3) throw new Error(`transient failure ${m.deliveryCount}`);
      });
      await bus.publish(`${p}.ev.x`, enc('flaky'));
      await waitFor(() => counts.length >= 3, 'three deliveries of the flaky message');
      await bus.publish(`${p}.ev.x`, enc('after'));
      await waitFor(() => names().includes('after'), 'the message published after success');
      expect(counts).toEqual([1, 2, 3]);
      if (ctx.registry) {
        expect(await metricValue(ctx.registry, 'bus_consumed_total', { durable: 'retry', outcome: 'retry' })).toBe(2);
      }
    });

    it('after maxDeliver failures publishes exactly one dead letter with the failure headers, then stops delivering', async () => {
      const poisonCounts: number[] = [];
      const main = await collect(consumer('main', { maxDeliver: 3 }), (m) => {
        if (dec(m.data) !== 'poison') return;
        poisonCounts.push(m.deliveryCount);
        throw Object.assign(new Error('boom: cannot decode\nsecond line'), { id: 'CORE_TEST_BOOM' });
      });
      const dead = await collect(consumer('dlqwatch', { stream: DLQ.name, filterSubjects: [`${p}.dlq.>`], deadLetterSubject: `${p}.dlq.never` }));
      const subject = `${p}.ev.sig.POISON`;
      const ack = await bus.publish(subject, enc('poison'), { msgId: 'poison-1', headers: { 'X-Origin': 'contract' } });

      await waitFor(() => dead.got.length >= 1, 'the dead letter');
      expect(poisonCounts).toEqual([1, 2, 3]);
      const dl = dead.got[0]!;
      expect(dl.subject).toBe(`${p}.dlq.main`);
      expect(dec(dl.data)).toBe('poison');
      expect(dl.headers[BusHeaders.DlqSubject]).toBe(subject);
      expect(dl.headers[BusHeaders.DlqStream]).toBe(EVENTS.name);
      expect(dl.headers[BusHeaders.DlqStreamSeq]).toBe(String(ack.sequence));
      expect(dl.headers[BusHeaders.DlqDurable]).toBe('main');
      expect(dl.headers[BusHeaders.DlqDeliveryCount]).toBe('3');
      expect(dl.headers[BusHeaders.DlqErrorId]).toBe('CORE_TEST_BOOM');
      expect(dl.headers[BusHeaders.DlqError]).toBe('boom: cannot decode second line');
      expect(dl.headers['X-Origin']).toBe('contract');
      expect(dl.headers[BusHeaders.MessageId]).toBe('poison-1');

      // No further deliveries on the source, no second dead letter: ordered sentinels prove both.
      await bus.publish(`${p}.ev.sig.OK`, enc('after'));
      await waitFor(() => main.names().includes('after'), 'source sentinel');
      await bus.publish(`${p}.dlq.sentinel`, enc('dlq-sentinel'));
      await waitFor(() => dead.names().includes('dlq-sentinel'), 'dead-letter sentinel');
      expect(dead.names()).toEqual(['poison', 'dlq-sentinel']);
      expect(poisonCounts).toEqual([1, 2, 3]);
      if (ctx.registry) {
        expect(await metricValue(ctx.registry, 'bus_consumed_total', { durable: 'main', outcome: 'dead' })).toBe(1);
        expect(await metricValue(ctx.registry, 'bus_consumed_total', { durable: 'main', outcome: 'retry' })).toBe(2);
      }
    });

    it('resumes a durable after stop(): only unacked and new messages are delivered', async () => {
      const def = consumer('resume', { maxDeliver: 100 });
      const first = await collect(def, (m) => {
        if (dec(m.data) === 'm2') throw new Error('not yet');
      });
      for (const n of ['m1', 'm2', 'm3']) await bus.publish(`${p}.ev.r`, enc(n));
      await waitFor(() => ['m1', 'm2', 'm3'].every((n) => first.names().includes(n)), 'phase-one deliveries');
      await first.sub.stop();
      const phaseOne = first.got.length;

      for (const n of ['m4', 'm5']) await bus.publish(`${p}.ev.r`, enc(n));
      const second = await collect(def);
      await waitFor(() => ['m2', 'm4', 'm5'].every((n) => second.names().includes(n)), 'phase-two deliveries');
      await bus.publish(`${p}.ev.r`, enc('sentinel'));
      await waitFor(() => second.names().includes('sentinel'), 'sentinel');
      expect([...second.names()].sort()).toEqual(['m2', 'm4', 'm5', 'sentinel']);
      expect(second.got.find((m) => dec(m.data) === 'm2')!.deliveryCount).toBeGreaterThan(1);
      expect(first.got.length).toBe(phaseOne); // the stopped subscription received nothing more
    });

    it('gives every durable its own copy of the stream', async () => {
      const seqs: number[] = [];
      for (let i = 0; i < 10; i++) seqs.push((await bus.publish(`${p}.ev.fan`, enc(`f${i}`))).sequence);
      const a = await collect(consumer('alpha'));
      const b = await collect(consumer('beta'), () => undefined, 4);
      await waitFor(() => a.got.length >= 10 && b.got.length >= 10, 'both durables receive 10');
      expect(a.got.map((m) => m.streamSequence)).toEqual(seqs);
      expect(b.got.map((m) => m.streamSequence!).sort((x, y) => x - y)).toEqual(seqs);
    });

    it('delivers only the filter subjects of a consumer (several filters allowed)', async () => {
      const c = await collect(consumer('filtered', { filterSubjects: [`${p}.ev.a.*`, `${p}.ev.b.>`] }));
      for (const s of ['a.1', 'c.1', 'b.1.2', 'a.1.2', 'b.2']) await bus.publish(`${p}.ev.${s}`, enc(s));
      await waitFor(() => c.got.length >= 3, 'three matching messages');
      const all = await collect(consumer('everything'));
      await waitFor(() => all.got.length >= 5, 'the unfiltered consumer sees all five');
      expect([...c.names()].sort()).toEqual(['a.1', 'b.1.2', 'b.2']);
    });

    it('never runs more handlers at once than the concurrency bound', async () => {
      const N = 12;
      const C = 3;
      let active = 0;
      let maxActive = 0;
      const gates: Gate[] = [];
      for (let i = 0; i < N; i++) await bus.publish(`${p}.ev.c`, enc(`c${i}`));
      await collect(
        consumer('bounded'),
        async () => {
          active++;
          maxActive = Math.max(maxActive, active);
          const g = gate();
          gates.push(g);
          await g.promise;
          active--;
        },
        C,
      );
      await waitFor(() => gates.length >= C, `${C} handlers running`);
      for (let released = 0; released < N; released++) {
        gates[released]!.open();
        const expected = Math.min(N, C + released + 1);
        await waitFor(() => gates.length >= expected, `${expected} handlers started`);
      }
      await waitFor(() => active === 0, 'all handlers finished');
      expect(gates).toHaveLength(N);
      expect(maxActive).toBe(C);
    });

    it('stop() resolves only after the in-flight handler finished (and its ack took effect)', async () => {
      const g = gate();
      const events: string[] = [];
      let started = false;
      const def = consumer('graceful');
      const sub = await bus.consume(def, async (m) => {
        if (dec(m.data) !== 'slow') return;
        started = true;
        await g.promise;
        await turns();
        events.push('handled');
      });
      await bus.publish(`${p}.ev.g`, enc('slow'));
      await waitFor(() => started, 'handler started');
      const stopped = sub.stop().then(() => events.push('stopped'));
      await turns(10);
      expect(events).toEqual([]);
      g.open();
      await stopped;
      expect(events).toEqual(['handled', 'stopped']);

      const again = await collect(def);
      await bus.publish(`${p}.ev.g`, enc('sentinel'));
      await waitFor(() => again.names().includes('sentinel'), 'sentinel after resume');
      expect(again.names()).toEqual(['sentinel']);
    });

    it('round-trips request/reply with headers and wildcard reply subjects', async () => {
      subs.push(
        await bus.reply(`${p}.rpc.*.get`, async (m) => enc(`${m.subject}|${dec(m.data)}|${m.headers['X-Who'] ?? ''}`)),
      );
      const res = await bus.request(`${p}.rpc.pairs.get`, enc('EURUSD/GBPUSD'), { headers: { 'X-Who': 'gateway' } });
      expect(dec(res.data)).toBe(`${p}.rpc.pairs.get|EURUSD/GBPUSD|gateway`);
      expect(res.headers[BusHeaders.Error]).toBeUndefined();

      const big = new Uint8Array(randomBytes(64 * 1024));
      subs.push(await bus.reply(`${p}.rpc.echo`, async (m) => m.data));
      expect(bytesOf((await bus.request(`${p}.rpc.echo`, big)).data)).toEqual(bytesOf(big));
    });

    it('load-balances a queue group: each request is answered by exactly one member', async () => {
      const answeredBy: string[] = [];
      for (const who of ['a', 'b']) {
        subs.push(
          await bus.reply(
            `${p}.rpc.q`,
            async () => {
              answeredBy.push(who);
              return enc(who);
            },
            { queue: 'workers' },
          ),
        );
      }
      for (let i = 0; i < 10; i++) await bus.request(`${p}.rpc.q`, enc(String(i)));
      expect(answeredBy).toHaveLength(10);
    });

    it('fails a request with a timeout error when no reply comes, and a no-responders error when nobody listens', async () => {
      const g = gate();
      subs.push(
        await bus.reply(`${p}.rpc.slow`, async () => {
          await g.promise;
          return enc('late');
        }),
      );
      expectBusError(await rejection(bus.request(`${p}.rpc.slow`, enc('x'), { timeoutMs: 150 })), BusErrorIds.Timeout);
      g.open();
      expectBusError(await rejection(bus.request(`${p}.rpc.nobody`, enc('x'), { timeoutMs: 2_000 })), BusErrorIds.NoResponders);
    });

    it('propagates a remote handler error with its id', async () => {
      subs.push(
        await bus.reply(`${p}.rpc.fail`, async () => {
          throw new NoctriaError('CORE_PAIR_NOTFOUND', 'pair not found: EURUSD/XAUUSD');
        }),
      );
      subs.push(
        await bus.reply(`${p}.rpc.plain`, async () => {
          throw new Error('kaput');
        }),
      );
      const err = expectBusError(await rejection(bus.request(`${p}.rpc.fail`, enc('x'))), 'CORE_PAIR_NOTFOUND');
      expect(err.remote).toBe(true);
      expect(err.message).toContain('pair not found: EURUSD/XAUUSD');
      const plain = expectBusError(await rejection(bus.request(`${p}.rpc.plain`, enc('x'))), BusErrorIds.HandlerFailed);
      expect(plain.message).toContain('kaput');
    });

    it('round-trips headers and gives every message a message id', async () => {
      const headers = { 'X-Pair': 'EURUSD/GBPUSD', 'X-Spaces': 'a b  c', 'x-lower-case': 'v', 'X-Json': '{"k":[1,2]}' };
      await bus.publish(`${p}.ev.h`, enc('with-id'), { msgId: 'bar:EURUSD:M1:1700000000', headers });
      await bus.publish(`${p}.ev.h`, enc('no-id-1'));
      await bus.publish(`${p}.ev.h`, enc('no-id-2'));
      const { got } = await collect(consumer('headers'));
      await waitFor(() => got.length >= 3, 'three messages');
      for (const [k, v] of Object.entries(headers)) expect(got[0]!.headers[k]).toBe(v);
      expect(got[0]!.headers[BusHeaders.MessageId]).toBe('bar:EURUSD:M1:1700000000');
      const generated = [got[1]!.headers[BusHeaders.MessageId], got[2]!.headers[BusHeaders.MessageId]];
      expect(generated[0]).toMatch(/^[0-9a-f-]{36}$/);
      expect(generated[1]).toMatch(/^[0-9a-f-]{36}$/);
      expect(generated[0]).not.toBe(generated[1]);
    });

    it('keeps request/reply off stream subjects and rejects publishes no stream stores', async () => {
      const answer = async (): Promise<Uint8Array> => enc('x');
      expectBusError(await rejection(bus.reply(`${p}.ev.query`, answer)), BusErrorIds.SubjectOnStream);
      expectBusError(await rejection(bus.reply(`${p}.>`, answer)), BusErrorIds.SubjectOnStream);
      expectBusError(await rejection(bus.request(`${p}.ev.query`, enc('q'), { timeoutMs: 500 })), BusErrorIds.SubjectOnStream);
      expectBusError(await rejection(bus.publish(`${p}.nostream.x`, enc('x'))), BusErrorIds.NoStream);
      expectBusError(await rejection(bus.publish(`${p}.ev.*`, enc('x'))), BusErrorIds.InvalidArgument);
      expectBusError(
        await rejection(bus.consume(consumer('ghost', { stream: `${p.toUpperCase()}_MISSING` }), async () => undefined)),
        BusErrorIds.StreamNotFound,
      );
    });

    it('ensureStreams is idempotent, applies updates and refuses overlapping streams', async () => {
      await bus.ensureStreams([EVENTS, DLQ]);
      const wider = { ...EVENTS, subjects: [`${p}.ev.>`, `${p}.ev2.>`], maxAgeMs: 3_600_000 };
      await bus.ensureStreams([wider]);
      const ack = await bus.publish(`${p}.ev2.x`, enc('x'));
      expect(ack.stream).toBe(EVENTS.name);
      const overlapping: StreamDefinition = { ...DLQ, name: `${p.toUpperCase()}_OVERLAP`, subjects: [`${p}.ev.special`] };
      expectBusError(await rejection(bus.ensureStreams([overlapping])), BusErrorIds.StreamConflict);
    });

    it('carries the W3C trace context through publish/consume and request/reply, handling in CONSUMER spans', async () => {
      const tracer = trace.getTracer('contract-test');
      const seen: Array<{ traceId: string | undefined; traceparent: string | undefined }> = [];
      await collect(consumer('traced'), (m) => {
        seen.push({ traceId: trace.getSpanContext(context.active())?.traceId, traceparent: m.headers[BusHeaders.TraceParent] });
      });
      subs.push(
        await bus.reply(`${p}.rpc.traced`, async () => enc(trace.getSpanContext(context.active())?.traceId ?? 'none')),
      );
      let rootTraceId = '';
      let replyTraceId = '';
      await tracer.startActiveSpan('test-root', async (root) => {
        rootTraceId = root.spanContext().traceId;
        await bus.publish(`${p}.ev.t`, enc('traced'));
        replyTraceId = dec((await bus.request(`${p}.rpc.traced`, enc('q'))).data);
        root.end();
      });
      await waitFor(() => seen.length >= 1, 'traced delivery');
      expect(rootTraceId).toMatch(/^[0-9a-f]{32}$/);
      expect(seen[0]!.traceId).toBe(rootTraceId);
      expect(seen[0]!.traceparent).toMatch(new RegExp(`^00-${rootTraceId}-[0-9a-f]{16}-01$`));
      expect(replyTraceId).toBe(rootTraceId);

      await waitFor(
        () => exporter.getFinishedSpans().filter((s) => s.kind === SpanKind.CONSUMER).length >= 2,
        'consumer spans finished',
      );
      const spans = exporter.getFinishedSpans();
      const consumed = spans.find((s) => s.kind === SpanKind.CONSUMER && s.attributes['messaging.destination.name'] === `${p}.ev.t`);
      expect(consumed).toBeDefined();
      expect(consumed!.spanContext().traceId).toBe(rootTraceId);
      expect(consumed!.attributes['messaging.system']).toEqual(expect.any(String));
      expect(consumed!.attributes['messaging.delivery_count']).toBe(1);
      const replied = spans.find((s) => s.kind === SpanKind.CONSUMER && s.attributes['messaging.destination.name'] === `${p}.rpc.traced`);
      expect(replied!.spanContext().traceId).toBe(rootTraceId);
      const produced = spans.find((s) => s.kind === SpanKind.PRODUCER && s.attributes['messaging.destination.name'] === `${p}.ev.t`);
      expect(produced!.spanContext().traceId).toBe(rootTraceId);
      // The consumer span is a child of the producer span whose context travelled in the headers.
      expect(consumed!.parentSpanContext?.spanId).toBe(produced!.spanContext().spanId);
    });

    it('reports liveness with ping() and refuses work after close()', async () => {
      expect(await bus.ping()).toBe(true);
      await bus.close();
      expect(await bus.ping()).toBe(false);
      expectBusError(await rejection(bus.publish(`${p}.ev.x`, enc('x'))), BusErrorIds.Closed);
    });
  });
}
