/**
 * Pieces both adapters share: header names, trace-context propagation, metrics, the delivery policy
 * (ack / retry with backoff / dead-letter), a concurrency gate and the logger shape.
 */
import { randomUUID } from 'node:crypto';
import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
} from '@opentelemetry/api';
import { Counter, Histogram, type Registry } from 'prom-client';
import type { ConsumerDefinition } from '@noctria/contracts';
import type { Headers } from './bus.port.js';
import { BusError, BusErrorIds, errorIdOf, errorMessageOf, headerSafe } from './bus.errors.js';
import { isValidSubject, subjectRoot } from './subjects.js';

/** Header names the adapters read and write. */
export const BusHeaders = {
  /** JetStream de-duplication id (set when `PublishOptions.msgId` is given). */
  NatsMsgId: 'Nats-Msg-Id',
  /** Message id carried by every published message and request (the msgId, else a random UUID). */
  MessageId: 'Noctria-Msg-Id',
  /** On a reply: the error id raised by the remote handler. */
  Error: 'Noctria-Error',
  /** On a reply: the error message raised by the remote handler. */
  ErrorMessage: 'Noctria-Error-Message',
  /** Dead-letter headers: where the message came from and why it died. */
  DlqSubject: 'Noctria-Dlq-Subject',
  DlqStream: 'Noctria-Dlq-Stream',
  DlqStreamSeq: 'Noctria-Dlq-Stream-Seq',
  DlqDurable: 'Noctria-Dlq-Durable',
  DlqDeliveryCount: 'Noctria-Dlq-Delivery-Count',
  DlqError: 'Noctria-Dlq-Error',
  DlqErrorId: 'Noctria-Dlq-Error-Id',
  TraceParent: 'traceparent',
  TraceState: 'tracestate',
} as const;

/** pino-compatible logger subset. */
export interface BusLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** Default logger: warnings and errors as JSON lines on stderr, nothing else. */
export const stderrBusLogger: BusLogger = {
  debug: () => undefined,
  info: () => undefined,
  warn: (obj, msg) => process.stderr.write(`${JSON.stringify({ level: 'warn', component: 'bus', msg, ...obj })}\n`),
  error: (obj, msg) => process.stderr.write(`${JSON.stringify({ level: 'error', component: 'bus', msg, ...obj })}\n`),
};

// ---------------------------------------------------------------------------------------------------------------
// Validation

export function assertPublishSubject(subject: string): void {
  if (!isValidSubject(subject, false)) {
    throw new BusError(BusErrorIds.InvalidArgument, `invalid publish subject '${subject}'`);
  }
}

export function assertSubjectPattern(subject: string): void {
  if (!isValidSubject(subject, true)) {
    throw new BusError(BusErrorIds.InvalidArgument, `invalid subject '${subject}'`);
  }
}

const NAME = /^[A-Za-z0-9_-]+$/;

export function assertName(kind: string, name: string): void {
  if (!NAME.test(name)) {
    throw new BusError(BusErrorIds.InvalidArgument, `invalid ${kind} name '${name}' (letters, digits, '_' and '-' only)`);
  }
}

export function assertConsumerDefinition(def: ConsumerDefinition): void {
  assertName('stream', def.stream);
  assertName('durable', def.durable);
  if (def.filterSubjects.length === 0) {
    throw new BusError(BusErrorIds.InvalidArgument, `consumer ${def.durable}: filterSubjects is empty`);
  }
  def.filterSubjects.forEach(assertSubjectPattern);
  assertPublishSubject(def.deadLetterSubject);
  if (!Number.isInteger(def.maxDeliver) || def.maxDeliver < 1) {
    throw new BusError(BusErrorIds.InvalidArgument, `consumer ${def.durable}: maxDeliver must be an integer >= 1`);
  }
  if (def.backoffMs.some((d) => !Number.isFinite(d) || d < 0)) {
    throw new BusError(BusErrorIds.InvalidArgument, `consumer ${def.durable}: backoffMs must be finite and >= 0`);
  }
  if (!(def.ackWaitMs > 0) || !(def.maxAckPending >= 1)) {
    throw new BusError(BusErrorIds.InvalidArgument, `consumer ${def.durable}: ackWaitMs must be > 0 and maxAckPending >= 1`);
  }
}

export function concurrencyOf(options: { concurrency?: number } | undefined): number {
  const c = options?.concurrency ?? 1;
  if (!Number.isInteger(c) || c < 1) {
    throw new BusError(BusErrorIds.InvalidArgument, `concurrency must be an integer >= 1 (got ${c})`);
  }
  return c;
}

// ---------------------------------------------------------------------------------------------------------------
// Delivery policy

/** Redelivery delay after the `deliveryCount`-th delivery failed: `backoffMs[min(deliveryCount-1, len-1)]`. */
export function backoffDelay(backoffMs: readonly number[], deliveryCount: number): number {
  if (backoffMs.length === 0) return 0;
  return backoffMs[Math.min(Math.max(deliveryCount - 1, 0), backoffMs.length - 1)]!;
}

/** De-duplication id of the dead-letter copy: one per (stream, durable, stream sequence). */
export function deadLetterMsgId(stream: string, durable: string, sequence: number): string {
  return `dlq:${stream}:${durable}:${sequence}`;
}

export interface DeadLetterSource {
  subject: string;
  headers: Headers;
  stream: string;
  durable: string;
  streamSequence: number;
  deliveryCount: number;
}

/** Headers of the dead-letter copy: the original headers (minus its de-dup id) plus the failure record. */
export function deadLetterHeaders(src: DeadLetterSource, err: unknown): Headers {
  const out: Headers = {};
  for (const [k, v] of Object.entries(src.headers)) {
    if (k !== BusHeaders.NatsMsgId) out[k] = v;
  }
  out[BusHeaders.DlqSubject] = src.subject;
  out[BusHeaders.DlqStream] = src.stream;
  out[BusHeaders.DlqStreamSeq] = String(src.streamSequence);
  out[BusHeaders.DlqDurable] = src.durable;
  out[BusHeaders.DlqDeliveryCount] = String(src.deliveryCount);
  out[BusHeaders.DlqError] = headerSafe(errorMessageOf(err));
  out[BusHeaders.DlqErrorId] = errorIdOf(err);
  return out;
}

/** Headers of a failed reply. */
export function errorReplyHeaders(err: unknown): Headers {
  return {
    [BusHeaders.Error]: errorIdOf(err),
    [BusHeaders.ErrorMessage]: headerSafe(errorMessageOf(err)) || 'error',
  };
}

/** Turns a reply that carries `Noctria-Error` into the error the requester throws. */
export function remoteErrorOf(subject: string, headers: Headers): BusError | undefined {
  const id = headers[BusHeaders.Error];
  if (id === undefined) return undefined;
  const message = headers[BusHeaders.ErrorMessage] ?? 'remote handler failed';
  return new BusError(id, `${subject}: ${message}`, { remote: true });
}

/** Headers of an outgoing message: the caller's, the message id, and the active trace context. */
export function outgoingHeaders(user: Headers | undefined, msgId: string | undefined, ctx: Context): Headers {
  const out: Headers = { ...(user ?? {}) };
  out[BusHeaders.MessageId] = msgId ?? randomUUID();
  if (msgId !== undefined) out[BusHeaders.NatsMsgId] = msgId;
  propagation.inject(ctx, out);
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Tracing

const TRACER = '@noctria/platform/bus';

function tracer() {
  return trace.getTracer(TRACER);
}

export function messagingAttributes(system: string, destination: string, extra: Attributes = {}): Attributes {
  return { 'messaging.system': system, 'messaging.destination.name': destination, ...extra };
}

/** Runs `fn` in a span that is a child of the currently active context (publish / request side). */
export async function withProducerSpan<T>(
  name: string,
  kind: SpanKind,
  attributes: Attributes,
  fn: (ctx: Context) => Promise<T>,
): Promise<T> {
  return tracer().startActiveSpan(name, { kind, attributes }, async (span) => runSpan(span, () => fn(context.active())));
}

/** Runs a handler in a CONSUMER span whose parent is the trace context extracted from the message headers. */
export async function withConsumerSpan<T>(
  name: string,
  headers: Headers,
  attributes: Attributes,
  fn: () => Promise<T>,
): Promise<T> {
  const parent = propagation.extract(ROOT_CONTEXT, headers);
  return tracer().startActiveSpan(name, { kind: SpanKind.CONSUMER, attributes }, parent, async (span) => runSpan(span, fn));
}

async function runSpan<T>(span: Span, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    span.recordException(err instanceof Error ? err : new Error(errorMessageOf(err)));
    span.setStatus({ code: SpanStatusCode.ERROR, message: errorMessageOf(err) });
    span.setAttribute('error.type', errorIdOf(err));
    throw err;
  } finally {
    span.end();
  }
}

export { SpanKind };

// ---------------------------------------------------------------------------------------------------------------
// Metrics

export type ConsumeOutcome = 'ack' | 'retry' | 'dead';

/** Prometheus metrics of one bus; a no-op without a registry. Metrics already in the registry are reused. */
export class BusMetrics {
  private readonly publishedTotal?: Counter<'subject_root'>;
  private readonly consumedTotal?: Counter<'durable' | 'outcome'>;
  private readonly handlerSeconds?: Histogram<'durable'>;
  private readonly publishAckSeconds?: Histogram<'subject_root'>;

  constructor(registry?: Registry) {
    if (!registry) return;
    const reuse = <M>(name: string, make: () => M): M => (registry.getSingleMetric(name) as M | undefined) ?? make();
    this.publishedTotal = reuse(
      'bus_published_total',
      () => new Counter({ name: 'bus_published_total', help: 'Messages published to streams', labelNames: ['subject_root'], registers: [registry] }),
    );
    this.consumedTotal = reuse(
      'bus_consumed_total',
      () =>
        new Counter({
          name: 'bus_consumed_total',
          help: 'Stream deliveries handled, by outcome (ack, retry, dead)',
          labelNames: ['durable', 'outcome'],
          registers: [registry],
        }),
    );
    this.handlerSeconds = reuse(
      'bus_handler_seconds',
      () =>
        new Histogram({
          name: 'bus_handler_seconds',
          help: 'Consumer handler duration',
          labelNames: ['durable'],
          buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
          registers: [registry],
        }),
    );
    this.publishAckSeconds = reuse(
      'bus_publish_ack_seconds',
      () =>
        new Histogram({
          name: 'bus_publish_ack_seconds',
          help: 'Time from publish to the stream acknowledgement',
          labelNames: ['subject_root'],
          buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
          registers: [registry],
        }),
    );
  }

  published(subject: string, seconds: number): void {
    const root = subjectRoot(subject);
    this.publishedTotal?.inc({ subject_root: root });
    this.publishAckSeconds?.observe({ subject_root: root }, seconds);
  }

  consumed(durable: string, outcome: ConsumeOutcome): void {
    this.consumedTotal?.inc({ durable, outcome });
  }

  handled(durable: string, seconds: number): void {
    this.handlerSeconds?.observe({ durable }, seconds);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Concurrency

/**
 * A counting semaphore over in-flight handlers: pull loops take a slot before dispatching, the handler's
 * completion releases it, and stop() closes the gate (pending acquires resolve `false`) then waits for idleness.
 */
export class InFlight {
  private count = 0;
  private closed = false;
  private waiters: Array<() => void> = [];

  constructor(readonly limit: number) {}

  get size(): number {
    return this.count;
  }

  /** Takes a slot if one is free and the gate is open. */
  tryAcquire(): boolean {
    if (this.closed || this.count >= this.limit) return false;
    this.count++;
    return true;
  }

  /** Waits for and takes a slot; `false` once the gate is closed. */
  async acquire(): Promise<boolean> {
    for (;;) {
      if (this.tryAcquire()) return true;
      if (this.closed) return false;
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }

  /** Runs `fn` in a slot already taken with tryAcquire()/acquire(); the slot is released when it settles. */
  run(fn: () => Promise<void>): Promise<void> {
    return fn().finally(() => this.release());
  }

  /** Gives back a slot taken with tryAcquire()/acquire() that was not used for run(). */
  release(): void {
    this.count--;
    this.wake();
  }

  /** No more slots are handed out; pending acquire() calls resolve `false`. */
  close(): void {
    this.closed = true;
    this.wake();
  }

  /** Resolves once nothing is in flight. */
  async idle(): Promise<void> {
    while (this.count > 0) await new Promise<void>((r) => this.waiters.push(r));
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const resolve of w) resolve();
  }
}

export function seconds(startNs: bigint): number {
  return Number(process.hrtime.bigint() - startNs) / 1e9;
}
