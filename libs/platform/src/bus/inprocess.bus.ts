/**
 * The `embedded` adapter: the bus in memory, with the semantics of the JetStream adapter (and the same contract
 * tests): streams keep messages with sequence numbers, `msgId` de-duplication inside the duplicate window,
 * durable consumers keep their position per durable name for the life of the bus instance, failed handlings
 * are redelivered after the backoff delay, `maxDeliver` failures go to the dead-letter subject, request/reply
 * with timeouts and error propagation, `*` / `>` wildcards, bounded concurrency, stop() waits for in-flight work.
 *
 * Differences that cannot be observed through the port: nothing survives the process, and a handler that runs
 * longer than `ackWaitMs` is not redelivered while it still runs (there is no other process to take it over).
 */
import { randomUUID } from 'node:crypto';
import type { Registry } from 'prom-client';
import type { ConsumerDefinition, StreamDefinition } from '@noctria/contracts';
import type {
  Bus,
  BusMessage,
  ConsumeOptions,
  Headers,
  MessageHandler,
  PublishAck,
  PublishOptions,
  RequestHandler,
  Subscription,
} from './bus.port.js';
import { BusError, BusErrorIds, errorIdOf, errorMessageOf } from './bus.errors.js';
import {
  assertConsumerDefinition,
  assertName,
  assertPublishSubject,
  assertSubjectPattern,
  backoffDelay,
  BusMetrics,
  concurrencyOf,
  deadLetterHeaders,
  deadLetterMsgId,
  errorReplyHeaders,
  InFlight,
  messagingAttributes,
  outgoingHeaders,
  remoteErrorOf,
  seconds,
  SpanKind,
  stderrBusLogger,
  withConsumerSpan,
  withProducerSpan,
  type BusLogger,
} from './bus.shared.js';
import { subjectMatches, subjectsOverlap } from './subjects.js';

export interface InProcessBusOptions {
  logger?: BusLogger;
  /** Registry for the bus_* metrics; none = no metrics. */
  registry?: Registry;
  /** Default request() timeout, ms (default 5000). */
  requestTimeoutMs?: number;
  /** Clock for retention and de-duplication windows (default Date.now). */
  now?: () => number;
}

/** JetStream's default duplicate window, used when a definition says 0. */
const DEFAULT_DUPLICATE_WINDOW_MS = 120_000;
const SYSTEM = 'inprocess';

interface StoredMessage {
  seq: number;
  subject: string;
  data: Uint8Array;
  headers: Headers;
  time: number;
}

class MemStream {
  /** Ascending, contiguous sequences (retention only removes from the front). */
  readonly messages: StoredMessage[] = [];
  lastSeq = 0;
  /** msgId -> first sequence; insertion order = time order. */
  readonly dedup = new Map<string, { seq: number; time: number }>();
  readonly durables = new Set<Durable>();

  constructor(public def: StreamDefinition) {}

  get(seq: number): StoredMessage | undefined {
    const first = this.messages[0];
    if (!first) return undefined;
    return this.messages[seq - first.seq];
  }

  get firstSeq(): number {
    return this.messages[0]?.seq ?? this.lastSeq + 1;
  }

  prune(now: number): void {
    if (this.def.maxAgeMs > 0) {
      let drop = 0;
      while (drop < this.messages.length && now - this.messages[drop]!.time > this.def.maxAgeMs) drop++;
      if (drop > 0) this.messages.splice(0, drop);
    }
    const window = this.def.duplicateWindowMs > 0 ? this.def.duplicateWindowMs : DEFAULT_DUPLICATE_WINDOW_MS;
    for (const [id, entry] of this.dedup) {
      if (now - entry.time < window) break;
      this.dedup.delete(id);
    }
  }

  covers(subject: string): boolean {
    return this.def.subjects.some((p) => subjectMatches(p, subject));
  }
}

interface PendingEntry {
  deliveryCount: number;
  state: 'inflight' | 'waiting' | 'ready';
  timer?: NodeJS.Timeout;
}

interface ConsumeSub {
  handler: MessageHandler;
  pool: InFlight;
  stopping: boolean;
}

class Durable {
  /** Next stream sequence to look at for a first delivery. */
  nextSeq = 1;
  /** Delivered and not yet acked (in flight, waiting for a redelivery delay, or ready to redeliver). */
  readonly pending = new Map<number, PendingEntry>();
  /** Sequences ready for redelivery, ascending. */
  ready: number[] = [];
  readonly subs: ConsumeSub[] = [];
  rr = 0;
  pumping = false;
  pumpAgain = false;

  constructor(
    public def: ConsumerDefinition,
    readonly stream: MemStream,
  ) {}

  matches(subject: string): boolean {
    return this.def.filterSubjects.some((p) => subjectMatches(p, subject));
  }

  markReady(seq: number): void {
    let i = this.ready.length;
    while (i > 0 && this.ready[i - 1]! > seq) i--;
    this.ready.splice(i, 0, seq);
  }
}

interface ReplySub {
  pattern: string;
  queue: string | undefined;
  handler: RequestHandler;
  inflight: Set<Promise<unknown>>;
  stopping: boolean;
}

export class InProcessBus implements Bus {
  readonly kind = 'inprocess' as const;
  private readonly streams = new Map<string, MemStream>();
  private readonly durables = new Map<string, Durable>();
  private readonly replySubs = new Set<ReplySub>();
  private readonly queueCursor = new Map<string, number>();
  private readonly subscriptions = new Set<Subscription>();
  private readonly metrics: BusMetrics;
  private readonly logger: BusLogger;
  private readonly now: () => number;
  private closing: Promise<void> | undefined;

  constructor(private readonly options: InProcessBusOptions = {}) {
    this.metrics = new BusMetrics(options.registry);
    this.logger = options.logger ?? stderrBusLogger;
    this.now = options.now ?? Date.now;
  }

  private assertOpen(): void {
    if (this.closing) throw new BusError(BusErrorIds.Closed, 'bus is closed');
  }

  // -- streams ----------------------------------------------------------------------------------------------------

  async ensureStreams(streams: readonly StreamDefinition[]): Promise<void> {
    this.assertOpen();
    for (const def of streams) {
      assertName('stream', def.name);
      def.subjects.forEach(assertSubjectPattern);
      for (const other of this.streams.values()) {
        if (other.def.name === def.name) continue;
        if (def.subjects.some((a) => other.def.subjects.some((b) => subjectsOverlap(a, b)))) {
          throw new BusError(BusErrorIds.StreamConflict, `stream ${def.name}: subjects overlap stream ${other.def.name}`);
        }
      }
      const existing = this.streams.get(def.name);
      if (existing) {
        if (existing.def.storage !== def.storage) {
          throw new BusError(
            BusErrorIds.StreamConflict,
            `stream ${def.name} exists with ${existing.def.storage} storage; ${def.storage} requested (storage cannot change)`,
          );
        }
        existing.def = { ...def, subjects: [...def.subjects] };
      } else {
        this.streams.set(def.name, new MemStream({ ...def, subjects: [...def.subjects] }));
      }
    }
  }

  private streamFor(subject: string): MemStream | undefined {
    for (const s of this.streams.values()) if (s.covers(subject)) return s;
    return undefined;
  }

  // -- publish ----------------------------------------------------------------------------------------------------

  async publish(subject: string, data: Uint8Array, options?: PublishOptions): Promise<PublishAck> {
    this.assertOpen();
    assertPublishSubject(subject);
    return withProducerSpan(`${subject} publish`, SpanKind.PRODUCER, messagingAttributes(SYSTEM, subject), async (ctx) => {
      const t0 = process.hrtime.bigint();
      const ack = this.append(subject, data, outgoingHeaders(options?.headers, options?.msgId, ctx), options?.msgId);
      this.metrics.published(subject, seconds(t0));
      return ack;
    });
  }

  private append(subject: string, data: Uint8Array, headers: Headers, msgId: string | undefined): PublishAck {
    const stream = this.streamFor(subject);
    if (!stream) throw new BusError(BusErrorIds.NoStream, `no stream stores subject '${subject}'`);
    const now = this.now();
    stream.prune(now);
    if (msgId !== undefined) {
      const seen = stream.dedup.get(msgId);
      if (seen) return { stream: stream.def.name, sequence: seen.seq, duplicate: true };
    }
    const seq = ++stream.lastSeq;
    stream.messages.push({ seq, subject, data: data.slice(), headers: { ...headers }, time: now });
    if (msgId !== undefined) stream.dedup.set(msgId, { seq, time: now });
    for (const d of stream.durables) this.pump(d);
    return { stream: stream.def.name, sequence: seq, duplicate: false };
  }

  // -- consume ----------------------------------------------------------------------------------------------------

  async consume(def: ConsumerDefinition, handler: MessageHandler, options?: ConsumeOptions): Promise<Subscription> {
    this.assertOpen();
    assertConsumerDefinition(def);
    const concurrency = concurrencyOf(options);
    const stream = this.streams.get(def.stream);
    if (!stream) throw new BusError(BusErrorIds.StreamNotFound, `consumer ${def.durable}: stream ${def.stream} does not exist`);
    const key = `${def.stream}\u0000${def.durable}`;
    let durable = this.durables.get(key);
    if (!durable || durable.stream !== stream) {
      durable = new Durable(def, stream);
      this.durables.set(key, durable);
      stream.durables.add(durable);
    }
    durable.def = { ...def, filterSubjects: [...def.filterSubjects], backoffMs: [...def.backoffMs] };
    const sub: ConsumeSub = { handler, pool: new InFlight(concurrency), stopping: false };
    durable.subs.push(sub);
    const d = durable;
    queueMicrotask(() => this.pump(d));
    let stopping: Promise<void> | undefined;
    const subscription: Subscription = {
      stop: () =>
        (stopping ??= (async () => {
          sub.stopping = true;
          sub.pool.close();
          const i = d.subs.indexOf(sub);
          if (i !== -1) d.subs.splice(i, 1);
          await sub.pool.idle();
          this.subscriptions.delete(subscription);
        })()),
    };
    this.subscriptions.add(subscription);
    return subscription;
  }

  private pickSub(d: Durable): ConsumeSub | undefined {
    for (let k = 0; k < d.subs.length; k++) {
      const sub = d.subs[(d.rr + k) % d.subs.length]!;
      if (!sub.stopping && sub.pool.tryAcquire()) {
        d.rr = (d.rr + k + 1) % d.subs.length;
        return sub;
      }
    }
    return undefined;
  }

  private nextSeq(d: Durable): number | undefined {
    while (d.ready.length > 0) {
      const seq = d.ready.shift()!;
      if (d.stream.get(seq)) return seq;
      d.pending.delete(seq); // dropped by retention
    }
    if (d.pending.size >= d.def.maxAckPending) return undefined;
    d.stream.prune(this.now());
    if (d.nextSeq < d.stream.firstSeq) d.nextSeq = d.stream.firstSeq;
    while (d.nextSeq <= d.stream.lastSeq) {
      const m = d.stream.get(d.nextSeq++);
      if (m && d.matches(m.subject)) {
        d.pending.set(m.seq, { deliveryCount: 0, state: 'inflight' });
        return m.seq;
      }
    }
    return undefined;
  }

  /** Hands messages to subscriptions while some have a free slot. Never re-entered. */
  private pump(d: Durable): void {
    if (this.closing) return;
    if (d.pumping) {
      d.pumpAgain = true;
      return;
    }
    d.pumping = true;
    try {
      do {
        d.pumpAgain = false;
        for (;;) {
          const sub = this.pickSub(d);
          if (!sub) break;
          const seq = this.nextSeq(d);
          if (seq === undefined) {
            sub.pool.release();
            break;
          }
          const entry = d.pending.get(seq)!;
          entry.deliveryCount++;
          entry.state = 'inflight';
          void sub.pool.run(() => this.deliver(d, sub, seq, entry)).finally(() => this.pump(d));
        }
      } while (d.pumpAgain);
    } finally {
      d.pumping = false;
    }
  }

  private async deliver(d: Durable, sub: ConsumeSub, seq: number, entry: PendingEntry): Promise<void> {
    await Promise.resolve();
    const m = d.stream.get(seq);
    if (!m) {
      d.pending.delete(seq);
      return;
    }
    const def = d.def;
    const msg: BusMessage = {
      subject: m.subject,
      data: m.data.slice(),
      headers: { ...m.headers },
      deliveryCount: entry.deliveryCount,
      streamSequence: seq,
    };
    try {
      if (entry.deliveryCount > def.maxDeliver) {
        this.deadLetter(d, entry, msg, new BusError(BusErrorIds.MaxDeliverExceeded, `delivered ${entry.deliveryCount} times (maxDeliver ${def.maxDeliver})`));
        return;
      }
      const t0 = process.hrtime.bigint();
      let failure: { err: unknown } | undefined;
      try {
        await withConsumerSpan(
          `${m.subject} process`,
          msg.headers,
          messagingAttributes(SYSTEM, m.subject, {
            'messaging.consumer.group.name': def.durable,
            'messaging.message.id': msg.headers['Noctria-Msg-Id'] ?? '',
            'messaging.delivery_count': entry.deliveryCount,
            'messaging.nats.stream_sequence': seq,
          }),
          () => Promise.resolve().then(() => sub.handler(msg)),
        );
      } catch (err) {
        failure = { err };
      }
      this.metrics.handled(def.durable, seconds(t0));
      if (!failure) {
        d.pending.delete(seq);
        this.metrics.consumed(def.durable, 'ack');
      } else if (entry.deliveryCount >= def.maxDeliver) {
        this.deadLetter(d, entry, msg, failure.err);
      } else {
        this.metrics.consumed(def.durable, 'retry');
        this.logger.debug(
          { subject: m.subject, durable: def.durable, deliveryCount: entry.deliveryCount, err: errorMessageOf(failure.err), errorId: errorIdOf(failure.err) },
          'handler failed; will retry',
        );
        this.scheduleRedelivery(d, seq, entry, backoffDelay(def.backoffMs, entry.deliveryCount));
      }
    } catch (err) {
      this.logger.error({ subject: m.subject, durable: def.durable, err: errorMessageOf(err) }, 'could not settle message');
      this.scheduleRedelivery(d, seq, entry, backoffDelay(def.backoffMs, entry.deliveryCount));
    }
  }

  private scheduleRedelivery(d: Durable, seq: number, entry: PendingEntry, delayMs: number): void {
    if (this.closing) return;
    entry.state = 'waiting';
    entry.timer = setTimeout(() => {
      entry.timer = undefined;
      if (d.pending.get(seq) !== entry) return;
      entry.state = 'ready';
      d.markReady(seq);
      this.pump(d);
    }, delayMs);
    entry.timer.unref();
  }

  private deadLetter(d: Durable, entry: PendingEntry, msg: BusMessage, err: unknown): void {
    const def = d.def;
    const seq = msg.streamSequence!;
    const headers = deadLetterHeaders(
      { subject: msg.subject, headers: msg.headers, stream: def.stream, durable: def.durable, streamSequence: seq, deliveryCount: msg.deliveryCount },
      err,
    );
    const dlqId = deadLetterMsgId(def.stream, def.durable, seq);
    try {
      this.append(def.deadLetterSubject, msg.data, { ...headers, 'Nats-Msg-Id': dlqId }, dlqId);
    } catch (pubErr) {
      this.metrics.consumed(def.durable, 'retry');
      this.logger.error(
        { subject: msg.subject, durable: def.durable, deadLetterSubject: def.deadLetterSubject, err: errorMessageOf(pubErr) },
        'dead-letter publish failed; message kept for another attempt',
      );
      this.scheduleRedelivery(d, seq, entry, backoffDelay(def.backoffMs, msg.deliveryCount));
      return;
    }
    d.pending.delete(seq);
    this.metrics.consumed(def.durable, 'dead');
    this.logger.warn(
      { subject: msg.subject, durable: def.durable, streamSequence: seq, deliveryCount: msg.deliveryCount, errorId: errorIdOf(err), err: errorMessageOf(err) },
      'message dead-lettered',
    );
  }

  // -- request / reply --------------------------------------------------------------------------------------------

  private assertNotOnStream(subject: string): void {
    for (const s of this.streams.values()) {
      if (s.def.subjects.some((p) => subjectsOverlap(p, subject))) {
        throw new BusError(BusErrorIds.SubjectOnStream, `'${subject}' is stored by stream ${s.def.name}; request/reply needs a core subject`);
      }
    }
  }

  private responders(subject: string): ReplySub[] {
    const plain: ReplySub[] = [];
    const groups = new Map<string, ReplySub[]>();
    for (const r of this.replySubs) {
      if (r.stopping || !subjectMatches(r.pattern, subject)) continue;
      if (r.queue === undefined) plain.push(r);
      else {
        const key = `${r.queue}\u0000${r.pattern}`;
        const g = groups.get(key);
        if (g) g.push(r);
        else groups.set(key, [r]);
      }
    }
    for (const [key, members] of groups) {
      const cursor = this.queueCursor.get(key) ?? 0;
      plain.push(members[cursor % members.length]!);
      this.queueCursor.set(key, cursor + 1);
    }
    return plain;
  }

  async request(subject: string, data: Uint8Array, options?: { timeoutMs?: number; headers?: Headers }): Promise<BusMessage> {
    this.assertOpen();
    assertPublishSubject(subject);
    this.assertNotOnStream(subject);
    const timeout = options?.timeoutMs ?? this.options.requestTimeoutMs ?? 5_000;
    return withProducerSpan(`${subject} request`, SpanKind.CLIENT, messagingAttributes(SYSTEM, subject), async (ctx) => {
      const headers = outgoingHeaders(options?.headers, undefined, ctx);
      const targets = this.responders(subject);
      if (targets.length === 0) throw new BusError(BusErrorIds.NoResponders, `no responders on '${subject}'`);
      const inbox = `_INBOX.${randomUUID().replaceAll('-', '')}`;
      return new Promise<BusMessage>((resolve, reject) => {
        let settled = false;
        const timer = setTimeout(() => {
          settled = true;
          reject(new BusError(BusErrorIds.Timeout, `request to '${subject}' timed out after ${timeout} ms`));
        }, timeout);
        for (const target of targets) {
          void this.answer(target, { subject, data: data.slice(), headers: { ...headers }, deliveryCount: 1 }).then((res) => {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            const remote = remoteErrorOf(subject, res.headers);
            if (remote) reject(remote);
            else resolve({ subject: inbox, data: res.data, headers: res.headers, deliveryCount: 1 });
          });
        }
      });
    });
  }

  private answer(r: ReplySub, request: BusMessage): Promise<{ data: Uint8Array; headers: Headers }> {
    const p = (async () => {
      await Promise.resolve();
      try {
        const data = await withConsumerSpan(
          `${request.subject} process`,
          request.headers,
          messagingAttributes(SYSTEM, request.subject, { 'messaging.message.id': request.headers['Noctria-Msg-Id'] ?? '', 'messaging.delivery_count': 1 }),
          () => Promise.resolve().then(() => r.handler(request)),
        );
        return { data: data.slice(), headers: {} as Headers };
      } catch (err) {
        return { data: new Uint8Array(0), headers: errorReplyHeaders(err) };
      }
    })();
    r.inflight.add(p);
    void p.finally(() => r.inflight.delete(p));
    return p;
  }

  async reply(subject: string, handler: RequestHandler, options?: { queue?: string }): Promise<Subscription> {
    this.assertOpen();
    assertSubjectPattern(subject);
    this.assertNotOnStream(subject);
    const r: ReplySub = { pattern: subject, queue: options?.queue, handler, inflight: new Set(), stopping: false };
    this.replySubs.add(r);
    let stopping: Promise<void> | undefined;
    const s: Subscription = {
      stop: () =>
        (stopping ??= (async () => {
          r.stopping = true;
          this.replySubs.delete(r);
          while (r.inflight.size > 0) await Promise.allSettled([...r.inflight]);
          this.subscriptions.delete(s);
        })()),
    };
    this.subscriptions.add(s);
    return s;
  }

  // -- lifecycle --------------------------------------------------------------------------------------------------

  async ping(): Promise<boolean> {
    return !this.closing;
  }

  close(): Promise<void> {
    if (this.closing) return this.closing;
    const subs = [...this.subscriptions];
    this.closing = (async () => {
      await Promise.allSettled(subs.map((s) => s.stop()));
      for (const d of this.durables.values()) {
        for (const entry of d.pending.values()) clearTimeout(entry.timer);
      }
    })();
    return this.closing;
  }
}
