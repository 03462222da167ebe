import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { classWeights, sampleWeights } from '../src/labels/weights.js';

const labels = (n0: number, n1: number): Uint8Array => Uint8Array.from([...new Array<number>(n0).fill(0), ...new Array<number>(n1).fill(1)]);

describe('classWeights — hand-computed', () => {
  it('balanced n / (2·n_c) when the ratio is within 1:5', () => {
    // 60 / 40: 100/120 and 100/80.
    const w = classWeights(labels(60, 40), 5);
    expect(w.w0).toBeCloseTo(100 / 120, 15);
    expect(w.w1).toBe(1.25);
    // Exactly 1:5 (50 / 10): 60/100 = 0.6 and 60/20 = 3 — at the cap, not clipped.
    const edge = classWeights(labels(50, 10), 5);
    expect(edge.w0).toBeCloseTo(0.6, 15);
    expect(edge.w1).toBe(3);
    expect(classWeights(labels(7, 7), 5)).toEqual({ w0: 1, w1: 1 });
  });

  it('caps the ratio at 1:5 and keeps the mean sample weight at 1', () => {
    // 90 / 10: balanced would be 0.5556 / 5 (ratio 9). Capped: w0 = 100 / (90 + 5·10) = 100/140, w1 = 500/140.
    const w = classWeights(labels(90, 10), 5);
    expect(w.w0).toBeCloseTo(100 / 140, 15);
    expect(w.w1).toBeCloseTo(500 / 140, 14);
    expect(90 * w.w0 + 10 * w.w1).toBeCloseTo(100, 12);
    // The minority can be class 0 as well.
    const v = classWeights(labels(3, 97), 5);
    expect(v.w1).toBeCloseTo(100 / (97 + 15), 15);
    expect(v.w0).toBeCloseTo(500 / (97 + 15), 14);
  });

  it('a missing class or no samples gives weights 1', () => {
    expect(classWeights(labels(0, 12), 5)).toEqual({ w0: 1, w1: 1 });
    expect(classWeights(labels(12, 0), 5)).toEqual({ w0: 1, w1: 1 });
    expect(classWeights(new Uint8Array(0), 5)).toEqual({ w0: 1, w1: 1 });
  });

  it('rejects labels other than 0/1 and a ratio below 1', () => {
    expect(() => classWeights([0, 2], 5)).toThrow(/CORE_LABEL_INPUT/);
    expect(() => classWeights([0, 1], 0.5)).toThrow(/CORE_LABEL_PARAM/);
    expect(() => classWeights([0, 1], Infinity)).toThrow(/CORE_LABEL_PARAM/);
  });

  it('sampleWeights weighs only masked rows, with weights from the masked rows', () => {
    const r = sampleWeights([0, 1, 0, 0, 1, 0], [1, 1, 1, 0, 0, 1], 5);
    // Masked labels 0, 1, 0, 0: n = 4, balanced 4/6 and 4/2 (ratio 3).
    expect(r.classWeights.w0).toBeCloseTo(4 / 6, 15);
    expect(r.classWeights.w1).toBe(2);
    expect(Array.from(r.weights)).toEqual([r.classWeights.w0, 2, r.classWeights.w0, 0, 0, r.classWeights.w0]);
    expect(() => sampleWeights([0], [1, 1], 5)).toThrow(/CORE_LABEL_INPUT/);
  });
});

describe('classWeights — properties', () => {
  it('mean weight 1, ratio ≤ max, minority never lighter', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5000 }), fc.integer({ min: 1, max: 5000 }), fc.double({ min: 1, max: 20, noNaN: true }), (n0, n1, R) => {
        const w = classWeights(labels(n0, n1), R);
        expect((n0 * w.w0 + n1 * w.w1) / (n0 + n1)).toBeCloseTo(1, 10);
        expect(Math.max(w.w0, w.w1) / Math.min(w.w0, w.w1)).toBeLessThanOrEqual(R * (1 + 1e-12));
        if (n0 < n1) expect(w.w0).toBeGreaterThanOrEqual(w.w1);
        if (n1 < n0) expect(w.w1).toBeGreaterThanOrEqual(w.w0);
      }),
    );
  });
});
