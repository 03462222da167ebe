import { trace } from '@opentelemetry/api';
import { pino, stdSerializers, type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import type { LogLevel } from '../config/env-schemas.js';

export type { Logger };

/** Paths removed from every record (pino redact paths; `*` is one level). */
export const REDACT_PATHS: readonly string[] = [
  'api_key',
  'apiKey',
  'password',
  'token',
  'secret',
  '*.api_key',
  '*.apiKey',
  '*.password',
  '*.token',
  '*.secret',
  '*.*.api_key',
  '*.*.password',
  'authorization',
  'headers.authorization',
  'headers.cookie',
  '*.headers.authorization',
  '*.headers.cookie',
  '*.authorization',
  'req.headers.authorization',
  'req.headers.cookie',
];

export interface CreateLoggerOptions {
  service: string;
  level?: LogLevel | string;
  /** Defaults to stdout (pino's sync-less fast destination). */
  destination?: DestinationStream;
  /** Extra base fields (e.g. `service_env`). */
  base?: Record<string, unknown>;
  /** Extra redact paths. */
  redact?: readonly string[];
}

/**
 * JSON logger of a service: `level` as a label, ISO `time`, `service`, and `trace_id`/`span_id` of the
 * active OpenTelemetry span (added by the mixin at each call, so AsyncLocalStorage context is honoured).
 */
export function createLogger(options: CreateLoggerOptions): Logger {
  const config: LoggerOptions = {
    level: options.level ?? 'info',
    base: { service: options.service, ...options.base },
    timestamp: pino.stdTimeFunctions.isoTime,
    messageKey: 'msg',
    formatters: { level: (label) => ({ level: label }) },
    serializers: { err: stdSerializers.err, error: stdSerializers.err },
    redact: { paths: [...REDACT_PATHS, ...(options.redact ?? [])], censor: '[REDACTED]' },
    mixin: traceMixin,
  };
  return options.destination ? pino(config, options.destination) : pino(config);
}

/** `{ trace_id, span_id }` of the active span, or `{}` outside a (valid) span. */
export function traceMixin(): Record<string, string> {
  const span = trace.getActiveSpan();
  if (!span) return {};
  const ctx = span.spanContext();
  if (!ctx.traceId || /^0+$/.test(ctx.traceId)) return {};
  return { trace_id: ctx.traceId, span_id: ctx.spanId };
}
