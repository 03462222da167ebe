import { createHash } from 'node:crypto';
import {
  alignPairs,
  countExpectedBars,
  expectedBarOpens,
  isSynthesizedBar,
  resolveDqOptions,
  runDq,
  synthesizeGapBars,
  timeframeMs,
  type CanonicalBar,
  type DqErrorId,
  type DqOptions,
  type DqReport,
} from '@noctria/canonical-bar';
import { computeFeatureMatrix } from './batch.js';
import { fullVectorWarmupBars } from './engine.js';
import { ai1Columns, computeAi1Events, type Ai1Columns, type Ai1Event } from './labels/ai1.js';
import { assertIncreasing, assertSameLength } from './labels/internal.js';
import { computeAi2Risk, plainZRuleDrawdown } from './labels/ai2.js';
import { LABEL_ERROR, labelError } from './labels/errors.js';
import { resolveLabelParams, type LabelParams } from './labels/params.js';
import { sampleWeights, type ClassWeights } from './labels/weights.js';
import type { FeatureParams } from './params.js';
import { FEATURE_NAMES, type FeatureName } from './schema.js';
import { pairSeriesFromBars, type PairBar, type PairSeries } from './types.js';

// ---------------------------------------------------------------------------------------------------------
// Training data quality (seeds/003 "データ品質（学習前処理）")

/**
 * Counts of {@link preTrainingQuality}, per reason ("A"/"B" are the legs). Every input bar is accounted for, per leg:
 * inputBars = duplicates + Σ rejected + outliersSigma + outliersSpike + outliersUpstream + upstreamFilled + unsynced
 * + (outputBars − filledBars).
 */
export interface PreTrainingQualityCounts {
  inputBarsA: number;
  inputBarsB: number;
  /** Earlier copies of a timestamp (latest wins). */
  duplicatesA: number;
  duplicatesB: number;
  /** Bars rejected by the price/timestamp rules, by DQ error id (DATA_DQ_NONPOS = zero/negative price, …). */
  rejectedA: Partial<Record<DqErrorId, number>>;
  rejectedB: Partial<Record<DqErrorId, number>>;
  /** Zero or negative prices (also inside rejectedA/B). */
  nonPositiveA: number;
  nonPositiveB: number;
  /** |log return| > outlier_sigma · σ (default ±8σ). */
  outliersSigmaA: number;
  outliersSigmaB: number;
  /** |Δclose| > dq_spike_k · median(|Δclose|). */
  outliersSpikeA: number;
  outliersSpikeB: number;
  /** Bars that arrived already flagged `outlier` by the ingest DQ. */
  outliersUpstreamA: number;
  outliersUpstreamB: number;
  /** Bars synthesised before this step (by the ingest gap fill), dropped so the gap rule sees them as missing. */
  upstreamFilledA: number;
  upstreamFilledB: number;
  /** Observed bars whose time has no observed bar of the other leg (dropped: leg synchronisation). */
  unsyncedA: number;
  unsyncedB: number;
  /** Pair rows synthesised for gaps of ≤ missing_fill_max_run expected bars. */
  filledBars: number;
  /** Gaps of more than missing_fill_max_run expected bars (the data is split there) and the bars they hold. */
  excludedGaps: number;
  excludedGapBars: number;
  outputBars: number;
  segments: number;
}

export interface PreTrainingQualityResult {
  /** Kept pair rows in time order (observed and synthesised). */
  bars: PairBar[];
  /** 1 where the row was synthesised by gap filling. */
  synthetic: Uint8Array;
  /** Maximal runs of calendar-adjacent rows, half-open [start, end) into `bars`; features restart per segment. */
  segments: { start: number; end: number }[];
  counts: PreTrainingQualityCounts;
  /** The per-leg reports of `runDq` (@noctria/canonical-bar). */
  reportA: DqReport;
  reportB: DqReport;
}

/**
 * Training-data quality for one pair, reusing the canonical-bar DQ (`runDq`, `alignPairs`, `synthesizeGapBars`,
 * calendar grid):
 *  1. each leg through `runDq` (sort, dedupe latest-wins, reject zero/negative, non-finite and OHLC-inconsistent
 *     prices, flag ±outlier_sigma·σ returns and spikes);
 *  2. excluded per leg: bars flagged `outlier` (σ, spike, or flagged upstream) — the seed's "±8σ 超過のバーは除外";
 *     synthesised bars (DQ gap fill, upstream or here) are dropped too, because the gap rule is applied once, below,
 *     to the pair, where an excluded or unsynchronised bar is as missing as one never delivered;
 *  3. leg synchronisation: inner join on bar time (`alignPairs`); bars of one leg only are dropped and counted;
 *  4. gaps between consecutive joined rows, counted in expected bars of the calendar grid: a gap of
 *     1 … missing_fill_max_run (default 2) bars is filled in both legs with `synthesizeGapBars` (forward-filled
 *     open, linearly interpolated close), a longer one is excluded and splits the data into segments.
 * Throws only for programming errors (mixed timeframes, invalid options); bad data is counted, never thrown.
 */
export function preTrainingQuality(a: readonly CanonicalBar[], b: readonly CanonicalBar[], options: DqOptions): PreTrainingQualityResult {
  const o = resolveDqOptions(options);
  const ra = runDq(a, options);
  const rb = runDq(b, options);
  const legA = keepObserved(ra.bars);
  const legB = keepObserved(rb.bars);
  const joined = alignPairs(legA.kept, legB.kept);
  const bars: PairBar[] = [];
  const synthetic: number[] = [];
  const segments: { start: number; end: number }[] = [];
  let filled = 0;
  let excludedGaps = 0;
  let excludedGapBars = 0;
  const pairs = joined.pairs;
  const tf = pairs.length > 0 ? pairs[0]!.a.timeframe : undefined;
  let segStart = 0;
  for (let k = 0; k < pairs.length; k++) {
    const q = pairs[k]!;
    if (k > 0 && tf !== undefined) {
      const p = pairs[k - 1]!;
      const d = timeframeMs(tf);
      const gap = countExpectedBars(p.tsMs + d, q.tsMs, tf, o.calendar);
      if (gap > o.missing_fill_max_run) {
        segments.push({ start: segStart, end: bars.length });
        segStart = bars.length;
        excludedGaps++;
        excludedGapBars += gap;
      } else if (gap > 0) {
        const opens = [...expectedBarOpens(p.tsMs + d, q.tsMs, tf, o.calendar)];
        const sa = synthesizeGapBars(p.a, q.a, opens, o.fill_ingest_run_id);
        const sb = synthesizeGapBars(p.b, q.b, opens, o.fill_ingest_run_id);
        for (let i = 0; i < opens.length; i++) {
          bars.push({ tsMs: opens[i]!, a: ohlc(sa[i]!), b: ohlc(sb[i]!) });
          synthetic.push(1);
        }
        filled += opens.length;
      }
    }
    bars.push({ tsMs: q.tsMs, a: ohlc(q.a), b: ohlc(q.b) });
    synthetic.push(0);
  }
  if (bars.length > segStart) segments.push({ start: segStart, end: bars.length });
  const nonPos = (r: DqReport): number => r.rejected_by_reason.DATA_DQ_NONPOS ?? 0;
  return {
    bars,
    synthetic: Uint8Array.from(synthetic),
    segments,
    counts: {
      inputBarsA: a.length,
      inputBarsB: b.length,
      duplicatesA: ra.report.duplicates_dropped,
      duplicatesB: rb.report.duplicates_dropped,
      rejectedA: { ...ra.report.rejected_by_reason },
      rejectedB: { ...rb.report.rejected_by_reason },
      nonPositiveA: nonPos(ra.report),
      nonPositiveB: nonPos(rb.report),
      outliersSigmaA: legA.sigma,
      outliersSigmaB: legB.sigma,
      outliersSpikeA: legA.spike,
      outliersSpikeB: legB.spike,
      outliersUpstreamA: legA.upstream,
      outliersUpstreamB: legB.upstream,
      upstreamFilledA: legA.synthetic - ra.report.filled_bars,
      upstreamFilledB: legB.synthetic - rb.report.filled_bars,
      unsyncedA: joined.aOnly,
      unsyncedB: joined.bOnly,
      filledBars: filled,
      excludedGaps,
      excludedGapBars,
      outputBars: bars.length,
      segments: segments.length,
    },
    reportA: ra.report,
    reportB: rb.report,
  };
}

function keepObserved(bars: readonly CanonicalBar[]): { kept: CanonicalBar[]; sigma: number; spike: number; upstream: number; synthetic: number } {
  const kept: CanonicalBar[] = [];
  let synthetic = 0;
  let sigma = 0;
  let spike = 0;
  let upstream = 0;
  for (const bar of bars) {
    if (isSynthesizedBar(bar)) {
      synthetic++;
      continue;
    }
    if (bar.quality_flag === 'outlier') {
      const reason = bar.metadata?.dq_reason;
      if (reason === 'sigma') sigma++;
      else if (reason === 'spike') spike++;
      else upstream++;
      continue;
    }
    kept.push(bar);
  }
  return { kept, sigma, spike, upstream, synthetic };
}

function ohlc(bar: CanonicalBar): PairBar['a'] {
  return { open: bar.open, high: bar.high, low: bar.low, close: bar.close };
}

// ---------------------------------------------------------------------------------------------------------
// Data hash

const HASH_HEADER = 'noctria.features.pair-bars.v1\n';

/**
 * sha256 (hex) identifying the input bars: the UTF-8 header `noctria.features.pair-bars.v1\n`, the row count as
 * a little-endian uint32, then per bar nine little-endian IEEE-754 float64 values in the order
 * tsMs, aOpen, aHigh, aLow, aClose, bOpen, bHigh, bLow, bClose. Bytes rather than text, so any language reproduces
 * it without agreeing on number formatting.
 */
export function pairBarsHash(s: PairSeries): string {
  const n = s.tsMs.length;
  const cols = [s.tsMs, s.aOpen, s.aHigh, s.aLow, s.aClose, s.bOpen, s.bHigh, s.bLow, s.bClose];
  assertSameLength('pairBarsHash', n, { aOpen: s.aOpen, aHigh: s.aHigh, aLow: s.aLow, aClose: s.aClose, bOpen: s.bOpen, bHigh: s.bHigh, bLow: s.bLow, bClose: s.bClose });
  const buf = Buffer.alloc(4 + n * 9 * 8);
  buf.writeUInt32LE(n, 0);
  let off = 4;
  for (let i = 0; i < n; i++) {
    for (const c of cols) {
      buf.writeDoubleLE(c[i]!, off);
      off += 8;
    }
  }
  return createHash('sha256').update(HASH_HEADER, 'utf8').update(buf).digest('hex');
}

// ---------------------------------------------------------------------------------------------------------
// Labelled dataset

export const LABELLED_DATASET_VERSION = 1;

export interface LabelledDatasetInput {
  /** The bars of one contiguous segment (e.g. one segment of {@link preTrainingQuality}). */
  series: PairSeries;
  /** The features of exactly these bars (a FeatureMatrix, or its tsMs + columns). */
  features: { tsMs: Float64Array; columns: Readonly<Record<FeatureName, Float64Array>>; schemaHash?: string };
  labelParams?: Partial<LabelParams>;
  /** 1 for rows synthesised by gap filling (not trainable); default none. */
  synthetic?: Uint8Array;
}

export interface LabelledDataset {
  version: typeof LABELLED_DATASET_VERSION;
  /** {@link pairBarsHash} of the input bars. */
  dataHash: string;
  featureSchemaHash: string | null;
  labelParams: LabelParams;
  n: number;
  tsMs: Float64Array;
  features: Record<FeatureName, Float64Array>;
  /** 1 where all 21 features are defined. */
  featuresComplete: Uint8Array;
  synthetic: Uint8Array;
  ai1Events: Ai1Event[];
  ai1: Ai1Columns & {
    /** Event start bars usable for training: complete features, observed bar, outcome not censored by the data end. */
    trainable: Uint8Array;
    /** Class weight of the outcome on trainable rows, 0 elsewhere. */
    weight: Float64Array;
    classWeights: ClassWeights;
  };
  ai2: {
    risk: Uint8Array;
    defined: Uint8Array;
    corr: Uint8Array;
    vol: Uint8Array;
    speed: Uint8Array;
    dd: Uint8Array;
    speedEma: Float64Array;
    ddRecent: Float64Array;
    /** Plain z rule equity behind ddRecent. */
    equity: Float64Array;
    /** Rows usable for training: risk defined, complete features, observed bar. */
    trainable: Uint8Array;
    weight: Float64Array;
    classWeights: ClassWeights;
  };
}

/**
 * Features + labels for one pair segment. AI1 and AI2 follow labels/ai1.ts and labels/ai2.ts (dd_recent from the
 * plain z rule on the segment's closes and β). Sample weights are the capped inverse-frequency class weights
 * (labels/weights.ts) computed over each task's trainable rows, 0 on the others. AI1 rows that are not event
 * starts carry no AI1 label. Deterministic: the same bars, features and parameters give the same dataset.
 */
export function buildLabelledDataset(input: LabelledDatasetInput): LabelledDataset {
  const p = resolveLabelParams(input.labelParams);
  const { series, features } = input;
  const n = series.tsMs.length;
  assertSameLength('buildLabelledDataset', n, { featuresTsMs: features.tsMs, aClose: series.aClose, bClose: series.bClose, synthetic: input.synthetic });
  assertIncreasing('buildLabelledDataset', series.tsMs);
  for (let i = 0; i < n; i++) {
    if (features.tsMs[i] !== series.tsMs[i]) throw labelError(LABEL_ERROR.INPUT, `features and bars differ in time at row ${i}`);
  }
  const cols = {} as Record<FeatureName, Float64Array>;
  for (const name of FEATURE_NAMES) {
    const c = features.columns[name];
    if (c === undefined) throw labelError(LABEL_ERROR.INPUT, `feature column ${name} is missing`);
    if (c.length !== n) throw labelError(LABEL_ERROR.INPUT, `feature column ${name} has length ${c.length}, expected ${n}`);
    cols[name] = Float64Array.from(c);
  }
  const synthetic = input.synthetic ? Uint8Array.from(input.synthetic) : new Uint8Array(n);
  const complete = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    let ok = 1;
    for (const name of FEATURE_NAMES) {
      if (!Number.isFinite(cols[name][i]!)) {
        ok = 0;
        break;
      }
    }
    complete[i] = ok;
  }

  const events = computeAi1Events({ tsMs: series.tsMs, z: cols.z, absDeltaZ: cols.abs_delta_z }, p);
  const a1 = ai1Columns(events, n);
  const a1Trainable = new Uint8Array(n);
  const a1Label = new Uint8Array(n);
  for (const e of events) {
    const i = e.startIndex;
    if (e.endReason !== 'data_end' && complete[i] === 1 && synthetic[i] === 0) a1Trainable[i] = 1;
    a1Label[i] = e.outcome;
  }
  const w1 = sampleWeights(a1Label, a1Trainable, p.classWeightMaxRatio);

  const zr = plainZRuleDrawdown({ z: cols.z, beta: cols.beta, closeA: series.aClose, closeB: series.bClose }, p);
  const risk = computeAi2Risk({ corrStability: cols.corr_stability, volRatioSpread: cols.vol_ratio_spread, absDeltaZ: cols.abs_delta_z, ddRecent: zr.ddRecent }, p);
  const a2Trainable = new Uint8Array(n);
  for (let i = 0; i < n; i++) a2Trainable[i] = risk.defined[i]! & complete[i]! & (synthetic[i]! ^ 1);
  const w2 = sampleWeights(risk.risk, a2Trainable, p.classWeightMaxRatio);

  return {
    version: LABELLED_DATASET_VERSION,
    dataHash: pairBarsHash(series),
    featureSchemaHash: features.schemaHash ?? null,
    labelParams: p,
    n,
    tsMs: Float64Array.from(series.tsMs),
    features: cols,
    featuresComplete: complete,
    synthetic,
    ai1Events: events,
    ai1: { ...a1, trainable: a1Trainable, weight: w1.weights, classWeights: w1.classWeights },
    ai2: {
      risk: risk.risk,
      defined: risk.defined,
      corr: risk.conditions.corr,
      vol: risk.conditions.vol,
      speed: risk.conditions.speed,
      dd: risk.conditions.dd,
      speedEma: risk.speedEma,
      ddRecent: zr.ddRecent,
      equity: zr.equity,
      trainable: a2Trainable,
      weight: w2.weights,
      classWeights: w2.classWeights,
    },
  };
}

/** One row of a {@link LabelledDataset} as a plain object (export, inspection). NaN features stay NaN. */
export interface LabelledRow {
  tsMs: number;
  features: Record<FeatureName, number>;
  featuresComplete: boolean;
  synthetic: boolean;
  ai1: {
    isEvent: boolean;
    direction: -1 | 0 | 1;
    outcome: 0 | 1 | null;
    endIndex: number | null;
    endReason: Ai1Event['endReason'] | null;
    trainable: boolean;
    weight: number;
  };
  ai2: { risk: 0 | 1; defined: boolean; corr: 0 | 1; vol: 0 | 1; speed: 0 | 1; dd: 0 | 1; speedEma: number; ddRecent: number; trainable: boolean; weight: number };
}

export function labelledRows(ds: LabelledDataset): LabelledRow[] {
  const rows: LabelledRow[] = [];
  for (let i = 0; i < ds.n; i++) {
    const features = {} as Record<FeatureName, number>;
    for (const name of FEATURE_NAMES) features[name] = ds.features[name][i]!;
    const ev = ds.ai1.isEvent[i] === 1;
    rows.push({
      tsMs: ds.tsMs[i]!,
      features,
      featuresComplete: ds.featuresComplete[i] === 1,
      synthetic: ds.synthetic[i] === 1,
      ai1: {
        isEvent: ev,
        direction: ds.ai1.direction[i] as -1 | 0 | 1,
        outcome: ev ? (ds.ai1.outcome[i] as 0 | 1) : null,
        endIndex: ev ? ds.ai1.endIndex[i]! : null,
        endReason: ds.ai1.endReason[i] ?? null,
        trainable: ds.ai1.trainable[i] === 1,
        weight: ds.ai1.weight[i]!,
      },
      ai2: {
        risk: ds.ai2.risk[i] as 0 | 1,
        defined: ds.ai2.defined[i] === 1,
        corr: ds.ai2.corr[i] as 0 | 1,
        vol: ds.ai2.vol[i] as 0 | 1,
        speed: ds.ai2.speed[i] as 0 | 1,
        dd: ds.ai2.dd[i] as 0 | 1,
        speedEma: ds.ai2.speedEma[i]!,
        ddRecent: ds.ai2.ddRecent[i]!,
        trainable: ds.ai2.trainable[i] === 1,
        weight: ds.ai2.weight[i]!,
      },
    });
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------------------
// Bars → datasets

export interface LabelledDatasetsFromBarsOptions {
  /** Training-data quality options (calendar required; thresholds default to the seed values). */
  dq: DqOptions;
  featureParams?: Partial<FeatureParams>;
  labelParams?: Partial<LabelParams>;
  /**
   * Segments with fewer rows are skipped (default: the full-vector warm-up + 1, i.e. the shortest segment that
   * yields at least one row with all 21 features).
   */
  minSegmentBars?: number;
}

export interface LabelledDatasetsFromBars {
  quality: PreTrainingQualityResult;
  /** One dataset per kept segment, with the segment's rows in `quality.bars`. */
  datasets: { segment: { start: number; end: number }; dataset: LabelledDataset }[];
  /** Segments shorter than minSegmentBars. */
  skippedSegments: { start: number; end: number }[];
}

/**
 * The whole training-data path for one pair: {@link preTrainingQuality} → per segment `computeFeatureMatrix` (the
 * features restart after every excluded gap) → {@link buildLabelledDataset} with the segment's synthetic flags.
 */
export function buildLabelledDatasetsFromBars(a: readonly CanonicalBar[], b: readonly CanonicalBar[], options: LabelledDatasetsFromBarsOptions): LabelledDatasetsFromBars {
  const labelParams = resolveLabelParams(options.labelParams);
  const minBars = options.minSegmentBars ?? fullVectorWarmupBars(options.featureParams) + 1;
  if (!Number.isInteger(minBars) || minBars < 1) throw labelError(LABEL_ERROR.PARAM, `minSegmentBars must be an integer ≥ 1, got ${String(minBars)}`);
  const quality = preTrainingQuality(a, b, options.dq);
  const datasets: LabelledDatasetsFromBars['datasets'] = [];
  const skippedSegments: LabelledDatasetsFromBars['skippedSegments'] = [];
  for (const segment of quality.segments) {
    if (segment.end - segment.start < minBars) {
      skippedSegments.push(segment);
      continue;
    }
    const series = pairSeriesFromBars(quality.bars.slice(segment.start, segment.end));
    const features = computeFeatureMatrix(series, options.featureParams);
    const dataset = buildLabelledDataset({ series, features, labelParams, synthetic: quality.synthetic.subarray(segment.start, segment.end) });
    datasets.push({ segment, dataset });
  }
  return { quality, datasets, skippedSegments };
}
