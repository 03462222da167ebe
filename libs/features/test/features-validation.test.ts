import { describe, expect, it } from '@jest/globals';
import { computeFeatureMatrix } from '../src/batch.js';
import { PairFeatureEngine } from '../src/engine.js';
import { FEATURE_ERROR, FeatureError } from '../src/errors.js';
import { DEFAULT_FEATURE_PARAMS, FEATURE_PARAM_KEYS, resolveFeatureParams, type FeatureParams } from '../src/params.js';
import { decodeNumber, encodeNumber } from '../src/primitives/codec.js';
import { FEATURE_COUNT, FEATURE_INDEX, FEATURE_NAMES, FEATURE_SCHEMA_VERSION, featureSchemaHash } from '../src/schema.js';
import { pairSeriesFromBars, type PairBar, type PairSeries } from '../src/types.js';
import { barAt, syntheticPair } from './core-support.js';

const series = syntheticPair(500, 99);
const expectId = (f: () => unknown, id: string) => {
  expect(f).toThrow(FeatureError);
  expect(f).toThrow(expect.objectContaining({ id }));
};

describe('errors', () => {
  it('ids follow {DOMAIN}_{CATEGORY}_{CODE}', () => {
    for (const id of Object.values(FEATURE_ERROR)) expect(id).toMatch(/^CORE_FEATURE_[A-Z0-9]{3,6}$/);
    const e = new FeatureError(FEATURE_ERROR.ORDER, 'x');
    expect([e.id, e.name, e.message]).toEqual(['CORE_FEATURE_ORDER', 'FeatureError', 'CORE_FEATURE_ORDER: x']);
  });
});

describe('parameters', () => {
  it('defaults are the seed values and resolve to a frozen copy', () => {
    const p = resolveFeatureParams();
    expect(p).toEqual({
      betaWindow: 180, betaEmaHalfLife: 72, zWindow: 180, zEmaHalfLife: 12, zClip: 5, atrPeriod: 14, atrBaselineWindow: 180,
      rhoWindow: 180, corrStabilityWindow: 180, betaStabilityWindow: 180, halfLifeWindow: 180, halfLifeMin: 1, halfLifeMax: 240,
      slopeWindow: 20, emaFastSpan: 12, emaSlowSpan: 26, rsiPeriod: 14, robustMadRatio: 2, huberC: 1.345, huberMaxIter: 50,
    });
    expect(Object.isFrozen(p)).toBe(true);
    expect(resolveFeatureParams({ zWindow: undefined })).toEqual(DEFAULT_FEATURE_PARAMS);
  });

  const intKeys = ['betaWindow', 'zWindow', 'atrPeriod', 'atrBaselineWindow', 'rhoWindow', 'corrStabilityWindow', 'betaStabilityWindow', 'halfLifeWindow', 'slopeWindow', 'emaFastSpan', 'emaSlowSpan', 'rsiPeriod', 'huberMaxIter'] as const;
  const posKeys = FEATURE_PARAM_KEYS.filter((k) => !(intKeys as readonly string[]).includes(k));

  it.each([...intKeys])('%s must be an integer at or above its minimum', (k) => {
    for (const bad of [2.5, 0, -3, NaN, Infinity, '20', null, 2_000_000]) expectId(() => resolveFeatureParams({ [k]: bad } as unknown as Partial<FeatureParams>), 'CORE_FEATURE_PARAM');
  });

  it.each([...posKeys])('%s must be a finite number > 0', (k) => {
    for (const bad of [0, -1, NaN, Infinity, '1', null]) expectId(() => resolveFeatureParams({ [k]: bad } as unknown as Partial<FeatureParams>), 'CORE_FEATURE_PARAM');
  });

  it('rejects β windows under 3, unknown keys, inverted half-life clips and non-objects', () => {
    expectId(() => resolveFeatureParams({ betaWindow: 2 }), 'CORE_FEATURE_PARAM');
    expect(resolveFeatureParams({ betaWindow: 3, zWindow: 2 }).betaWindow).toBe(3);
    expectId(() => resolveFeatureParams({ zWindw: 10 } as unknown as Partial<FeatureParams>), 'CORE_FEATURE_PARAM');
    expectId(() => resolveFeatureParams({ halfLifeMin: 10, halfLifeMax: 5 }), 'CORE_FEATURE_PARAM');
    expectId(() => resolveFeatureParams(5 as unknown as Partial<FeatureParams>), 'CORE_FEATURE_PARAM');
    expectId(() => new PairFeatureEngine({ rsiPeriod: 0 }), 'CORE_FEATURE_PARAM');
  });
});

describe('schema', () => {
  it('names, index and hash', () => {
    expect(FEATURE_COUNT).toBe(21);
    FEATURE_NAMES.forEach((n, i) => expect(FEATURE_INDEX[n]).toBe(i));
    const h = featureSchemaHash();
    expect(h).toMatch(/^[0-9a-f]{64}$/);
    expect(featureSchemaHash(DEFAULT_FEATURE_PARAMS)).toBe(h);
    expect(featureSchemaHash({ zWindow: 181 })).not.toBe(h);
    expect(featureSchemaHash({ huberC: 1.5 })).not.toBe(h);
    expect(new PairFeatureEngine().schemaHash).toBe(h);
    expect(FEATURE_SCHEMA_VERSION).toBe(1);
  });
});

describe('snapshot number encoding', () => {
  it('round-trips NaN, ±Infinity and −0 through JSON', () => {
    for (const v of [NaN, Infinity, -Infinity, -0, 0, 1.5e-300, -7.25]) {
      expect(Object.is(decodeNumber(JSON.parse(JSON.stringify(encodeNumber(v))), 'v'), v)).toBe(true);
    }
    expectId(() => decodeNumber('1', 'v'), 'CORE_FEATURE_STATE');
  });
});

describe('invalid bars raise the right id and leave the engine unchanged', () => {
  const warm = (k: number) => {
    const e = new PairFeatureEngine();
    for (let i = 0; i < k; i++) e.update(barAt(series, i));
    return e;
  };
  const next = barAt(series, 400);
  const variants: [string, PairBar, string][] = [
    ['same time', { ...next, tsMs: series.tsMs[399]! }, 'CORE_FEATURE_ORDER'],
    ['earlier time', { ...next, tsMs: series.tsMs[10]! }, 'CORE_FEATURE_ORDER'],
    ['NaN time', { ...next, tsMs: NaN }, 'CORE_FEATURE_NONFIN'],
    ['A.high < A.low', { ...next, a: { ...next.a, high: next.a.low * 0.99 } }, 'CORE_FEATURE_OHLC'],
    ['B.high < B.low', { ...next, b: { ...next.b, high: next.b.low * 0.99 } }, 'CORE_FEATURE_OHLC'],
  ];
  for (const leg of ['a', 'b'] as const) {
    for (const field of ['open', 'high', 'low', 'close'] as const) {
      for (const bad of [NaN, Infinity, -Infinity, 0, -1]) {
        variants.push([`${leg}.${field} = ${bad}`, { ...next, [leg]: { ...next[leg], [field]: bad } }, 'CORE_FEATURE_NONFIN']);
      }
    }
  }

  it.each(variants)('%s', (_name, bar, id) => {
    const e = warm(400);
    const twin = warm(400);
    const before = JSON.stringify(e.snapshot());
    expectId(() => e.update(bar), id);
    expect(JSON.stringify(e.snapshot())).toBe(before);
    expect([e.barsSeen, e.lastTsMs]).toEqual([400, series.tsMs[399]]);
    for (let i = 400; i < 420; i++) {
      const a = e.update(barAt(series, i));
      const b = twin.update(barAt(series, i));
      expect(a.every((v, f) => Object.is(v, b[f]))).toBe(true);
    }
  });

  it('the first bar may carry any finite time; a second bar at the same time is refused', () => {
    const e = new PairFeatureEngine();
    e.update({ ...next, tsMs: -5 });
    expect(e.lastTsMs).toBe(-5);
    expectId(() => e.update({ ...next, tsMs: -5 }), 'CORE_FEATURE_ORDER');
  });

  it('refuses an output array shorter than the vector', () => {
    expectId(() => new PairFeatureEngine().update(next, new Float64Array(20)), 'CORE_FEATURE_PARAM');
  });
});

describe('computeFeatureMatrix input checks', () => {
  it('refuses columns of different lengths or types (CORE_FEATURE_SHAPE)', () => {
    expectId(() => computeFeatureMatrix({ ...series, bLow: series.bLow.subarray(1) }), 'CORE_FEATURE_SHAPE');
    expectId(() => computeFeatureMatrix({ ...series, aClose: Array.from(series.aClose) } as unknown as PairSeries), 'CORE_FEATURE_SHAPE');
  });

  it('names the offending row', () => {
    const bad = { ...series, aClose: Float64Array.from(series.aClose) };
    bad.aClose[123] = -1;
    expect(() => computeFeatureMatrix(bad)).toThrow(/^CORE_FEATURE_NONFIN: row 123: /);
    const unordered = { ...series, tsMs: Float64Array.from(series.tsMs) };
    unordered.tsMs[50] = unordered.tsMs[49]!;
    expect(() => computeFeatureMatrix(unordered)).toThrow(/^CORE_FEATURE_ORDER: row 50: /);
  });

  it('an empty series gives empty columns; pairSeriesFromBars is the columnar layout', () => {
    const m = computeFeatureMatrix(pairSeriesFromBars([]));
    expect(m.tsMs.length).toBe(0);
    expect(Object.keys(m.columns)).toEqual([...FEATURE_NAMES]);
    const bars = [barAt(series, 0), barAt(series, 1)];
    const s = pairSeriesFromBars(bars);
    expect([s.tsMs[1], s.aHigh[0], s.bLow[1], s.bClose[0]]).toEqual([bars[1]!.tsMs, bars[0]!.a.high, bars[1]!.b.low, bars[0]!.b.close]);
  });
});
