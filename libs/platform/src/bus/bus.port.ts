/**
 * The bus port. Two adapters implement it (JetStream for `cluster`, in-process for `embedded`) and both
 * must pass the one shared contract suite in `libs/platform/test/bus/bus.contract.ts`.
 *
 * Semantics every adapter guarantees:
 * - publish(): durable once the returned promise resolves; a repeated `msgId` inside the stream's
 *   duplicate window is dropped and reported with `duplicate: true`.
 * - consume(): at-least-once; a handler that resolves acks; a handler that throws is redelivered after
 *   `backoffMs[min(deliveryCount-1, len-1)]`; after `maxDeliver` deliveries the message goes to the
 *   dead-letter subject (with the failure reason in headers) and is acked on the source.
 * - request()/reply(): core request/reply, never on a stream subject.
 *
 * Details both adapters share (contract-tested):
 * - Every published message and request carries a message id header (`Noctria-Msg-Id`: the msgId, else a
 *   UUID) and the active W3C trace context (`traceparent`/`tracestate`); handlers run in a CONSUMER span whose
 *   parent is that context. Header names: `BusHeaders`.
 * - The dead-letter copy keeps the payload and headers and adds `Noctria-Dlq-{Subject,Stream,Stream-Seq,
 *   Durable,Delivery-Count,Error,Error-Id}`; it is published with a msgId derived from (stream, durable, seq),
 *   so the DLQ stream holds exactly one copy even if dead-lettering is repeated after a crash.
 * - Failures are `BusError` (a `NoctriaError`) with an id from `BusErrorIds`; a reply handler's error reaches
 *   the requester as a `BusError` with the handler's own id (`Noctria-Error` header) and `remote: true`.
 * - `consume()` resolves once the durable exists; a durable keeps its position across stop()/consume().
 *   Several `filterSubjects` are allowed (JetStream on nats-server 2.9: one durable per subject).
 */
import type { StreamDefinition, ConsumerDefinition } from '@noctria/contracts';

export type Headers = Record<string, string>;

export interface BusMessage {
  subject: string;
  data: Uint8Array;
  headers: Headers;
  /** 1 on first delivery. */
  deliveryCount: number;
  /** Stream sequence, when the message came from a stream. */
  streamSequence?: number;
}

export interface PublishOptions {
  /** De-duplication id (JetStream `Nats-Msg-Id`). */
  msgId?: string;
  headers?: Headers;
}

export interface PublishAck {
  stream: string;
  sequence: number;
  duplicate: boolean;
}

export type MessageHandler = (msg: BusMessage) => Promise<void>;
export type RequestHandler = (msg: BusMessage) => Promise<Uint8Array>;

export interface ConsumeOptions {
  /** Messages handled concurrently by this subscription (default 1: in order). */
  concurrency?: number;
}

export interface Subscription {
  /** Stop pulling, wait for in-flight handlers to finish, then resolve. */
  stop(): Promise<void>;
}

export interface Bus {
  readonly kind: 'jetstream' | 'inprocess';
  ensureStreams(streams: readonly StreamDefinition[]): Promise<void>;
  publish(subject: string, data: Uint8Array, options?: PublishOptions): Promise<PublishAck>;
  consume(consumer: ConsumerDefinition, handler: MessageHandler, options?: ConsumeOptions): Promise<Subscription>;
  request(subject: string, data: Uint8Array, options?: { timeoutMs?: number; headers?: Headers }): Promise<BusMessage>;
  reply(subject: string, handler: RequestHandler, options?: { queue?: string }): Promise<Subscription>;
  /** True when the connection is usable (for /readyz). */
  ping(): Promise<boolean>;
  /** Stop every subscription (in-flight handlers finish), flush, close. */
  close(): Promise<void>;
}
