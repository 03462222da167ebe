/**
 * Flattened forest: every tree's nodes packed into shared typed arrays, child indices global, so scoring is a
 * tight loop over numbers with no object access and no allocation. Routing: NaN → defaultLeft, otherwise
 * x < threshold → left. Margins are summed in tree order from the base margin (the same order the trainer
 * uses), then p = 1 / (1 + e^−m).
 */
import { ML_ERROR, MlError } from './errors.js';
import type { GbdtModel, GbdtTree } from './model.js';

export interface RowMatrix {
  /** rows × cols, row-major. */
  data: Float64Array;
  rows: number;
  cols: number;
}

export class FlatForest {
  readonly numTrees: number;

  private constructor(
    readonly numFeatures: number,
    readonly baseMargin: number,
    private readonly roots: Int32Array,
    private readonly feature: Int32Array,
    private readonly threshold: Float64Array,
    private readonly left: Int32Array,
    private readonly right: Int32Array,
    private readonly defaultLeft: Uint8Array,
    private readonly value: Float64Array,
    /** XGBoost compares in float32: inputs are rounded to float32 before the comparison. */
    private readonly float32Inputs: boolean,
  ) {
    this.numTrees = roots.length;
  }

  /** Packs trees (node-array form, leaves feature −1) into one forest. */
  static fromTrees(trees: readonly GbdtTree[], numFeatures: number, baseMargin: number, float32Inputs = false): FlatForest {
    let total = 0;
    for (const t of trees) total += t.feature.length;
    const roots = new Int32Array(trees.length);
    const feature = new Int32Array(total);
    const threshold = new Float64Array(total);
    const left = new Int32Array(total);
    const right = new Int32Array(total);
    const defaultLeft = new Uint8Array(total);
    const value = new Float64Array(total);
    let o = 0;
    trees.forEach((t, ti) => {
      roots[ti] = o;
      for (let i = 0; i < t.feature.length; i++) {
        const leaf = t.feature[i]! < 0;
        feature[o + i] = leaf ? -1 : t.feature[i]!;
        threshold[o + i] = t.threshold[i]!;
        left[o + i] = leaf ? -1 : o + t.left[i]!;
        right[o + i] = leaf ? -1 : o + t.right[i]!;
        defaultLeft[o + i] = t.defaultLeft[i] ? 1 : 0;
        value[o + i] = t.value[i]!;
      }
      o += t.feature.length;
    });
    return new FlatForest(numFeatures, baseMargin, roots, feature, threshold, left, right, defaultLeft, value, float32Inputs);
  }

  /** Raw margin (log-odds) of one row. */
  predictMargin(values: Float64Array): number {
    if (values.length < this.numFeatures) throw new MlError(ML_ERROR.DATA, `row has ${values.length} values, model needs ${this.numFeatures}`);
    return this.marginAt(values, 0);
  }

  private marginAt(v: Float64Array, base: number): number {
    const { roots, feature, threshold, left, right, defaultLeft, value } = this;
    let m = this.baseMargin;
    const f32 = this.float32Inputs;
    for (let t = 0; t < roots.length; t++) {
      let node = roots[t]!;
      let f = feature[node]!;
      while (f >= 0) {
        let x = v[base + f]!;
        if (x !== x) node = defaultLeft[node] === 1 ? left[node]! : right[node]!;
        else {
          if (f32) x = Math.fround(x);
          node = x < threshold[node]! ? left[node]! : right[node]!;
        }
        f = feature[node]!;
      }
      m += value[node]!;
    }
    return m;
  }

  /** Probability of the positive class for one row. */
  predictRow(values: Float64Array): number {
    return 1 / (1 + Math.exp(-this.predictMargin(values)));
  }

  /** Probabilities of every row of `matrix` into `out` (length ≥ rows). */
  predictBatch(matrix: RowMatrix, out: Float64Array): void {
    if (matrix.cols < this.numFeatures) throw new MlError(ML_ERROR.DATA, `matrix has ${matrix.cols} columns, model needs ${this.numFeatures}`);
    if (matrix.data.length !== matrix.rows * matrix.cols) throw new MlError(ML_ERROR.DATA, `matrix data has ${matrix.data.length} values, expected ${matrix.rows}×${matrix.cols}`);
    if (out.length < matrix.rows) throw new MlError(ML_ERROR.DATA, `output has ${out.length} slots for ${matrix.rows} rows`);
    // Blocks of rows tree by tree: one tree's nodes stay in cache while a block walks it (the whole forest is
    // too big for L2). Each row still sums its trees in tree order, so results equal predictRow bit for bit.
    const { roots, feature, threshold, left, right, defaultLeft, value } = this;
    const data = matrix.data;
    const cols = matrix.cols;
    const f32 = this.float32Inputs;
    const BLOCK = 256;
    for (let r0 = 0; r0 < matrix.rows; r0 += BLOCK) {
      const r1 = Math.min(matrix.rows, r0 + BLOCK);
      out.fill(this.baseMargin, r0, r1);
      for (let t = 0; t < roots.length; t++) {
        const root = roots[t]!;
        for (let r = r0; r < r1; r++) {
          const base = r * cols;
          let node = root;
          let f = feature[node]!;
          while (f >= 0) {
            let x = data[base + f]!;
            if (x !== x) node = defaultLeft[node] === 1 ? left[node]! : right[node]!;
            else {
              if (f32) x = Math.fround(x);
              node = x < threshold[node]! ? left[node]! : right[node]!;
            }
            f = feature[node]!;
          }
          out[r] = out[r]! + value[node]!;
        }
      }
      for (let r = r0; r < r1; r++) out[r] = 1 / (1 + Math.exp(-out[r]!));
    }
  }
}

/** Flattened predictor of one of our models. */
export function compileModel(model: GbdtModel): FlatForest {
  return FlatForest.fromTrees(model.trees, model.featureNames.length, Math.log(model.baseScore / (1 - model.baseScore)));
}
