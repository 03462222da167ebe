import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import type { CanonicalBar, QualityFlag, Timeframe } from '@noctria/canonical-bar';
import {
  CanonicalBarSchema,
  ContractError,
  QualityFlagMsg,
  barFromProto,
  barToProto,
  decodeBar,
  decodeBarChecksum,
  decodeBarClosed,
  decodeBarStale,
  encodeBar,
  encodeBarClosed,
  encodeBarStale,
  newEnvelope,
  tsUtcToMs,
} from '../src/index.js';

const FLAGS: QualityFlag[] = ['ok', 'missing', 'outlier', 'resampled', 'conflict', 'stale', 'revised'];
const TFS: Timeframe[] = ['1m', '5m', '15m', '1h', '4h', '1d'];

const price = fc.double({ min: 1e-9, max: 1e9, noNaN: true, noDefaultInfinity: true });
const metadataKey = fc.string({ minLength: 1, maxLength: 12 }).filter((k) => k !== '__proto__');
const jsonLeaf = fc.oneof(fc.string(), fc.boolean(), fc.constant(null), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer());
const jsonValue = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, jsonLeaf, tie('array'), tie('object')),
  array: fc.array(tie('value'), { maxLength: 3 }),
  object: fc.dictionary(metadataKey, tie('value'), { maxKeys: 3 }),
})).value;

const barArb: fc.Arbitrary<CanonicalBar> = fc.record({
  ts_utc: fc
    .integer({ min: Date.UTC(1990, 0, 1), max: Date.UTC(2100, 0, 1) })
    .map((ms) => new Date(ms).toISOString()),
  symbol: fc.stringMatching(/^[A-Z0-9]{3,10}$/),
  timeframe: fc.constantFrom(...TFS),
  open: price,
  high: price,
  low: price,
  close: price,
  volume: fc.oneof(fc.constant(null), fc.constant(0), fc.double({ min: 0, max: 1e12, noNaN: true, noDefaultInfinity: true })),
  quality_flag: fc.constantFrom(...FLAGS),
  source_id: fc.string(),
  ingest_run_id: fc.uuid(),
  metadata: fc.record(
    {
      symbol_source: fc.string(),
      source_latency_ms: fc.double({ min: 0, max: 1e6, noNaN: true }),
      provider_version: fc.string(),
      ingest_seq: fc.maxSafeNat(),
      extra: fc.dictionary(metadataKey, jsonValue, { maxKeys: 4 }),
    },
    { requiredKeys: [] },
  ),
});

function sampleBar(overrides: Partial<CanonicalBar> = {}): CanonicalBar {
  return {
    ts_utc: '2025-11-03T12:00:00.000Z',
    symbol: 'XAUUSD',
    timeframe: '1h',
    open: 2650.12,
    high: 2655.5,
    low: 2648.01,
    close: 2653.337,
    volume: null,
    quality_flag: 'ok',
    source_id: 'twelvedata',
    ingest_run_id: 'run-1',
    metadata: { symbol_source: 'XAU/USD', source_latency_ms: 412.5, provider_version: '1.2.3', ingest_seq: 17 },
    ...overrides,
  };
}

describe('canonical bar <-> protobuf', () => {
  it('round-trips random valid bars exactly through bytes', () => {
    fc.assert(
      fc.property(barArb, (bar) => {
        const decoded = decodeBar(encodeBar(bar));
        expect(decoded).toEqual(bar);
        // bit-exact prices (toEqual already uses Object.is on numbers; make the intent explicit)
        for (const k of ['open', 'high', 'low', 'close'] as const) expect(Object.is(decoded[k], bar[k])).toBe(true);
        expect(decoded.volume === null).toBe(bar.volume === null);
      }),
      { numRuns: 300 },
    );
  });

  it('keeps volume null and volume 0 apart on the wire', () => {
    const withNull = encodeBar(sampleBar({ volume: null }));
    const withZero = encodeBar(sampleBar({ volume: 0 }));
    expect(Buffer.from(withNull).equals(Buffer.from(withZero))).toBe(false);
    expect(decodeBar(withNull).volume).toBeNull();
    expect(decodeBar(withZero).volume).toBe(0);
    expect(fromBinary(CanonicalBarSchema, withNull).volume).toBeUndefined();
    expect(fromBinary(CanonicalBarSchema, withZero).volume).toBe(0);
  });

  it('maps fields to the proto message with epoch ms and the enum', () => {
    const msg = barToProto(sampleBar({ quality_flag: 'resampled', volume: 12.5 }), { checksum: 'abc' });
    expect(msg.tsUtcMs).toBe(BigInt(Date.UTC(2025, 10, 3, 12)));
    expect(msg.qualityFlag).toBe(QualityFlagMsg.RESAMPLED);
    expect(msg.volume).toBe(12.5);
    expect(msg.checksum).toBe('abc');
    expect(msg.metadata).toEqual({ symbol_source: 'XAU/USD', source_latency_ms: 412.5, provider_version: '1.2.3', ingest_seq: 17 });
    expect(barFromProto(msg)).toEqual(sampleBar({ quality_flag: 'resampled', volume: 12.5 }));
    expect(decodeBarChecksum(toBinary(CanonicalBarSchema, msg))).toBe('abc');
  });

  it('refuses a bar whose quality flag is unspecified or unknown', () => {
    const bytes = toBinary(CanonicalBarSchema, create(CanonicalBarSchema, { ...barToProto(sampleBar()), qualityFlag: QualityFlagMsg.UNSPECIFIED }));
    expect(() => decodeBar(bytes)).toThrow(/DATA_CONTRACT_DECODE.*quality_flag 0/);
    const unknown = toBinary(CanonicalBarSchema, create(CanonicalBarSchema, { ...barToProto(sampleBar()), qualityFlag: 42 as QualityFlagMsg }));
    expect(() => decodeBar(unknown)).toThrow(ContractError);
  });

  it('refuses an unknown timeframe on decode and garbage bytes', () => {
    const bytes = toBinary(CanonicalBarSchema, create(CanonicalBarSchema, { ...barToProto(sampleBar()), timeframe: '7m' }));
    expect(() => decodeBar(bytes)).toThrow(/unknown timeframe "7m"/);
    expect(() => decodeBar(new Uint8Array([0xff, 0xff, 0xff]))).toThrow(/DATA_CONTRACT_DECODE/);
  });

  it('refuses timestamps that would lose information', () => {
    expect(() => tsUtcToMs('2025-11-03T12:00:00.000+09:00')).toThrow(/RFC3339 UTC/);
    expect(() => tsUtcToMs('2025-11-03T12:00:00.0001Z')).toThrow(/millisecond/);
    expect(() => tsUtcToMs('2025-02-30T00:00:00.000Z')).toThrow(/calendar/);
    expect(tsUtcToMs('2025-11-03T12:00:00Z')).toBe(Date.UTC(2025, 10, 3, 12));
    expect(decodeBar(encodeBar(sampleBar({ ts_utc: '2025-11-03T12:00:00.5Z' }))).ts_utc).toBe('2025-11-03T12:00:00.500Z');
  });

  it('refuses non-JSON metadata', () => {
    expect(() => encodeBar(sampleBar({ metadata: { source_latency_ms: Number.NaN } }))).toThrow(/metadata\.source_latency_ms must be a finite number/);
    expect(() => encodeBar(sampleBar({ metadata: { when: new Date() } }))).toThrow(/DATA_CONTRACT_ENCODE/);
  });
});

describe('bar events', () => {
  const envelope = newEnvelope({ messageId: 'twelvedata:XAUUSD:1h:1762171200000', producer: 'ingest', producedAtMs: 1762174800123 });

  it('round-trips BarClosedEvent', () => {
    fc.assert(
      fc.property(barArb, fc.boolean(), fc.integer({ min: 0, max: 2 ** 42 }), fc.stringMatching(/^[0-9a-f]{0,64}$/), (bar, stale, closedAtMs, checksum) => {
        const decoded = decodeBarClosed(encodeBarClosed({ envelope, bar, stale, closedAtMs, checksum }));
        expect(decoded.bar).toEqual(bar);
        expect(decoded).toMatchObject({ stale, closedAtMs, checksum });
        expect(decoded.envelope.messageId).toBe(envelope.messageId);
        expect(decoded.envelope.producedAtMs).toBe(1762174800123n);
      }),
      { numRuns: 100 },
    );
  });

  it('round-trips BarStaleEvent including "no bar yet"', () => {
    const base = {
      envelope,
      symbol: 'XAGUSD',
      timeframe: '15m' as const,
      expectedBarTsMs: Date.UTC(2025, 10, 3, 12, 15),
      lagSeconds: 61.25,
      budgetSeconds: 60,
      suppress: true,
      sourceId: 'twelvedata',
    };
    expect(decodeBarStale(encodeBarStale({ ...base, lastBarTsMs: Date.UTC(2025, 10, 3, 12) }))).toEqual({ ...base, lastBarTsMs: Date.UTC(2025, 10, 3, 12) });
    const cleared = decodeBarStale(encodeBarStale({ ...base, lastBarTsMs: null, suppress: false }));
    expect(cleared.lastBarTsMs).toBeNull();
    expect(cleared.suppress).toBe(false);
    expect(() => encodeBarStale({ ...base, lastBarTsMs: null, budgetSeconds: 1.5 })).toThrow(/budgetSeconds/);
  });
});
