/**
 * Errors raised by the bus adapters. Ids follow `{DOMAIN}_{CATEGORY}_{CODE}`; a remote reply handler's own
 * error id travels back to the requester unchanged (see {@link BusError.remote}).
 */
import { isErrorId, NoctriaError, type ErrorDetails } from '../errors/index.js';

export const BusErrorIds = {
  /** No stream stores the published subject (or JetStream is not enabled). */
  NoStream: 'OPS_BUS_UNROUTED',
  /** The stream named by a consumer definition does not exist. */
  StreamNotFound: 'OPS_BUS_NOSTREAM',
  /** A stream definition conflicts with an existing stream (overlapping subjects, storage change). */
  StreamConflict: 'OPS_BUS_CONFLICT',
  /** Request/reply attempted on a subject that a stream stores. */
  SubjectOnStream: 'OPS_BUS_STREAMSUBJ',
  /** Malformed subject, stream or consumer definition. */
  InvalidArgument: 'OPS_BUS_INVALID',
  /** A request got no reply within its timeout. */
  Timeout: 'OPS_BUS_TIMEOUT',
  /** Nobody listens on the requested subject. */
  NoResponders: 'OPS_BUS_NORESPONDER',
  /** A handler failed with an error that carried no id of its own. */
  HandlerFailed: 'OPS_BUS_HANDLER',
  /** A message was delivered more than maxDeliver times without being acked (handler hung or consumer crashed). */
  MaxDeliverExceeded: 'OPS_BUS_MAXDELIVER',
  /** The bus is closed. */
  Closed: 'OPS_BUS_CLOSED',
  /** Any other transport failure. */
  Transport: 'OPS_BUS_TRANSPORT',
} as const;

export type BusErrorId = (typeof BusErrorIds)[keyof typeof BusErrorIds];

/** A NoctriaError raised by the bus; on a request, `remote` marks the error the reply handler raised. */
export class BusError extends NoctriaError {
  override readonly name = 'BusError';
  /** True when the error was raised by a remote reply handler and carried back in the reply. */
  readonly remote: boolean;
  constructor(
    /** A {@link BusErrorIds} value, or — when `remote` — the id raised by the remote reply handler. */
    id: string,
    message: string,
    options?: { cause?: unknown; remote?: boolean; details?: ErrorDetails },
  ) {
    // An id that is not a valid error id can only come from a foreign replier: keep it in the details.
    const valid = isErrorId(id);
    super(valid ? id : BusErrorIds.HandlerFailed, message, {
      cause: options?.cause,
      details: valid ? (options?.details ?? {}) : { ...options?.details, remote_error_id: id },
    });
    this.remote = options?.remote ?? false;
  }
}

/** The `{DOMAIN}_{CATEGORY}_{CODE}` id carried by an error (`id` or `code` property), else the fallback. */
export function errorIdOf(err: unknown, fallback: string = BusErrorIds.HandlerFailed): string {
  if (typeof err === 'object' && err !== null) {
    for (const key of ['id', 'code', 'errorId'] as const) {
      const v = (err as Record<string, unknown>)[key];
      if (typeof v === 'string' && isErrorId(v)) return v;
    }
  }
  return fallback;
}

export function errorMessageOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  return typeof err === 'string' ? err : JSON.stringify(err) ?? String(err);
}

/** A value safe to put in a NATS header: one line, bounded length. */
export function headerSafe(value: string, max = 1024): string {
  const line = value.replace(/[\r\n]+/g, ' ');
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}
