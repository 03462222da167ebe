import { afterEach, describe, expect, it } from '@jest/globals';
import { SpanStatusCode, context, propagation, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-node';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  extractTraceContext,
  flushTelemetry,
  getTelemetry,
  initTelemetry,
  injectTraceContext,
  shutdownTelemetry,
  withSpan,
} from '../../src/telemetry/index.js';

afterEach(async () => {
  await shutdownTelemetry();
});

describe('telemetry', () => {
  it('records spans with attributes, parentage and error status', async () => {
    const exporter = new InMemorySpanExporter();
    initTelemetry({ service: 'teltest', spanProcessors: [new SimpleSpanProcessor(exporter)] });
    await withSpan('outer', { pair_id: 'A-B' }, async () => {
      await withSpan('inner', { step: 2 }, () => 'ok');
      await expect(withSpan('failing', {}, async () => { throw new Error('nope'); })).rejects.toThrow('nope');
    });
    const spans = exporter.getFinishedSpans();
    const byName = Object.fromEntries(spans.map((s) => [s.name, s]));
    expect(Object.keys(byName).sort()).toEqual(['failing', 'inner', 'outer']);
    expect(byName['outer']?.attributes).toEqual({ pair_id: 'A-B' });
    expect(byName['inner']?.parentSpanContext?.spanId).toBe(byName['outer']?.spanContext().spanId);
    expect(byName['failing']?.status).toEqual({ code: SpanStatusCode.ERROR, message: 'nope' });
    expect(byName['failing']?.events.map((e) => e.name)).toEqual(['exception']);
    expect(byName['outer']?.resource.attributes['service.name']).toBe('teltest');
  });

  it('is idempotent per process and restartable after shutdown', async () => {
    const first = initTelemetry({ service: 'a' });
    expect(initTelemetry({ service: 'b' })).toBe(first);
    await shutdownTelemetry();
    expect(getTelemetry()).toBeUndefined();
    const again = initTelemetry({ service: 'c' });
    expect(again).not.toBe(first);
    expect(again.service).toBe('c');
  });

  it('carries W3C trace context through message headers', async () => {
    initTelemetry({ service: 'prop' });
    const headers: Record<string, string> = {};
    let producer = '';
    await withSpan('publish', {}, (span) => {
      producer = span.spanContext().traceId;
      injectTraceContext(headers);
    });
    expect(headers['traceparent']).toMatch(new RegExp(`^00-${producer}-[0-9a-f]{16}-01$`));
    const parent = extractTraceContext(headers, context.active());
    let consumer = '';
    await withSpan('consume', {}, (span) => { consumer = span.spanContext().traceId; }, { parent });
    expect(consumer).toBe(producer);
    expect(propagation.fields()).toEqual(expect.arrayContaining(['traceparent', 'tracestate', 'baggage']));
  });

  it('exports spans over OTLP/HTTP to the configured endpoint', async () => {
    const received: { url: string; contentType: string; bytes: number }[] = [];
    const server = createServer((req: IncomingMessage, res) => {
      let bytes = 0;
      req.on('data', (c: Buffer) => { bytes += c.length; });
      req.on('end', () => {
        received.push({ url: req.url ?? '', contentType: String(req.headers['content-type']), bytes });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const port = (server.address() as AddressInfo).port;
      const handle = initTelemetry({ service: 'otlp', otlpEndpoint: `http://127.0.0.1:${port}/` });
      expect(handle.exporting).toBe(true);
      await withSpan('exported', { n: 1 }, () => undefined);
      await flushTelemetry();
      expect(received).toHaveLength(1);
      expect(received[0]?.url).toBe('/v1/traces');
      expect(received[0]?.bytes).toBeGreaterThan(0);
      expect(trace.getActiveSpan()).toBeUndefined();
    } finally {
      await shutdownTelemetry();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
