import { LABEL_ERROR, labelError } from './errors.js';

/**
 * Inverse-frequency class weights for a binary label, capped at 1 : maxRatio (seeds/003 "クラス不均衡").
 *
 * With n = n0 + n1 labelled samples:
 *   - balanced weights (sklearn `class_weight='balanced'`): w_c = n / (2 · n_c), so n0·w0 + n1·w1 = n
 *     (the mean sample weight is 1) and w_minor / w_major = n_major / n_minor;
 *   - when that ratio exceeds maxRatio R the minority weight is capped at R times the majority weight and the
 *     pair is rescaled to keep the mean sample weight at 1:
 *       w_major = n / (n_major + R · n_minor),  w_minor = R · w_major;
 *   - when a class is absent (or there are no samples) there is nothing to balance: w0 = w1 = 1.
 * Ties (n0 = n1) give w0 = w1 = 1.
 */
export interface ClassWeights {
  w0: number;
  w1: number;
}

export function classWeights(labels: ArrayLike<number>, maxRatio: number): ClassWeights {
  if (typeof maxRatio !== 'number' || !(maxRatio >= 1) || !Number.isFinite(maxRatio)) {
    throw labelError(LABEL_ERROR.PARAM, `class weight max ratio must be a finite number ≥ 1, got ${String(maxRatio)}`);
  }
  let n0 = 0;
  let n1 = 0;
  for (let i = 0; i < labels.length; i++) {
    const v = labels[i];
    if (v === 0) n0++;
    else if (v === 1) n1++;
    else throw labelError(LABEL_ERROR.INPUT, `class labels must be 0 or 1, got ${String(v)} at ${i}`);
  }
  return classWeightsFromCounts(n0, n1, maxRatio);
}

export function classWeightsFromCounts(n0: number, n1: number, maxRatio: number): ClassWeights {
  if (n0 === 0 || n1 === 0) return { w0: 1, w1: 1 };
  const n = n0 + n1;
  const minorIs1 = n1 < n0;
  const nMajor = minorIs1 ? n0 : n1;
  const nMinor = minorIs1 ? n1 : n0;
  if (nMajor / nMinor <= maxRatio) return { w0: n / (2 * n0), w1: n / (2 * n1) };
  const wMajor = n / (nMajor + maxRatio * nMinor);
  const wMinor = maxRatio * wMajor;
  return minorIs1 ? { w0: wMajor, w1: wMinor } : { w0: wMinor, w1: wMajor };
}

/**
 * Per-sample weights: w_label where `mask` is 1 (a trainable sample), 0 elsewhere. Class weights are computed
 * over the masked samples only.
 */
export function sampleWeights(labels: ArrayLike<number>, mask: ArrayLike<number>, maxRatio: number): { weights: Float64Array; classWeights: ClassWeights } {
  if (labels.length !== mask.length) throw labelError(LABEL_ERROR.INPUT, `labels (${labels.length}) and mask (${mask.length}) differ in length`);
  const picked: number[] = [];
  for (let i = 0; i < labels.length; i++) if (mask[i] === 1) picked.push(labels[i]!);
  const cw = classWeights(picked, maxRatio);
  const weights = new Float64Array(labels.length);
  for (let i = 0; i < labels.length; i++) if (mask[i] === 1) weights[i] = labels[i] === 1 ? cw.w1 : cw.w0;
  return { weights, classWeights: cw };
}
