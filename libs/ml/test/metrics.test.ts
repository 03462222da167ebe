import { describe, expect, it } from '@jest/globals';
import { logLoss, rocAuc } from '../src/index.js';

describe('metrics', () => {
  it('ROC-AUC counts every positive/negative pair, ties as one half', () => {
    // Positives score 0.9, 0.5, 0.3; negatives 0.5, 0.2. Pairs: (0.9>0.5) 1, (0.9>0.2) 1, (0.5=0.5) ½,
    // (0.5>0.2) 1, (0.3<0.5) 0, (0.3>0.2) 1 → 4.5 / 6.
    expect(rocAuc([0.9, 0.5, 0.3, 0.5, 0.2], [1, 1, 1, 0, 0])).toBeCloseTo(4.5 / 6, 15);
    expect(rocAuc([0.7, 0.7, 0.7, 0.7], [1, 0, 1, 0])).toBe(0.5);
    expect(rocAuc([0.1, 0.2, 0.3], [0, 0, 1])).toBe(1);
    expect(rocAuc([0.1, 0.2], [1, 1])).toBeNaN();
  });

  it('log-loss is the weighted mean negative log-likelihood', () => {
    const expected = -(2 * Math.log(0.8) + 1 * Math.log(1 - 0.4)) / 3;
    expect(logLoss([0.8, 0.4], [1, 0], [2, 1])).toBeCloseTo(expected, 15);
  });
});
