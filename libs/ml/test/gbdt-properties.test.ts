import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { compileModel, FlatForest, logLoss, ML_ERROR, parseModel, Rng, serializeModel, trainGbdt, type Dataset } from '../src/index.js';

/** Seeded synthetic data: nonlinear signal in the first features, ~10 % NaN in feature 1. */
function synthetic(rows: number, cols: number, seed: number, noise = 1): Dataset {
  const u = new Rng(seed);
  const x = new Float64Array(rows * cols);
  const y = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) x[r * cols + c] = u.next() * 4 - 2;
    if (u.next() < 0.1) x[r * cols + 1] = Number.NaN;
    const a = x[r * cols]!;
    const b = x[r * cols + 1]!;
    const logit = 1.5 * Math.sin(2 * a) + (Number.isNaN(b) ? 0.8 : b * b - 1);
    y[r] = u.next() < 1 / (1 + Math.exp(-logit * noise)) ? 1 : 0;
  }
  return { x, rows, cols, y };
}

function predictAll(f: FlatForest, d: Dataset): Float64Array {
  const out = new Float64Array(d.rows);
  f.predictBatch({ data: d.x, rows: d.rows, cols: d.cols }, out);
  return out;
}

describe('GBDT properties', () => {
  it('training log-loss never increases from one round to the next', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 20, max: 120 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 0, max: 1_000_000 }),
        fc.integer({ min: 1, max: 5 }),
        fc.double({ min: 0.05, max: 0.5, noNaN: true }),
        fc.double({ min: 0.5, max: 5, noNaN: true }),
        (rows, cols, seed, maxDepth, learningRate, lambda) => {
          const d = synthetic(rows, Math.max(2, cols), seed);
          const { trainLoss } = trainGbdt(d, { params: { rounds: 12, maxDepth, learningRate, lambda, minChildWeight: 0.1, maxBin: 16 } });
          expect(trainLoss).toHaveLength(13);
          for (let i = 1; i < trainLoss.length; i++) expect(trainLoss[i]!).toBeLessThanOrEqual(trainLoss[i - 1]! + 1e-12);
        },
      ),
      { numRuns: 60, seed: 42 },
    );
  });

  it('reported training loss equals the log-loss of the model predictions', () => {
    const d = synthetic(400, 4, 3);
    const { model, trainLoss } = trainGbdt(d, { params: { rounds: 15, maxDepth: 3 } });
    expect(trainLoss[15]).toBeCloseTo(logLoss(predictAll(compileModel(model), d), d.y), 12);
  });

  it('early stopping keeps the round with the lowest validation loss', () => {
    const train = synthetic(300, 4, 11);
    // Validation labels are noise-dominated, so validation loss turns up after a few rounds of fitting the train set.
    const valid = synthetic(300, 4, 12, 0.15);
    const full = trainGbdt(train, { params: { rounds: 80, maxDepth: 5, learningRate: 0.5, earlyStoppingRounds: 0 }, validation: valid });
    expect(full.model.trees).toHaveLength(80);
    // Independent validation losses of every prefix, through the flattened predictor and metrics.logLoss.
    const margin0 = Math.log(full.model.baseScore / (1 - full.model.baseScore));
    const losses = full.model.trees.map((_, k) => logLoss(predictAll(FlatForest.fromTrees(full.model.trees.slice(0, k + 1), 4, margin0), valid), valid.y));
    const patience = 10;
    let best = 0;
    let stopAt = losses.length - 1;
    for (let t = 0; t < losses.length; t++) {
      if (losses[t]! < losses[best]!) best = t;
      if (t - best >= patience) {
        stopAt = t;
        break;
      }
    }
    expect(stopAt).toBeLessThan(79);
    const es = trainGbdt(train, { params: { rounds: 80, maxDepth: 5, learningRate: 0.5, earlyStoppingRounds: patience }, validation: valid });
    expect(es.model.bestIteration).toBe(best);
    expect(es.model.trees).toHaveLength(best + 1);
    expect(es.validLoss).toHaveLength(stopAt + 1);
    expect(es.model.trees).toEqual(full.model.trees.slice(0, best + 1));
  });

  it('carves the validation split from the last rows when validationFraction is set', () => {
    const d = synthetic(500, 3, 5);
    const explicitTrain: Dataset = { x: d.x.subarray(0, 400 * 3), rows: 400, cols: 3, y: d.y.subarray(0, 400) };
    const explicitValid: Dataset = { x: d.x.subarray(400 * 3), rows: 100, cols: 3, y: d.y.subarray(400) };
    const a = trainGbdt(d, { params: { rounds: 30, validationFraction: 0.2, earlyStoppingRounds: 5 } });
    const b = trainGbdt(explicitTrain, { params: { rounds: 30, earlyStoppingRounds: 5 }, validation: explicitValid });
    expect(a.validLoss).toEqual(b.validLoss);
    expect(serializeModel(a.model).replace('"validationFraction":0.2', '"validationFraction":0')).toBe(serializeModel(b.model));
  });

  it('is deterministic under a seed: same seed ⇒ identical bytes, other seed with subsampling ⇒ different', () => {
    const d = synthetic(600, 6, 21);
    const params = { rounds: 20, maxDepth: 4, subsample: 0.7, colsampleBytree: 0.5 };
    const a = serializeModel(trainGbdt(d, { params, seed: 9 }).model);
    const b = serializeModel(trainGbdt(d, { params, seed: 9 }).model);
    const c = serializeModel(trainGbdt(d, { params, seed: 10 }).model);
    expect(a).toBe(b);
    expect(c).not.toBe(a);
  });

  it('JSON round trip: a loaded model predicts bit-identically', () => {
    const d = synthetic(800, 5, 31);
    const { model } = trainGbdt(d, { params: { rounds: 25, maxDepth: 5, subsample: 0.8 }, seed: 4, featureNames: ['a', 'b', 'c', 'd', 'e'] });
    const text = serializeModel(model);
    const loaded = parseModel(text);
    expect(serializeModel(loaded)).toBe(text);
    const p1 = predictAll(compileModel(model), d);
    const p2 = predictAll(compileModel(loaded), d);
    for (let i = 0; i < d.rows; i++) expect(Object.is(p1[i], p2[i])).toBe(true);
    const row = new Float64Array(5);
    for (let i = 0; i < 50; i++) {
      row.set(d.x.subarray(i * 5, i * 5 + 5));
      expect(compileModel(loaded).predictRow(row)).toBe(p1[i]);
    }
  });

  it('learns a nonlinear signal (held-out log-loss below the prior)', () => {
    const train = synthetic(3000, 5, 41);
    const test = synthetic(1000, 5, 42);
    const { model } = trainGbdt(train, { params: { rounds: 60, maxDepth: 4, learningRate: 0.1 } });
    const prior = test.y.reduce((s, v) => s + v, 0) / test.rows;
    const priorLoss = logLoss(new Float64Array(test.rows).fill(prior), test.y);
    expect(logLoss(predictAll(compileModel(model), test), test.y)).toBeLessThan(priorLoss - 0.1);
  });
});

describe('GBDT input errors', () => {
  const d = synthetic(50, 2, 1);
  it.each([
    [{ maxDepth: 0 }],
    [{ learningRate: 0 }],
    [{ maxBin: 256 }],
    [{ subsample: 0 }],
    [{ colsampleBytree: 1.5 }],
    [{ lambda: -1 }],
    [{ baseScore: 1 }],
    [{ rounds: 2.5 }],
    [{ learningRate: Number.NaN }],
    [{ maxDepht: 3 }],
  ])('rejects params %j with CORE_ML_PARAM', (params) => {
    expect(() => trainGbdt(d, { params: params as never })).toThrow(ML_ERROR.PARAM);
  });

  it('rejects NaN labels, labels outside [0,1], ±∞ features, bad weights and shapes with CORE_ML_DATA', () => {
    const y = Float64Array.from(d.y);
    y[3] = Number.NaN;
    expect(() => trainGbdt({ ...d, y })).toThrow(ML_ERROR.DATA);
    const y2 = Float64Array.from(d.y);
    y2[0] = 2;
    expect(() => trainGbdt({ ...d, y: y2 })).toThrow(ML_ERROR.DATA);
    const x = Float64Array.from(d.x);
    x[5] = Number.POSITIVE_INFINITY;
    expect(() => trainGbdt({ ...d, x })).toThrow(ML_ERROR.DATA);
    expect(() => trainGbdt({ ...d, weight: new Float64Array(50).fill(-1) })).toThrow(ML_ERROR.DATA);
    expect(() => trainGbdt({ ...d, rows: 49 })).toThrow(ML_ERROR.DATA);
    expect(() => trainGbdt({ ...d, y: new Float64Array(50) })).toThrow(ML_ERROR.DATA);
  });

  it('rejects malformed model documents with CORE_ML_MODEL', () => {
    const good = JSON.parse(serializeModel(trainGbdt(d, { params: { rounds: 3 } }).model)) as Record<string, unknown>;
    expect(() => parseModel({ ...good, version: 2 })).toThrow(ML_ERROR.MODEL);
    expect(() => parseModel({ ...good, format: 'other' })).toThrow(ML_ERROR.MODEL);
    expect(() => parseModel({ ...good, bestIteration: 7 })).toThrow(ML_ERROR.MODEL);
    expect(() => parseModel('{')).toThrow(ML_ERROR.MODEL);
    const trees = structuredClone(good['trees']) as { feature: number[] }[];
    trees[0]!.feature[0] = 99;
    expect(() => parseModel({ ...good, trees })).toThrow(ML_ERROR.MODEL);
  });
});
