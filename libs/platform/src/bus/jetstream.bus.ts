/**
 * The `cluster` adapter: NATS JetStream for streams and core NATS for request/reply.
 *
 * Works with nats-server 2.9+: one filter subject per JetStream consumer (a definition with several filter
 * subjects becomes one durable per subject, named `<durable>_<hash of subject>`), `nak(delay)` for backoff,
 * and no per-message TTL. The consumer's server-side `max_deliver` is unlimited: `maxDeliver` is enforced here so
 * that a message whose dead-lettering was interrupted (crash between the DLQ publish and the `term`) is
 * redelivered and dead-lettered again — the DLQ publish carries a `Nats-Msg-Id` derived from
 * (stream, durable, sequence), so the DLQ stream keeps exactly one copy. A redelivery beyond `maxDeliver`
 * (handler hung past ack_wait, consumer crashed) is dead-lettered without running the handler again.
 */
import { connect, Empty, errors as natsErrors, headers as natsHeaders } from '@nats-io/transport-node';
import type { Msg, MsgHdrs, NatsConnection } from '@nats-io/transport-node';
import {
  AckPolicy,
  DeliverPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  jetstream,
  jetstreamManager,
  ReplayPolicy,
  StorageType,
  type ConsumerConfig,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  type StreamConfig,
} from '@nats-io/jetstream';
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
import { subjectsOverlap } from './subjects.js';

export interface JetStreamBusOptions {
  /** NATS server URL(s), e.g. `nats://127.0.0.1:4222`. */
  servers: string | string[];
  /** Connection name (shows up in the server's connz): the service name. */
  name: string;
  logger?: BusLogger;
  /** Registry for the bus_* metrics; none = no metrics. */
  registry?: Registry;
  /** Wait between reconnect attempts, ms (default 1000, plus jitter). Reconnects never give up. */
  reconnectTimeWaitMs?: number;
  /** Keep retrying the first connection instead of failing (default false). */
  waitOnFirstConnect?: boolean;
  /** Expiry of each pull request, ms (default 5000); also bounds how long a consumer waits to re-check after a restart. */
  pullExpiresMs?: number;
  /** Timeout of JetStream publish acks and API calls, ms (default 5000). */
  apiTimeoutMs?: number;
  /** Default request() timeout, ms (default 5000). */
  requestTimeoutMs?: number;
  /** ping() round-trip timeout, ms (default 1000). */
  pingTimeoutMs?: number;
}

const NANOS_PER_MS = 1_000_000;
const nanos = (ms: number): number => Math.round(ms * NANOS_PER_MS);
const STREAM_LOOKUP_TTL_MS = 30_000;
/** JetStream API error code JSStreamSubjectOverlapErr. */
const STREAM_SUBJECT_OVERLAP = 10065;

function toMsgHdrs(h: Headers): MsgHdrs {
  const out = natsHeaders();
  for (const [k, v] of Object.entries(h)) out.set(k, v);
  return out;
}

function toRecord(h: MsgHdrs | undefined): Headers {
  const out: Headers = {};
  if (!h) return out;
  for (const k of h.keys()) out[k] = h.values(k).join(',');
  return out;
}

/** FNV-1a 32-bit, hex: a stable short suffix for per-subject durable names. */
function fnv1a(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}

/** JetStream durable name(s) behind one consumer definition: one per filter subject (nats-server 2.9). */
export function jetStreamDurables(def: ConsumerDefinition): Array<{ name: string; filterSubject: string }> {
  if (def.filterSubjects.length === 1) return [{ name: def.durable, filterSubject: def.filterSubjects[0]! }];
  return def.filterSubjects.map((s) => ({ name: `${def.durable}_${fnv1a(s)}`, filterSubject: s }));
}

function isApiError(err: unknown, code: number): boolean {
  return err instanceof JetStreamApiError && err.code === code;
}

function isNoResponders(err: unknown): boolean {
  return (
    err instanceof natsErrors.NoRespondersError ||
    (err instanceof natsErrors.RequestError && err.isNoResponders()) ||
    (err instanceof Error && err.name === 'JetStreamNotEnabled')
  );
}

function isTimeout(err: unknown): boolean {
  return err instanceof natsErrors.TimeoutError || (err instanceof Error && err.cause instanceof natsErrors.TimeoutError);
}

interface ConsumeState {
  def: ConsumerDefinition;
  handler: MessageHandler;
  pool: InFlight;
  stopping: boolean;
  iterators: Set<ConsumerMessages>;
  /** Resolves when stop() is called (interrupts retry waits). */
  stopped: Promise<void>;
  signalStop: () => void;
}

export class JetStreamBus implements Bus {
  readonly kind = 'jetstream' as const;
  private readonly js: JetStreamClient;
  private readonly metrics: BusMetrics;
  private readonly logger: BusLogger;
  private readonly subscriptions = new Set<Subscription>();
  private readonly knownStreams = new Map<string, StreamDefinition>();
  private readonly streamLookups = new Map<string, { stream: string | undefined; until: number }>();
  private closing: Promise<void> | undefined;

  private constructor(
    /** The underlying connection (for diagnostics and benchmarks; prefer the Bus methods). */
    readonly connection: NatsConnection,
    private readonly jsm: JetStreamManager,
    private readonly options: JetStreamBusOptions,
  ) {
    this.js = jetstream(connection, { timeout: options.apiTimeoutMs ?? 5_000 });
    this.metrics = new BusMetrics(options.registry);
    this.logger = options.logger ?? stderrBusLogger;
    void this.watchStatus();
  }

  static async connect(options: JetStreamBusOptions): Promise<JetStreamBus> {
    let nc: NatsConnection;
    try {
      nc = await connect({
        servers: options.servers,
        name: options.name,
        maxReconnectAttempts: -1,
        reconnectTimeWait: options.reconnectTimeWaitMs ?? 1_000,
        reconnectJitter: 100,
        waitOnFirstConnect: options.waitOnFirstConnect ?? false,
        pingInterval: 10_000,
        maxPingOut: 3,
        timeout: options.apiTimeoutMs ?? 5_000,
      });
    } catch (err) {
      throw new BusError(BusErrorIds.Transport, `cannot connect to NATS at ${String(options.servers)}: ${errorMessageOf(err)}`, { cause: err });
    }
    try {
      const jsm = await jetstreamManager(nc, { timeout: options.apiTimeoutMs ?? 5_000 });
      return new JetStreamBus(nc, jsm, options);
    } catch (err) {
      await nc.close().catch(() => undefined);
      throw new BusError(BusErrorIds.Transport, `JetStream is not available at ${String(options.servers)}: ${errorMessageOf(err)}`, { cause: err });
    }
  }

  private async watchStatus(): Promise<void> {
    for await (const s of this.connection.status()) {
      if (s.type === 'disconnect') this.logger.warn({ server: s.server }, 'bus disconnected');
      else if (s.type === 'reconnect') this.logger.info({ server: s.server }, 'bus reconnected');
      else if (s.type === 'error') this.logger.error({ err: errorMessageOf(s.error) }, 'bus connection error');
    }
  }

  private assertOpen(): void {
    if (this.closing || this.connection.isClosed()) throw new BusError(BusErrorIds.Closed, 'bus is closed');
  }

  // -- streams ----------------------------------------------------------------------------------------------------

  async ensureStreams(streams: readonly StreamDefinition[]): Promise<void> {
    this.assertOpen();
    for (const def of streams) {
      assertName('stream', def.name);
      def.subjects.forEach(assertSubjectPattern);
      const storage = def.storage === 'memory' ? StorageType.Memory : StorageType.File;
      const wanted = { subjects: [...def.subjects], max_age: nanos(def.maxAgeMs), duplicate_window: nanos(def.duplicateWindowMs) };
      try {
        let current: StreamConfig | undefined;
        try {
          current = (await this.jsm.streams.info(def.name)).config;
        } catch (err) {
          if (!isApiError(err, JetStreamApiCodes.StreamNotFound)) throw err;
        }
        if (!current) {
          await this.jsm.streams.add({ name: def.name, storage, ...wanted });
          this.logger.info({ stream: def.name }, 'stream created');
        } else {
          if (current.storage !== storage) {
            throw new BusError(
              BusErrorIds.StreamConflict,
              `stream ${def.name} exists with ${current.storage} storage; ${storage} requested (storage cannot change)`,
            );
          }
          const same =
            [...current.subjects].sort().join('\n') === [...wanted.subjects].sort().join('\n') &&
            current.max_age === wanted.max_age &&
            current.duplicate_window === wanted.duplicate_window;
          if (!same) {
            await this.jsm.streams.update(def.name, wanted);
            this.logger.info({ stream: def.name }, 'stream updated');
          }
        }
      } catch (err) {
        if (err instanceof BusError) throw err;
        if (isApiError(err, STREAM_SUBJECT_OVERLAP)) {
          throw new BusError(BusErrorIds.StreamConflict, `stream ${def.name}: subjects overlap another stream`, { cause: err });
        }
        throw new BusError(BusErrorIds.Transport, `stream ${def.name}: ${errorMessageOf(err)}`, { cause: err });
      }
      this.knownStreams.set(def.name, def);
      for (const key of this.streamLookups.keys()) this.streamLookups.delete(key);
    }
  }

  // -- publish ----------------------------------------------------------------------------------------------------

  async publish(subject: string, data: Uint8Array, options?: PublishOptions): Promise<PublishAck> {
    this.assertOpen();
    assertPublishSubject(subject);
    return withProducerSpan(`${subject} publish`, SpanKind.PRODUCER, messagingAttributes('nats', subject), async (ctx) => {
      const h = outgoingHeaders(options?.headers, options?.msgId, ctx);
      const t0 = process.hrtime.bigint();
      try {
        const pa = await this.js.publish(subject, data, { headers: toMsgHdrs(h), msgID: options?.msgId });
        this.metrics.published(subject, seconds(t0));
        return { stream: pa.stream, sequence: pa.seq, duplicate: pa.duplicate };
      } catch (err) {
        if (isNoResponders(err)) {
          throw new BusError(BusErrorIds.NoStream, `no stream stores subject '${subject}' (or JetStream is unavailable)`, { cause: err });
        }
        if (isTimeout(err)) throw new BusError(BusErrorIds.Timeout, `publish to '${subject}' was not acknowledged in time`, { cause: err });
        throw new BusError(BusErrorIds.Transport, `publish to '${subject}' failed: ${errorMessageOf(err)}`, { cause: err });
      }
    });
  }

  // -- consume ----------------------------------------------------------------------------------------------------

  async consume(def: ConsumerDefinition, handler: MessageHandler, options?: ConsumeOptions): Promise<Subscription> {
    this.assertOpen();
    assertConsumerDefinition(def);
    const concurrency = concurrencyOf(options);
    const durables = jetStreamDurables(def);
    for (const d of durables) {
      const config: Partial<ConsumerConfig> = {
        durable_name: d.name,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        replay_policy: ReplayPolicy.Instant,
        filter_subject: d.filterSubject,
        ack_wait: nanos(def.ackWaitMs),
        max_deliver: -1,
        max_ack_pending: def.maxAckPending,
      };
      try {
        await this.jsm.consumers.add(def.stream, config);
      } catch (err) {
        if (isApiError(err, JetStreamApiCodes.StreamNotFound)) {
          throw new BusError(BusErrorIds.StreamNotFound, `consumer ${def.durable}: stream ${def.stream} does not exist`, { cause: err });
        }
        throw new BusError(BusErrorIds.Transport, `consumer ${def.durable}: ${errorMessageOf(err)}`, { cause: err });
      }
    }

    let signalStop!: () => void;
    const state: ConsumeState = {
      def,
      handler,
      pool: new InFlight(concurrency),
      stopping: false,
      iterators: new Set(),
      stopped: new Promise<void>((r) => (signalStop = r)),
      signalStop: () => signalStop(),
    };
    // Messages buffered client-side are bounded by max_messages; handlers in flight by the pool.
    const loops = durables.map((d) => this.pullLoop(state, d.name));
    let stopping: Promise<void> | undefined;
    const sub: Subscription = {
      stop: () =>
        (stopping ??= (async () => {
          state.stopping = true;
          state.pool.close();
          state.signalStop();
          for (const it of state.iterators) it.stop();
          await Promise.all(loops);
          await state.pool.idle();
          this.subscriptions.delete(sub);
        })()),
    };
    this.subscriptions.add(sub);
    return sub;
  }

  private async pullLoop(state: ConsumeState, durableName: string): Promise<void> {
    const { def } = state;
    let attempt = 0;
    while (!state.stopping && !this.connection.isClosed()) {
      let messages: ConsumerMessages | undefined;
      try {
        const consumer = await this.js.consumers.get(def.stream, durableName);
        if (state.stopping) break;
        messages = await consumer.consume({
          max_messages: state.pool.limit,
          expires: this.options.pullExpiresMs ?? 5_000,
        });
        state.iterators.add(messages);
        if (state.stopping) messages.stop();
        attempt = 0;
        for await (const m of messages) {
          if (state.stopping || !(await state.pool.acquire())) {
            // Received but never handled: hand it back for immediate redelivery.
            m.nak();
            continue;
          }
          void state.pool.run(() => this.deliver(state, m));
        }
      } catch (err) {
        if (state.stopping || this.connection.isClosed()) break;
        this.logger.warn({ stream: def.stream, durable: durableName, err: errorMessageOf(err) }, 'pull loop failed; retrying');
      } finally {
        if (messages) state.iterators.delete(messages);
      }
      if (state.stopping || this.connection.isClosed()) break;
      // The iterator ended without stop(): back off, then pull again.
      const wait = Math.min(250 * 2 ** attempt++, 5_000);
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([new Promise<void>((r) => (timer = setTimeout(r, wait))), state.stopped]);
      clearTimeout(timer);
    }
  }

  private async deliver(state: ConsumeState, m: JsMsg): Promise<void> {
    const { def } = state;
    const deliveryCount = m.info.deliveryCount;
    const headers = toRecord(m.headers);
    const msg: BusMessage = { subject: m.subject, data: m.data, headers, deliveryCount, streamSequence: m.info.streamSequence };
    try {
      if (deliveryCount > def.maxDeliver) {
        await this.deadLetter(
          state,
          m,
          msg,
          new BusError(BusErrorIds.MaxDeliverExceeded, `delivered ${deliveryCount} times without an ack (maxDeliver ${def.maxDeliver})`),
        );
        return;
      }
      const t0 = process.hrtime.bigint();
      let failure: { err: unknown } | undefined;
      try {
        await withConsumerSpan(
          `${m.subject} process`,
          headers,
          messagingAttributes('nats', m.subject, {
            'messaging.consumer.group.name': def.durable,
            'messaging.message.id': headers['Noctria-Msg-Id'] ?? '',
            'messaging.delivery_count': deliveryCount,
            'messaging.nats.stream_sequence': m.info.streamSequence,
          }),
          () => Promise.resolve().then(() => state.handler(msg)),
        );
      } catch (err) {
        failure = { err };
      }
      this.metrics.handled(def.durable, seconds(t0));
      if (!failure) {
        m.ack();
        this.metrics.consumed(def.durable, 'ack');
      } else if (deliveryCount >= def.maxDeliver) {
        await this.deadLetter(state, m, msg, failure.err);
      } else {
        m.nak(backoffDelay(def.backoffMs, deliveryCount));
        this.metrics.consumed(def.durable, 'retry');
        this.logger.debug(
          { subject: m.subject, durable: def.durable, deliveryCount, err: errorMessageOf(failure.err), errorId: errorIdOf(failure.err) },
          'handler failed; will retry',
        );
      }
    } catch (err) {
      // Only ack/nak on a closed connection can land here; the server redelivers after ack_wait.
      this.logger.error({ subject: m.subject, durable: def.durable, err: errorMessageOf(err) }, 'could not settle message');
    }
  }

  private async deadLetter(state: ConsumeState, m: JsMsg, msg: BusMessage, err: unknown): Promise<void> {
    const { def } = state;
    const seq = m.info.streamSequence;
    const headers = deadLetterHeaders(
      { subject: msg.subject, headers: msg.headers, stream: def.stream, durable: def.durable, streamSequence: seq, deliveryCount: msg.deliveryCount },
      err,
    );
    try {
      await this.js.publish(def.deadLetterSubject, m.data, { headers: toMsgHdrs(headers), msgID: deadLetterMsgId(def.stream, def.durable, seq) });
    } catch (pubErr) {
      // Keep the message: it comes back (deliveryCount > maxDeliver) and is dead-lettered again.
      m.nak(backoffDelay(def.backoffMs, msg.deliveryCount));
      this.metrics.consumed(def.durable, 'retry');
      this.logger.error(
        { subject: msg.subject, durable: def.durable, deadLetterSubject: def.deadLetterSubject, err: errorMessageOf(pubErr) },
        'dead-letter publish failed; message kept for another attempt',
      );
      return;
    }
    m.term();
    this.metrics.consumed(def.durable, 'dead');
    this.logger.warn(
      { subject: msg.subject, durable: def.durable, streamSequence: seq, deliveryCount: msg.deliveryCount, errorId: errorIdOf(err), err: errorMessageOf(err) },
      'message dead-lettered',
    );
  }

  // -- request / reply --------------------------------------------------------------------------------------------

  /** Request/reply must never touch a stream subject (JetStream would store the request and answer with a PubAck). */
  private async assertNotOnStream(subject: string): Promise<void> {
    for (const def of this.knownStreams.values()) {
      if (def.subjects.some((s) => subjectsOverlap(s, subject))) {
        throw new BusError(BusErrorIds.SubjectOnStream, `'${subject}' is stored by stream ${def.name}; request/reply needs a core subject`);
      }
    }
    const now = Date.now();
    let lookup = this.streamLookups.get(subject);
    if (!lookup || lookup.until < now) {
      try {
        const names = await this.jsm.streams.names(subject).next();
        lookup = { stream: names[0], until: now + STREAM_LOOKUP_TTL_MS };
        this.streamLookups.set(subject, lookup);
      } catch (err) {
        throw new BusError(BusErrorIds.Transport, `cannot check whether '${subject}' is a stream subject: ${errorMessageOf(err)}`, { cause: err });
      }
    }
    if (lookup.stream !== undefined) {
      throw new BusError(BusErrorIds.SubjectOnStream, `'${subject}' is stored by stream ${lookup.stream}; request/reply needs a core subject`);
    }
  }

  async request(subject: string, data: Uint8Array, options?: { timeoutMs?: number; headers?: Headers }): Promise<BusMessage> {
    this.assertOpen();
    assertPublishSubject(subject);
    await this.assertNotOnStream(subject);
    const timeout = options?.timeoutMs ?? this.options.requestTimeoutMs ?? 5_000;
    return withProducerSpan(`${subject} request`, SpanKind.CLIENT, messagingAttributes('nats', subject), async (ctx) => {
      const h = outgoingHeaders(options?.headers, undefined, ctx);
      let reply: Msg;
      try {
        reply = await this.connection.request(subject, data, { timeout, headers: toMsgHdrs(h) });
      } catch (err) {
        if (isNoResponders(err)) throw new BusError(BusErrorIds.NoResponders, `no responders on '${subject}'`, { cause: err });
        if (isTimeout(err)) throw new BusError(BusErrorIds.Timeout, `request to '${subject}' timed out after ${timeout} ms`, { cause: err });
        throw new BusError(BusErrorIds.Transport, `request to '${subject}' failed: ${errorMessageOf(err)}`, { cause: err });
      }
      const headers = toRecord(reply.headers);
      const remote = remoteErrorOf(subject, headers);
      if (remote) throw remote;
      return { subject: reply.subject, data: reply.data, headers, deliveryCount: 1 };
    });
  }

  async reply(subject: string, handler: RequestHandler, options?: { queue?: string }): Promise<Subscription> {
    this.assertOpen();
    assertSubjectPattern(subject);
    await this.assertNotOnStream(subject);
    const inflight = new Set<Promise<void>>();
    const sub = this.connection.subscribe(subject, {
      queue: options?.queue,
      callback: (err, msg) => {
        if (err) {
          this.logger.error({ subject, err: errorMessageOf(err) }, 'reply subscription failed');
          return;
        }
        const p: Promise<void> = this.answer(msg, handler).finally(() => inflight.delete(p));
        inflight.add(p);
      },
    });
    await this.connection.flush();
    let stopping: Promise<void> | undefined;
    const s: Subscription = {
      stop: () =>
        (stopping ??= (async () => {
          try {
            await sub.drain();
          } catch {
            sub.unsubscribe();
          }
          while (inflight.size > 0) await Promise.allSettled([...inflight]);
          this.subscriptions.delete(s);
        })()),
    };
    this.subscriptions.add(s);
    return s;
  }

  private async answer(msg: Msg, handler: RequestHandler): Promise<void> {
    const headers = toRecord(msg.headers);
    const request: BusMessage = { subject: msg.subject, data: msg.data, headers, deliveryCount: 1 };
    let out: { data: Uint8Array; headers?: MsgHdrs };
    try {
      const data = await withConsumerSpan(
        `${msg.subject} process`,
        headers,
        messagingAttributes('nats', msg.subject, { 'messaging.message.id': headers['Noctria-Msg-Id'] ?? '', 'messaging.delivery_count': 1 }),
        () => Promise.resolve().then(() => handler(request)),
      );
      out = { data };
    } catch (err) {
      out = { data: Empty, headers: toMsgHdrs(errorReplyHeaders(err)) };
    }
    if (!msg.reply) return;
    try {
      msg.respond(out.data, out.headers ? { headers: out.headers } : undefined);
    } catch (err) {
      this.logger.warn({ subject: msg.subject, err: errorMessageOf(err) }, 'could not send reply');
    }
  }

  // -- lifecycle --------------------------------------------------------------------------------------------------

  async ping(): Promise<boolean> {
    if (this.closing || this.connection.isClosed()) return false;
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('ping timeout')), this.options.pingTimeoutMs ?? 1_000);
      });
      await Promise.race([this.connection.rtt(), timeout]);
      return true;
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
    }
  }

  close(): Promise<void> {
    return (this.closing ??= (async () => {
      await Promise.allSettled([...this.subscriptions].map((s) => s.stop()));
      if (this.connection.isClosed()) return;
      // Drain flushes pending publishes/acks; bounded, because with the server down it would wait forever.
      let timer: NodeJS.Timeout | undefined;
      const bounded = new Promise<void>((r) => (timer = setTimeout(r, this.options.apiTimeoutMs ?? 5_000)));
      await Promise.race([this.connection.drain().catch(() => undefined), bounded]);
      clearTimeout(timer);
      if (!this.connection.isClosed()) await this.connection.close().catch(() => undefined);
    })());
  }
}
