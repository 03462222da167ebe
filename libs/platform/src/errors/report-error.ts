import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { getOrCreateCounter } from '../metrics/registry.js';
import { asNoctriaError, type NoctriaError } from './noctria-error.js';

export const ERRORS_TOTAL_METRIC = 'noctria_errors_total';

export interface ReportErrorOptions {
  logger: Logger;
  registry?: Registry;
  /** Id given to errors that are not NoctriaErrors (default `OPS_RUNTIME_UNHANDLED`). */
  fallbackId?: string;
  /** Extra log fields. */
  context?: Record<string, unknown>;
}

/**
 * The one place errors are logged and counted: a pino record carrying `error_id`, `event_id`, `severity`
 * and `details`, and `noctria_errors_total{error_id,severity}` on the service registry.
 * Returns the error as a NoctriaError (wrapping foreign errors).
 */
export function reportError(err: unknown, options: ReportErrorOptions): NoctriaError {
  const e = asNoctriaError(err, options.fallbackId);
  const record = {
    ...options.context,
    error_id: e.id,
    event_id: e.eventId,
    severity: e.severity,
    occurred_at: e.occurredAt.toISOString(),
    details: e.details,
    err: e,
  };
  if (e.severity === 'CRITICAL') options.logger.error(record, e.message);
  else if (e.severity === 'WARNING') options.logger.warn(record, e.message);
  else options.logger.info(record, e.message);
  if (options.registry) {
    errorsCounter(options.registry).inc({ error_id: e.id, severity: e.severity });
  }
  return e;
}

export function errorsCounter(registry: Registry) {
  return getOrCreateCounter(registry, {
    name: ERRORS_TOTAL_METRIC,
    help: 'Errors reported through reportError, by error id and severity',
    labelNames: ['error_id', 'severity'] as const,
  });
}
