import { ML_ERROR, MlError } from './errors.js';

export const ISOTONIC_FORMAT = 'noctria-isotonic';
export const ISOTONIC_VERSION = 1;

/**
 * Isotonic calibration map: knots (x, y) with x strictly increasing and y non-decreasing. Between knots the map is
 * linear, outside [x₀, x_last] it is clipped to the end values (the semantics of scikit-learn's
 * `IsotonicRegression(out_of_bounds='clip')`). Each PAV block contributes its first and last distinct score, so the
 * map is flat across a block and interpolates only across the gap between two blocks.
 */
export interface IsotonicModel {
  format: typeof ISOTONIC_FORMAT;
  version: typeof ISOTONIC_VERSION;
  x: number[];
  y: number[];
}

function checkInputs(scores: ArrayLike<number>, labels: ArrayLike<number>, weight?: ArrayLike<number>): void {
  const n = scores.length;
  if (labels.length !== n || (weight !== undefined && weight.length !== n)) {
    throw new MlError(ML_ERROR.DATA, `isotonic: length mismatch (scores ${n}, labels ${labels.length}, weights ${weight?.length ?? '-'})`);
  }
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(scores[i]!)) throw new MlError(ML_ERROR.DATA, `isotonic: score ${i} is not finite`);
    const y = labels[i]!;
    if (!Number.isFinite(y) || y < 0 || y > 1) throw new MlError(ML_ERROR.DATA, `isotonic: label ${i} outside [0, 1]`);
    if (weight !== undefined) {
      const w = weight[i]!;
      if (!Number.isFinite(w) || w < 0) throw new MlError(ML_ERROR.DATA, `isotonic: weight ${i} negative or not finite`);
    }
  }
}

/**
 * Weighted isotonic regression of labels on scores by pool-adjacent-violators. Equal scores are pooled first (their
 * weighted label mean), as scikit-learn does, so the result does not depend on the input order. Rows of weight 0
 * are ignored. Throws CORE_ML_DATA when nothing of positive weight remains.
 */
export function fitIsotonic(scores: ArrayLike<number>, labels: ArrayLike<number>, weight?: ArrayLike<number>): IsotonicModel {
  checkInputs(scores, labels, weight);
  const n = scores.length;
  const order: number[] = [];
  for (let i = 0; i < n; i++) if (weight === undefined || weight[i]! > 0) order.push(i);
  if (order.length === 0) throw new MlError(ML_ERROR.DATA, 'isotonic: no rows of positive weight');
  order.sort((a, b) => scores[a]! - scores[b]!);

  // Unique scores with pooled weight and weighted label sum.
  const ux = new Float64Array(order.length);
  const uw = new Float64Array(order.length);
  const us = new Float64Array(order.length);
  let m = 0;
  for (let k = 0; k < order.length; k++) {
    const i = order[k]!;
    const w = weight === undefined ? 1 : weight[i]!;
    if (m > 0 && ux[m - 1] === scores[i]) {
      uw[m - 1] = uw[m - 1]! + w;
      us[m - 1] = us[m - 1]! + w * labels[i]!;
    } else {
      ux[m] = scores[i]!;
      uw[m] = w;
      us[m] = w * labels[i]!;
      m++;
    }
  }

  // PAV over the unique scores: a stack of blocks (weight, weighted sum, first and last unique index).
  const bw = new Float64Array(m);
  const bs = new Float64Array(m);
  const bFirst = new Int32Array(m);
  const bLast = new Int32Array(m);
  let top = -1;
  for (let k = 0; k < m; k++) {
    top++;
    bw[top] = uw[k]!;
    bs[top] = us[k]!;
    bFirst[top] = k;
    bLast[top] = k;
    // Merge while the previous block's mean exceeds this one's (cross-multiplied: weights are positive).
    while (top > 0 && bs[top - 1]! * bw[top]! > bs[top]! * bw[top - 1]!) {
      bw[top - 1] = bw[top - 1]! + bw[top]!;
      bs[top - 1] = bs[top - 1]! + bs[top]!;
      bLast[top - 1] = bLast[top]!;
      top--;
    }
  }

  const x: number[] = [];
  const y: number[] = [];
  for (let b = 0; b <= top; b++) {
    const v = bs[b]! / bw[b]!;
    x.push(ux[bFirst[b]!]!);
    y.push(v);
    if (bLast[b]! !== bFirst[b]!) {
      x.push(ux[bLast[b]!]!);
      y.push(v);
    }
  }
  return { format: ISOTONIC_FORMAT, version: ISOTONIC_VERSION, x, y };
}

/** Calibrated value of one score. NaN in → NaN out (a missing score has no calibration). */
export function applyIsotonic(model: IsotonicModel, score: number): number {
  const { x, y } = model;
  const last = x.length - 1;
  if (Number.isNaN(score)) return Number.NaN;
  if (score <= x[0]!) return y[0]!;
  if (score >= x[last]!) return y[last]!;
  // Largest knot index with x[lo] ≤ score.
  let lo = 0;
  let hi = last;
  while (hi - lo > 1) {
    const mid = (lo + hi) >>> 1;
    if (x[mid]! <= score) lo = mid;
    else hi = mid;
  }
  const x0 = x[lo]!;
  const y0 = y[lo]!;
  const y1 = y[hi]!;
  if (y0 === y1) return y0;
  return y0 + ((score - x0) / (x[hi]! - x0)) * (y1 - y0);
}

/** Calibrates many scores exactly as {@link applyIsotonic} does one by one. */
export function applyIsotonicBatch(model: IsotonicModel, scores: ArrayLike<number>, out = new Float64Array(scores.length)): Float64Array {
  if (out.length < scores.length) throw new MlError(ML_ERROR.DATA, 'isotonic: output array shorter than input');
  for (let i = 0; i < scores.length; i++) out[i] = applyIsotonic(model, scores[i]!);
  return out;
}

/** JSON text with a fixed key order; doubles print in round-trip form, so a parsed model maps bit-identically. */
export function serializeIsotonic(model: IsotonicModel): string {
  return JSON.stringify({ format: model.format, version: model.version, x: model.x, y: model.y });
}

/** Parses and validates an isotonic model document (CORE_ML_MODEL when malformed). */
export function parseIsotonic(text: string): IsotonicModel {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new MlError(ML_ERROR.MODEL, `isotonic: not JSON (${(e as Error).message})`);
  }
  const d = doc as Partial<IsotonicModel> | null;
  if (d === null || typeof d !== 'object' || d.format !== ISOTONIC_FORMAT || d.version !== ISOTONIC_VERSION) {
    throw new MlError(ML_ERROR.MODEL, `isotonic: expected format ${ISOTONIC_FORMAT} version ${ISOTONIC_VERSION}`);
  }
  const { x, y } = d;
  if (!Array.isArray(x) || !Array.isArray(y) || x.length === 0 || x.length !== y.length) {
    throw new MlError(ML_ERROR.MODEL, 'isotonic: x and y must be non-empty arrays of equal length');
  }
  for (let i = 0; i < x.length; i++) {
    const xi: unknown = x[i];
    const yi: unknown = y[i];
    if (typeof xi !== 'number' || typeof yi !== 'number' || !Number.isFinite(xi) || !Number.isFinite(yi)) {
      throw new MlError(ML_ERROR.MODEL, `isotonic: knot ${i} is not a pair of finite numbers`);
    }
    if (i > 0 && (xi <= x[i - 1]! || yi < y[i - 1]!)) {
      throw new MlError(ML_ERROR.MODEL, `isotonic: knot ${i} breaks strictly increasing x or non-decreasing y`);
    }
  }
  return { format: ISOTONIC_FORMAT, version: ISOTONIC_VERSION, x: x.slice(), y: y.slice() };
}
