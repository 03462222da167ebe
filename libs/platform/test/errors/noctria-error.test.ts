import { describe, expect, it } from '@jest/globals';
import { Registry } from 'prom-client';
import {
  ERRORS_TOTAL_METRIC,
  NoctriaError,
  asNoctriaError,
  errorIdProblem,
  isErrorId,
  isStrictErrorId,
  parseErrorId,
  reportError,
  toErrorPayload,
} from '../../src/errors/index.js';
import { createLogger } from '../../src/logging/index.js';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function capture() {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({ service: 'errtest', level: 'debug', destination: { write: (s: string) => void lines.push(JSON.parse(s)) } });
  return { lines, logger };
}

describe('error ids', () => {
  it.each(['DATA_API_TIMEOUT', 'DATA_DQ_THRESHOLD', 'CORE_INFER_LATENCY', 'BT_STRESS_FAIL', 'ANALYTICS_ALERT_DISPATCH', 'OPS_CONFIG_REJECTED', 'UI_AUTH_DENIED', 'OPS_CONFIG_ENV', 'DATA_WS2_E01'])(
    'accepts the seed examples and well-formed ids: %s',
    (id) => {
      expect(errorIdProblem(id)).toBeUndefined();
      expect(isErrorId(id)).toBe(true);
      expect(() => new NoctriaError(id, 'x')).not.toThrow();
    },
  );

  it.each([
    ['DATA_API', /3 parts/],
    ['DATA_API_TIME_OUT', /3 parts/],
    ['FOO_API_TIMEOUT', /DOMAIN "FOO"/],
    ['data_api_timeout', /DOMAIN "data"/],
    ['DATA_api_TIMEOUT', /CATEGORY "api"/],
    ['DATA_1API_TIMEOUT', /CATEGORY "1API"/],
    ['DATA__TIMEOUT', /CATEGORY ""/],
    ['DATA_API_TO', /3-12 characters/],
    ['DATA_API_ABCDEFGHIJKLM', /3-12 characters/],
    ['DATA_API_TIME-OUT', /CODE "TIME-OUT"/],
    ['DATA_API_timeout', /CODE "timeout"/],
  ])('rejects %s', (id, reason) => {
    expect(errorIdProblem(id)).toMatch(reason);
    expect(isErrorId(id)).toBe(false);
    expect(() => new NoctriaError(id, 'x')).toThrow(TypeError);
    expect(() => parseErrorId(id)).toThrow(/Invalid error id/);
  });

  it('applies the literal 3–6 rule on request', () => {
    expect(isStrictErrorId('DATA_API_CONNFL')).toBe(true);
    expect(isStrictErrorId('DATA_API_TIMEOUT')).toBe(false);
  });

  it('parses the three parts', () => {
    expect(parseErrorId('CORE_INFER_LATENCY')).toEqual({ domain: 'CORE', category: 'INFER', code: 'LATENCY' });
  });
});

describe('NoctriaError', () => {
  it('carries id, severity, details, cause, a uuid event id and the time it occurred', () => {
    const cause = new Error('socket hang up');
    const before = Date.now();
    const err = new NoctriaError('DATA_API_TIMEOUT', 'provider timed out', { severity: 'CRITICAL', details: { provider: 'twelvedata' }, cause });
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('NoctriaError');
    expect(err.id).toBe('DATA_API_TIMEOUT');
    expect(err.severity).toBe('CRITICAL');
    expect(err.details).toEqual({ provider: 'twelvedata' });
    expect(err.cause).toBe(cause);
    expect(err.eventId).toMatch(UUID_RE);
    expect(err.occurredAt.getTime()).toBeGreaterThanOrEqual(before);
    expect(new NoctriaError('DATA_API_TIMEOUT', 'again').eventId).not.toBe(err.eventId);
    expect(new NoctriaError('DATA_API_TIMEOUT', 'default').severity).toBe('WARNING');
    expect(() => new NoctriaError('DATA_API_TIMEOUT', 'x', { severity: 'FATAL' as never })).toThrow(/severity/);
    expect(NoctriaError.is(err, 'DATA_API_TIMEOUT')).toBe(true);
    expect(NoctriaError.is(err, 'DATA_API_OTHER')).toBe(false);
  });

  it('toErrorPayload has the seed minimum fields', () => {
    const occurredAt = new Date(Date.UTC(2024, 0, 2, 3, 4, 5));
    const err = new NoctriaError('OPS_CONFIG_REJECTED', 'rejected', { details: { file: 'dd_policy.yaml' }, occurredAt, severity: 'INFO' });
    const payload = err.toErrorPayload('config-workflow', 'https://ui/alerts/1');
    expect(payload).toEqual({
      error_id: 'OPS_CONFIG_REJECTED',
      event_id: err.eventId,
      occurred_at: occurredAt.toISOString(),
      severity: 'INFO',
      source: 'config-workflow',
      message: 'rejected',
      details: { file: 'dd_policy.yaml' },
      ui_url: 'https://ui/alerts/1',
    });
    expect('ui_url' in toErrorPayload(err, { source: 's' })).toBe(false);
  });

  it('wraps foreign errors as OPS_RUNTIME_UNHANDLED (or a given id), keeping the cause', () => {
    const boom = new RangeError('boom');
    const wrapped = asNoctriaError(boom);
    expect(wrapped.id).toBe('OPS_RUNTIME_UNHANDLED');
    expect(wrapped.severity).toBe('CRITICAL');
    expect(wrapped.cause).toBe(boom);
    expect(wrapped.details).toEqual({ error_name: 'RangeError' });
    expect(asNoctriaError('text', 'DATA_API_FAIL').id).toBe('DATA_API_FAIL');
    const own = new NoctriaError('BT_STRESS_FAIL', 'x');
    expect(asNoctriaError(own)).toBe(own);
  });
});

describe('reportError', () => {
  it('logs error_id, event_id, details at the severity level and counts noctria_errors_total', async () => {
    const { lines, logger } = capture();
    const registry = new Registry();
    const critical = new NoctriaError('DATA_API_TIMEOUT', 'timed out', { severity: 'CRITICAL', details: { provider: 'p1' } });
    reportError(critical, { logger, registry });
    reportError(new NoctriaError('DATA_API_TIMEOUT', 'timed out again', { severity: 'CRITICAL' }), { logger, registry });
    reportError(new NoctriaError('OPS_CONFIG_REJECTED', 'no', { severity: 'INFO' }), { logger, registry });
    const wrapped = reportError(new Error('unexpected'), { logger, registry });

    expect(lines.map((l) => [l['level'], l['error_id']])).toEqual([
      ['error', 'DATA_API_TIMEOUT'],
      ['error', 'DATA_API_TIMEOUT'],
      ['info', 'OPS_CONFIG_REJECTED'],
      ['error', 'OPS_RUNTIME_UNHANDLED'],
    ]);
    expect(lines[0]).toMatchObject({ event_id: critical.eventId, details: { provider: 'p1' }, severity: 'CRITICAL', msg: 'timed out', service: 'errtest' });
    expect(lines[3]).toMatchObject({ event_id: wrapped.eventId });

    const counter = (await registry.getSingleMetricAsString(ERRORS_TOTAL_METRIC)).split('\n');
    expect(counter).toContain('noctria_errors_total{error_id="DATA_API_TIMEOUT",severity="CRITICAL"} 2');
    expect(counter).toContain('noctria_errors_total{error_id="OPS_CONFIG_REJECTED",severity="INFO"} 1');
    expect(counter).toContain('noctria_errors_total{error_id="OPS_RUNTIME_UNHANDLED",severity="CRITICAL"} 1');
  });
});
