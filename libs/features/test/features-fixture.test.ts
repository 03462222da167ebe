import { describe, expect, it } from '@jest/globals';
import { PairFeatureEngine, featureWarmupIndices, fullVectorWarmupBars } from '../src/engine.js';
import { computeFeatureMatrix } from '../src/batch.js';
import { FEATURE_NAMES } from '../src/schema.js';
import { barAt, fixtureExpected, fixturePair } from './core-support.js';

/**
 * Acceptance test: the independent pandas/statsmodels/TTR fixture (see fixtures/README.md).
 * Agreement |got − exp| ≤ 1e−6 · max(|got|, |exp|), with an absolute floor of 1e−9 for cells whose expected
 * value is itself below 1e−9 in magnitude: expected.csv prints 12 significant digits of quantities that are
 * differences of O(1) terms (delta_z, ema_gap_spread, slopes), so a value that is ~0 carries only the absolute
 * rounding of its terms (~1e−12…1e−10) and no meaningful relative digits.
 */
const REL = 1e-6;
const ABS_FLOOR = 1e-9;

const { ts, series } = fixturePair();
const expected = fixtureExpected();
const matrix = computeFeatureMatrix(series);

describe('features vs the independent fixture (pandas / statsmodels RLM / TTR)', () => {
  it('joins 2000 bars on identical timestamps and expects the header in FEATURE_NAMES order', () => {
    expect(ts.length).toBe(2000);
    expect(expected.ts).toEqual(ts);
    expect(Object.keys(expected.columns)).toEqual([...FEATURE_NAMES]);
  });

  it('has exactly the fixture warm-up: a cell is NaN exactly where expected.csv is empty', () => {
    const warm = featureWarmupIndices();
    for (const name of FEATURE_NAMES) {
      const exp = expected.columns[name]!;
      const got = matrix.columns[name];
      const mismatched: number[] = [];
      for (let i = 0; i < exp.length; i++) if (Number.isNaN(exp[i]!) !== Number.isNaN(got[i]!)) mismatched.push(i);
      expect({ name, mismatched }).toEqual({ name, mismatched: [] });
      const firstDefined = exp.findIndex((v) => !Number.isNaN(v));
      expect({ name, warmup: warm[name] }).toEqual({ name, warmup: firstDefined });
    }
    expect(fullVectorWarmupBars()).toBe(377);
  });

  it.each([...FEATURE_NAMES])('%s agrees with the fixture to 1e-6 relative in every cell', (name) => {
    const exp = expected.columns[name]!;
    const got = matrix.columns[name];
    let worst = { i: -1, rel: 0 };
    const bad: { i: number; got: number; exp: number }[] = [];
    for (let i = 0; i < exp.length; i++) {
      const e = exp[i]!;
      const g = got[i]!;
      if (Number.isNaN(e)) continue;
      const diff = Math.abs(g - e);
      const scale = Math.max(Math.abs(g), Math.abs(e));
      const ok = diff <= REL * scale || (Math.abs(e) < ABS_FLOOR && diff <= ABS_FLOOR);
      if (!ok) bad.push({ i, got: g, exp: e });
      const rel = scale === 0 ? 0 : diff / scale;
      if (rel > worst.rel) worst = { i, rel };
    }
    expect(bad.slice(0, 5)).toEqual([]);
    expect(worst.rel).toBeLessThanOrEqual(REL);
  });

  it('the robust switch fires in the 52 windows the fixture README reports', () => {
    const e = new PairFeatureEngine();
    const out = new Float64Array(FEATURE_NAMES.length);
    for (let i = 0; i < ts.length; i++) e.update(barAt(series, i), out);
    expect(e.robustBetaWindows).toBe(52);
  });

  it('streaming over the fixture bars equals the batch matrix bit for bit', () => {
    const e = new PairFeatureEngine();
    const out = new Float64Array(FEATURE_NAMES.length);
    let diffs = 0;
    for (let i = 0; i < ts.length; i++) {
      e.update(barAt(series, i), out);
      FEATURE_NAMES.forEach((name, f) => {
        if (!Object.is(out[f], matrix.columns[name][i])) diffs++;
      });
    }
    expect(diffs).toBe(0);
  });
});
