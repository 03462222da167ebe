import { createHash } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import type { CanonicalBar } from '@noctria/canonical-bar';
import { buildLabelledDataset, buildLabelledDatasetsFromBars, labelledRows, pairBarsHash, preTrainingQuality } from '../src/dataset.js';
import { computeAi2Risk } from '../src/labels/ai2.js';
import { FEATURE_NAMES, type FeatureName } from '../src/schema.js';
import type { PairSeries } from '../src/types.js';
import { H, MONDAY, cbar, legBars } from './support/fixture-labels-bars.js';
import { fixtureAi1Events, fixtureAi2, fixtureBars, fixtureFeatures } from './support/fixture-labels.js';

const hours = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const wiggle = (h: number, base: number): number => base * (1 + 0.001 * (h % 2 === 0 ? 1 : -1));

describe('preTrainingQuality — hand cases (1h, 24/5)', () => {
  it('clean aligned legs pass unchanged as one segment', () => {
    const a = legBars(hours(0, 9).map((h) => [h, 100 + h]), 'XAUUSD');
    const b = legBars(hours(0, 9).map((h) => [h, 50 + h]), 'XAGUSD');
    const r = preTrainingQuality(a, b, { calendar: '24/5' });
    expect(r.bars.map((x) => [x.tsMs, x.a.close, x.b.close])).toEqual(hours(0, 9).map((h) => [MONDAY + h * H, 100 + h, 50 + h]));
    expect(r.segments).toEqual([{ start: 0, end: 10 }]);
    expect(Array.from(r.synthetic)).toEqual(new Array(10).fill(0));
    expect(r.counts).toMatchObject({ filledBars: 0, excludedGaps: 0, unsyncedA: 0, unsyncedB: 0, outputBars: 10, segments: 1 });
  });

  it('fills a two-bar gap of both legs by forward fill + linear interpolation', () => {
    const a = legBars([[0, 99], [1, 99.5], [2, 100], [5, 103], [6, 103]], 'XAUUSD');
    const b = legBars([[0, 49], [1, 49.5], [2, 50], [5, 56], [6, 56]], 'XAGUSD');
    const r = preTrainingQuality(a, b, { calendar: '24/5' });
    // k/(m+1) of the way from the close before to the close after: 100 → 103 in thirds, 50 → 56 in thirds.
    expect(r.bars.map((x) => [(x.tsMs - MONDAY) / H, x.a.close, x.b.close])).toEqual([
      [0, 99, 49],
      [1, 99.5, 49.5],
      [2, 100, 50],
      [3, 101, 52],
      [4, 102, 54],
      [5, 103, 56],
      [6, 103, 56],
    ]);
    expect(r.bars[3]!.a.open).toBe(100); // forward-filled open
    expect(r.bars[4]!.a.open).toBe(101);
    expect(Array.from(r.synthetic)).toEqual([0, 0, 0, 1, 1, 0, 0]);
    expect(r.counts).toMatchObject({ filledBars: 2, excludedGaps: 0, segments: 1 });
  });

  it('a gap of three bars is excluded and splits the data', () => {
    const a = legBars([[0, 100], [1, 100], [5, 101], [6, 101]], 'XAUUSD');
    const b = legBars([[0, 50], [1, 50], [5, 51], [6, 51]], 'XAGUSD');
    const r = preTrainingQuality(a, b, { calendar: '24/5' });
    expect(r.segments).toEqual([
      { start: 0, end: 2 },
      { start: 2, end: 4 },
    ]);
    expect(r.counts).toMatchObject({ filledBars: 0, excludedGaps: 1, excludedGapBars: 3, outputBars: 4, segments: 2 });
  });

  it('drops unsynchronised bars and treats them as missing', () => {
    const a = legBars(hours(0, 5).map((h) => [h, 100 + h]), 'XAUUSD');
    const b = legBars([0, 1, 2, 4, 5].map((h) => [h, 50 + h]), 'XAGUSD'); // B lacks hour 3
    const r = preTrainingQuality(a, b, { calendar: '24/5' });
    expect(r.counts).toMatchObject({ unsyncedA: 1, unsyncedB: 0, filledBars: 1, outputBars: 6 });
    // A's observed 103 at hour 3 is not kept: the pair row is synthesised from hours 2 and 4 in both legs.
    expect([r.bars[3]!.a.close, r.bars[3]!.b.close, r.synthetic[3]]).toEqual([103, 53, 1]);
    const c = legBars([0, 1, 2, 4, 5, 7].map((h) => [h, 100 + h]), 'XAUUSD');
    const d = legBars([0, 1, 2, 3, 5, 7].map((h) => [h, 50 + h]), 'XAGUSD');
    const s = preTrainingQuality(c, d, { calendar: '24/5' });
    // Joined hours 0, 1, 2, 5, 7: gap of 2 (hours 3, 4) filled, gap of 1 (hour 6) filled.
    expect(s.counts).toMatchObject({ unsyncedA: 1, unsyncedB: 1, filledBars: 3, outputBars: 8, segments: 1 });
  });

  it('excludes zero/negative prices and counts them by reason', () => {
    const a = legBars(hours(0, 5).map((h) => [h, 100]), 'XAUUSD');
    a[2] = cbar(MONDAY + 2 * H, 0, 'XAUUSD');
    a[4] = cbar(MONDAY + 4 * H, -1, 'XAUUSD');
    const b = legBars(hours(0, 5).map((h) => [h, 50]), 'XAGUSD');
    const r = preTrainingQuality(a, b, { calendar: '24/5' });
    expect(r.counts.nonPositiveA).toBe(2);
    expect(r.counts.rejectedA).toEqual({ DATA_DQ_NONPOS: 2 });
    expect(r.counts).toMatchObject({ unsyncedB: 2, filledBars: 2, outputBars: 6 });
    for (const x of r.bars) expect(x.a.close).toBeGreaterThan(0);
  });

  it('excludes ±8σ return outliers (the spike bar and the bar measured from it)', () => {
    const a = legBars(hours(0, 49).map((h) => [h, h === 40 ? 110 : wiggle(h, 100)]), 'XAUUSD');
    const b = legBars(hours(0, 49).map((h) => [h, wiggle(h, 50)]), 'XAGUSD');
    const r = preTrainingQuality(a, b, { calendar: '24/5' });
    // σ of ±0.2 % returns ≈ 0.002; ln(110/99.9) ≈ 0.096 ≫ 8σ, and so is the way back at hour 41.
    expect([r.counts.outliersSigmaA, r.counts.outliersSpikeA, r.counts.outliersSigmaB]).toEqual([2, 0, 0]);
    expect(r.counts).toMatchObject({ unsyncedB: 2, filledBars: 2, outputBars: 50, segments: 1 });
    expect(Math.max(...r.bars.map((x) => x.a.close))).toBeLessThan(101);
  });

  it('bars flagged outlier upstream and upstream-synthesised bars are dropped and counted', () => {
    const a = legBars(hours(0, 6).map((h) => [h, 100]), 'XAUUSD');
    a[2] = { ...a[2]!, quality_flag: 'outlier' };
    a[4] = { ...a[4]!, quality_flag: 'resampled', metadata: { dq_fill: 'interpolated' } };
    const b = legBars(hours(0, 6).map((h) => [h, 50]), 'XAGUSD');
    const r = preTrainingQuality(a, b, { calendar: '24/5' });
    expect(r.counts).toMatchObject({ outliersUpstreamA: 1, upstreamFilledA: 1, unsyncedB: 2, filledBars: 2 });
  });

  it('the weekend of a 24/5 calendar is no gap; under 24/7 it is', () => {
    const hs = [...hours(110, 119), ...hours(168, 172)]; // Fri 14:00 … Fri 23:00, Mon 00:00 … Mon 04:00
    const a = legBars(hs.map((h) => [h, 100]), 'XAUUSD');
    const b = legBars(hs.map((h) => [h, 50]), 'XAGUSD');
    expect(preTrainingQuality(a, b, { calendar: '24/5' }).segments).toEqual([{ start: 0, end: 15 }]);
    const r = preTrainingQuality(a, b, { calendar: '24/7' });
    expect(r.segments).toEqual([
      { start: 0, end: 10 },
      { start: 10, end: 15 },
    ]);
    expect(r.counts.excludedGapBars).toBe(48);
  });

  it('every input bar is accounted for, and rows inside a segment are calendar-adjacent', () => {
    const legArb = fc.array(
      fc.record({ skip: fc.constantFrom(0, 0, 0, 1, 2, 3), close: fc.double({ min: 50, max: 150, noNaN: true }), bad: fc.constantFrom('ok', 'ok', 'ok', 'ok', 'zero', 'dup', 'outlier') }),
      { maxLength: 80 },
    );
    const build = (steps: { skip: number; close: number; bad: string }[], symbol: string): CanonicalBar[] => {
      const out: CanonicalBar[] = [];
      let h = 0;
      for (const s of steps) {
        h += 1 + s.skip;
        const bar = cbar(MONDAY + h * H, s.close, symbol);
        if (s.bad === 'zero') out.push({ ...bar, close: 0, low: 0 });
        else if (s.bad === 'dup') out.push(bar, { ...bar, close: s.close * 1.01, high: s.close * 1.01 });
        else if (s.bad === 'outlier') out.push({ ...bar, quality_flag: 'outlier' });
        else out.push(bar);
      }
      return out;
    };
    fc.assert(
      fc.property(legArb, legArb, (sa, sb) => {
        const a = build(sa, 'XAUUSD');
        const b = build(sb, 'XAGUSD');
        const r = preTrainingQuality(a, b, { calendar: '24/7' });
        const c = r.counts;
        const observedRows = c.outputBars - c.filledBars;
        const sum = (o: Partial<Record<string, number>>): number => Object.values(o).reduce<number>((x, y) => x + (y ?? 0), 0);
        expect(c.inputBarsA).toBe(c.duplicatesA + sum(c.rejectedA) + c.outliersSigmaA + c.outliersSpikeA + c.outliersUpstreamA + c.upstreamFilledA + c.unsyncedA + observedRows);
        expect(c.inputBarsB).toBe(c.duplicatesB + sum(c.rejectedB) + c.outliersSigmaB + c.outliersSpikeB + c.outliersUpstreamB + c.upstreamFilledB + c.unsyncedB + observedRows);
        expect(r.synthetic.reduce((x, y) => x + y, 0)).toBe(c.filledBars);
        let covered = 0;
        for (const s of r.segments) {
          expect(s.end).toBeGreaterThan(s.start);
          expect(s.start).toBe(covered);
          covered = s.end;
          for (let i = s.start + 1; i < s.end; i++) expect(r.bars[i]!.tsMs - r.bars[i - 1]!.tsMs).toBe(H);
        }
        expect(covered).toBe(r.bars.length);
        for (let k = 1; k < r.segments.length; k++) {
          const gapBars = (r.bars[r.segments[k]!.start]!.tsMs - r.bars[r.segments[k]!.start - 1]!.tsMs) / H - 1;
          expect(gapBars).toBeGreaterThan(2);
        }
        for (const x of r.bars) expect(x.a.close > 0 && x.b.close > 0).toBe(true);
      }),
      { numRuns: 150 },
    );
  });
});

function fixtureSeries(): PairSeries {
  const a = fixtureBars('A');
  const b = fixtureBars('B');
  expect(Array.from(b.tsMs)).toEqual(Array.from(a.tsMs));
  return { tsMs: a.tsMs, aOpen: a.open, aHigh: a.high, aLow: a.low, aClose: a.close, bOpen: b.open, bHigh: b.high, bLow: b.low, bClose: b.close };
}

/** The hash spelled out with a DataView, independently of the Buffer writes in the implementation. */
function referenceHash(s: PairSeries): string {
  const n = s.tsMs.length;
  const view = new DataView(new ArrayBuffer(4 + n * 72));
  view.setUint32(0, n, true);
  for (let i = 0; i < n; i++) {
    [s.tsMs, s.aOpen, s.aHigh, s.aLow, s.aClose, s.bOpen, s.bHigh, s.bLow, s.bClose].forEach((c, j) => view.setFloat64(4 + i * 72 + j * 8, c[i]!, true));
  }
  return createHash('sha256').update('noctria.features.pair-bars.v1\n').update(new Uint8Array(view.buffer)).digest('hex');
}

describe('buildLabelledDataset — fixture pair', () => {
  const f = fixtureFeatures();
  const series = fixtureSeries();
  const features = { tsMs: f.tsMs, columns: f.columns as Record<FeatureName, Float64Array>, schemaHash: 'fixture-schema' };
  const ds = buildLabelledDataset({ series, features });

  it('carries the fixture events and marks which are trainable', () => {
    expect(ds.ai1Events.map((e) => ({ ts: f.ts[e.startIndex], direction: e.direction, outcome: e.outcome }))).toEqual(fixtureAi1Events());
    const starts = ds.ai1Events.map((e) => e.startIndex);
    expect(Array.from(ds.ai1.isEvent).flatMap((v, i) => (v ? [i] : []))).toEqual(starts);
    // Trainable: features complete (slope_z from row 377 on) and not censored by the data end (the last event).
    const expected = starts.filter((s, k) => s >= 377 && k < starts.length - 1);
    expect(Array.from(ds.ai1.trainable).flatMap((v, i) => (v ? [i] : []))).toEqual(expected);
    expect(ds.featuresComplete.indexOf(1)).toBe(377);
  });

  it('AI1 weights: 1 success among 9 trainable events → ratio 8 capped at 5, mean weight 1', () => {
    const outcomes = Array.from(ds.ai1.trainable).flatMap((v, i) => (v ? [ds.ai1.outcome[i]!] : []));
    expect(outcomes.filter((o) => o === 1).length).toBe(1);
    expect(outcomes.length).toBe(9);
    // n = 9, n0 = 8, n1 = 1: w0 = 9 / (8 + 5·1) = 9/13, w1 = 5·9/13 = 45/13.
    expect(ds.ai1.classWeights.w0).toBeCloseTo(9 / 13, 14);
    expect(ds.ai1.classWeights.w1).toBeCloseTo(45 / 13, 14);
    const total = Array.from(ds.ai1.weight).reduce((x, y) => x + y, 0);
    expect(total).toBeCloseTo(9, 12);
  });

  it('AI2 with dd equals the fixture risk_wo_dd wherever the dd condition is 0, and adds it elsewhere', () => {
    const exp = fixtureAi2();
    const noDd = computeAi2Risk({ corrStability: f.columns.corr_stability!, volRatioSpread: f.columns.vol_ratio_spread!, absDeltaZ: f.columns.abs_delta_z! });
    for (let i = 0; i < ds.n; i++) {
      expect(ds.ai2.risk[i]).toBe(exp.risk[i]! | ds.ai2.dd[i]!);
      expect(ds.ai2.defined[i]).toBe(exp.defined[i]! | (Number.isNaN(ds.ai2.ddRecent[i]!) ? 0 : 1));
      expect(ds.ai2.speedEma[i]).toBe(noDd.speedEma[i]);
    }
    // The equity starts on the first bar with z and β (row 358), so dd makes rows 358 defined one bar earlier.
    expect(ds.ai2.defined.indexOf(1)).toBe(358);
    expect(ds.ai2.equity[358]).toBe(1);
    for (let i = 358; i < ds.n; i++) expect(ds.ai2.ddRecent[i]).toBeGreaterThanOrEqual(0);
  });

  it('AI2 weights over trainable rows follow the capped inverse-frequency formula', () => {
    let n0 = 0;
    let n1 = 0;
    for (let i = 0; i < ds.n; i++) {
      if (!ds.ai2.trainable[i]) continue;
      if (ds.ai2.risk[i]) n1++;
      else n0++;
    }
    expect(n0 + n1).toBe(ds.n - 377);
    const n = n0 + n1;
    const [maj, min] = n0 >= n1 ? [n0, n1] : [n1, n0];
    const wMaj = maj / min > 5 ? n / (maj + 5 * min) : n / (2 * maj);
    const wMin = maj / min > 5 ? 5 * wMaj : n / (2 * min);
    expect(ds.ai2.classWeights).toEqual(n0 >= n1 ? { w0: wMaj, w1: wMin } : { w0: wMin, w1: wMaj });
    for (let i = 0; i < ds.n; i++) {
      expect(ds.ai2.weight[i]).toBe(ds.ai2.trainable[i] ? (ds.ai2.risk[i] ? ds.ai2.classWeights.w1 : ds.ai2.classWeights.w0) : 0);
    }
  });

  it('hashes the bars canonically, records the parameters and is deterministic', () => {
    expect(ds.dataHash).toBe(referenceHash(series));
    expect(pairBarsHash(series)).toBe(ds.dataHash);
    const nudged = { ...series, bClose: Float64Array.from(series.bClose) };
    nudged.bClose[1000] = nudged.bClose[1000]! * (1 + Number.EPSILON);
    expect(pairBarsHash(nudged)).not.toBe(ds.dataHash);
    expect(ds.labelParams).toMatchObject({ zEntry: 2, zExit: 0.5, horizonBars: 48, riskDdWindowBars: 1440, classWeightMaxRatio: 5 });
    expect(ds.featureSchemaHash).toBe('fixture-schema');
    const again = buildLabelledDataset({ series, features });
    expect(again).toEqual(ds);
  });

  it('rows expose every feature and label column', () => {
    const rows = labelledRows(ds);
    expect(rows.length).toBe(2000);
    const last = ds.ai1Events[ds.ai1Events.length - 1]!;
    expect(rows[last.startIndex]!.ai1).toMatchObject({ isEvent: true, direction: 1, outcome: 0, endReason: 'data_end', trainable: false, weight: 0 });
    expect(rows[0]!.ai1).toMatchObject({ isEvent: false, outcome: null, endIndex: null, endReason: null });
    expect(Object.keys(rows[500]!.features)).toEqual([...FEATURE_NAMES]);
    expect(rows[500]!.features.z).toBe(f.columns.z![500]);
  });

  it('refuses features of other bars and non-contiguous input', () => {
    const shifted = { ...features, tsMs: Float64Array.from(f.tsMs, (t) => t + H) };
    expect(() => buildLabelledDataset({ series, features: shifted })).toThrow(/CORE_LABEL_INPUT/);
    const short = { ...series, aClose: series.aClose.subarray(1) };
    expect(() => buildLabelledDataset({ series: short, features })).toThrow(/CORE_LABEL_INPUT/);
    const missing = { ...features, columns: { ...features.columns, slope_z: undefined } as unknown as Record<FeatureName, Float64Array> };
    expect(() => buildLabelledDataset({ series, features: missing })).toThrow(/CORE_LABEL_INPUT/);
  });

  it('synthetic rows are never trainable', () => {
    const synthetic = new Uint8Array(ds.n);
    const firstTrainable = ds.ai1.trainable.indexOf(1);
    synthetic[firstTrainable] = 1;
    synthetic[1500] = 1;
    const s = buildLabelledDataset({ series, features, synthetic });
    expect(s.ai1.trainable[firstTrainable]).toBe(0);
    expect(s.ai2.trainable[1500]).toBe(0);
    expect(s.ai2.weight[1500]).toBe(0);
  });
});

function fixtureCanonical(leg: 'A' | 'B', symbol: string): CanonicalBar[] {
  const f = fixtureBars(leg);
  return f.ts.map((_, i) => ({
    ts_utc: new Date(f.tsMs[i]!).toISOString(),
    symbol,
    timeframe: '1h',
    open: f.open[i]!,
    high: f.high[i]!,
    low: f.low[i]!,
    close: f.close[i]!,
    volume: f.volume[i]!,
    quality_flag: 'ok',
    source_id: 'fixture',
    ingest_run_id: 'fixture',
    metadata: {},
  }));
}

describe('buildLabelledDatasetsFromBars — bars → DQ → features engine → labels', () => {
  const a = fixtureCanonical('A', 'AAAUSD');
  const b = fixtureCanonical('B', 'BBBUSD');

  it('with outlier exclusion off, the fixture bars give the fixture events and risk (features by the engine)', () => {
    const r = buildLabelledDatasetsFromBars(a, b, { dq: { calendar: '24/5', outlier_sigma: 1e9, dq_spike_k: 1e9 } });
    expect(r.quality.counts).toMatchObject({ outputBars: 2000, filledBars: 0, unsyncedA: 0, unsyncedB: 0, excludedGaps: 0, segments: 1 });
    expect(r.datasets.length).toBe(1);
    const ds = r.datasets[0]!.dataset;
    const f = fixtureFeatures();
    expect(ds.ai1Events.map((e) => ({ ts: f.ts[e.startIndex], direction: e.direction, outcome: e.outcome }))).toEqual(fixtureAi1Events());
    const exp = fixtureAi2();
    for (let i = 0; i < ds.n; i++) expect(ds.ai2.risk[i]).toBe(exp.risk[i]! | ds.ai2.dd[i]!);
    expect(ds.featuresComplete.indexOf(1)).toBe(377);
    expect(ds.dataHash).toBe(referenceHash(fixtureSeries()));
  });

  it('with the seed DQ, the leg-A jumps beyond ±8σ are excluded, interpolated, and never trained on', () => {
    const r = buildLabelledDatasetsFromBars(a, b, { dq: { calendar: '24/5' } });
    const c = r.quality.counts;
    expect(c.outliersSigmaA + c.outliersSpikeA).toBeGreaterThan(0);
    expect(c.outliersSigmaB + c.outliersSpikeB).toBe(0);
    expect(c.unsyncedB).toBe(c.outliersSigmaA + c.outliersSpikeA); // B's bars at the excluded times lose their partner
    expect(c.filledBars).toBe(c.unsyncedB); // every hole is short enough to fill
    const ds = r.datasets[0]!.dataset;
    expect(ds.synthetic.reduce((x, y) => x + y, 0)).toBe(c.filledBars);
    for (let i = 0; i < ds.n; i++) {
      if (ds.synthetic[i]) {
        expect([ds.ai1.trainable[i], ds.ai2.trainable[i], ds.ai2.weight[i]]).toEqual([0, 0, 0]);
      }
    }
  });

  it('features restart per segment and segments too short for one complete row are skipped', () => {
    const cut = (bars: CanonicalBar[]): CanonicalBar[] => [...bars.slice(0, 100), ...bars.slice(103)];
    const r = buildLabelledDatasetsFromBars(cut(a), cut(b), { dq: { calendar: '24/5', outlier_sigma: 1e9, dq_spike_k: 1e9 } });
    expect(r.quality.counts).toMatchObject({ excludedGaps: 1, excludedGapBars: 3, segments: 2 });
    expect(r.skippedSegments).toEqual([{ start: 0, end: 100 }]);
    expect(r.datasets.map((d) => d.segment)).toEqual([{ start: 100, end: 1997 }]);
    expect(r.datasets[0]!.dataset.featuresComplete.indexOf(1)).toBe(377);
    expect(() => buildLabelledDatasetsFromBars(a, b, { dq: { calendar: '24/5' }, minSegmentBars: 0 })).toThrow(/CORE_LABEL_PARAM/);
  });
});
