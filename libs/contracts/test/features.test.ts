import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { create, toBinary } from '@bufbuild/protobuf';
import {
  ContractError,
  FEATURE_VECTOR_FLAGS,
  FeatureQualityFlagMsg,
  FeatureVectorEventSchema,
  decodeFeatureVector,
  encodeFeatureVector,
  featureBarsConsumer,
  featureKey,
  featureVectorsConsumer,
  newEnvelope,
  worstFeatureFlag,
  type FeatureVector,
  type FeatureVectorFlag,
} from '../src/index.js';

const HASH = 'ab'.repeat(32);

function vector(overrides: Partial<FeatureVector> = {}): FeatureVector {
  const tsMs = Date.UTC(2024, 2, 4, 13);
  return {
    envelope: newEnvelope({ messageId: featureKey('XAUUSD_XAGUSD', '1h', tsMs, HASH), producer: 'features', producedAtMs: 1_700_000_000_000 }),
    pairId: 'XAUUSD_XAGUSD',
    timeframe: '1h',
    tsMs,
    values: Float64Array.from([1.5, -0, Number.NaN, Number.POSITIVE_INFINITY, 5e-324]),
    schemaHash: HASH,
    qualityFlag: 'ok',
    barsSeen: 400,
    barCloseMs: tsMs + 3_600_000,
    ...overrides,
  };
}

const bits = (a: Float64Array) => Array.from(new BigUint64Array(a.buffer, a.byteOffset, a.length));

describe('feature vector contract', () => {
  it('round-trips every double bit-exactly (NaN, -0, infinities, subnormals included)', () => {
    fc.assert(
      fc.property(fc.array(fc.double(), { minLength: 1, maxLength: 30 }), fc.constantFrom(...FEATURE_VECTOR_FLAGS), (vals, flag) => {
        const v = vector({ values: Float64Array.from(vals), qualityFlag: flag });
        const back = decodeFeatureVector(encodeFeatureVector(v));
        expect(bits(back.values)).toEqual(bits(Float64Array.from(vals)));
        expect(back.qualityFlag).toBe(flag);
        expect([back.pairId, back.timeframe, back.tsMs, back.schemaHash, back.barsSeen, back.barCloseMs]).toEqual([v.pairId, v.timeframe, v.tsMs, v.schemaHash, v.barsSeen, v.barCloseMs]);
        expect(back.envelope.messageId).toBe(v.envelope.messageId);
      }),
    );
  });

  it('keys a vector as pair_id|tf|ts (RFC3339 ms)|schema hash', () => {
    expect(featureKey('EURUSD_GBPUSD', '4h', Date.UTC(2025, 10, 3, 12), HASH)).toBe(`EURUSD_GBPUSD|4h|2025-11-03T12:00:00.000Z|${HASH}`);
    expect(() => featureKey('EURUSD.GBPUSD', '4h', 0, HASH)).toThrow(ContractError);
    expect(() => featureKey('P', '2h', 0, HASH)).toThrow(/unknown timeframe/);
    expect(() => featureKey('P', '1h', 0, 'ABC')).toThrow(/64 lower-case hex/);
  });

  it('orders flags by severity: missing > outlier > stale > beta_jump > ok', () => {
    const cases: Array<[FeatureVectorFlag[], FeatureVectorFlag]> = [
      [[], 'ok'],
      [['ok', 'beta_jump'], 'beta_jump'],
      [['beta_jump', 'stale'], 'stale'],
      [['stale', 'outlier', 'ok'], 'outlier'],
      [['outlier', 'missing', 'stale'], 'missing'],
    ];
    for (const [flags, worst] of cases) expect(worstFeatureFlag(flags)).toBe(worst);
  });

  it('refuses to encode an invalid vector and to decode garbage or an unspecified flag', () => {
    expect(() => encodeFeatureVector(vector({ values: new Float64Array(0) }))).toThrow(/DATA_CONTRACT_ENCODE.*no values/);
    expect(() => encodeFeatureVector(vector({ barsSeen: 0 }))).toThrow(/bars_seen/);
    expect(() => encodeFeatureVector(vector({ barCloseMs: 5 }))).toThrow(/bar_close_ms/);
    expect(() => decodeFeatureVector(new Uint8Array([0xff, 0xff, 0xff]))).toThrow(/DATA_CONTRACT_DECODE/);
    const unspecified = toBinary(
      FeatureVectorEventSchema,
      create(FeatureVectorEventSchema, {
        envelope: vector().envelope,
        pairId: 'P',
        timeframe: '1h',
        tsUtcMs: 0n,
        values: [1],
        featureSchemaHash: HASH,
        qualityFlag: FeatureQualityFlagMsg.UNSPECIFIED,
        barsSeen: 1n,
        barCloseMs: 3_600_000n,
      }),
    );
    expect(() => decodeFeatureVector(unspecified)).toThrow(/quality_flag 0/);
  });

  it('defines the bar consumer of the features service and feature-vector consumers of other services', () => {
    const bars = featureBarsConsumer({ prefix: 't9.', timeframes: ['1h', '4h', '1h'] });
    expect(bars).toMatchObject({ stream: 'T9_MD', durable: 'features_bars', filterSubjects: ['t9.md.bar.1h.*', 't9.md.bar.4h.*'], deadLetterSubject: 't9.dlq.features_bars' });
    expect(() => featureBarsConsumer({ timeframes: [] })).toThrow(/timeframes must not be empty/);
    expect(featureVectorsConsumer({ durable: 'inference_features' }).filterSubjects).toEqual(['feat.*.*']);
    expect(featureVectorsConsumer({ durable: 'x', timeframes: ['1h'], pairIds: ['A_B', 'C_D'] })).toMatchObject({
      stream: 'FEAT',
      filterSubjects: ['feat.1h.A_B', 'feat.1h.C_D'],
      deadLetterSubject: 'dlq.x',
    });
  });
});
