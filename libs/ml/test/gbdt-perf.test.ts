/**
 * The paths the speed work added, against references written here from the definitions: histograms read four
 * codes per word (more than four columns, a count not divisible by four), children at maximum depth or below
 * 2·min_child_weight get no histogram, column subsampling takes the byte-wise path, and the predictor's
 * breadth-first relayout routes every row to the same leaf as the trees' own node arrays.
 */
import { describe, expect, it } from '@jest/globals';
import { compileModel, FlatForest, Rng, trainGbdt, type GbdtTree } from '../src/index.js';
import { expectSame, naiveTree, type Params, type RefNode } from './support/naive-tree.js';

function depthOf(t: GbdtTree, node = 0): number {
  return t.feature[node]! < 0 ? 0 : 1 + Math.max(depthOf(t, t.left[node]!), depthOf(t, t.right[node]!));
}

/** Feature subset of one round: partial Fisher–Yates over 0..d−1 with the trainer's documented seeded draw. */
function sampledFeatures(rng: Rng, d: number, k: number): number[] {
  const perm = Array.from({ length: d }, (_, i) => i);
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(rng.next() * (d - i));
    [perm[i], perm[j]] = [perm[j]!, perm[i]!];
  }
  return perm.slice(0, k).sort((a, b) => a - b);
}

function dataset(seed: number, n: number, d: number): { cols: number[][]; x: Float64Array; y: number[]; w: number[] } {
  const u = new Rng(seed);
  // Coarse grid (≤ 24 distinct values, below the bin count) so histogram splits equal exact ones; NaN in 1 and 6.
  const cols = Array.from({ length: d }, (_, f) => Array.from({ length: n }, () => ((f === 1 || f === 6) && u.next() < 0.15 ? Number.NaN : Math.floor(u.next() * 24) / 3)));
  const y = Array.from({ length: n }, (_, r) => {
    const z = Math.sin(cols[0]![r]!) + 0.3 * cols[5]![r]! - 1 + (Number.isNaN(cols[6]![r]!) ? 0.8 : 0.2 * cols[8]![r]! - 0.5);
    return u.next() < 1 / (1 + Math.exp(-z)) ? 1 : 0;
  });
  const w = Array.from({ length: n }, () => 0.5 + u.next());
  const x = new Float64Array(n * d);
  cols.forEach((c, f) => c.forEach((v, r) => (x[r * d + f] = v)));
  return { cols, x, y, w };
}

// min_child_weight 1.5 in the greedy comparisons keeps nodes large enough that two features do not separate exactly
// the same rows: such a tie is decided by the last bits of differently ordered sums, not by the algorithm.
function checkAgainstNaive(seed: number, colsample: number, p: Params, rounds: number): GbdtTree[] {
  const n = 160;
  const d = 9;
  const { cols, x, y, w } = dataset(seed, n, d);
  const { model } = trainGbdt(
    { x, rows: n, cols: d, y: Float64Array.from(y), weight: Float64Array.from(w) },
    {
      params: { rounds, maxDepth: p.maxDepth, lambda: p.lambda, gamma: p.gamma, minChildWeight: p.mcw, learningRate: p.eta, maxBin: 32, colsampleBytree: colsample },
      seed,
    },
  );
  const hasNaN = cols.map((c) => c.some((v) => Number.isNaN(v)));
  const sw = w.reduce((s, v) => s + v, 0);
  const base = w.reduce((s, v, i) => s + v * y[i]!, 0) / sw;
  const margin = y.map(() => Math.log(base / (1 - base)));
  const all = y.map((_, i) => i);
  const rng = new Rng(seed);
  const k = Math.max(1, Math.round(colsample * d));
  for (let round = 0; round < rounds; round++) {
    const feats = k < d ? sampledFeatures(rng, d, k) : all.slice(0, d);
    const pr = margin.map((m) => 1 / (1 + Math.exp(-m)));
    const g = pr.map((q, i) => w[i]! * (q - y[i]!));
    const h = pr.map((q, i) => w[i]! * q * (1 - q));
    const ref = naiveTree(cols, feats, all, g, h, 0, p, hasNaN);
    expectSame(model.trees[round]!, 0, ref);
    const route = (node: RefNode, r: number): number => {
      if ('leaf' in node) return node.leaf;
      const v = cols[node.feature]![r]!;
      return route((Number.isNaN(v) ? node.missingLeft : v < node.threshold) ? node.left : node.right, r);
    };
    all.forEach((r) => (margin[r] = margin[r]! + route(ref, r)));
  }
  return model.trees;
}

describe('histogram fast paths against naive exact greedy', () => {
  it.each([4, 5])('nine columns (two words and a remainder), depth reaching the limit (data seed %i)', (seed) => {
    const trees = checkAgainstNaive(seed, 1, { lambda: 1, gamma: 0, mcw: 1.5, eta: 0.5, maxDepth: 4 }, 3);
    // The skipped histograms matter only if some tree reaches the maximum depth.
    expect(trees.some((t) => depthOf(t) === 4)).toBe(true);
  });

  it('large min_child_weight: nodes that cannot split skip their histograms, trees unchanged', () => {
    const trees = checkAgainstNaive(6, 1, { lambda: 0.5, gamma: 0, mcw: 3, eta: 0.5, maxDepth: 5 }, 3);
    expect(trees.every((t) => t.feature.filter((f) => f >= 0).length >= 2)).toBe(true);
  });

  it('column subsampling (byte-wise histogram path) matches the naive builder on the same features', () => {
    const trees = checkAgainstNaive(7, 0.6, { lambda: 1, gamma: 0, mcw: 1.5, eta: 0.5, maxDepth: 3 }, 4);
    const used = new Set(trees.flatMap((t) => t.feature.filter((f) => f >= 0)));
    expect(used.size).toBeGreaterThan(1);
  });
});

/** Leaf value of a row by walking the node arrays as documented in model.ts. */
function naiveLeaf(t: GbdtTree, row: Float64Array, f32: boolean): number {
  let node = 0;
  while (t.feature[node]! >= 0) {
    const raw = row[t.feature[node]!]!;
    const v = f32 ? Math.fround(raw) : raw;
    node = (Number.isNaN(v) ? t.defaultLeft[node]! : v < t.threshold[node]!) ? t.left[node]! : t.right[node]!;
  }
  return t.value[node]!;
}

describe('flattened forest layout', () => {
  // Node ids deliberately not breadth-first and children not adjacent (right before left, leaves first).
  const shuffled: GbdtTree = {
    feature: [1, -1, -1, 0, -1, -1, 2],
    threshold: [0.5, 0, 0, -1, 0, 0, 2],
    left: [3, -1, -1, 2, -1, -1, 4],
    right: [6, -1, -1, 1, -1, -1, 5],
    defaultLeft: [true, false, false, false, false, false, true],
    value: [0, 0.125, -0.25, 0, 0.5, -0.75, 0],
  };
  const stump: GbdtTree = { feature: [-1], threshold: [0], left: [-1], right: [-1], defaultLeft: [false], value: [0.0625] };
  const rows = [
    [-2, 0, 1],
    [-0.5, 0.25, Number.NaN],
    [Number.NaN, -3, 0],
    [0.1, 0.5, 1.5],
    [0, 0.75, 2],
    [3, Number.NaN, 2.5],
    [3, 1, Number.NaN],
    [-1, 0.4999999999, 7],
  ];

  it.each([false, true])('routes every row like the node arrays (float32 inputs: %s)', (f32) => {
    const base = -0.3;
    const forest = FlatForest.fromTrees([shuffled, stump, shuffled], 3, base, f32);
    const flat = Float64Array.from(rows.flat());
    const out = new Float64Array(rows.length);
    forest.predictBatch({ data: flat, rows: rows.length, cols: 3 }, out);
    rows.forEach((r, i) => {
      const row = Float64Array.from(r);
      const m = base + naiveLeaf(shuffled, row, f32) + naiveLeaf(stump, row, f32) + naiveLeaf(shuffled, row, f32);
      expect(forest.predictMargin(row)).toBe(m);
      expect(out[i]).toBe(1 / (1 + Math.exp(-m)));
    });
    // Every leaf of the shuffled tree is reached by some row, so the relayout of each one is exercised.
    const leaves = new Set(rows.map((r) => naiveLeaf(shuffled, Float64Array.from(r), f32)));
    expect(leaves.size).toBe(4);
  });

  it('batch scoring of a trained model equals the per-tree walk, summed in tree order, bit for bit', () => {
    const { x, y } = dataset(8, 300, 9);
    const { model } = trainGbdt({ x, rows: 300, cols: 9, y: Float64Array.from(y) }, { params: { rounds: 12, maxDepth: 4, maxBin: 32 }, seed: 8 });
    const forest = compileModel(model);
    const out = new Float64Array(300);
    forest.predictBatch({ data: x, rows: 300, cols: 9 }, out);
    const base = Math.log(model.baseScore / (1 - model.baseScore));
    for (let r = 0; r < 300; r++) {
      const row = x.subarray(r * 9, r * 9 + 9);
      let m = base;
      for (const t of model.trees) m += naiveLeaf(t, row, false);
      expect(out[r]).toBe(1 / (1 + Math.exp(-m)));
    }
  });
});
