/**
 * ROC-AUC with ties: the Mann–Whitney statistic with mid-ranks, i.e. the probability that a random positive
 * scores above a random negative, counting a tie as one half. Labels are 0/1; returns NaN when one class is absent.
 */
export function rocAuc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const n = scores.length;
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  order.sort((a, b) => scores[a]! - scores[b]!);
  let nPos = 0;
  let rankSumPos = 0;
  let i = 0;
  while (i < n) {
    let j = i;
    while (j + 1 < n && scores[order[j + 1]!] === scores[order[i]!]) j++;
    const midRank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) {
      if (labels[order[k]!] === 1) {
        nPos++;
        rankSumPos += midRank;
      }
    }
    i = j + 1;
  }
  const nNeg = n - nPos;
  if (nPos === 0 || nNeg === 0) return Number.NaN;
  return (rankSumPos - (nPos * (nPos + 1)) / 2) / (nPos * nNeg);
}

/** Weighted mean log-loss of probabilities (clipped to [1e−15, 1 − 1e−15]). */
export function logLoss(prob: ArrayLike<number>, labels: ArrayLike<number>, weight?: ArrayLike<number>): number {
  let s = 0;
  let sw = 0;
  for (let i = 0; i < prob.length; i++) {
    const p = Math.min(1 - 1e-15, Math.max(1e-15, prob[i]!));
    const y = labels[i]!;
    const w = weight === undefined ? 1 : weight[i]!;
    s -= w * (y * Math.log(p) + (1 - y) * Math.log(1 - p));
    sw += w;
  }
  return s / sw;
}

function weightAt(weight: ArrayLike<number> | undefined, i: number): number {
  return weight === undefined ? 1 : weight[i]!;
}

/** Weighted mean squared error of probabilities against 0/1 labels (the Brier score). NaN for zero total weight. */
export function brierScore(prob: ArrayLike<number>, labels: ArrayLike<number>, weight?: ArrayLike<number>): number {
  let s = 0;
  let sw = 0;
  for (let i = 0; i < prob.length; i++) {
    const w = weightAt(weight, i);
    const e = prob[i]! - labels[i]!;
    s += w * e * e;
    sw += w;
  }
  return s / sw;
}

/**
 * PR-AUC as average precision (scikit-learn's definition): AP = Σₙ (Rₙ − Rₙ₋₁)·Pₙ over the distinct score
 * thresholds taken from the highest down, where all rows with an equal score enter together (ties are one
 * threshold). Weighted counts; labels 0/1. NaN when there is no positive weight.
 */
export function averagePrecision(scores: ArrayLike<number>, labels: ArrayLike<number>, weight?: ArrayLike<number>): number {
  const n = scores.length;
  // A NaN score has no rank; NaN out rather than a silently wrong sort.
  for (let i = 0; i < n; i++) if (Number.isNaN(scores[i]!)) return Number.NaN;
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  order.sort((a, b) => scores[b]! - scores[a]!);
  let totalPos = 0;
  for (let i = 0; i < n; i++) if (labels[i] === 1) totalPos += weightAt(weight, i);
  if (!(totalPos > 0)) return Number.NaN;
  let tp = 0;
  let fp = 0;
  let prevRecall = 0;
  let ap = 0;
  let i = 0;
  while (i < n) {
    const s = scores[order[i]!]!;
    while (i < n && scores[order[i]!] === s) {
      const r = order[i]!;
      const w = weightAt(weight, r);
      if (labels[r] === 1) tp += w;
      else fp += w;
      i++;
    }
    if (tp + fp === 0) continue;
    const recall = tp / totalPos;
    ap += (recall - prevRecall) * (tp / (tp + fp));
    prevRecall = recall;
  }
  return ap;
}

/**
 * Expected calibration error with `bins` equal-width bins on [0, 1] (bin k = [k/B, (k+1)/B), the last bin closed at
 * 1): Σ_b (W_b / W)·|mean label_b − mean prob_b| with W the (sample-)weight, i.e. the row count when unweighted.
 * Empty bins contribute nothing. Probabilities outside [0, 1] are clamped into the end bins; any NaN gives NaN.
 */
export function expectedCalibrationError(prob: ArrayLike<number>, labels: ArrayLike<number>, bins = 10, weight?: ArrayLike<number>): number {
  const bw = new Float64Array(bins);
  const bp = new Float64Array(bins);
  const by = new Float64Array(bins);
  let total = 0;
  for (let i = 0; i < prob.length; i++) {
    const p = prob[i]!;
    // A NaN probability belongs to no bin; NaN out rather than dropping it from the bins but not the total.
    if (Number.isNaN(p)) return Number.NaN;
    const b = Math.min(bins - 1, Math.max(0, Math.floor(p * bins)));
    const w = weightAt(weight, i);
    bw[b] = bw[b]! + w;
    bp[b] = bp[b]! + w * p;
    by[b] = by[b]! + w * labels[i]!;
    total += w;
  }
  let ece = 0;
  for (let b = 0; b < bins; b++) {
    if (bw[b]! > 0) ece += (bw[b]! / total) * Math.abs(by[b]! / bw[b]! - bp[b]! / bw[b]!);
  }
  return ece;
}

export interface F1Options {
  /** Sample weights (e.g. class weights); every count becomes a weight sum. */
  weight?: ArrayLike<number>;
  /**
   * 'binary' (default): F1 of the positive class (label 1, e.g. AI2's risk = 1). 'weighted': scikit-learn's
   * average='weighted', the F1 of each class averaged with weights equal to the class's (weighted) support.
   */
  average?: 'binary' | 'weighted';
}

function f1Of(tp: number, fp: number, fn: number): number {
  const d = 2 * tp + fp + fn;
  return d === 0 ? 0 : (2 * tp) / d;
}

/**
 * F1 with "positive" predicted when score ≥ threshold. An undefined F1 (no predicted and no actual positives of a
 * class) counts as 0, as scikit-learn's zero_division=0.
 */
export function f1AtThreshold(scores: ArrayLike<number>, labels: ArrayLike<number>, threshold: number, options: F1Options = {}): number {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  let tn = 0;
  for (let i = 0; i < scores.length; i++) {
    const w = weightAt(options.weight, i);
    const pred = scores[i]! >= threshold;
    const pos = labels[i] === 1;
    if (pred && pos) tp += w;
    else if (pred) fp += w;
    else if (pos) fn += w;
    else tn += w;
  }
  const f1Pos = f1Of(tp, fp, fn);
  if ((options.average ?? 'binary') === 'binary') return f1Pos;
  // For class 0, its true positives are tn, its false positives fn, its false negatives fp.
  const f1Neg = f1Of(tn, fn, fp);
  const supPos = tp + fn;
  const supNeg = tn + fp;
  const sup = supPos + supNeg;
  return sup === 0 ? 0 : (f1Pos * supPos + f1Neg * supNeg) / sup;
}

/**
 * Recall of the low-risk band for AI2: of the rows whose label is 0 (no risk event materialised, i.e. actually
 * low-risk), the (weighted) share that AI2 places in the band risk_score < θ2, where entries are allowed. It is the
 * recall of the "low risk" decision; its complement is the share of safe opportunities the risk gate blocks. NaN when
 * there is no label-0 weight.
 */
export function lowRiskRecall(riskScores: ArrayLike<number>, labels: ArrayLike<number>, theta2: number, weight?: ArrayLike<number>): number {
  let safe = 0;
  let inBand = 0;
  for (let i = 0; i < riskScores.length; i++) {
    if (labels[i] !== 0) continue;
    const w = weightAt(weight, i);
    safe += w;
    if (riskScores[i]! < theta2) inBand += w;
  }
  return safe > 0 ? inBand / safe : Number.NaN;
}
