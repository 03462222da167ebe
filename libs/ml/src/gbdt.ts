/**
 * Histogram gradient-boosted trees for binary classification (log-loss), depth-wise growth.
 *
 * Per round: g = w(p − y), h = w·p(1 − p) at the current margins; rows drawn by Bernoulli(subsample) and
 * features by a seeded partial shuffle (colsampleBytree); the tree grows level by level from per-node
 * gradient/hessian histograms over the bin codes. Only the smaller child's histogram is built from rows; the
 * larger one is parent − smaller (in place in the parent's buffer); a child that will not be split (maximum depth, too
 * little hessian) gets no histogram at all. Each split scans the value bins left to right
 * twice — missing bin on the right, then on the left — and keeps the side with the higher gain (ties: right).
 * Leaf value = −G/(H + λ)·η. All buffers are typed arrays allocated once per training run; the row loops
 * allocate nothing.
 */
import { binMatrix, buildBins, type FeatureBins } from './binning.js';
import { ML_ERROR, MlError } from './errors.js';
import { MODEL_FORMAT, MODEL_VERSION, type GbdtModel, type GbdtTree } from './model.js';
import { resolveGbdtParams, type GbdtParams } from './params.js';
import { Rng } from './rng.js';

// Module constants: under Jest's VM contexts a global Math lookup in a per-row loop is slow.
const { exp, log1p } = Math;

/** Row-major training matrix with labels in [0, 1] and optional non-negative sample weights. */
export interface Dataset {
  /** rows × cols, row-major; NaN = missing. */
  x: Float64Array;
  rows: number;
  cols: number;
  y: Float64Array;
  weight?: Float64Array;
}

export interface TrainOptions {
  params?: Partial<GbdtParams>;
  seed?: number;
  featureNames?: string[];
  /** Explicit validation set (later in time than the training rows) for early stopping. */
  validation?: Dataset;
}

export interface TrainResult {
  model: GbdtModel;
  /** Weighted mean log-loss of the training rows before any tree (index 0) and after each round. */
  trainLoss: number[];
  /** Weighted mean log-loss of the validation rows after each round (empty without validation). */
  validLoss: number[];
}

function dataError(message: string): never {
  throw new MlError(ML_ERROR.DATA, message);
}

function checkDataset(d: Dataset, what: string): void {
  if (!Number.isInteger(d.rows) || !Number.isInteger(d.cols) || d.rows < 1 || d.cols < 1) dataError(`${what}: rows and cols must be positive integers`);
  if (d.x.length !== d.rows * d.cols) dataError(`${what}: x has ${d.x.length} values, expected ${d.rows}×${d.cols}`);
  if (d.y.length !== d.rows) dataError(`${what}: y has ${d.y.length} labels for ${d.rows} rows`);
  for (let i = 0; i < d.rows; i++) {
    const v = d.y[i]!;
    if (!(v >= 0 && v <= 1)) dataError(`${what}: label ${i} is ${v} (labels must be finite, in [0, 1])`);
  }
  for (let i = 0; i < d.x.length; i++) {
    const v = d.x[i]!;
    if (v === Number.POSITIVE_INFINITY || v === Number.NEGATIVE_INFINITY) dataError(`${what}: feature value ${i} is ±∞ (use NaN for missing)`);
  }
  if (d.weight !== undefined) {
    if (d.weight.length !== d.rows) dataError(`${what}: weight has ${d.weight.length} entries for ${d.rows} rows`);
    let s = 0;
    for (let i = 0; i < d.rows; i++) {
      const w = d.weight[i]!;
      if (!(w >= 0 && w < Number.POSITIVE_INFINITY)) dataError(`${what}: weight ${i} is ${w} (weights must be finite, ≥ 0)`);
      s += w;
    }
    if (!(s > 0)) dataError(`${what}: weights sum to 0`);
  }
}

/** log(1 + e^m) − y·m without overflow. */
function rowLoss(m: number, y: number): number {
  const sp = m > 0 ? m + log1p(exp(-m)) : log1p(exp(m));
  return sp - y * m;
}

function meanLoss(margin: Float64Array, y: Float64Array, w: Float64Array | undefined): number {
  let s = 0;
  let sw = 0;
  for (let i = 0; i < margin.length; i++) {
    const wi = w === undefined ? 1 : w[i]!;
    s += wi * rowLoss(margin[i]!, y[i]!);
    sw += wi;
  }
  return s / sw;
}

/** Slice of rows [from, to) of a dataset (views, no copy). */
function sliceRows(d: Dataset, from: number, to: number): Dataset {
  const out: Dataset = { x: d.x.subarray(from * d.cols, to * d.cols), rows: to - from, cols: d.cols, y: d.y.subarray(from, to) };
  if (d.weight !== undefined) out.weight = d.weight.subarray(from, to);
  return out;
}

interface BuiltTree {
  tree: GbdtTree;
  /** Split bin per node (−1 for leaves), used to route binned rows. */
  splitBin: number[];
  /** Position range [start, end) of each node's rows in the grower's row index after growing. */
  nodeStart: number[];
  nodeEnd: number[];
}

/** Adds the tree's leaf value to the margin of every binned row (routes by bin codes, same as x < threshold). */
function addTree(bt: BuiltTree, binned: Uint8Array, rows: number, cols: number, missingBin: Int32Array, margin: Float64Array): void {
  const { feature, left, right, defaultLeft, value } = bt.tree;
  const splitBin = bt.splitBin;
  for (let r = 0; r < rows; r++) {
    let node = 0;
    let f = feature[0]!;
    const base = r * cols;
    while (f >= 0) {
      const b = binned[base + f]!;
      const goLeft = b === missingBin[f] ? defaultLeft[node]! : b <= splitBin[node]!;
      node = goLeft ? left[node]! : right[node]!;
      f = feature[node]!;
    }
    margin[r] = margin[r]! + value[node]!;
  }
}

/** Grows one tree. Keeps its scratch state between rounds so no round allocates per row. */
class TreeGrower {
  private readonly stride: number;
  private readonly histSize: number;
  private readonly pool: Float64Array[] = [];
  private readonly free: number[] = [];
  private readonly scratch: Uint32Array;
  /** g, h in node order (position i ↔ row idx[i]), moved with the rows when a node splits: sequential reads. */
  private readonly ghOrd: Float64Array;
  private readonly ghScratch: Float64Array;
  private readonly featOff: Int32Array;
  /** Column-major copy of the bin codes: partitioning reads one feature of many rows, sequentially. */
  private readonly binnedCol: Uint8Array;
  /** Row-major bin codes with each row padded to a multiple of 4 bytes, for word-wide reads. */
  private readonly padStride: number;
  private readonly binnedPad: Uint8Array;
  /** 32-bit view of binnedPad; null on a big-endian host, where the byte-wise loop is used. */
  private readonly words: Uint32Array | null;

  constructor(
    private readonly p: GbdtParams,
    private readonly bins: FeatureBins,
    binned: Uint8Array,
    private readonly cols: number,
    private readonly rows: number,
  ) {
    // Two doubles (g, h) per bin; every feature gets the same stride so offsets are a multiply.
    this.stride = 2 * p.maxBin;
    this.histSize = this.stride * cols;
    this.scratch = new Uint32Array(rows);
    this.ghOrd = new Float64Array(2 * rows);
    this.ghScratch = new Float64Array(2 * rows);
    this.featOff = new Int32Array(cols);
    this.binnedCol = new Uint8Array(rows * cols);
    this.padStride = (cols + 3) & ~3;
    this.binnedPad = new Uint8Array(rows * this.padStride);
    for (let r = 0; r < rows; r++) {
      for (let f = 0; f < cols; f++) {
        const b = binned[r * cols + f]!;
        this.binnedCol[f * rows + r] = b;
        this.binnedPad[r * this.padStride + f] = b;
      }
    }
    this.words = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1 ? new Uint32Array(this.binnedPad.buffer) : null;
  }

  private takeHist(): number {
    const id = this.free.pop();
    if (id !== undefined) return id;
    this.pool.push(new Float64Array(this.histSize));
    return this.pool.length - 1;
  }

  /** Histogram of positions [start, end): g, h of position i at ghOrd[2i], ghOrd[2i + 1]. */
  private buildHist(hist: Float64Array, idx: Uint32Array, start: number, end: number, feats: Int32Array): void {
    const gh = this.ghOrd;
    const stride = this.stride;
    const nf = feats.length;
    const featOff = this.featOff;
    const missingBin = this.bins.missingBin;
    for (let j = 0; j < nf; j++) {
      const off = feats[j]! * stride;
      featOff[j] = off;
      hist.fill(0, off, off + 2 * (missingBin[feats[j]!]! + 1));
    }
    // Row by row for every node, the root included: consecutive rows of one feature often share a bin (discrete
    // features, the missing bin), and a feature-by-feature loop then waits on each bin's previous add; walking the
    // row's features interleaves independent adds. Each bin still receives its rows in position order.
    const ps = this.padStride;
    const pad = this.binnedPad;
    const cols = this.cols;
    if (nf === cols && this.words !== null) {
      // Four codes per 32-bit load (little-endian: byte q of the word is feature 4w + q).
      const words = this.words;
      const wps = ps >> 2;
      const full = cols >> 2;
      const stride4 = 4 * stride;
      for (let i = start; i < end; i++) {
        const r = idx[i]!;
        const wb = r * wps;
        const g = gh[2 * i]!;
        const h = gh[2 * i + 1]!;
        let off = 0;
        for (let w = 0; w < full; w++, off += stride4) {
          const c = words[wb + w]!;
          let k = off + ((c & 255) << 1);
          hist[k] = hist[k]! + g;
          hist[k + 1] = hist[k + 1]! + h;
          k = off + stride + ((c >>> 7) & 510);
          hist[k] = hist[k]! + g;
          hist[k + 1] = hist[k + 1]! + h;
          k = off + 2 * stride + ((c >>> 15) & 510);
          hist[k] = hist[k]! + g;
          hist[k + 1] = hist[k + 1]! + h;
          k = off + 3 * stride + ((c >>> 23) & 510);
          hist[k] = hist[k]! + g;
          hist[k + 1] = hist[k + 1]! + h;
        }
        const base = r * ps;
        for (let j = full << 2; j < cols; j++, off += stride) {
          const k = off + 2 * pad[base + j]!;
          hist[k] = hist[k]! + g;
          hist[k + 1] = hist[k + 1]! + h;
        }
      }
      return;
    }
    for (let i = start; i < end; i++) {
      const base = idx[i]! * ps;
      const g = gh[2 * i]!;
      const h = gh[2 * i + 1]!;
      for (let j = 0; j < nf; j++) {
        const k = featOff[j]! + 2 * pad[base + feats[j]!]!;
        hist[k] = hist[k]! + g;
        hist[k + 1] = hist[k + 1]! + h;
      }
    }
  }

  grow(idx: Uint32Array, count: number, feats: Int32Array, gh: Float64Array): BuiltTree {
    const p = this.p;
    const lambda = p.lambda;
    const mcw = p.minChildWeight;
    const stride = this.stride;
    const tree: GbdtTree = { feature: [], threshold: [], left: [], right: [], defaultLeft: [], value: [] };
    const splitBin: number[] = [];
    // Per-node bookkeeping while the level is open.
    const nStart: number[] = [];
    const nEnd: number[] = [];
    const nG: number[] = [];
    const nH: number[] = [];
    const nHist: number[] = [];
    const addNode = (start: number, end: number, g: number, h: number, hist: number): number => {
      tree.feature.push(-1);
      tree.threshold.push(0);
      tree.left.push(-1);
      tree.right.push(-1);
      tree.defaultLeft.push(false);
      tree.value.push(-(g / (h + lambda)) * p.learningRate);
      splitBin.push(-1);
      nStart.push(start);
      nEnd.push(end);
      nG.push(g);
      nH.push(h);
      nHist.push(hist);
      return tree.feature.length - 1;
    };
    let G = 0;
    let H = 0;
    const ghOrd = this.ghOrd;
    const ghScratch = this.ghScratch;
    for (let i = 0; i < count; i++) {
      const r = idx[i]!;
      const g = gh[2 * r]!;
      const h = gh[2 * r + 1]!;
      ghOrd[2 * i] = g;
      ghOrd[2 * i + 1] = h;
      G += g;
      H += h;
    }
    const rootHist = this.takeHist();
    this.buildHist(this.pool[rootHist]!, idx, 0, count, feats);
    let level = [addNode(0, count, G, H, rootHist)];
    for (let depth = 0; level.length > 0; depth++) {
      const next: number[] = [];
      for (const node of level) {
        const hid = nHist[node]!;
        const g = nG[node]!;
        const h = nH[node]!;
        if (depth >= p.maxDepth || h < 2 * mcw) {
          if (hid >= 0) this.free.push(hid);
          continue;
        }
        const hist = this.pool[hid]!;
        const parentScore = (g * g) / (h + lambda);
        let bestGain = 0;
        let bestF = -1;
        let bestBin = -1;
        let bestLeft = false;
        let bestGL = 0;
        let bestHL = 0;
        for (let j = 0; j < feats.length; j++) {
          const f = feats[j]!;
          const off = f * stride;
          const mb = this.bins.missingBin[f]!;
          const gm = hist[off + 2 * mb]!;
          const hm = hist[off + 2 * mb + 1]!;
          const tryLeft = this.bins.hasMissing[f] === 1;
          let gl = 0;
          let hl = 0;
          for (let k = 0; k < mb - 1; k++) {
            const gb = hist[off + 2 * k]!;
            const hb = hist[off + 2 * k + 1]!;
            // An empty bin leaves both sides unchanged, so its candidate equals the previous one (never strictly
            // better); deep nodes populate few bins, which makes this the common case.
            if (gb === 0 && hb === 0) continue;
            gl += gb;
            hl += hb;
            const gr = g - gl;
            const hr = h - hl;
            if (hl >= mcw && hr >= mcw) {
              const gain = (gl * gl) / (hl + lambda) + (gr * gr) / (hr + lambda) - parentScore;
              if (gain > bestGain) {
                bestGain = gain;
                bestF = f;
                bestBin = k;
                bestLeft = false;
                bestGL = gl;
                bestHL = hl;
              }
            }
            if (tryLeft) {
              const gl2 = gl + gm;
              const hl2 = hl + hm;
              const gr2 = g - gl2;
              const hr2 = h - hl2;
              if (hl2 >= mcw && hr2 >= mcw) {
                const gain = (gl2 * gl2) / (hl2 + lambda) + (gr2 * gr2) / (hr2 + lambda) - parentScore;
                if (gain > bestGain) {
                  bestGain = gain;
                  bestF = f;
                  bestBin = k;
                  bestLeft = true;
                  bestGL = gl2;
                  bestHL = hl2;
                }
              }
            }
          }
        }
        if (bestF < 0 || 0.5 * bestGain - p.gamma <= 0) {
          this.free.push(hid);
          continue;
        }
        // Stable partition of the node's rows: left rows stay in order at the front, right rows follow.
        const start = nStart[node]!;
        const end = nEnd[node]!;
        const mb = this.bins.missingBin[bestF]!;
        const col = this.binnedCol;
        const colBase = bestF * this.rows;
        const scratch = this.scratch;
        const missLeft = bestLeft ? 1 : 0;
        let wl = start;
        let wr = 0;
        // A child that will not be split (decided by its hessian sum and depth alone, known before the rows move)
        // needs no gradients in position order: when neither will, only the row indices are partitioned.
        const leftSplits = depth + 1 < p.maxDepth && bestHL >= 2 * mcw;
        const rightSplits = depth + 1 < p.maxDepth && h - bestHL >= 2 * mcw;
        if (leftSplits || rightSplits) {
          // Branch-free: the side of a row is data-dependent and unpredictable; write to both, advance one. The
          // side is arithmetic on comparisons, not ?:, for the same reason (bestBin < mb, so the terms exclude).
          for (let i = start; i < end; i++) {
            const r = idx[i]!;
            const b = col[colBase + r]!;
            const goLeft = +(b <= bestBin) | (+(b === mb) & missLeft);
            const g = ghOrd[2 * i]!;
            const h = ghOrd[2 * i + 1]!;
            idx[wl] = r;
            scratch[wr] = r;
            ghOrd[2 * wl] = g;
            ghOrd[2 * wl + 1] = h;
            ghScratch[2 * wr] = g;
            ghScratch[2 * wr + 1] = h;
            wl += goLeft;
            wr += 1 - goLeft;
          }
          idx.set(scratch.subarray(0, wr), wl);
          ghOrd.set(ghScratch.subarray(0, 2 * wr), 2 * wl);
        } else {
          for (let i = start; i < end; i++) {
            const r = idx[i]!;
            const b = col[colBase + r]!;
            const goLeft = +(b <= bestBin) | (+(b === mb) & missLeft);
            idx[wl] = r;
            scratch[wr] = r;
            wl += goLeft;
            wr += 1 - goLeft;
          }
          idx.set(scratch.subarray(0, wr), wl);
        }
        const nLeft = wl - start;
        const nRight = end - wl;
        // Histogram subtraction: build the smaller child from rows, turn the parent's buffer into the other. A
        // child that will not be split (at maximum depth, or too little hessian — the same test the next level
        // applies) needs no histogram; which child is built and which subtracted never changes, so neither do the
        // sums, and skipping only drops work whose result would be discarded.
        const smallIsLeft = nLeft <= nRight;
        let leftHist = -1;
        let rightHist = -1;
        if (leftSplits || rightSplits) {
          const small = this.takeHist();
          const smallHist = this.pool[small]!;
          if (smallIsLeft) this.buildHist(smallHist, idx, start, wl, feats);
          else this.buildHist(smallHist, idx, wl, end, feats);
          if (smallIsLeft ? rightSplits : leftSplits) {
            for (let j = 0; j < feats.length; j++) {
              const off = feats[j]! * stride;
              const lim = off + 2 * (this.bins.missingBin[feats[j]!]! + 1);
              for (let k = off; k < lim; k++) hist[k] = hist[k]! - smallHist[k]!;
            }
            leftHist = smallIsLeft ? small : hid;
            rightHist = smallIsLeft ? hid : small;
          } else {
            this.free.push(hid);
            if (smallIsLeft) leftHist = small;
            else rightHist = small;
          }
        } else {
          this.free.push(hid);
        }
        const l = addNode(start, wl, bestGL, bestHL, leftHist);
        const r = addNode(wl, end, g - bestGL, h - bestHL, rightHist);
        tree.feature[node] = bestF;
        tree.threshold[node] = this.bins.upper[bestF]![bestBin]!;
        tree.left[node] = l;
        tree.right[node] = r;
        tree.defaultLeft[node] = bestLeft;
        tree.value[node] = 0;
        splitBin[node] = bestBin;
        next.push(l, r);
      }
      level = next;
    }
    return { tree, splitBin, nodeStart: nStart, nodeEnd: nEnd };
  }
}

/**
 * Trains a model. Early stopping runs when a validation set is given (or carved from the last
 * `validationFraction` of the rows) and `earlyStoppingRounds` > 0: training stops after that many rounds without
 * a strictly lower validation log-loss and the model keeps the trees up to the best round.
 */
export function trainGbdt(data: Dataset, options: TrainOptions = {}): TrainResult {
  const p = resolveGbdtParams(options.params);
  const seed = options.seed ?? 0;
  if (!Number.isInteger(seed) || Math.abs(seed) > 2 ** 31) throw new MlError(ML_ERROR.PARAM, `seed must be an integer of magnitude ≤ 2^31, got ${seed}`);
  checkDataset(data, 'training data');
  let train = data;
  let valid = options.validation;
  if (valid !== undefined) {
    checkDataset(valid, 'validation data');
    if (valid.cols !== data.cols) dataError(`validation data has ${valid.cols} columns, training data ${data.cols}`);
  } else if (p.validationFraction > 0) {
    const nValid = Math.floor(data.rows * p.validationFraction);
    if (nValid < 1 || nValid >= data.rows) dataError(`validationFraction ${p.validationFraction} leaves no training or validation rows`);
    train = sliceRows(data, 0, data.rows - nValid);
    valid = sliceRows(data, data.rows - nValid, data.rows);
  }
  const n = train.rows;
  const d = train.cols;
  const names = options.featureNames ?? Array.from({ length: d }, (_, i) => `f${i}`);
  if (names.length !== d) dataError(`${names.length} feature names for ${d} columns`);
  const y = train.y;
  const w = train.weight;

  let baseScore: number;
  if (p.baseScore === 'mean') {
    let sy = 0;
    let sw = 0;
    for (let i = 0; i < n; i++) {
      const wi = w === undefined ? 1 : w[i]!;
      sy += wi * y[i]!;
      sw += wi;
    }
    baseScore = sy / sw;
    if (!(baseScore > 0 && baseScore < 1)) dataError(`training labels are all ${baseScore} (one class); set baseScore explicitly`);
  } else {
    baseScore = p.baseScore;
  }
  const baseMargin = Math.log(baseScore / (1 - baseScore));

  const bins = buildBins(train.x, n, d, p.maxBin);
  const binned = binMatrix(train.x, n, d, bins);
  const vBinned = valid === undefined ? null : binMatrix(valid.x, valid.rows, d, bins);
  const margin = new Float64Array(n).fill(baseMargin);
  const vMargin = valid === undefined ? null : new Float64Array(valid.rows).fill(baseMargin);
  const gh = new Float64Array(2 * n);
  const idx = new Uint32Array(n);
  const nFeat = Math.max(1, Math.round(p.colsampleBytree * d));
  const perm = new Int32Array(d);
  const feats = new Int32Array(nFeat);
  const rng = new Rng(seed);
  const grower = new TreeGrower(p, bins, binned, d, n);

  const trees: GbdtTree[] = [];
  const trainLoss = [meanLoss(margin, y, w)];
  const validLoss: number[] = [];
  let best = -1;
  let bestLoss = Number.POSITIVE_INFINITY;
  const stopping = valid !== undefined && p.earlyStoppingRounds > 0;

  let sumW = n;
  if (w !== undefined) {
    sumW = 0;
    for (let i = 0; i < n; i++) sumW += w[i]!;
  }
  for (let round = 0; round < p.rounds; round++) {
    // Gradients at the current margins; the same e^−m gives the loss after the previous round:
    // log(1 + e^m) − y·m = m + log1p(e^−m) − y·m (for m < −709 e^−m overflows and the softplus term is 0).
    let loss = 0;
    for (let i = 0; i < n; i++) {
      const m = margin[i]!;
      const e = exp(-m);
      const pr = 1 / (1 + e);
      const yi = y[i]!;
      const wi = w === undefined ? 1 : w[i]!;
      gh[2 * i] = wi * (pr - yi);
      gh[2 * i + 1] = wi * pr * (1 - pr);
      loss += wi * ((e === Number.POSITIVE_INFINITY ? 0 : m + log1p(e)) - yi * m);
    }
    if (round > 0) trainLoss.push(loss / sumW);
    let count = 0;
    if (p.subsample < 1) {
      for (let i = 0; i < n; i++) if (rng.next() < p.subsample) idx[count++] = i;
    } else {
      for (let i = 0; i < n; i++) idx[i] = i;
      count = n;
    }
    if (nFeat < d) {
      for (let f = 0; f < d; f++) perm[f] = f;
      for (let k = 0; k < nFeat; k++) {
        const j = k + Math.floor(rng.next() * (d - k));
        const t = perm[k]!;
        perm[k] = perm[j]!;
        perm[j] = t;
      }
      feats.set(perm.subarray(0, nFeat));
      feats.sort();
    } else {
      for (let f = 0; f < d; f++) feats[f] = f;
    }
    const built = grower.grow(idx, count, feats, gh);
    trees.push(built.tree);
    if (count === n) {
      // Every row was in the tree: each leaf's rows are its position range of idx, no routing needed.
      const { feature, value } = built.tree;
      for (let node = 0; node < feature.length; node++) {
        if (feature[node] !== -1) continue;
        const v = value[node]!;
        for (let i = built.nodeStart[node]!; i < built.nodeEnd[node]!; i++) margin[idx[i]!] = margin[idx[i]!]! + v;
      }
    } else {
      addTree(built, binned, n, d, bins.missingBin, margin);
    }
    if (valid !== undefined && vBinned !== null && vMargin !== null) {
      addTree(built, vBinned, valid.rows, d, bins.missingBin, vMargin);
      const vl = meanLoss(vMargin, valid.y, valid.weight);
      validLoss.push(vl);
      if (vl < bestLoss) {
        bestLoss = vl;
        best = round;
      }
      if (stopping && round - best >= p.earlyStoppingRounds) break;
    }
  }
  trainLoss.push(meanLoss(margin, y, w));
  const bestIteration = stopping ? best : trees.length - 1;
  const model: GbdtModel = {
    format: MODEL_FORMAT,
    version: MODEL_VERSION,
    featureNames: [...names],
    params: p,
    seed,
    baseScore,
    bestIteration,
    trees: trees.slice(0, bestIteration + 1),
  };
  return { model, trainLoss, validLoss };
}
