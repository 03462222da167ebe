import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Logger as NestLogger } from '@nestjs/common';
import { context, trace } from '@opentelemetry/api';
import { createLogger, PinoNestLogger, traceMixin } from '../../src/logging/index.js';
import { initTelemetry, shutdownTelemetry, withSpan } from '../../src/telemetry/index.js';

function capture(level = 'trace') {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({ service: 'logtest', level, destination: { write: (s: string) => void lines.push(JSON.parse(s)) } });
  return { lines, logger };
}

describe('createLogger', () => {
  beforeAll(() => {
    initTelemetry({ service: 'logtest' });
  });
  afterAll(async () => {
    await shutdownTelemetry();
  });

  it('writes JSON with level label, ISO time, service and no trace ids outside a span', () => {
    const { lines, logger } = capture('info');
    logger.info({ pair_id: 'EURUSD-GBPUSD' }, 'hello');
    logger.debug('filtered out');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 'info', service: 'logtest', msg: 'hello', pair_id: 'EURUSD-GBPUSD' });
    expect(new Date(lines[0]?.['time'] as string).toISOString()).toBe(lines[0]?.['time']);
    expect(lines[0]).not.toHaveProperty('trace_id');
    expect(traceMixin()).toEqual({});
  });

  it('adds trace_id/span_id of the active span, also across awaits', async () => {
    const { lines, logger } = capture();
    let ids: { traceId: string; spanId: string } | undefined;
    await withSpan('unit', { k: 1 }, async (span) => {
      ids = { traceId: span.spanContext().traceId, spanId: span.spanContext().spanId };
      logger.info('before await');
      await new Promise((resolve) => setImmediate(resolve));
      logger.info('after await');
      await withSpan('child', {}, async (child) => {
        logger.info({ child_span: child.spanContext().spanId }, 'in child');
      });
    });
    logger.info('outside');
    expect(ids?.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(lines[0]).toMatchObject({ trace_id: ids?.traceId, span_id: ids?.spanId });
    expect(lines[1]).toMatchObject({ trace_id: ids?.traceId, span_id: ids?.spanId });
    expect(lines[2]?.['trace_id']).toBe(ids?.traceId);
    expect(lines[2]?.['span_id']).toBe(lines[2]?.['child_span']);
    expect(lines[2]?.['span_id']).not.toBe(ids?.spanId);
    expect(lines[3]).not.toHaveProperty('trace_id');
    expect(trace.getSpan(context.active())).toBeUndefined();
  });

  it('redacts api keys, passwords and authorization headers', () => {
    const { lines, logger } = capture();
    logger.info({
      provider: { name: 'twelvedata', api_key: 'SECRET1' },
      user: { password: 'SECRET2', name: 'ops' },
      req: { headers: { authorization: 'Bearer SECRET3', accept: 'json' } },
      headers: { authorization: 'Bearer SECRET4' },
      password: 'SECRET5',
    });
    const text = JSON.stringify(lines[0]);
    for (const secret of ['SECRET1', 'SECRET2', 'SECRET3', 'SECRET4', 'SECRET5']) expect(text).not.toContain(secret);
    expect(lines[0]).toMatchObject({
      provider: { name: 'twelvedata', api_key: '[REDACTED]' },
      user: { name: 'ops', password: '[REDACTED]' },
      req: { headers: { authorization: '[REDACTED]', accept: 'json' } },
    });
  });
});

describe('PinoNestLogger', () => {
  it("routes Nest's log calls through pino with context, stacks and levels", () => {
    const { lines, logger } = capture();
    const nest = new PinoNestLogger(logger);
    nest.log('Mapped {/healthz, GET} route', 'RouterExplorer');
    nest.error('boom', 'Error: boom\n    at x (file.js:1:1)', 'ExceptionHandler');
    nest.warn({ detail: 'obj' }, 'Ctx');
    nest.verbose('chatty');
    nest.error(new Error('as error'));
    expect(lines.map((l) => l['level'])).toEqual(['info', 'error', 'warn', 'trace', 'error']);
    expect(lines[0]).toMatchObject({ msg: 'Mapped {/healthz, GET} route', context: 'RouterExplorer' });
    expect(lines[1]).toMatchObject({ msg: 'boom', context: 'ExceptionHandler', stack: expect.stringContaining('at x') });
    expect(lines[2]).toMatchObject({ detail: 'obj', context: 'Ctx' });
    expect(lines[4]).toMatchObject({ msg: 'as error', err: { message: 'as error', type: 'Error' } });
    nest.setLogLevels(['error']);
    nest.log('dropped');
    expect(lines).toHaveLength(5);
  });

  it('receives the static Nest Logger once installed', () => {
    const { lines, logger } = capture();
    NestLogger.overrideLogger(new PinoNestLogger(logger));
    try {
      new NestLogger('MyService').log('through nest');
    } finally {
      NestLogger.overrideLogger(false);
    }
    expect(lines).toEqual([expect.objectContaining({ msg: 'through nest', context: 'MyService', level: 'info' })]);
  });
});
