import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { averagePrecision, brierScore, expectedCalibrationError, f1AtThreshold, lowRiskRecall } from '../src/index.js';

/** Naive AP: for every distinct score t (high to low), precision and recall of "score ≥ t" by full recount. */
function naiveAp(scores: number[], labels: number[], w: number[]): number {
  const ts = [...new Set(scores)].sort((a, b) => b - a);
  const P = labels.reduce((s, y, i) => s + (y === 1 ? w[i]! : 0), 0);
  let prevR = 0;
  let ap = 0;
  for (const t of ts) {
    let tp = 0;
    let all = 0;
    scores.forEach((s, i) => {
      if (s >= t) {
        all += w[i]!;
        if (labels[i] === 1) tp += w[i]!;
      }
    });
    if (all === 0) continue;
    ap += (tp / P - prevR) * (tp / all);
    prevR = tp / P;
  }
  return ap;
}

describe('Brier score', () => {
  it('is the (weighted) mean squared error', () => {
    // (0.1² + 0.2² + 0.6²)/3 = 0.41/3
    expect(brierScore([0.9, 0.2, 0.6], [1, 0, 0])).toBeCloseTo(0.41 / 3, 15);
    // (2·0.01 + 0.04 + 0.36)/4 = 0.105
    expect(brierScore([0.9, 0.2, 0.6], [1, 0, 0], [2, 1, 1])).toBeCloseTo(0.105, 15);
  });
});

describe('average precision (PR-AUC)', () => {
  it('hand-computed with a tie', () => {
    // Scores .9(+) .8(−) .8(+) .3(−) .1(+), 3 positives. Thresholds: .9 → R ⅓, P 1; .8 (tie enters together) →
    // R ⅔, P ⅔; .3 → R unchanged; .1 → R 1, P ⅗. AP = ⅓·1 + ⅓·⅔ + ⅓·⅗ = 34/45.
    expect(averagePrecision([0.9, 0.8, 0.8, 0.3, 0.1], [1, 0, 1, 0, 1])).toBeCloseTo(34 / 45, 15);
    // All scores tied: a single threshold, AP = prevalence.
    expect(averagePrecision([0.5, 0.5, 0.5, 0.5], [1, 0, 0, 1])).toBe(0.5);
    expect(averagePrecision([0.9, 0.1], [1, 0])).toBe(1);
    expect(averagePrecision([0.9, 0.1], [0, 0])).toBeNaN();
    expect(averagePrecision([0.9, Number.NaN], [1, 0])).toBeNaN();
  });

  it('equals a naive recount, and integer weights equal repeated rows', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 8 }), fc.integer({ min: 0, max: 1 }), fc.integer({ min: 1, max: 3 })), { minLength: 1, maxLength: 40 }),
        (rows) => {
          if (!rows.some((r) => r[1] === 1)) return;
          const s = rows.map((r) => r[0] / 8);
          const y = rows.map((r) => r[1]);
          const w = rows.map((r) => r[2]);
          expect(averagePrecision(s, y, w)).toBeCloseTo(naiveAp(s, y, w), 12);
          const rs: number[] = [];
          const ry: number[] = [];
          rows.forEach((r) => {
            for (let k = 0; k < r[2]; k++) {
              rs.push(r[0] / 8);
              ry.push(r[1]);
            }
          });
          expect(averagePrecision(rs, ry)).toBeCloseTo(averagePrecision(s, y, w), 12);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('expected calibration error (10 equal-width bins)', () => {
  it('hand-computed', () => {
    // bin 0: {0.05 → 0}: |0 − 0.05|·1/5 = 0.01; bin 1: {0.15 → 1, 0.12 → 0}: |0.5 − 0.135|·2/5 = 0.146;
    // bin 9: {0.95 → 1, 1.0 → 1} (1.0 belongs to the last bin): |1 − 0.975|·2/5 = 0.01. Total 0.166.
    expect(expectedCalibrationError([0.05, 0.15, 0.12, 0.95, 1.0], [0, 1, 0, 1, 1])).toBeCloseTo(0.166, 14);
    // Weighted: weight 3 on 0.05 → bin 0 weight 3 of 7: 0.05·3/7; bin 1 0.365·2/7; bin 9 0.025·2/7.
    expect(expectedCalibrationError([0.05, 0.15, 0.12, 0.95, 1.0], [0, 1, 0, 1, 1], 10, [3, 1, 1, 1, 1])).toBeCloseTo(
      (0.05 * 3 + 0.365 * 2 + 0.025 * 2) / 7,
      14,
    );
    // Perfectly calibrated within each bin.
    expect(expectedCalibrationError([0.25, 0.25, 0.25, 0.25], [1, 0, 0, 0])).toBe(0);
    expect(expectedCalibrationError([0.25, Number.NaN], [1, 0])).toBeNaN();
  });
});

describe('F1 at a threshold', () => {
  it('binary and support-weighted, with sample weights and the threshold inclusive', () => {
    const s = [0.9, 0.6, 0.4, 0.2];
    const y = [1, 1, 1, 0];
    // ≥ 0.5 → tp 2, fn 1, fp 0, tn 1: F1₁ = 4/5. Class 0: tp 1, fp 1 (the missed positive), fn 0: F1₀ = 2/3.
    expect(f1AtThreshold(s, y, 0.5)).toBeCloseTo(0.8, 15);
    expect(f1AtThreshold(s, y, 0.5, { average: 'weighted' })).toBeCloseTo((0.8 * 3 + (2 / 3) * 1) / 4, 15);
    // Weight 3 on the missed positive: tp 2, fn 3 → 4/7.
    expect(f1AtThreshold(s, y, 0.5, { weight: [1, 1, 3, 1] })).toBeCloseTo(4 / 7, 15);
    // Threshold equal to a score counts it as positive: ≥ 0.4 → tp 3 → 1.
    expect(f1AtThreshold(s, y, 0.4)).toBe(1);
    // Nothing predicted, nothing positive: 0 by convention.
    expect(f1AtThreshold([0.1], [0], 0.5)).toBe(0);
  });
});

describe('recall in the low-risk band', () => {
  it('is the share of label-0 rows with risk score < θ2 (θ2 itself outside)', () => {
    // Label 0 at 0.1, 0.3, 0.5, 0.35: in band 0.1, 0.3 → 2/4. Label-1 rows do not count.
    expect(lowRiskRecall([0.1, 0.3, 0.5, 0.35, 0.2, 0.6], [0, 0, 0, 0, 1, 1], 0.35)).toBe(0.5);
    expect(lowRiskRecall([0.1, 0.3, 0.5], [0, 0, 0], 0.35, [2, 1, 1])).toBe(0.75);
    expect(lowRiskRecall([0.1], [1], 0.35)).toBeNaN();
  });
});
