import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { alignPairs } from '../src/index.js';
import { MONDAY, closeBar } from './fixtures.js';

const H = 3_600_000;

describe('alignPairs', () => {
  it('inner-joins on time and counts one-sided bars (hand-derived)', () => {
    const a = [0, 1, 2, 4].map((k) => closeBar(MONDAY + k * H, 100 + k));
    const b = [1, 2, 3, 4, 5].map((k) => closeBar(MONDAY + k * H, 200 + k, '1h', { symbol: 'XAGUSD' }));
    const r = alignPairs(a, b);
    expect(r.pairs.map((p) => [p.tsMs, p.a.close, p.b.close])).toEqual([
      [MONDAY + H, 101, 201],
      [MONDAY + 2 * H, 102, 202],
      [MONDAY + 4 * H, 104, 204],
    ]);
    expect([r.aOnly, r.bOnly, r.aDuplicates, r.bDuplicates]).toEqual([1, 2, 0, 0]); // A: hour 0; B: hours 3, 5
  });

  it('sorts unsorted input and resolves duplicates latest-wins', () => {
    const a = [closeBar(MONDAY + H, 1), closeBar(MONDAY, 2), closeBar(MONDAY + H, 3)];
    const b = [closeBar(MONDAY, 5), closeBar(MONDAY + H, 6)];
    const r = alignPairs(a, b);
    expect(r.pairs.map((p) => [p.tsMs, p.a.close, p.b.close])).toEqual([
      [MONDAY, 2, 5],
      [MONDAY + H, 3, 6],
    ]);
    expect(r.aDuplicates).toBe(1);
  });

  it('refuses series of different timeframes', () => {
    expect(() => alignPairs([closeBar(MONDAY, 1)], [closeBar(MONDAY, 1, '4h')])).toThrow(/DATA_DQ_TFRAME/);
  });

  it('output is sorted, holds only common timestamps, and the counts add up', () => {
    const hours = fc.array(fc.integer({ min: 0, max: 60 }), { maxLength: 60 });
    fc.assert(
      fc.property(hours, hours, (ha, hb) => {
        const a = ha.map((k, i) => closeBar(MONDAY + k * H, 1 + i));
        const b = hb.map((k, i) => closeBar(MONDAY + k * H, 1 + i));
        const r = alignPairs(a, b);
        const ts = r.pairs.map((p) => p.tsMs);
        for (let i = 1; i < ts.length; i++) expect(ts[i]).toBeGreaterThan(ts[i - 1]!);
        const common = [...new Set(ha)].filter((k) => hb.includes(k)).sort((x, y) => x - y);
        expect(ts).toEqual(common.map((k) => MONDAY + k * H));
        for (const p of r.pairs) expect(p.a.ts_utc).toBe(p.b.ts_utc);
        // latest wins: the A bar of a timestamp is its last occurrence in input order
        for (const p of r.pairs) expect(p.a.close).toBe(1 + ha.lastIndexOf((p.tsMs - MONDAY) / H));
        expect(r.pairs.length + r.aOnly + r.aDuplicates).toBe(a.length);
        expect(r.pairs.length + r.bOnly + r.bDuplicates).toBe(b.length);
        expect(r.aDuplicates).toBe(ha.length - new Set(ha).size);
      }),
    );
  });
});
