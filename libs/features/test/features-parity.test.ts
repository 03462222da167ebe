import { describe, expect, it } from '@jest/globals';
import { computeFeatureMatrix } from '../src/batch.js';
import { PairFeatureEngine, type PairFeatureEngineState } from '../src/engine.js';
import { FeatureError } from '../src/errors.js';
import { FEATURE_COUNT, FEATURE_NAMES } from '../src/schema.js';
import { barAt, syntheticPair } from './core-support.js';

/** 24 000 bars of a cointegrated pair with jumps in both legs and a hedge-ratio break at bar 12 000. */
const N = 24_000;
const series = syntheticPair(N, 20240601, { breakAt: 12_000, jumpProb: 0.004 });

function countDiffs(a: Float64Array, b: Float64Array): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) d++;
  return d;
}

describe('batch ≡ streaming', () => {
  it('computeFeatureMatrix equals PairFeatureEngine.update cell by cell (Object.is) on 24 000 bars', () => {
    const matrix = computeFeatureMatrix(series);
    const engine = new PairFeatureEngine();
    const out = new Float64Array(FEATURE_COUNT);
    const stream = FEATURE_NAMES.map(() => new Float64Array(N));
    for (let i = 0; i < N; i++) {
      engine.update(barAt(series, i), out);
      for (let f = 0; f < FEATURE_COUNT; f++) stream[f]![i] = out[f]!;
    }
    const diffs = FEATURE_NAMES.map((name, f) => ({ name, diffs: countDiffs(matrix.columns[name], stream[f]!) }));
    expect(diffs.filter((d) => d.diffs > 0)).toEqual([]);
    expect(Array.from(matrix.tsMs)).toEqual(Array.from(series.tsMs));
    // the data really exercises the robust switch and both β regimes
    expect(engine.robustBetaWindows).toBeGreaterThan(100);
    const beta = matrix.columns.beta;
    expect(beta[11_000]!).toBeLessThan(0.018);
    expect(beta[23_000]!).toBeGreaterThan(0.018);
    expect(matrix.schemaHash).toBe(engine.schemaHash);
  });

  it('update without `out` returns a fresh vector with the same numbers', () => {
    const a = new PairFeatureEngine();
    const b = new PairFeatureEngine();
    const out = new Float64Array(FEATURE_COUNT);
    for (let i = 0; i < 600; i++) {
      const v = a.update(barAt(series, i));
      b.update(barAt(series, i), out);
      expect(v).not.toBe(out);
      expect(countDiffs(v, out)).toBe(0);
    }
  });
});

describe('restart parity: snapshot → JSON → restore continues bit-exactly', () => {
  it.each([0, 1, 179, 180, 359, 377, 5000, 12_001, 17_777])('after %i bars', (k) => {
    const M = Math.min(N, k + 3000);
    const reference = new PairFeatureEngine();
    const first = new PairFeatureEngine();
    const out = new Float64Array(FEATURE_COUNT);
    const outB = new Float64Array(FEATURE_COUNT);
    for (let i = 0; i < k; i++) {
      reference.update(barAt(series, i), out);
      first.update(barAt(series, i), outB);
    }
    const json = JSON.stringify(first.snapshot());
    const state = JSON.parse(json) as PairFeatureEngineState;
    const restored = PairFeatureEngine.restore(state);
    expect(restored.barsSeen).toBe(k);
    expect(Object.is(restored.lastTsMs, k === 0 ? NaN : series.tsMs[k - 1])).toBe(true);
    expect(JSON.stringify(restored.snapshot())).toBe(json);
    let diffs = 0;
    for (let i = k; i < M; i++) {
      reference.update(barAt(series, i), out);
      restored.update(barAt(series, i), outB);
      diffs += countDiffs(out, outB);
    }
    expect(diffs).toBe(0);
    expect(JSON.stringify(restored.snapshot())).toBe(JSON.stringify(reference.snapshot()));
  });

  it('encodes NaN, ±Infinity and −0 so that JSON keeps them', () => {
    const e = new PairFeatureEngine();
    const json = JSON.stringify(e.snapshot());
    expect(json).toContain('"NaN"');
    const restored = PairFeatureEngine.restore(JSON.parse(json));
    expect(restored.lastTsMs).toBeNaN();
  });

  it('refuses a snapshot taken with other parameters, of another kind, or tampered with', () => {
    const e = new PairFeatureEngine({ zWindow: 50 });
    for (let i = 0; i < 300; i++) e.update(barAt(series, i));
    const s = JSON.parse(JSON.stringify(e.snapshot())) as PairFeatureEngineState;
    expect(() => PairFeatureEngine.restore(s, { zWindow: 60 })).toThrow(expect.objectContaining({ id: 'CORE_FEATURE_STATE' }));
    expect(PairFeatureEngine.restore(s, { zWindow: 50 }).barsSeen).toBe(300);
    const bad = (mut: (x: Record<string, unknown>) => void) => {
      const c = JSON.parse(JSON.stringify(s)) as Record<string, unknown>;
      mut(c);
      return () => PairFeatureEngine.restore(c);
    };
    for (const f of [
      bad((c) => (c.kind = 'Other')),
      bad((c) => (c.version = 99)),
      bad((c) => (c.schemaHash = 'x')),
      bad((c) => ((c.params as Record<string, unknown>).zWindow = 51)),
      bad((c) => ((c.spreadMoments as { window: { count: number } }).window.count = 999)),
      bad((c) => (c.lastTsMs = 'soon')),
      bad((c) => delete c.rsi),
      bad((c) => ((c.atrMedianA as { low: number[] }).low = [])),
    ]) {
      expect(f).toThrow(FeatureError);
      expect(f).toThrow(expect.objectContaining({ id: 'CORE_FEATURE_STATE' }));
    }
    expect(() => PairFeatureEngine.restore(null)).toThrow(expect.objectContaining({ id: 'CORE_FEATURE_STATE' }));
  });
});
