import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import {
  DqChecker,
  dedupeLatestWins,
  fillGaps,
  flagOutliers,
  rejectInvalidPrices,
  runDq,
  sortByTime,
  type CanonicalBar, type Calendar, type DqOptions, type Timeframe } from '../src/index.js';
import { SMALL_DQ, buildSeries, corrupt, corruptionArb, stepArb } from './fixtures.js';
import { naiveRunDq } from './naive-dq.js';

const ms = (b: CanonicalBar): number => Date.parse(b.ts_utc);
const synthetic = (b: CanonicalBar): boolean => b.metadata.dq_fill === 'interpolated';

const caseArb = fc.record({
  tf: fc.constantFrom<Timeframe>('15m', '1h', '4h', '1d'),
  calendar: fc.constantFrom<Calendar>('24/5', '24/7'),
  steps: fc.array(stepArb, { maxLength: 250, size: 'max' }),
  corruptions: fc.array(corruptionArb, { maxLength: 12, size: 'max' }),
  maxRun: fc.integer({ min: 0, max: 3 }),
  small: fc.boolean(),
});

type Case = typeof caseArb extends fc.Arbitrary<infer T> ? T : never;

function setup(c: Case): { input: CanonicalBar[]; opts: DqOptions } {
  const input = corrupt(buildSeries(c.steps, c.tf), c.corruptions);
  const opts: DqOptions = { calendar: c.calendar, missing_fill_max_run: c.maxRun, ...(c.small ? SMALL_DQ : {}) };
  return { input, opts };
}

// The time limit only bounds shrinking of a found counterexample (a failure found is still reported;
// an interrupted run without failure counts as passed), so large random series never stall the suite.
const RUNS = { numRuns: 150, plugins: [fc.interruptAfterTimeLimit(30_000)] };

describe('runDq properties', () => {
  it('equals the naive reference implementation', () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const { input, opts } = setup(c);
        const got = runDq(input, opts);
        const ref = naiveRunDq(input, { ...opts, calendar: c.calendar });
        expect(got.bars).toEqual(ref.bars);
        const { rejected_indices, gaps, ...counts } = ref.report;
        expect(got.report).toMatchObject(counts);
        expect(got.report.rejections.map((r) => r.index)).toEqual(rejected_indices);
        expect(got.report.gaps.map(({ fromMs, toMs, bars }) => ({ fromMs, toMs, bars }))).toEqual(gaps);
        expect(got.report.output_bars).toBe(got.bars.length);
        expect(got.report.input_bars).toBe(input.length);
      }),
      RUNS,
    );
  });

  it('equals the composition of the individual rule functions, in the documented order', () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const { input, opts } = setup(c);
        const got = runDq(input, opts);
        const s1 = sortByTime(input);
        const s2 = dedupeLatestWins(s1.bars, s1.ms, s1.indices);
        const s3 = rejectInvalidPrices(s2.bars, s2.ms, s2.indices);
        const s4 = fillGaps(s3.bars, opts, s3.ms);
        const s5 = flagOutliers(s4.bars, opts, s4.ms);
        expect(got.bars).toEqual(s5.bars);
        expect(got.report).toMatchObject({
          reordered: s1.reordered,
          duplicates_dropped: s2.dropped,
          rejections: [...s1.rejected, ...s3.rejected].sort((a, b) => a.index - b.index),
          filled_bars: s4.filled_bars,
          missing_bars: s4.missing_bars,
          gaps: s4.gaps,
          expected_bars: s4.expected_bars,
          outliers_sigma: s5.outliers_sigma,
          outliers_spike: s5.outliers_spike,
          outlier_bars: s5.outlier_bars,
        });
      }),
      RUNS,
    );
  });

  it('outputs strictly increasing unique timestamps on the timeframe grid', () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const { input, opts } = setup(c);
        const out = runDq(input, opts).bars;
        for (let i = 1; i < out.length; i++) expect(ms(out[i]!)).toBeGreaterThan(ms(out[i - 1]!));
      }),
      RUNS,
    );
  });

  it('is idempotent: runDq(runDq(x)) changes nothing', () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const { input, opts } = setup(c);
        const once = runDq(input, opts);
        const twice = runDq(once.bars, opts);
        expect(twice.bars).toEqual(once.bars);
        expect(twice.report).toMatchObject({
          reordered: 0,
          duplicates_dropped: 0,
          rejected: 0,
          filled_bars: 0,
          outliers_sigma: 0,
          outliers_spike: 0,
          missing_bars: once.report.missing_bars,
          gaps: once.report.gaps,
          outlier_bars: once.report.outlier_bars,
          missing_rate: once.report.missing_rate,
          outlier_rate: once.report.outlier_rate,
        });
      }),
      RUNS,
    );
  });

  it('duplicates: the later element in input order wins', () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const { input, opts } = setup(c);
        const out = runDq(input, opts).bars;
        for (const b of out) {
          if (synthetic(b)) continue;
          const last = input.filter((x) => x.ts_utc === b.ts_utc).pop()!;
          // the kept bar is the last input occurrence (possibly copied to add the outlier flag)
          const { quality_flag: _q, metadata: _m, ...rest } = b;
          const { quality_flag: _q2, metadata: _m2, ...lastRest } = last;
          expect(rest).toEqual(lastRest);
        }
      }),
      RUNS,
    );
  });

  it('never synthesizes a bar inside a gap longer than the limit, nor a run longer than the limit', () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const { input, opts } = setup(c);
        const { bars, report } = runDq(input, opts);
        for (const g of report.gaps) {
          expect(g.bars).toBeGreaterThan(c.maxRun);
          expect(bars.some((b) => ms(b) >= g.fromMs && ms(b) < g.toMs)).toBe(false);
        }
        let run = 0;
        for (const b of bars) {
          run = synthetic(b) ? run + 1 : 0;
          expect(run).toBeLessThanOrEqual(c.maxRun);
          if (synthetic(b)) expect([b.quality_flag, b.volume]).toEqual(['resampled', null]);
        }
        expect(bars.filter(synthetic).length).toBe(report.filled_bars);
      }),
      RUNS,
    );
  });

  it('streaming (DqChecker) flags exactly what the batch function flags, also across snapshot/restore', () => {
    fc.assert(
      fc.property(caseArb, fc.nat(), (c, cut) => {
        const { input, opts } = setup(c);
        // Streaming sees time-ordered unique input: take the batch's dedupe of the input order.
        const byTs = new Map<string, CanonicalBar>();
        for (const b of [...input].sort((x, y) => ms(x) - ms(y))) byTs.set(b.ts_utc, b);
        const ordered = [...byTs.values()].filter((b) => !Number.isNaN(ms(b)));
        const batch = runDq(ordered, opts);
        const checker = new DqChecker(opts);
        const streamed: CanonicalBar[] = [];
        for (const b of ordered) streamed.push(...checker.push(b).bars);
        expect(streamed).toEqual(batch.bars);
        expect(checker.report()).toEqual(batch.report);
        // interrupted run: snapshot → JSON → restore half-way
        const k = ordered.length === 0 ? 0 : cut % ordered.length;
        let first = new DqChecker(opts);
        const resumed: CanonicalBar[] = [];
        ordered.forEach((b, i) => {
          if (i === k) first = DqChecker.restore(JSON.parse(JSON.stringify(first.snapshot())), opts);
          resumed.push(...first.push(b).bars);
        });
        expect(resumed).toEqual(batch.bars);
        expect(first.report()).toEqual(batch.report);
      }),
      RUNS,
    );
  });
});
