import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { RollingMedian, RollingStd } from '../src/index.js';

function naiveMedian(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const h = Math.floor(s.length / 2);
  return s.length % 2 ? s[h]! : (s[h - 1]! + s[h]!) / 2;
}

function naiveStd(xs: number[]): number {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1));
}

describe('RollingMedian', () => {
  it('examples', () => {
    const m = new RollingMedian(3);
    expect(m.median()).toBeNaN();
    m.push(5);
    expect(m.median()).toBe(5);
    m.push(1);
    expect(m.median()).toBe(3); // (1 + 5) / 2
    m.push(9);
    expect(m.median()).toBe(5); // {1,5,9}
    m.push(2); // evicts 5 → {1,9,2}
    expect(m.median()).toBe(2);
    expect(m.values()).toEqual([1, 9, 2]);
  });

  it('equals the median of the last w values (sort-based reference), with many ties', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 12 }), fc.array(fc.oneof(fc.integer({ min: 0, max: 5 }), fc.double({ min: -10, max: 10, noNaN: true })), { maxLength: 150 }), (w, xs) => {
        const m = new RollingMedian(w);
        xs.forEach((x, i) => {
          m.push(x);
          const win = xs.slice(Math.max(0, i + 1 - w), i + 1);
          expect(m.median()).toBe(naiveMedian(win));
          expect(m.values()).toEqual(win);
        });
        expect(RollingMedian.restore(w, m.values()).median()).toBe(m.median());
      }),
    );
  });
});

describe('RollingStd', () => {
  it('matches a two-pass sample std of the last w values', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 15 }), fc.array(fc.double({ min: -0.05, max: 0.05, noNaN: true }), { maxLength: 300 }), (w, xs) => {
        const s = new RollingStd(w);
        xs.forEach((x, i) => {
          s.push(x);
          const win = xs.slice(Math.max(0, i + 1 - w), i + 1);
          if (win.length < 2) expect(s.std()).toBeNaN();
          else expect(s.std()).toBeCloseTo(naiveStd(win), 12);
          expect(s.mean()).toBeCloseTo(win.reduce((a, b) => a + b, 0) / win.length, 12);
        });
        const r = RollingStd.restore(w, s.snapshot());
        expect(r.values()).toEqual(s.values());
        expect(r.std()).toBe(s.std());
      }),
    );
  });

  it('leaves no rounding residue of a large evicted value in σ (fast-check counterexample from CI)', () => {
    const s = new RollingStd(2);
    for (const x of [0.00006103515625, 6.431098710768743e-13, 0, -5e-324]) s.push(x);
    expect(s.std()).toBeCloseTo(naiveStd([0, -5e-324]), 12);
  });

  it('reports σ = 0 for a window of equal values (no rounding-noise σ)', () => {
    const s = new RollingStd(4);
    for (const x of [0.3, -0.2, 0.05, 0.05, 0.05, 0.05]) s.push(x);
    expect(s.std()).toBe(0);
  });

  it('returns exactly 0 once the window holds only zeros again', () => {
    const s = new RollingStd(3);
    for (const x of [0.1, 0.37, -0.2, 0, 0, 0]) s.push(x);
    expect(s.std()).toBe(0);
  });
});
