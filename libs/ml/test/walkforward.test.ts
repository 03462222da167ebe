import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { daysToBars, expandingWalkForward, ML_ERROR } from '../src/index.js';

function range(a: number, b: number): number[] {
  return Array.from({ length: b - a + 1 }, (_, i) => a + i);
}

describe('expanding walk-forward', () => {
  it('converts days to bars of the timeframe', () => {
    expect(daysToBars(30, 24)).toBe(720); // 1h bars
    expect(daysToBars(360, 24)).toBe(8640);
    expect(daysToBars(30, 96)).toBe(2880); // 15m bars
    expect(daysToBars(30, 1 / 7)).toBe(4); // weekly bars: 30/7 = 4.29 → 4
    expect(() => daysToBars(30, 0)).toThrow(ML_ERROR.PARAM);
    expect(() => daysToBars(-1, 24)).toThrow(ML_ERROR.PARAM);
  });

  it('hand-computed: bars 0..999, step 100, min train 400, purge 5, embargo 5, M = 10', () => {
    const t = range(0, 999);
    const splits = expandingWalkForward(
      { group: t.map(() => 0), time: t, horizonEnd: t.map((x) => x + 10) },
      { barsPerDay: 1, stepDays: 100, minTrainDays: 400, purgeBars: 5, embargoBars: 5 },
    );
    // Tests start at 400, 500, …, 900; training horizons t + 10 < s − 10 → t ≤ s − 21.
    expect(splits.map((s) => [s.testStart, s.testEnd, s.trainEnd])).toEqual([400, 500, 600, 700, 800, 900].map((s) => [s, s + 99, s - 10]));
    expect(splits[0]!.train).toEqual(Uint32Array.from(range(0, 379)));
    expect(splits[0]!.test).toEqual(Uint32Array.from(range(400, 499)));
    expect(splits[5]!.train).toEqual(Uint32Array.from(range(0, 879)));
  });

  it('cuts the last window at the data end and skips windows without samples', () => {
    const t = [...range(0, 449), ...range(700, 720)];
    const splits = expandingWalkForward({ group: t.map(() => 0), time: t, horizonEnd: t }, { barsPerDay: 1, stepDays: 100, minTrainDays: 300, purgeBars: 0, embargoBars: 0 });
    // Windows [300, 399], [400, 499], [500, 599] empty → skipped, [600, 699] empty, [700, 720] cut at 720.
    expect(splits.map((s) => [s.step, s.testStart, s.testEnd, s.test.length])).toEqual([
      [0, 300, 399, 100],
      [1, 400, 499, 50],
      [4, 700, 720, 21],
    ]);
  });

  it('property: train strictly before test with the gap, expanding, fixed steps, tests tile the OOS span', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 2000 }), fc.integer({ min: 0, max: 80 })), { minLength: 1, maxLength: 400 }),
        fc.integer({ min: 1, max: 24 }),
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 0, max: 60 }),
        fc.integer({ min: 0, max: 40 }),
        fc.integer({ min: 0, max: 40 }),
        (rows, barsPerDay, stepDays, minTrainDays, purge, embargo) => {
          const group = rows.map((r) => r[0]);
          const time = rows.map((r) => r[1]);
          const horizonEnd = rows.map((r) => r[1] + r[2]);
          const splits = expandingWalkForward({ group, time, horizonEnd }, { barsPerDay, stepDays, minTrainDays, purgeBars: purge, embargoBars: embargo });
          const step = stepDays * barsPerDay;
          const t0 = Math.min(...time);
          const bad: string[] = [];
          const tested = new Set<number>();
          splits.forEach((s, j) => {
            if (s.testStart !== t0 + minTrainDays * barsPerDay + s.step * step) bad.push(`split ${j}: start ${s.testStart}`);
            if (j > 0 && s.step <= splits[j - 1]!.step) bad.push(`split ${j}: steps not increasing`);
            if (s.trainEnd !== s.testStart - purge - embargo) bad.push(`split ${j}: trainEnd`);
            const train = new Set(s.train);
            for (let i = 0; i < rows.length; i++) {
              const shouldTrain = horizonEnd[i]! < s.trainEnd;
              if (train.has(i) !== shouldTrain) bad.push(`split ${j} sample ${i}: train ${train.has(i)} vs ${shouldTrain}`);
            }
            for (const i of s.train) if (!(horizonEnd[i]! < s.testStart - purge)) bad.push(`split ${j}: train ${i} reaches the test`);
            for (const i of s.test) {
              if (time[i]! < s.testStart || time[i]! > s.testEnd || s.testEnd > s.testStart + step - 1) bad.push(`split ${j}: test ${i} outside`);
              if (tested.has(i)) bad.push(`sample ${i} tested twice`);
              tested.add(i);
            }
            if (j > 0) for (const i of splits[j - 1]!.train) if (!train.has(i)) bad.push(`split ${j}: not expanding (${i})`);
          });
          const oos = time.map((t, i) => (t >= t0 + minTrainDays * barsPerDay ? i : -1)).filter((i) => i >= 0);
          if (oos.length !== tested.size) bad.push(`tested ${tested.size} of ${oos.length} OOS samples`);
          expect(bad).toEqual([]);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('rejects bad options and samples', () => {
    const s = { group: [0], time: [0], horizonEnd: [1] };
    expect(() => expandingWalkForward(s, { barsPerDay: 1, stepDays: 0 })).toThrow(ML_ERROR.PARAM);
    expect(() => expandingWalkForward(s, { barsPerDay: 1, purgeBars: 1.5 })).toThrow(ML_ERROR.PARAM);
    expect(() => expandingWalkForward({ group: [0], time: [3], horizonEnd: [1] }, { barsPerDay: 1 })).toThrow(ML_ERROR.DATA);
    expect(expandingWalkForward({ group: [], time: [], horizonEnd: [] }, { barsPerDay: 1 })).toEqual([]);
  });
});
