import { describe, expect, it } from '@jest/globals';
import { fromBinary, toBinary } from '@bufbuild/protobuf';
import { EnvelopeSchema, SCHEMA_VERSION, envelopeHeaders, newEnvelope } from '../src/index.js';

const TP = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

describe('newEnvelope', () => {
  it('builds a v1 envelope that survives encoding', () => {
    const env = newEnvelope({ messageId: 'm-1', producer: 'ingest', traceparent: TP, tracestate: 'k=v', producedAtMs: 1700000000123 });
    expect(SCHEMA_VERSION).toBe('v1');
    const back = fromBinary(EnvelopeSchema, toBinary(EnvelopeSchema, env));
    expect(back.schemaVersion).toBe('v1');
    expect(back.messageId).toBe('m-1');
    expect(back.producer).toBe('ingest');
    expect(back.producedAtMs).toBe(1700000000123n);
    expect(back.trace?.traceparent).toBe(TP);
    expect(back.trace?.tracestate).toBe('k=v');
    expect(envelopeHeaders(back)).toEqual({ 'Nats-Msg-Id': 'm-1', 'Noctria-Schema-Version': 'v1', traceparent: TP, tracestate: 'k=v' });
  });

  it('defaults produced_at to now and leaves the trace empty', () => {
    const before = Date.now();
    const env = newEnvelope({ messageId: 'm-2', producer: 'features' });
    const after = Date.now();
    expect(Number(env.producedAtMs)).toBeGreaterThanOrEqual(before);
    expect(Number(env.producedAtMs)).toBeLessThanOrEqual(after);
    expect(env.trace?.traceparent).toBe('');
    expect(envelopeHeaders(env)).toEqual({ 'Nats-Msg-Id': 'm-2', 'Noctria-Schema-Version': 'v1' });
  });

  it('rejects malformed input', () => {
    expect(() => newEnvelope({ messageId: '', producer: 'x' })).toThrow(/messageId/);
    expect(() => newEnvelope({ messageId: 'a', producer: '' })).toThrow(/producer/);
    expect(() => newEnvelope({ messageId: 'a', producer: 'x', traceparent: '00-abc-def-01' })).toThrow(/traceparent/);
    expect(() => newEnvelope({ messageId: 'a', producer: 'x', traceparent: `00-${'0'.repeat(32)}-00f067aa0ba902b7-01` })).toThrow(/traceparent/);
    expect(() => newEnvelope({ messageId: 'a', producer: 'x', producedAtMs: 1.5 })).toThrow(/producedAtMs/);
  });
});
