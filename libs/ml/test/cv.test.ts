import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { ML_ERROR, purgedGroupKFold, type TimeSamples } from '../src/index.js';

function series(group: number, times: number[], m: number): { g: number[]; t: number[]; e: number[] } {
  return { g: times.map(() => group), t: times, e: times.map((t) => t + m) };
}

function range(a: number, b: number): number[] {
  return Array.from({ length: b - a + 1 }, (_, i) => a + i);
}

function toSamples(parts: { g: number[]; t: number[]; e: number[] }[]): TimeSamples {
  return { group: parts.flatMap((p) => p.g), time: parts.flatMap((p) => p.t), horizonEnd: parts.flatMap((p) => p.e) };
}

describe('purged grouped time-series K-fold', () => {
  it('hand-computed: one pair of 1200 bars, M = 48, defaults (K 5, purge 24, embargo 24, min block 240)', () => {
    const folds = purgedGroupKFold(toSamples([series(7, range(0, 1199), 48)]));
    expect(folds).toHaveLength(5);
    expect(folds.map((f) => f.blocks)).toEqual([0, 1, 2, 3, 4].map((b) => [{ group: 7, start: 240 * b, end: 240 * b + 239 }]));
    // Fold 2, test [480, 719]: a horizon [t, t + 48] must miss [456, 743] → t ≤ 407 or t ≥ 744.
    const f2 = folds[2]!;
    expect(f2.test).toEqual(Uint32Array.from(range(480, 719)));
    expect(f2.train).toEqual(Uint32Array.from([...range(0, 407), ...range(744, 1199)]));
    expect(f2.purged).toBe(480 - 408); // t ∈ [408, 479]
    expect(f2.embargoed).toBe(743 - 719); // t ∈ [720, 743]
    // Fold 0, test [0, 239]: nothing before; t ∈ [240, 263] embargoed.
    expect(folds[0]!.train[0]).toBe(264);
    expect(folds[0]!.purged).toBe(0);
    expect(folds[0]!.embargoed).toBe(24);
  });

  it('merges blocks of short pairs and assigns them to spread folds', () => {
    const folds = purgedGroupKFold(
      toSamples([series(1, range(1000, 1499), 0), series(2, range(0, 99), 0)]),
      { purgeBars: 0, embargoBars: 0 },
    );
    const blocks = folds.flatMap((f) => f.blocks.map((b) => ({ fold: f.fold, ...b })));
    // Pair 1 spans 500 bars → ⌊500/240⌋ = 2 blocks of 250 → folds ⌊0.5·5/2⌋ = 1 and ⌊1.5·5/2⌋ = 3.
    // Pair 2 spans 100 < 240 bars → one block → fold ⌊5/2⌋ = 2.
    expect(blocks).toEqual([
      { fold: 1, group: 1, start: 1000, end: 1249 },
      { fold: 2, group: 2, start: 0, end: 99 },
      { fold: 3, group: 1, start: 1250, end: 1499 },
    ]);
    expect(folds[0]!.test).toHaveLength(0);
  });

  it('purges only within the pair by default, across pairs with purgeScope "all"', () => {
    const s = toSamples([series(1, range(0, 1199), 10), series(2, range(0, 1199), 10)]);
    const own = purgedGroupKFold(s, { k: 2, minBlockLenBars: 600, purgeBars: 5, embargoBars: 5 });
    const all = purgedGroupKFold(s, { k: 2, minBlockLenBars: 600, purgeBars: 5, embargoBars: 5, purgeScope: 'all' });
    // With identical blocks for both pairs, both scopes drop the same samples.
    expect(own[0]!.train).toEqual(all[0]!.train);
    // With pair 2 shifted, pair 1's training near pair 2's test block survives only under 'group'.
    const shifted = toSamples([series(1, range(0, 1199), 10), series(2, range(300, 1499), 10)]);
    const o = purgedGroupKFold(shifted, { k: 2, minBlockLenBars: 600, purgeBars: 5, embargoBars: 5 })[0]!;
    const a = purgedGroupKFold(shifted, { k: 2, minBlockLenBars: 600, purgeBars: 5, embargoBars: 5, purgeScope: 'all' })[0]!;
    // Fold 0 tests pair 1 [0, 599] and pair 2 [300, 899]. Pair 1 trains on t ≥ 605 with 'group', t ≥ 905 with 'all'.
    const pair1Train = (f: typeof o): number[] => [...f.train].filter((i) => i < 1200);
    expect(Math.min(...pair1Train(o))).toBe(605);
    expect(Math.min(...pair1Train(a))).toBe(905);
  });

  it('property: leak-free, every sample tested exactly once, drops only what touches a test block', () => {
    const arb = fc.record({
      groups: fc.array(
        fc.record({ start: fc.integer({ min: 0, max: 400 }), len: fc.integer({ min: 1, max: 900 }), keep: fc.double({ min: 0.2, max: 1, noNaN: true }), m: fc.integer({ min: 0, max: 60 }), seed: fc.integer() }),
        { minLength: 1, maxLength: 4 },
      ),
      k: fc.integer({ min: 2, max: 6 }),
      purge: fc.integer({ min: 0, max: 40 }),
      embargo: fc.integer({ min: 0, max: 40 }),
      minLen: fc.integer({ min: 1, max: 300 }),
      scope: fc.constantFrom('group' as const, 'all' as const),
    });
    fc.assert(
      fc.property(arb, ({ groups, k, purge, embargo, minLen, scope }) => {
        const g: number[] = [];
        const t: number[] = [];
        const e: number[] = [];
        groups.forEach((gr, gi) => {
          let x = gr.seed >>> 0;
          for (let b = gr.start; b < gr.start + gr.len; b++) {
            x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
            if (x / 4294967296 < gr.keep || b === gr.start) {
              g.push(gi);
              t.push(b);
              e.push(b + ((x >>> 8) % (gr.m + 1)));
            }
          }
        });
        const n = t.length;
        const folds = purgedGroupKFold({ group: g, time: t, horizonEnd: e }, { k, purgeBars: purge, embargoBars: embargo, minBlockLenBars: minLen, purgeScope: scope });
        expect(folds).toHaveLength(k);
        const testCount = new Array<number>(n).fill(0);
        // Violations are collected as text so one assertion reports them (expect() per sample is too slow).
        const bad: string[] = [];
        for (const f of folds) {
          const inTest = new Set(f.test);
          for (const i of f.test) testCount[i]!++;
          const trainSet = new Set(f.train);
          for (let i = 0; i < n; i++) {
            const inBlock = f.blocks.some((bl) => bl.group === g[i] && t[i]! >= bl.start && t[i]! <= bl.end);
            if (inTest.has(i) !== inBlock) bad.push(`fold ${f.fold} sample ${i}: test membership ${inTest.has(i)} vs block ${inBlock}`);
            if (inTest.has(i)) {
              if (trainSet.has(i)) bad.push(`fold ${f.fold} sample ${i} in train and test`);
              continue;
            }
            const touching = f.blocks.some((bl) => (scope === 'all' || bl.group === g[i]) && e[i]! >= bl.start - purge && t[i]! <= bl.end + embargo);
            // Leak-free: no training horizon meets [start − purge, end + embargo]; and nothing else is dropped.
            if (trainSet.has(i) === touching) bad.push(`fold ${f.fold} sample ${i} [${t[i]}, ${e[i]}]: train ${trainSet.has(i)}, touching ${touching}`);
          }
          if (f.train.length + f.test.length + f.purged + f.embargoed !== n) bad.push(`fold ${f.fold}: counts do not add up to ${n}`);
          // Purged = horizon reaches [start − purge, end] of some applicable block.
          let purgedRef = 0;
          for (let i = 0; i < n; i++) {
            if (inTest.has(i)) continue;
            if (f.blocks.some((bl) => (scope === 'all' || bl.group === g[i]) && e[i]! >= bl.start - purge && t[i]! <= bl.end)) purgedRef++;
          }
          if (f.purged !== purgedRef) bad.push(`fold ${f.fold}: purged ${f.purged}, expected ${purgedRef}`);
        }
        expect(bad).toEqual([]);
        expect(testCount.every((c) => c === 1)).toBe(true);
        // Blocks of a pair tile its span, in time order, each ≥ minLen when the span allows.
        groups.forEach((_, gi) => {
          const ts = t.filter((_, i) => g[i] === gi);
          const lo = Math.min(...ts);
          const hi = Math.max(...ts);
          const bl = folds.flatMap((f) => f.blocks.filter((b) => b.group === gi).map((b) => ({ ...b, fold: f.fold })));
          bl.sort((a, b) => a.start - b.start);
          expect(bl[0]!.start).toBe(lo);
          expect(bl[bl.length - 1]!.end).toBe(hi);
          for (let j = 0; j < bl.length; j++) {
            if (j > 0) {
              expect(bl[j]!.start).toBe(bl[j - 1]!.end + 1);
              expect(bl[j]!.fold).toBeGreaterThan(bl[j - 1]!.fold);
            }
            if (hi - lo + 1 >= minLen) expect(bl[j]!.end - bl[j]!.start + 1).toBeGreaterThanOrEqual(minLen);
          }
          expect(bl.length).toBe(Math.max(1, Math.min(k, Math.floor((hi - lo + 1) / minLen))));
        });
      }),
      { numRuns: 150 },
    );
  });

  it('rejects bad samples and parameters', () => {
    expect(() => purgedGroupKFold({ group: [0], time: [5], horizonEnd: [4] })).toThrow(ML_ERROR.DATA);
    expect(() => purgedGroupKFold({ group: [0, 0], time: [5], horizonEnd: [6] })).toThrow(ML_ERROR.DATA);
    expect(() => purgedGroupKFold({ group: [0], time: [1.5], horizonEnd: [6] })).toThrow(ML_ERROR.DATA);
    expect(() => purgedGroupKFold({ group: [0], time: [1], horizonEnd: [6] }, { k: 1 })).toThrow(ML_ERROR.PARAM);
    expect(() => purgedGroupKFold({ group: [0], time: [1], horizonEnd: [6] }, { purgeBars: -1 })).toThrow(ML_ERROR.PARAM);
    expect(() => purgedGroupKFold({ group: [0], time: [1], horizonEnd: [6] }, { minBlockLenBars: 0 })).toThrow(ML_ERROR.PARAM);
  });
});
