/**
 * Small cases worked out independently of the histogram code: a naive split search that tries every observed
 * value as a `x < t` threshold with both missing directions, using the gain formula written here.
 */
import { describe, expect, it } from '@jest/globals';
import { compileModel, trainGbdt, type Dataset } from '../src/index.js';

interface NaiveSplit {
  feature: number;
  threshold: number;
  missingLeft: boolean;
  gain: number;
}

/** Gradients at margin 0 (baseScore 0.5): g = w(0.5 − y), h = w/4. */
function naiveBestSplit(cols: number[][], y: number[], w: number[], lambda: number): { best: NaiveSplit; runnerUp: number } {
  const g = y.map((yi, i) => w[i]! * (0.5 - yi));
  const h = w.map((wi) => wi * 0.25);
  const sum = (a: number[], rows: number[]) => rows.reduce((s, r) => s + a[r]!, 0);
  const all = y.map((_, i) => i);
  const score = (rows: number[]) => sum(g, rows) ** 2 / (sum(h, rows) + lambda);
  const gains: NaiveSplit[] = [];
  cols.forEach((col, f) => {
    const values = [...new Set(col.filter((v) => !Number.isNaN(v)))].sort((a, b) => a - b);
    for (const t of values.slice(1)) {
      for (const missingLeft of [false, true]) {
        const left = all.filter((i) => (Number.isNaN(col[i]!) ? missingLeft : col[i]! < t));
        const right = all.filter((i) => !left.includes(i));
        gains.push({ feature: f, threshold: t, missingLeft, gain: 0.5 * (score(left) + score(right) - score(all)) });
      }
    }
  });
  gains.sort((a, b) => b.gain - a.gain);
  const best = gains[0]!;
  const runnerUp = gains.find((s) => s.feature !== best.feature || s.threshold !== best.threshold)?.gain ?? -Infinity;
  return { best, runnerUp };
}

function dataset(cols: number[][], y: number[], weight?: number[]): Dataset {
  const rows = y.length;
  const x = new Float64Array(rows * cols.length);
  cols.forEach((c, f) => c.forEach((v, r) => (x[r * cols.length + f] = v)));
  const d: Dataset = { x, rows, cols: cols.length, y: Float64Array.from(y) };
  if (weight) d.weight = Float64Array.from(weight);
  return d;
}

const stump = { rounds: 1, maxDepth: 1, minChildWeight: 0, lambda: 1, learningRate: 0.3, baseScore: 0.5 } as const;

describe('GBDT exact small cases', () => {
  it('finds the best split and leaf values −G/(H+λ)·η on a tiny dataset', () => {
    const x0 = [1, 2, 3, 4, 5, 6, 7];
    const x1 = [3, 1, 4, 1, 5, 9, 2];
    const y = [0, 0, 0, 1, 0, 1, 1];
    // By hand for x0 < 4: left rows y = 0,0,0 → G = 3·0.5 = 1.5, H = 0.75; right y = 1,0,1,1 → G = −1.0, H = 1.0;
    // parent G = 0.5, H = 1.75. gain = ½(1.5²/1.75 + 1²/2 − 0.5²/2.75) = 0.847402597…
    const handGain = 0.5 * (1.5 ** 2 / 1.75 + 1 / 2 - 0.25 / 2.75);
    const naive = naiveBestSplit([x0, x1], y, y.map(() => 1), 1);
    expect(naive.best.feature).toBe(0);
    expect(naive.best.threshold).toBe(4);
    expect(naive.best.gain).toBeCloseTo(handGain, 12);
    expect(naive.runnerUp).toBeLessThan(naive.best.gain);

    const { model } = trainGbdt(dataset([x0, x1], y), { params: stump });
    const t = model.trees[0]!;
    expect(t.feature[0]).toBe(0);
    expect(t.threshold[0]).toBe(4);
    expect(t.value[t.left[0]!]!).toBeCloseTo(-(1.5 / (0.75 + 1)) * 0.3, 14);
    expect(t.value[t.right[0]!]!).toBeCloseTo(-(-1.0 / (1.0 + 1)) * 0.3, 14);
    const f = compileModel(model);
    expect(f.predictMargin(new Float64Array([3.999, 0]))).toBeCloseTo(-0.3 * (1.5 / 1.75), 14);
    expect(f.predictMargin(new Float64Array([4, 0]))).toBeCloseTo(0.15, 14);
  });

  it('keeps no split when the gain does not exceed gamma', () => {
    const x0 = [1, 2, 3, 4, 5, 6, 7];
    const y = [0, 0, 0, 1, 0, 1, 1];
    const handGain = 0.5 * (1.5 ** 2 / 1.75 + 1 / 2 - 0.25 / 2.75);
    const above = trainGbdt(dataset([x0], y), { params: { ...stump, gamma: handGain + 1e-9 } }).model.trees[0]!;
    expect(above.feature).toEqual([-1]);
    // Root leaf: G = 0.5, H = 1.75 → −0.5/2.75·0.3.
    expect(above.value[0]).toBeCloseTo((-0.5 / 2.75) * 0.3, 14);
    const below = trainGbdt(dataset([x0], y), { params: { ...stump, gamma: handGain - 1e-9 } }).model.trees[0]!;
    expect(below.feature[0]).toBe(0);
  });

  it.each([
    { yMissing: 1, expectLeft: false },
    { yMissing: 0, expectLeft: true },
  ])('sends missing values to the learned side (missing rows labelled $yMissing)', ({ yMissing, expectLeft }) => {
    const x0 = [1, 2, 3, 4, Number.NaN, Number.NaN];
    const y = [0, 0, 1, 1, yMissing, yMissing];
    const naive = naiveBestSplit([x0], y, y.map(() => 1), 1);
    expect(naive.best.threshold).toBe(3);
    expect(naive.best.missingLeft).toBe(expectLeft);
    const { model } = trainGbdt(dataset([x0], y), { params: stump });
    const t = model.trees[0]!;
    expect(t.threshold[0]).toBe(3);
    expect(t.defaultLeft[0]).toBe(expectLeft);
    const f = compileModel(model);
    const nanMargin = f.predictMargin(new Float64Array([Number.NaN]));
    const sideMargin = f.predictMargin(new Float64Array([expectLeft ? 1 : 4]));
    expect(nanMargin).toBe(sideMargin);
    // Missing rows carry label yMissing → the side they join has G = 2·0.5 − … by hand:
    // left = {1, 2} (+ missing if left): G = 1 + (expectLeft ? 1 : 0); H = 0.5 + (expectLeft ? 0.5 : 0).
    const gl = 1 + (expectLeft ? 1 : 0);
    const hl = 0.5 + (expectLeft ? 0.5 : 0);
    expect(t.value[t.left[0]!]!).toBeCloseTo((-gl / (hl + 1)) * 0.3, 14);
  });

  it('sample weights change the chosen split', () => {
    const x0 = [1, 2, 3, 4, 5, 6, 7, 8];
    const y = [0, 1, 0, 0, 1, 0, 1, 1];
    const plain = y.map(() => 1);
    const heavy = [1, 8, 1, 1, 1, 1, 1, 1];
    const a = naiveBestSplit([x0], y, plain, 1).best;
    const b = naiveBestSplit([x0], y, heavy, 1).best;
    expect(a.threshold).not.toBe(b.threshold);
    const ma = trainGbdt(dataset([x0], y), { params: stump }).model.trees[0]!;
    const mb = trainGbdt(dataset([x0], y, heavy), { params: stump }).model.trees[0]!;
    expect(ma.threshold[0]).toBe(a.threshold);
    expect(mb.threshold[0]).toBe(b.threshold);
    // Weighted leaf: G = Σ w(0.5 − y), H = Σ w/4 over the left rows.
    const left = x0.map((v, i) => i).filter((i) => x0[i]! < b.threshold);
    const G = left.reduce((s, i) => s + heavy[i]! * (0.5 - y[i]!), 0);
    const H = left.reduce((s, i) => s + heavy[i]! * 0.25, 0);
    expect(mb.value[mb.left[0]!]!).toBeCloseTo((-G / (H + 1)) * 0.3, 14);
  });

  it('respects min_child_weight and max_depth', () => {
    const x0 = [1, 2, 3, 4, 5, 6, 7];
    const y = [0, 0, 0, 1, 0, 1, 1];
    // Every child needs H ≥ 1, i.e. ≥ 4 rows of h = 0.25; any split of 7 rows leaves one child with ≤ 3 rows,
    // so the root stays a leaf.
    const t = trainGbdt(dataset([x0], y), { params: { ...stump, minChildWeight: 1 } }).model.trees[0]!;
    expect(t.feature).toEqual([-1]);
    const deep = trainGbdt(dataset([x0], y), { params: { ...stump, maxDepth: 3 } }).model.trees[0]!;
    const depthOf = (n: number): number => (deep.feature[n] === -1 ? 0 : 1 + Math.max(depthOf(deep.left[n]!), depthOf(deep.right[n]!)));
    expect(depthOf(0)).toBeGreaterThan(1);
    expect(depthOf(0)).toBeLessThanOrEqual(3);
  });

  it('starts from the log-odds of the weighted label mean when baseScore is "mean"', () => {
    const x0 = [1, 2, 3, 4];
    const y = [0, 0, 0, 1];
    const w = [1, 1, 1, 2];
    const { model, trainLoss } = trainGbdt(dataset([x0], y, w), { params: { rounds: 1, baseScore: 'mean' } });
    expect(model.baseScore).toBeCloseTo(2 / 5, 15);
    // Initial weighted log-loss at p = 0.4 is the binary entropy of 0.4.
    expect(trainLoss[0]).toBeCloseTo(-(0.4 * Math.log(0.4) + 0.6 * Math.log(0.6)), 14);
  });
});
