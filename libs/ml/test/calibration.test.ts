import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { applyIsotonic, applyIsotonicBatch, fitIsotonic, ML_ERROR, parseIsotonic, serializeIsotonic } from '../src/index.js';

/**
 * Independent reference: the isotonic fit at the i-th distinct score is max_{j ≤ i} min_{k ≥ i} of the weighted
 * label mean over distinct scores j..k (the min–max characterisation of isotonic regression), brute force O(m³).
 */
function minMaxReference(scores: number[], labels: number[], weights: number[]): { x: number[]; fit: number[] } {
  const xs = [...new Set(scores.filter((_, i) => weights[i]! > 0))].sort((a, b) => a - b);
  const w = xs.map(() => 0);
  const s = xs.map(() => 0);
  scores.forEach((v, i) => {
    if (weights[i]! <= 0) return;
    const j = xs.indexOf(v);
    w[j] = w[j]! + weights[i]!;
    s[j] = s[j]! + weights[i]! * labels[i]!;
  });
  const fit = xs.map((_, i) => {
    let best = -Infinity;
    for (let j = 0; j <= i; j++) {
      let worst = Infinity;
      for (let k = i; k < xs.length; k++) {
        let sw = 0;
        let ss = 0;
        for (let q = j; q <= k; q++) {
          sw += w[q]!;
          ss += s[q]!;
        }
        worst = Math.min(worst, ss / sw);
      }
      best = Math.max(best, worst);
    }
    return best;
  });
  return { x: xs, fit };
}

describe('isotonic calibration (PAV)', () => {
  it('pools adjacent violators: hand-computed example', () => {
    // y = 1,0,1,0,1 at x = 1..5: (1,0) pool to ½, (1,0) pool to ½, the two ½ blocks do not violate, then 1.
    const m = fitIsotonic([1, 2, 3, 4, 5], [1, 0, 1, 0, 1]);
    expect(m.x).toEqual([1, 2, 3, 4, 5]);
    expect(m.y).toEqual([0.5, 0.5, 0.5, 0.5, 1]);
    expect(applyIsotonic(m, 4.5)).toBeCloseTo(0.75, 15); // halfway between (4, ½) and (5, 1)
    expect(applyIsotonic(m, -10)).toBe(0.5); // clipped below
    expect(applyIsotonic(m, 10)).toBe(1); // clipped above
    expect(applyIsotonic(m, Number.NaN)).toBeNaN();
  });

  it('uses weights: a heavy violator drags the whole block', () => {
    // x = 0,1,2, y = 1,0,0, w = 1,3,1: (1·1 + 3·0)/4 = ¼ > 0, pool again: 1/5 everywhere.
    const m = fitIsotonic([0, 1, 2], [1, 0, 0], [1, 3, 1]);
    expect(m.x).toEqual([0, 2]);
    expect(m.y[0]).toBeCloseTo(0.2, 15);
    expect(m.y[1]).toBeCloseTo(0.2, 15);
    // Weight 0 removes a row entirely.
    const z = fitIsotonic([0, 1, 2], [1, 0, 1], [0, 1, 1]);
    expect(z.x).toEqual([1, 2]);
    expect(z.y).toEqual([0, 1]);
    expect(applyIsotonic(z, 1.25)).toBeCloseTo(0.25, 15);
  });

  it('pools tied scores first and is independent of input order', () => {
    // x = 1 twice with y 1 and 0 → ½ (weight 2); x = 2 with y 0 violates → (1 + 0)/3.
    const a = fitIsotonic([1, 1, 2], [1, 0, 0]);
    const b = fitIsotonic([2, 1, 1], [0, 0, 1]);
    expect(a).toEqual(b);
    expect(a.x).toEqual([1, 2]);
    expect(a.y[0]).toBeCloseTo(1 / 3, 15);
  });

  it('matches the min–max brute force on random weighted data with ties', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 12 }), fc.integer({ min: 0, max: 1 }), fc.integer({ min: 0, max: 4 })), { minLength: 1, maxLength: 30 }),
        (rows) => {
          if (!rows.some((r) => r[2] > 0)) return;
          const scores = rows.map((r) => r[0] / 4);
          const labels = rows.map((r) => r[1]);
          const weights = rows.map((r) => r[2]);
          const m = fitIsotonic(scores, labels, weights);
          const ref = minMaxReference(scores, labels, weights);
          ref.x.forEach((x, i) => expect(applyIsotonic(m, x)).toBeCloseTo(ref.fit[i]!, 12));
          for (let i = 1; i < m.x.length; i++) {
            expect(m.x[i]!).toBeGreaterThan(m.x[i - 1]!);
            expect(m.y[i]!).toBeGreaterThanOrEqual(m.y[i - 1]!);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('is monotone, batch equals one-by-one, and survives a JSON round trip bit for bit', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 0, max: 1 })), { minLength: 2, maxLength: 60 }),
        fc.array(fc.double({ min: -0.5, max: 1.5, noNaN: true }), { minLength: 1, maxLength: 40 }),
        (rows, probes) => {
          const m = fitIsotonic(rows.map((r) => r[0]), rows.map((r) => r[1]));
          const sorted = [...probes].sort((a, b) => a - b);
          const out = applyIsotonicBatch(m, sorted);
          for (let i = 0; i < sorted.length; i++) {
            expect(out[i]).toBe(applyIsotonic(m, sorted[i]!));
            expect(out[i]!).toBeGreaterThanOrEqual(0);
            expect(out[i]!).toBeLessThanOrEqual(1);
            if (i > 0) expect(out[i]!).toBeGreaterThanOrEqual(out[i - 1]!);
          }
          const back = parseIsotonic(serializeIsotonic(m));
          expect(back).toEqual(m);
          expect(applyIsotonicBatch(back, sorted)).toEqual(out);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('rejects bad input and malformed documents', () => {
    expect(() => fitIsotonic([1, 2], [1])).toThrow(ML_ERROR.DATA);
    expect(() => fitIsotonic([1, Number.NaN], [1, 0])).toThrow(ML_ERROR.DATA);
    expect(() => fitIsotonic([1, 2], [1, 2])).toThrow(ML_ERROR.DATA);
    expect(() => fitIsotonic([1, 2], [1, 0], [0, 0])).toThrow(ML_ERROR.DATA);
    expect(() => fitIsotonic([1, 2], [1, 0], [1, -1])).toThrow(ML_ERROR.DATA);
    expect(() => parseIsotonic('nope')).toThrow(ML_ERROR.MODEL);
    expect(() => parseIsotonic('{"format":"noctria-isotonic","version":2,"x":[0],"y":[0]}')).toThrow(ML_ERROR.MODEL);
    expect(() => parseIsotonic('{"format":"noctria-isotonic","version":1,"x":[0,0],"y":[0,1]}')).toThrow(ML_ERROR.MODEL);
    expect(() => parseIsotonic('{"format":"noctria-isotonic","version":1,"x":[0,1],"y":[1,0]}')).toThrow(ML_ERROR.MODEL);
    expect(() => parseIsotonic('{"format":"noctria-isotonic","version":1,"x":[0,1],"y":[0]}')).toThrow(ML_ERROR.MODEL);
    expect(() => applyIsotonicBatch(fitIsotonic([0, 1], [0, 1]), [0, 1], new Float64Array(1))).toThrow(ML_ERROR.DATA);
  });
});
