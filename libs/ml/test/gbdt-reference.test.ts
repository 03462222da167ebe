/**
 * The histogram trainer (bins, histogram subtraction, both missing directions) against a naive exact-greedy tree
 * builder written here from the definitions: every observed value tried as `x < t`, rows re-scanned per node.
 * With fewer distinct values than bins the histogram trainer must build the same trees.
 */
import { describe, expect, it } from '@jest/globals';
import { Rng, trainGbdt } from '../src/index.js';
import { expectSame, naiveTree, type Params, type RefNode } from './support/naive-tree.js';

describe('histogram trainer against naive exact greedy', () => {
  it.each([1, 2, 3])('builds the same trees for three rounds (data seed %i)', (seed) => {
    const u = new Rng(seed);
    const n = 90;
    const d = 3;
    // Values on a coarse grid (≤ 40 distinct per feature, below the 64 bins) with NaN in feature 2.
    const cols = Array.from({ length: d }, (_, f) => Array.from({ length: n }, () => (f === 2 && u.next() < 0.2 ? Number.NaN : Math.floor(u.next() * 40) / 4)));
    const y = Array.from({ length: n }, (_, r) => (u.next() < 1 / (1 + Math.exp(-(Math.sin(cols[0]![r]!) + (Number.isNaN(cols[2]![r]!) ? 1 : -0.3)))) ? 1 : 0));
    const w = Array.from({ length: n }, () => 0.5 + u.next());
    const x = new Float64Array(n * d);
    cols.forEach((c, f) => c.forEach((v, r) => (x[r * d + f] = v)));
    const p: Params = { lambda: 1.5, gamma: 0.01, mcw: 0.3, eta: 0.4, maxDepth: 3 };
    const { model } = trainGbdt(
      { x, rows: n, cols: d, y: Float64Array.from(y), weight: Float64Array.from(w) },
      { params: { rounds: 3, maxDepth: p.maxDepth, lambda: p.lambda, gamma: p.gamma, minChildWeight: p.mcw, learningRate: p.eta, maxBin: 64 } },
    );
    // The comparison only means something if the trees are not stumps.
    expect(model.trees.every((t) => t.feature.filter((f) => f >= 0).length >= 3)).toBe(true);
    const hasNaN = cols.map((c) => c.some((v) => Number.isNaN(v)));
    const sw = w.reduce((s, v) => s + v, 0);
    const base = w.reduce((s, v, i) => s + v * y[i]!, 0) / sw;
    const margin = y.map(() => Math.log(base / (1 - base)));
    const all = y.map((_, i) => i);
    for (let round = 0; round < 3; round++) {
      const pr = margin.map((m) => 1 / (1 + Math.exp(-m)));
      const g = pr.map((q, i) => w[i]! * (q - y[i]!));
      const h = pr.map((q, i) => w[i]! * q * (1 - q));
      const ref = naiveTree(cols, cols.map((_, f) => f), all, g, h, 0, p, hasNaN);
      expectSame(model.trees[round]!, 0, ref);
      const route = (node: RefNode, r: number): number => {
        if ('leaf' in node) return node.leaf;
        const v = cols[node.feature]![r]!;
        return route((Number.isNaN(v) ? node.missingLeft : v < node.threshold) ? node.left : node.right, r);
      };
      all.forEach((r) => (margin[r] = margin[r]! + route(ref, r)));
    }
  });
});
