import { create } from '@bufbuild/protobuf';
import { EnvelopeSchema, TraceContextSchema, type Envelope } from './gen/noctria/v1/envelope_pb.js';
import { ContractError } from './errors.js';

/** Contract version written into every envelope. */
export const SCHEMA_VERSION = 'v1';

/** W3C trace-context `traceparent`: version-traceid-parentid-flags, lower-case hex, ids not all zero. */
const TRACEPARENT_RE = /^[0-9a-f]{2}-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}$/;

export interface NewEnvelopeInput {
  /** Unique, idempotent id of the message (also the `Nats-Msg-Id` header). */
  messageId: string;
  /** Producing service, e.g. "ingest". */
  producer: string;
  /** W3C traceparent of the current span, when traced. */
  traceparent?: string;
  tracestate?: string;
  /** Defaults to `Date.now()`. */
  producedAtMs?: number;
}

export function isValidTraceparent(value: string): boolean {
  return TRACEPARENT_RE.test(value) && !value.startsWith('ff');
}

/** Builds the common envelope with `schema_version` = 'v1'. */
export function newEnvelope(input: NewEnvelopeInput): Envelope {
  if (!input.messageId || input.messageId.trim() !== input.messageId) {
    throw new ContractError('DATA_CONTRACT_ENCODE', `envelope messageId must be a non-empty string without surrounding blanks, got ${JSON.stringify(input.messageId)}`);
  }
  if (!input.producer) {
    throw new ContractError('DATA_CONTRACT_ENCODE', 'envelope producer must be a non-empty string');
  }
  if (input.traceparent !== undefined && !isValidTraceparent(input.traceparent)) {
    throw new ContractError('DATA_CONTRACT_ENCODE', `envelope traceparent is not a W3C traceparent: ${JSON.stringify(input.traceparent)}`);
  }
  const producedAtMs = input.producedAtMs ?? Date.now();
  if (!Number.isSafeInteger(producedAtMs) || producedAtMs < 0) {
    throw new ContractError('DATA_CONTRACT_ENCODE', `envelope producedAtMs must be a non-negative integer of milliseconds, got ${producedAtMs}`);
  }
  return create(EnvelopeSchema, {
    messageId: input.messageId,
    schemaVersion: SCHEMA_VERSION,
    producer: input.producer,
    producedAtMs: BigInt(producedAtMs),
    trace: create(TraceContextSchema, { traceparent: input.traceparent ?? '', tracestate: input.tracestate ?? '' }),
  });
}

/** NATS headers that carry the envelope's id and trace context next to the payload. */
export function envelopeHeaders(envelope: Envelope): Record<string, string> {
  const headers: Record<string, string> = { 'Nats-Msg-Id': envelope.messageId, 'Noctria-Schema-Version': envelope.schemaVersion };
  if (envelope.trace?.traceparent) headers['traceparent'] = envelope.trace.traceparent;
  if (envelope.trace?.tracestate) headers['tracestate'] = envelope.trace.tracestate;
  return headers;
}

/** Epoch milliseconds of an envelope as a number. */
export function envelopeProducedAtMs(envelope: Envelope): number {
  return Number(envelope.producedAtMs);
}
