/**
 * Flattened forest: every tree's nodes packed into shared typed arrays, child indices global, so scoring is a
 * tight loop over numbers with no object access and no allocation. Routing: NaN → defaultLeft, otherwise
 * x < threshold → left. Margins are summed in tree order from the base margin (the same order the trainer
 * uses), then p = 1 / (1 + e^−m).
 */
import { ML_ERROR, MlError } from './errors.js';
import type { GbdtModel, GbdtTree } from './model.js';

// Module constants: a global Math lookup per call is slow under Jest's VM contexts.
const { exp, fround, log } = Math;

export interface RowMatrix {
  /** rows × cols, row-major. */
  data: Float64Array;
  rows: number;
  cols: number;
}

/**
 * 0 = left, 1 = right: x < t goes left, x ≥ t right, NaN (neither comparison true) the missing side. Written with
 * comparisons turned into numbers rather than ?: so the compiler emits no branch: the side is random per row and
 * mispredicted branches, not loads, dominated the walk.
 */
function side(x: number, t: number, missRight: number): number {
  const ge = +(x >= t);
  return ge + ((1 - +(x < t) - ge) & missRight);
}

export class FlatForest {
  readonly numTrees: number;

  private constructor(
    readonly numFeatures: number,
    readonly baseMargin: number,
    private readonly roots: Int32Array,
    /** Per node: feature (−1 for a leaf) at 2i, index of the left child at 2i + 1 (the right child follows it). */
    private readonly featChild: Int32Array,
    private readonly threshold: Float64Array,
    /** 1 when a missing value goes right, so the step to the child is `left + side` without a branch on side. */
    private readonly missRight: Uint8Array,
    private readonly value: Float64Array,
    /** XGBoost compares in float32: inputs are rounded to float32 before the comparison. */
    private readonly float32Inputs: boolean,
    /** Depth of each tree: batch scoring takes exactly this many steps per row. */
    private readonly depth: Int32Array,
  ) {
    this.numTrees = roots.length;
    // Batch walk tables: a leaf steps to itself (feature 0 read and ignored, mask 0), so several rows can walk
    // one tree in lockstep for a fixed number of steps with no per-row exit test.
    const n = value.length;
    this.stepFeat = new Int32Array(n);
    this.stepChild = new Int32Array(n);
    this.stepMask = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const leaf = featChild[2 * i]! < 0;
      this.stepFeat[i] = leaf ? 0 : featChild[2 * i]!;
      this.stepChild[i] = leaf ? i : featChild[2 * i + 1]!;
      this.stepMask[i] = leaf ? 0 : 1;
    }
  }

  private readonly stepFeat: Int32Array;
  private readonly stepChild: Int32Array;
  private readonly stepMask: Int32Array;

  /**
   * Packs trees (node-array form, leaves feature −1) into one forest, renumbering each tree breadth-first with
   * siblings adjacent: one child index per node instead of two, and the top levels a row visits share lines.
   */
  static fromTrees(trees: readonly GbdtTree[], numFeatures: number, baseMargin: number, float32Inputs = false): FlatForest {
    let total = 0;
    for (const t of trees) total += t.feature.length;
    const roots = new Int32Array(trees.length);
    const featChild = new Int32Array(2 * total);
    const threshold = new Float64Array(total);
    const missRight = new Uint8Array(total);
    const value = new Float64Array(total);
    const depth = new Int32Array(trees.length);
    let o = 0;
    trees.forEach((t, ti) => {
      roots[ti] = o;
      // order[k] = source node placed at o + k; children are appended as a pair when their parent is placed.
      const order = [0];
      const level = [0];
      for (let k = 0; k < order.length; k++) {
        const src = order[k]!;
        if (level[k]! > depth[ti]!) depth[ti] = level[k]!;
        const at = o + k;
        const leaf = t.feature[src]! < 0;
        threshold[at] = t.threshold[src]!;
        value[at] = t.value[src]!;
        missRight[at] = t.defaultLeft[src] ? 0 : 1;
        if (leaf) {
          featChild[2 * at] = -1;
          featChild[2 * at + 1] = -1;
        } else {
          featChild[2 * at] = t.feature[src]!;
          if (order.length + 2 > t.feature.length) throw new MlError(ML_ERROR.DATA, `tree ${ti} is not a tree (a node is reached twice)`);
          featChild[2 * at + 1] = o + order.length;
          order.push(t.left[src]!, t.right[src]!);
          level.push(level[k]! + 1, level[k]! + 1);
        }
      }
      o += order.length;
    });
    return new FlatForest(numFeatures, baseMargin, roots, featChild, threshold, missRight, value, float32Inputs, depth);
  }

  /** Raw margin (log-odds) of one row. */
  predictMargin(values: Float64Array): number {
    if (values.length < this.numFeatures) throw new MlError(ML_ERROR.DATA, `row has ${values.length} values, model needs ${this.numFeatures}`);
    return this.marginAt(values, 0);
  }

  private marginAt(v: Float64Array, base: number): number {
    const { roots, featChild, threshold, missRight, value } = this;
    let m = this.baseMargin;
    const f32 = this.float32Inputs;
    for (let t = 0; t < roots.length; t++) {
      let node = roots[t]!;
      let f = featChild[2 * node]!;
      while (f >= 0) {
        let x = v[base + f]!;
        if (f32) x = fround(x);
        node = featChild[2 * node + 1]! + (x !== x ? missRight[node]! : x < threshold[node]! ? 0 : 1);
        f = featChild[2 * node]!;
      }
      m += value[node]!;
    }
    return m;
  }

  /** Probability of the positive class for one row. */
  predictRow(values: Float64Array): number {
    return 1 / (1 + exp(-this.predictMargin(values)));
  }

  /** Probabilities of every row of `matrix` into `out` (length ≥ rows). */
  predictBatch(matrix: RowMatrix, out: Float64Array): void {
    if (matrix.cols < this.numFeatures) throw new MlError(ML_ERROR.DATA, `matrix has ${matrix.cols} columns, model needs ${this.numFeatures}`);
    if (matrix.data.length !== matrix.rows * matrix.cols) throw new MlError(ML_ERROR.DATA, `matrix data has ${matrix.data.length} values, expected ${matrix.rows}×${matrix.cols}`);
    if (out.length < matrix.rows) throw new MlError(ML_ERROR.DATA, `output has ${out.length} slots for ${matrix.rows} rows`);
    // Blocks of rows tree by tree: one tree's nodes stay in cache while a block walks it (the whole forest is
    // too big for L2). Each row still sums its trees in tree order, so results equal predictRow bit for bit.
    const BLOCK = 256;
    for (let r0 = 0; r0 < matrix.rows; r0 += BLOCK) {
      const r1 = r0 + BLOCK < matrix.rows ? r0 + BLOCK : matrix.rows;
      out.fill(this.baseMargin, r0, r1);
      this.block(matrix.data, matrix.cols, r0, r1, out);
      for (let r = r0; r < r1; r++) out[r] = 1 / (1 + exp(-out[r]!));
    }
  }

  /**
   * Adds every tree's leaf value to rows [r0, r1). Four rows walk a tree together: each step of a walk waits on
   * the previous load, so interleaving independent walks keeps the core busy instead of waiting on one chain.
   */
  private block(data: Float64Array, cols: number, r0: number, r1: number, out: Float64Array): void {
    const { roots, threshold, missRight, value, depth, stepFeat, stepChild, stepMask } = this;
    const f32 = this.float32Inputs;
    for (let t = 0; t < roots.length; t++) {
      const root = roots[t]!;
      const steps = depth[t]!;
      let r = r0;
      for (; r + 4 <= r1; r += 4) {
        const ba = r * cols;
        const bb = ba + cols;
        const bc = bb + cols;
        const bd = bc + cols;
        let a = root;
        let b = root;
        let c = root;
        let d = root;
        for (let s = 0; s < steps; s++) {
          let xa = data[ba + stepFeat[a]!]!;
          let xb = data[bb + stepFeat[b]!]!;
          let xc = data[bc + stepFeat[c]!]!;
          let xd = data[bd + stepFeat[d]!]!;
          if (f32) {
            xa = fround(xa);
            xb = fround(xb);
            xc = fround(xc);
            xd = fround(xd);
          }
          a = stepChild[a]! + (side(xa, threshold[a]!, missRight[a]!) & stepMask[a]!);
          b = stepChild[b]! + (side(xb, threshold[b]!, missRight[b]!) & stepMask[b]!);
          c = stepChild[c]! + (side(xc, threshold[c]!, missRight[c]!) & stepMask[c]!);
          d = stepChild[d]! + (side(xd, threshold[d]!, missRight[d]!) & stepMask[d]!);
        }
        out[r] = out[r]! + value[a]!;
        out[r + 1] = out[r + 1]! + value[b]!;
        out[r + 2] = out[r + 2]! + value[c]!;
        out[r + 3] = out[r + 3]! + value[d]!;
      }
      for (; r < r1; r++) {
        const base = r * cols;
        let a = root;
        for (let s = 0; s < steps; s++) {
          let x = data[base + stepFeat[a]!]!;
          if (f32) x = fround(x);
          a = stepChild[a]! + (side(x, threshold[a]!, missRight[a]!) & stepMask[a]!);
        }
        out[r] = out[r]! + value[a]!;
      }
    }
  }
}

/** Flattened predictor of one of our models. */
export function compileModel(model: GbdtModel): FlatForest {
  return FlatForest.fromTrees(model.trees, model.featureNames.length, log(model.baseScore / (1 - model.baseScore)));
}
