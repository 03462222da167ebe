/**
 * Naive exact-greedy tree builder written from the definitions (every observed value tried as `x < t` on the
 * allowed features, both missing directions, rows re-scanned per node), the reference the histogram trainer is
 * compared with.
 */
import { expect } from '@jest/globals';
import type { GbdtTree } from '../../src/index.js';

export interface Params {
  lambda: number;
  gamma: number;
  mcw: number;
  eta: number;
  maxDepth: number;
}

export type RefNode = { leaf: number } | { feature: number; threshold: number; missingLeft: boolean; left: RefNode; right: RefNode };

/** Exact greedy: every observed value tried as `x < t` on the allowed features, both missing directions. */
export function naiveTree(cols: number[][], feats: number[], rows: number[], g: number[], h: number[], depth: number, p: Params, hasNaN: boolean[]): RefNode {
  const G = rows.reduce((s, r) => s + g[r]!, 0);
  const H = rows.reduce((s, r) => s + h[r]!, 0);
  const leaf = { leaf: (-G / (H + p.lambda)) * p.eta };
  if (depth >= p.maxDepth) return leaf;
  let best: { gain: number; f: number; t: number; ml: boolean; left: number[]; right: number[] } | null = null;
  for (const f of feats) {
    const col = cols[f]!;
    const values = [...new Set(col.filter((v) => !Number.isNaN(v)))].sort((a, b) => a - b);
    for (const t of values.slice(1)) {
      for (const ml of hasNaN[f] ? [false, true] : [false]) {
        const left = rows.filter((r) => (Number.isNaN(col[r]!) ? ml : col[r]! < t));
        const right = rows.filter((r) => !left.includes(r));
        const gl = left.reduce((s, r) => s + g[r]!, 0);
        const hl = left.reduce((s, r) => s + h[r]!, 0);
        if (hl < p.mcw || H - hl < p.mcw) continue;
        const gain = (gl * gl) / (hl + p.lambda) + ((G - gl) * (G - gl)) / (H - hl + p.lambda) - (G * G) / (H + p.lambda);
        if (gain > (best?.gain ?? 1e-12)) best = { gain, f, t, ml, left, right };
      }
    }
  }
  if (best === null || 0.5 * (best as { gain: number }).gain - p.gamma <= 0) return leaf;
  const b = best as { f: number; t: number; ml: boolean; left: number[]; right: number[] };
  return {
    feature: b.f,
    threshold: b.t,
    missingLeft: b.ml,
    left: naiveTree(cols, feats, b.left, g, h, depth + 1, p, hasNaN),
    right: naiveTree(cols, feats, b.right, g, h, depth + 1, p, hasNaN),
  };
}

export function expectSame(t: GbdtTree, node: number, ref: RefNode): void {
  if ('leaf' in ref) {
    expect(t.feature[node]).toBe(-1);
    expect(t.value[node]!).toBeCloseTo(ref.leaf, 10);
    return;
  }
  expect([t.feature[node], t.threshold[node], t.defaultLeft[node]]).toEqual([ref.feature, ref.threshold, ref.missingLeft]);
  expectSame(t, t.left[node]!, ref.left);
  expectSame(t, t.right[node]!, ref.right);
}
