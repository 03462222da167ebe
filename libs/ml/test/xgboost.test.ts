import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { ML_ERROR, loadXgboostModel } from '../src/index.js';

const dir = new URL('./fixtures/xgboost/', import.meta.url);

function readCsv(name: string): number[][] {
  const lines = readFileSync(new URL(name, dir), 'utf8').trim().split('\n').slice(1);
  return lines.map((l) => l.split(',').map((c) => (c === '' ? Number.NaN : Number(c))));
}

describe('XGBoost JSON loader', () => {
  const text = readFileSync(new URL('model.json', dir), 'utf8');
  const rows = readCsv('data.csv');
  const expected = readCsv('predictions.csv').map((r) => r[0]!);

  it('reproduces XGBoost 1.7.4 predictions (binary:logistic, hist, missing values) to 1e-6', () => {
    const info = loadXgboostModel(text);
    expect(info.numTrees).toBe(20);
    expect(info.numFeatures).toBe(6);
    expect(info.featureNames).toEqual(['f0', 'f1', 'f2', 'f3', 'f4', 'f5']);
    expect(rows).toHaveLength(600);
    expect(rows.some((r) => r.some((v) => Number.isNaN(v)))).toBe(true);
    const row = new Float64Array(6);
    let worst = 0;
    rows.forEach((r, i) => {
      row.set(r);
      worst = Math.max(worst, Math.abs(info.forest.predictRow(row) - expected[i]!));
    });
    expect(worst).toBeLessThanOrEqual(1e-6);
    const flat = new Float64Array(rows.flat());
    const out = new Float64Array(rows.length);
    info.forest.predictBatch({ data: flat, rows: rows.length, cols: 6 }, out);
    out.forEach((p, i) => expect(Math.abs(p - expected[i]!)).toBeLessThanOrEqual(1e-6));
  });

  it('refuses another objective and malformed documents with CORE_ML_MODEL', () => {
    const doc = JSON.parse(text) as { learner: { objective: { name: string } } };
    doc.learner.objective.name = 'reg:squarederror';
    expect(() => loadXgboostModel(JSON.stringify(doc))).toThrow(ML_ERROR.MODEL);
    expect(() => loadXgboostModel('{"learner":{}}')).toThrow(ML_ERROR.MODEL);
    expect(() => loadXgboostModel('not json')).toThrow(ML_ERROR.MODEL);
    const cyclic = JSON.parse(text) as { learner: { gradient_booster: { model: { trees: { left_children: number[] }[] } } } };
    cyclic.learner.gradient_booster.model.trees[0]!.left_children[1] = 0;
    expect(() => loadXgboostModel(JSON.stringify(cyclic))).toThrow(ML_ERROR.MODEL);
  });
});
