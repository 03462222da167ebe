import {
  SpanStatusCode,
  context,
  propagation,
  trace,
  type Attributes,
  type Context,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, NodeTracerProvider, type SpanProcessor } from '@opentelemetry/sdk-trace-node';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';

export interface InitTelemetryOptions {
  service: string;
  version?: string;
  /** OTLP/HTTP base endpoint (OTEL_EXPORTER_OTLP_ENDPOINT); traces go to `<endpoint>/v1/traces`. */
  otlpEndpoint?: string;
  /** Extra processors (tests use a SimpleSpanProcessor over an InMemorySpanExporter). */
  spanProcessors?: SpanProcessor[];
}

export interface TelemetryHandle {
  readonly service: string;
  readonly provider: NodeTracerProvider;
  readonly exporting: boolean;
}

let current: TelemetryHandle | undefined;

export const TRACER_NAME = 'noctria';

/**
 * Registers the process-wide tracer provider: W3C trace-context + baggage propagation, the
 * AsyncLocalStorage context manager (NodeTracerProvider's default) and, with an OTLP endpoint, a
 * BatchSpanProcessor over the OTLP/HTTP exporter. Idempotent per process: services sharing a process
 * (the embedded fleet) share the first registration.
 */
export function initTelemetry(options: InitTelemetryOptions): TelemetryHandle {
  if (current) return current;
  const processors: SpanProcessor[] = [...(options.spanProcessors ?? [])];
  if (options.otlpEndpoint) {
    const url = `${options.otlpEndpoint.replace(/\/+$/, '')}/v1/traces`;
    processors.push(new BatchSpanProcessor(new OTLPTraceExporter({ url })));
  }
  const attributes: Attributes = { [ATTR_SERVICE_NAME]: options.service };
  if (options.version) attributes[ATTR_SERVICE_VERSION] = options.version;
  const provider = new NodeTracerProvider({ resource: resourceFromAttributes(attributes), spanProcessors: processors });
  provider.register({
    propagator: new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }),
  });
  current = { service: options.service, provider, exporting: Boolean(options.otlpEndpoint) };
  return current;
}

export function getTelemetry(): TelemetryHandle | undefined {
  return current;
}

/** Exports buffered spans without shutting down. */
export async function flushTelemetry(): Promise<void> {
  await current?.provider.forceFlush();
}

/** Flushes and unregisters the provider, context manager and propagator (a later init starts afresh). */
export async function shutdownTelemetry(): Promise<void> {
  const handle = current;
  if (!handle) return;
  current = undefined;
  try {
    await handle.provider.shutdown();
  } finally {
    trace.disable();
    context.disable();
    propagation.disable();
  }
}

export function getTracer(): Tracer {
  return trace.getTracer(TRACER_NAME);
}

/**
 * Runs `fn` inside an active span; the span ends when `fn` settles. A thrown error is recorded on the
 * span (status ERROR) and rethrown.
 */
export async function withSpan<T>(
  name: string,
  attributes: Attributes,
  fn: (span: Span) => Promise<T> | T,
  options: { parent?: Context } = {},
): Promise<T> {
  const parent = options.parent ?? context.active();
  return getTracer().startActiveSpan(name, { attributes }, parent, async (span) => {
    try {
      return await fn(span);
    } catch (err) {
      span.recordException(err instanceof Error ? err : new Error(String(err)));
      span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
      throw err;
    } finally {
      span.end();
    }
  });
}

/** Writes the active context (traceparent/tracestate/baggage) into message headers. */
export function injectTraceContext(headers: Record<string, string>, ctx: Context = context.active()): Record<string, string> {
  propagation.inject(ctx, headers);
  return headers;
}

/** Context carried by message headers (for a consumer span's parent). */
export function extractTraceContext(headers: Record<string, string>, ctx: Context = context.active()): Context {
  return propagation.extract(ctx, headers);
}
