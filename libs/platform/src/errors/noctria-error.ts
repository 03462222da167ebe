import { randomUUID } from 'node:crypto';
import { errorIdProblem, type ErrorId } from './error-id.js';

export const SEVERITIES = ['CRITICAL', 'WARNING', 'INFO'] as const;
export type Severity = (typeof SEVERITIES)[number];

export type ErrorDetails = Record<string, unknown>;

export interface NoctriaErrorOptions {
  severity?: Severity;
  details?: ErrorDetails;
  cause?: unknown;
  /** Defaults to a fresh uuid v4. */
  eventId?: string;
  /** Defaults to now. */
  occurredAt?: Date;
}

/** The seed's minimum alert/error payload ("ペイロード最低限"). */
export interface ErrorPayload {
  error_id: string;
  event_id: string;
  /** RFC 3339 / ISO 8601, UTC. */
  occurred_at: string;
  severity: Severity;
  source: string;
  message: string;
  details: ErrorDetails;
  ui_url?: string;
}

/**
 * The one error type services raise. `id` follows `{DOMAIN}_{CATEGORY}_{CODE}` and is validated at
 * construction (an invalid id is a programming error: a TypeError is thrown instead).
 */
export class NoctriaError extends Error {
  readonly id: ErrorId;
  readonly severity: Severity;
  readonly details: ErrorDetails;
  readonly eventId: string;
  readonly occurredAt: Date;

  constructor(id: string, message: string, options: NoctriaErrorOptions = {}) {
    const problem = errorIdProblem(id);
    if (problem) throw new TypeError(`Invalid error id "${id}": ${problem}`);
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'NoctriaError';
    this.id = id as ErrorId;
    this.severity = options.severity ?? 'WARNING';
    if (!(SEVERITIES as readonly string[]).includes(this.severity)) {
      throw new TypeError(`Invalid severity "${String(this.severity)}" (expected ${SEVERITIES.join('|')})`);
    }
    this.details = options.details ?? {};
    this.eventId = options.eventId ?? randomUUID();
    this.occurredAt = options.occurredAt ?? new Date();
  }

  static is(err: unknown, id?: string): err is NoctriaError {
    return err instanceof NoctriaError && (id === undefined || err.id === id);
  }

  toErrorPayload(source: string, uiUrl?: string): ErrorPayload {
    return toErrorPayload(this, { source, uiUrl });
  }

  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      id: this.id,
      severity: this.severity,
      message: this.message,
      details: this.details,
      eventId: this.eventId,
      occurredAt: this.occurredAt.toISOString(),
    };
  }
}

export interface ToErrorPayloadOptions {
  source: string;
  uiUrl?: string;
  /** Used when `err` is not a NoctriaError. */
  fallbackId?: string;
}

/** Any thrown value → the seed's minimum payload. Non-Noctria errors get `fallbackId` (default `OPS_RUNTIME_UNHANDLED`). */
export function toErrorPayload(err: unknown, options: ToErrorPayloadOptions): ErrorPayload {
  const e = asNoctriaError(err, options.fallbackId);
  const payload: ErrorPayload = {
    error_id: e.id,
    event_id: e.eventId,
    occurred_at: e.occurredAt.toISOString(),
    severity: e.severity,
    source: options.source,
    message: e.message,
    details: e.details,
  };
  if (options.uiUrl !== undefined) payload.ui_url = options.uiUrl;
  return payload;
}

export const UNHANDLED_ERROR_ID = 'OPS_RUNTIME_UNHANDLED';

/** Wraps anything thrown in a NoctriaError (kept as `cause`); NoctriaErrors pass through. */
export function asNoctriaError(err: unknown, fallbackId: string = UNHANDLED_ERROR_ID): NoctriaError {
  if (err instanceof NoctriaError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new NoctriaError(fallbackId, message, {
    severity: 'CRITICAL',
    cause: err,
    details: err instanceof Error ? { error_name: err.name } : {},
  });
}
