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
