import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import {
  applyRobustNormaliser,
  fitRobustNormaliser,
  normaliserHash,
  parseNormaliser,
  quantileSorted,
  serialiseNormaliser,
  type NormaliserParams,
} from '../src/normalise.js';
import { computeFeatureMatrix } from '../src/batch.js';
import { FEATURE_NAMES } from '../src/schema.js';
import { fixtureBars, fixtureFeatures } from './support/fixture-labels.js';

const one = (name: string, values: number[]): { columns: Record<string, Float64Array> } => ({ columns: { [name]: Float64Array.from(values) } });

describe('quantiles (numpy method="linear")', () => {
  it('matches hand values', () => {
    const x = Float64Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    // h = (n − 1)·q: 0.09 → 1 + 0.09·(2 − 1); 8.91 → 9 + 0.91·(10 − 9); 4.5 → 5.5. numpy.percentile gives the same.
    expect(quantileSorted(x, 0.01)).toBeCloseTo(1.09, 12);
    expect(quantileSorted(x, 0.99)).toBeCloseTo(9.91, 12);
    expect(quantileSorted(x, 0.5)).toBe(5.5);
    expect(quantileSorted(x, 0)).toBe(1);
    expect(quantileSorted(x, 1)).toBe(10);
    expect(quantileSorted(Float64Array.from([7]), 0.99)).toBe(7);
  });
});

describe('fitRobustNormaliser — hand-computed', () => {
  it('winsorises at p01/p99, then median / 1.4826·MAD of the winsorised values', () => {
    const p = fitRobustNormaliser(one('z', [100, 1, 2, 3, 4, 5, 6, 7, 8, 9]), { start: 0, end: 10 }, { names: ['z'] });
    const s = p.features[0]!;
    // Sorted 1..9, 100: p01 = 1.09, p99 = 9 + 0.91·91 = 91.81. Winsorised: 1.09, 2..9, 91.81 → median 5.5.
    // |w − 5.5| sorted: 0.5, 0.5, 1.5, 1.5, 2.5, 2.5, 3.5, 3.5, 4.41, 86.31 → MAD 2.5, scale 3.7065.
    expect(s.p01).toBeCloseTo(1.09, 12);
    expect(s.p99).toBeCloseTo(91.81, 10);
    expect(s.median).toBe(5.5);
    expect(s.mad).toBe(2.5);
    expect(s.scale).toBeCloseTo(3.7065, 12);
    expect([s.scaleMethod, s.clip, s.count]).toEqual(['mad', true, 10]);
    const y = applyRobustNormaliser(p, [5.5]);
    expect(y[0]).toBe(0);
    expect(applyRobustNormaliser(p, [9])[0]).toBeCloseTo(3.5 / 3.7065, 12);
    expect(applyRobustNormaliser(p, [-1000])[0]).toBeCloseTo((1.09 - 5.5) / 3.7065, 12);
    // (91.81 − 5.5) / 3.7065 ≈ 23.3 → clipped to 5 for z; the same feature unclipped keeps it.
    expect(applyRobustNormaliser(p, [1e6])[0]).toBe(5);
    const q = fitRobustNormaliser(one('spread', [100, 1, 2, 3, 4, 5, 6, 7, 8, 9]), { start: 0, end: 10 }, { names: ['spread'], clipFeatures: [] });
    expect(applyRobustNormaliser(q, [1e6])[0]).toBeCloseTo((91.81 - 5.5) / 3.7065, 9);
    expect(applyRobustNormaliser(q, [NaN])[0]).toBeNaN();
  });

  it('fits on the training rows only and skips undefined values', () => {
    const p = fitRobustNormaliser(one('z', [NaN, NaN, 1, 2, 3, 1000, -1000]), { start: 0, end: 5 }, { names: ['z'] });
    const s = p.features[0]!;
    // Finite training values 1, 2, 3: p01 = 1.02, p99 = 2.98, median 2, deviations 0.98, 0, 0.98 → MAD 0.98.
    expect(s.count).toBe(3);
    expect(s.p01).toBeCloseTo(1.02, 12);
    expect(s.p99).toBeCloseTo(2.98, 12);
    expect(s.median).toBe(2);
    expect(s.mad).toBeCloseTo(0.98, 12);
    expect(p.trainRange).toEqual({ start: 0, end: 5 });
  });

  it('MAD = 0 falls back to √(π/2)·mean absolute deviation', () => {
    const p = fitRobustNormaliser(one('x', [3, 3, 3, 3, 3, 3, 4, 5, 6, 7]), { start: 0, end: 10 }, { names: ['x'], clipFeatures: [] });
    const s = p.features[0]!;
    // p01 = 3, p99 = 6 + 0.91·1 = 6.91; winsorised median 3; deviations 0×6, 1, 2, 3, 3.91 → MAD 0, mean 0.991.
    expect([s.median, s.mad, s.scaleMethod]).toEqual([3, 0, 'meanad']);
    expect(s.scale).toBeCloseTo(1.2533141373155 * 0.991, 12);
    expect(applyRobustNormaliser(p, [4])[0]).toBeCloseTo(1 / (1.2533141373155 * 0.991), 12);
  });

  it('a constant training feature maps every value to 0 (scale 1)', () => {
    const p = fitRobustNormaliser(one('x', [2, 2, 2, 2]), { start: 0, end: 4 }, { names: ['x'] });
    expect(p.features[0]).toMatchObject({ median: 2, mad: 0, scale: 1, scaleMethod: 'constant', p01: 2, p99: 2 });
    expect(Array.from(applyRobustNormaliser(p, [-7]))).toEqual([0]);
    expect(Array.from(applyRobustNormaliser(p, [1e9]))).toEqual([0]);
  });

  it('rejects bad ranges, missing columns, empty training data and wrong vector lengths', () => {
    const m = one('z', [1, 2, 3]);
    expect(() => fitRobustNormaliser(m, { start: 2, end: 2 }, { names: ['z'] })).toThrow(/CORE_LABEL_INPUT/);
    expect(() => fitRobustNormaliser(m, { start: 0, end: 4 }, { names: ['z'] })).toThrow(/CORE_LABEL_INPUT/);
    expect(() => fitRobustNormaliser(m, { start: 0, end: 3 }, { names: ['y'] })).toThrow(/CORE_LABEL_INPUT/);
    expect(() => fitRobustNormaliser(one('z', [NaN, NaN]), { start: 0, end: 2 }, { names: ['z'] })).toThrow(/CORE_LABEL_NODATA/);
    expect(() => fitRobustNormaliser(m, { start: 0, end: 3 }, { names: ['z'], clipFeatures: ['q'] })).toThrow(/CORE_LABEL_PARAM/);
    const p = fitRobustNormaliser(m, { start: 0, end: 3 }, { names: ['z'] });
    expect(() => applyRobustNormaliser(p, [1, 2])).toThrow(/CORE_LABEL_INPUT/);
  });
});

describe('fitRobustNormaliser — fixture features (all 21)', () => {
  const f = fixtureFeatures();
  const train = { start: 400, end: 1400 };
  const p = fitRobustNormaliser({ columns: f.columns, schemaHash: 'fixture' }, train);

  it('fits every feature in FEATURE_NAMES order, clipping the z and slope family', () => {
    expect(p.features.map((s) => s.name)).toEqual([...FEATURE_NAMES]);
    expect(p.features.filter((s) => s.clip).map((s) => s.name)).toEqual(['z', 'z_ema', 'delta_z', 'abs_delta_z', 'slope_spread', 'slope_z']);
    expect(p.featureSchemaHash).toBe('fixture');
    for (const s of p.features) expect(s.count).toBe(1000); // every feature is past its warm-up (≤ 377) at row 400
  });

  it('a matrix and each single row vector give identical numbers', () => {
    const cols = applyRobustNormaliser(p, { columns: f.columns });
    for (let i = 0; i < f.ts.length; i += 7) {
      const row = FEATURE_NAMES.map((n) => f.columns[n]![i]!);
      const y = applyRobustNormaliser(p, row);
      FEATURE_NAMES.forEach((n, j) => expect(Object.is(y[j], cols[n]![i])).toBe(true));
    }
    for (let i = 0; i < 377; i++) expect(cols.slope_z![i]).toBeNaN(); // warm-up stays undefined
  });

  it('normalised training values have median 0 and MAD 1/1.4826; clipped features stay within ±5', () => {
    const cols = applyRobustNormaliser(p, { columns: f.columns });
    for (const s of p.features) {
      const y = Array.from(cols[s.name]!.subarray(train.start, train.end)).sort((a, b) => a - b);
      const med = (y[499]! + y[500]!) / 2;
      expect(med).toBeCloseTo(0, 9);
      if (s.scaleMethod === 'mad' && !s.clip) {
        const d = y.map((v) => Math.abs(v - med)).sort((a, b) => a - b);
        expect((d[499]! + d[500]!) / 2).toBeCloseTo(1 / 1.4826, 9);
      }
      if (s.clip) for (const v of cols[s.name]!) if (!Number.isNaN(v)) expect(Math.abs(v)).toBeLessThanOrEqual(5);
    }
  });

  it('round-trips through JSON with identical outputs and hash', () => {
    const text = serialiseNormaliser(p);
    const back = parseNormaliser(text);
    expect(back).toEqual(p);
    expect(serialiseNormaliser(back)).toBe(text);
    expect(normaliserHash(back)).toBe(normaliserHash(p));
    expect(normaliserHash(p)).toMatch(/^[0-9a-f]{64}$/);
    const a = applyRobustNormaliser(p, { columns: f.columns });
    const b = applyRobustNormaliser(back, { columns: f.columns });
    for (const n of FEATURE_NAMES) expect(Buffer.from(b[n]!.buffer).equals(Buffer.from(a[n]!.buffer))).toBe(true);
    expect(parseNormaliser(JSON.parse(text) as unknown)).toEqual(p);
  });

  it('refuses malformed or foreign parameters', () => {
    const o = JSON.parse(serialiseNormaliser(p)) as Record<string, unknown>;
    const bad = (patch: Record<string, unknown>): (() => NormaliserParams) => () => parseNormaliser({ ...o, ...patch });
    expect(bad({ version: 2 })).toThrow(/CORE_LABEL_SCHEMA.*version/);
    expect(bad({ kind: 'other' })).toThrow(/CORE_LABEL_SCHEMA/);
    expect(bad({ features: [] })).toThrow(/CORE_LABEL_SCHEMA/);
    const fs = o.features as Record<string, unknown>[];
    expect(bad({ features: [{ ...fs[0], scale: 0 }] })).toThrow(/CORE_LABEL_SCHEMA/);
    expect(bad({ features: [{ ...fs[0], scaleMethod: 'iqr' }] })).toThrow(/CORE_LABEL_SCHEMA/);
    expect(bad({ features: [fs[0], fs[0]] })).toThrow(/CORE_LABEL_SCHEMA/);
    expect(() => parseNormaliser('{')).toThrow(/CORE_LABEL_SCHEMA/);
  });
});

describe('fitRobustNormaliser — engine FeatureMatrix', () => {
  it('fits a FeatureMatrix of computeFeatureMatrix directly and records its schema hash', () => {
    const a = fixtureBars('A');
    const b = fixtureBars('B');
    const m = computeFeatureMatrix({ tsMs: a.tsMs, aOpen: a.open, aHigh: a.high, aLow: a.low, aClose: a.close, bOpen: b.open, bHigh: b.high, bLow: b.low, bClose: b.close });
    const p = fitRobustNormaliser(m, { start: 377, end: 2000 });
    expect(p.featureSchemaHash).toBe(m.schemaHash);
    expect(p.features.every((s) => s.count === 1623)).toBe(true);
    const f = fixtureFeatures();
    const q = fitRobustNormaliser({ columns: f.columns }, { start: 377, end: 2000 });
    // The engine agrees with the independent fixture to ~1e-6 relative, so the fitted medians do too.
    p.features.forEach((s, j) => expect(Math.abs(s.median - q.features[j]!.median)).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(q.features[j]!.median))));
  });
});

describe('fitRobustNormaliser — properties', () => {
  it('the transform is monotone and maps the training median to 0', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 200 }),
        fc.array(fc.double({ min: -2e6, max: 2e6, noNaN: true }), { minLength: 2, maxLength: 20 }),
        fc.boolean(),
        (train, probe, clip) => {
          const p = fitRobustNormaliser(one('x', train), { start: 0, end: train.length }, { names: ['x'], clipFeatures: clip ? ['x'] : [] });
          expect(applyRobustNormaliser(p, [p.features[0]!.median])[0]).toBe(0);
          const xs = [...probe].sort((a, b) => a - b);
          const ys = xs.map((x) => applyRobustNormaliser(p, [x])[0]!);
          for (let i = 1; i < ys.length; i++) expect(ys[i]!).toBeGreaterThanOrEqual(ys[i - 1]!);
          if (clip) for (const y of ys) expect(Math.abs(y)).toBeLessThanOrEqual(5);
          expect(parseNormaliser(serialiseNormaliser(p))).toEqual(p);
        },
      ),
      { numRuns: 200 },
    );
  });
});
