import { CanonicalBarError, DQ_ERROR, describeValue, type DqErrorId } from './errors.js';
import { RollingMedian, RollingStd, type RollingStdState } from './rolling.js';
import { formatTsUtc, parseTsUtcMs } from './time.js';
import {
  TIMEFRAME_MS,
  countExpectedBars,
  expectedBarOpens,
  firstTradingBarOpenAtOrAfter,
  isTimeframe,
  type Calendar,
} from './timeframe.js';
import type { CanonicalBar, Timeframe } from './types.js';
import { checkBarPrices } from './validate.js';

/**
 * Data-quality rules of seed 003 ("data-assets-pipeline 仕様 v1", DQ). Thresholds are options named after
 * the configuration keys, with the seed defaults.
 */
export interface DqOptions {
  /** Bar grid used for gap detection: `'24/5'` (FX/CFD) or `'24/7'`. Required. */
  calendar: Calendar;
  /** Gaps of at most this many bars are filled (default 2). */
  missing_fill_max_run?: number;
  /** |log return| beyond this many σ is an outlier (default 8). */
  outlier_sigma?: number;
  /** Returns in the σ window (default 180). */
  outlier_window?: number;
  /** Minimum returns in the σ window before judging (default 30). */
  outlier_min_returns?: number;
  /** Spike multiplier k: |Δclose| > k · median(|Δclose|) (default 12). */
  dq_spike_k?: number;
  /** |Δclose| values in the median window (default 180). */
  spike_window?: number;
  /** Minimum values in the median window before judging spikes (default 30). */
  spike_min_count?: number;
  /** `ingest_run_id` of synthesized bars (default: that of the observed bar after the gap). */
  fill_ingest_run_id?: string;
}

export type ResolvedDqOptions = Required<Omit<DqOptions, 'fill_ingest_run_id'>> & { fill_ingest_run_id: string | undefined };

export const DQ_DEFAULTS = Object.freeze({
  missing_fill_max_run: 2,
  outlier_sigma: 8,
  outlier_window: 180,
  outlier_min_returns: 30,
  dq_spike_k: 12,
  spike_window: 180,
  spike_min_count: 30,
});

function cfg(message: string): never {
  throw new CanonicalBarError(DQ_ERROR.CONFIG, message);
}

/** Applies defaults and checks the options (throws `DATA_DQ_CONFIG`). */
export function resolveDqOptions(options: DqOptions): ResolvedDqOptions {
  if (!options || (options.calendar !== '24/5' && options.calendar !== '24/7')) {
    cfg(`calendar must be '24/5' or '24/7', got ${describeValue(options?.calendar)}`);
  }
  const r: ResolvedDqOptions = {
    ...DQ_DEFAULTS,
    ...stripUndefined(options),
    calendar: options.calendar,
    fill_ingest_run_id: options.fill_ingest_run_id,
  };
  const int = (k: keyof typeof DQ_DEFAULTS, min: number): void => {
    const v = r[k];
    if (!Number.isInteger(v) || v < min) cfg(`${k} must be an integer ≥ ${min}, got ${describeValue(v)}`);
  };
  int('missing_fill_max_run', 0);
  int('outlier_window', 2);
  int('outlier_min_returns', 2);
  int('spike_window', 1);
  int('spike_min_count', 1);
  if (r.outlier_min_returns > r.outlier_window) cfg('outlier_min_returns must not exceed outlier_window');
  if (r.spike_min_count > r.spike_window) cfg('spike_min_count must not exceed spike_window');
  for (const k of ['outlier_sigma', 'dq_spike_k'] as const) {
    if (!(typeof r[k] === 'number' && r[k] > 0 && Number.isFinite(r[k]))) cfg(`${k} must be a finite number > 0, got ${describeValue(r[k])}`);
  }
  if (r.fill_ingest_run_id !== undefined && (typeof r.fill_ingest_run_id !== 'string' || r.fill_ingest_run_id.length === 0)) {
    cfg('fill_ingest_run_id must be a non-empty string');
  }
  return r;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const k of Object.keys(o) as (keyof T)[]) if (o[k] !== undefined) out[k] = o[k];
  return out;
}

/** A run of expected bars that is not filled: `[fromMs, toMs)` holding `bars` expected bars, flag `missing`. */
export interface GapRange {
  /** Open time of the first missing bar. */
  fromMs: number;
  /** Open time of the observed bar that ends the gap (exclusive end). */
  toMs: number;
  /** Expected (trading) bars in the gap. */
  bars: number;
  quality_flag: 'missing';
}

export interface DqRejection {
  /** Position in the input (batch) or push sequence number (streaming). */
  index: number;
  ts_utc: string;
  errorId: DqErrorId;
  field: string;
  message: string;
}

export interface DqCounters {
  input_bars: number;
  output_bars: number;
  /** Bars that arrived after a later bar (timestamp below the maximum seen so far): re-sorted. */
  reordered: number;
  /** Earlier copies of a timestamp dropped (latest in input order wins). */
  duplicates_dropped: number;
  rejected: number;
  rejected_by_reason: Partial<Record<DqErrorId, number>>;
  /** Synthesized (interpolated) bars. */
  filled_bars: number;
  /** Expected bars inside unfilled gaps. */
  missing_bars: number;
  gap_count: number;
  /** Expected (trading) bars from the first to the last output bar inclusive. */
  expected_bars: number;
  outliers_sigma: number;
  outliers_spike: number;
  /** Output bars flagged `outlier` (including bars flagged before this run). */
  outlier_bars: number;
  /** missing_bars / expected_bars (0 when nothing is expected). */
  missing_rate: number;
  /** outlier_bars / output_bars (0 when there is no output). */
  outlier_rate: number;
}

export interface DqReport extends DqCounters {
  gaps: GapRange[];
  rejections: DqRejection[];
}

export interface DqResult {
  bars: CanonicalBar[];
  report: DqReport;
}

/** Synthesized bars are recognised by this metadata marker. */
export const DQ_FILL_MARKER = 'interpolated';

export function isSynthesizedBar(bar: CanonicalBar): boolean {
  return bar.metadata?.dq_fill === DQ_FILL_MARKER;
}

function assertSeries(bars: readonly CanonicalBar[]): Timeframe | undefined {
  if (bars.length === 0) return undefined;
  const { symbol, timeframe } = bars[0]!;
  if (!isTimeframe(timeframe)) throw new CanonicalBarError(DQ_ERROR.TFRAME, `unknown timeframe ${describeValue(timeframe)}`);
  for (let i = 1; i < bars.length; i++) {
    const b = bars[i]!;
    if (b.symbol !== symbol || b.timeframe !== timeframe) {
      throw new CanonicalBarError(DQ_ERROR.SERIES, `bar ${i} is ${b.symbol}/${b.timeframe}; DQ runs on one series (${symbol}/${timeframe})`);
    }
  }
  return timeframe;
}

function rejection(index: number, bar: CanonicalBar, errorId: DqErrorId, field: string, message: string): DqRejection {
  return { index, ts_utc: typeof bar.ts_utc === 'string' ? bar.ts_utc : String(bar.ts_utc), errorId, field, message };
}

// ---------------------------------------------------------------------------------------------------------
// Rule 1: order

export interface SortResult {
  bars: CanonicalBar[];
  /** Epoch ms of each output bar. */
  ms: number[];
  /** Input position of each output bar. */
  indices: number[];
  reordered: number;
  /** Bars whose ts_utc is not canonical (DATA_DQ_TSFMT) or not on a timeframe boundary (DATA_DQ_ALIGN). */
  rejected: DqRejection[];
}

interface SortedIndex {
  /** Input positions in time order (stable). */
  idx: number[];
  ms: number[];
  reordered: number;
  rejected: DqRejection[];
}

function sortIndex(bars: readonly CanonicalBar[], tf: Timeframe): SortedIndex {
  const d = TIMEFRAME_MS[tf];
  const idx: number[] = [];
  const ms: number[] = [];
  const rejected: DqRejection[] = [];
  let reordered = 0;
  let maxMs = -Infinity;
  for (let i = 0; i < bars.length; i++) {
    const b = bars[i]!;
    const t = typeof b.ts_utc === 'string' ? parseTsUtcMs(b.ts_utc) : NaN;
    if (t !== t) {
      rejected.push(rejection(i, b, DQ_ERROR.TSFMT, 'ts_utc', `ts_utc ${describeValue(b.ts_utc)} is not canonical RFC3339 UTC with milliseconds`));
      continue;
    }
    if (t % d !== 0) {
      rejected.push(rejection(i, b, DQ_ERROR.ALIGN, 'ts_utc', `ts_utc ${b.ts_utc} is not on a ${tf} bar boundary`));
      continue;
    }
    if (t < maxMs) reordered++;
    else maxMs = t;
    idx.push(i);
    ms.push(t);
  }
  if (reordered === 0) return { idx, ms, reordered, rejected };
  const order = Array.from({ length: idx.length }, (_, k) => k);
  order.sort((x, y) => ms[x]! - ms[y]! || x - y);
  return { idx: order.map((k) => idx[k]!), ms: order.map((k) => ms[k]!), reordered, rejected };
}

/**
 * Sorts one series by time (stable: bars with equal timestamps keep their input order). `reordered` counts
 * bars whose timestamp is below the maximum timestamp of the bars before them. Bars with a non-canonical or
 * misaligned `ts_utc` cannot be placed on the grid and are rejected here.
 */
export function sortByTime(bars: readonly CanonicalBar[]): SortResult {
  const tf = assertSeries(bars);
  if (tf === undefined) return { bars: [], ms: [], indices: [], reordered: 0, rejected: [] };
  const r = sortIndex(bars, tf);
  return { bars: r.idx.map((i) => bars[i]!), ms: r.ms, indices: r.idx, reordered: r.reordered, rejected: r.rejected };
}

// ---------------------------------------------------------------------------------------------------------
// Rule 2: duplicates

export interface DedupeResult {
  bars: CanonicalBar[];
  ms: number[];
  /** `indices` of the kept bars when indices were given, else their positions in the input. */
  indices: number[];
  dropped: number;
}

/**
 * De-duplicates a time-sorted series on `(symbol, timeframe, ts_utc)`, latest wins: among bars with the
 * same timestamp the one that comes last (for {@link sortByTime} output: last in input order) is kept.
 */
export function dedupeLatestWins(bars: readonly CanonicalBar[], ms?: readonly number[], indices?: readonly number[]): DedupeResult {
  assertSeries(bars);
  const times = ms ?? bars.map((b) => parseTsUtcMs(b.ts_utc));
  const outBars: CanonicalBar[] = [];
  const outMs: number[] = [];
  const outIdx: number[] = [];
  let dropped = 0;
  for (let i = 0; i < bars.length; i++) {
    const t = times[i]!;
    const idx = indices ? indices[i]! : i;
    if (outMs.length > 0 && outMs[outMs.length - 1] === t) {
      outBars[outBars.length - 1] = bars[i]!;
      outIdx[outIdx.length - 1] = idx;
      dropped++;
    } else {
      if (outMs.length > 0 && t < outMs[outMs.length - 1]!) {
        throw new CanonicalBarError(DQ_ERROR.ORDER, `dedupeLatestWins needs time-sorted input (bar ${i})`);
      }
      outBars.push(bars[i]!);
      outMs.push(t);
      outIdx.push(idx);
    }
  }
  return { bars: outBars, ms: outMs, indices: outIdx, dropped };
}

// ---------------------------------------------------------------------------------------------------------
// Rule 3: invalid prices

export interface PriceCheckResult {
  bars: CanonicalBar[];
  ms: number[];
  rejected: DqRejection[];
  by_reason: Partial<Record<DqErrorId, number>>;
}

/**
 * Rejects bars with a zero/negative (`DATA_DQ_NONPOS`), non-finite (`DATA_DQ_NONFIN`) or non-numeric
 * (`DATA_DQ_FIELD`) price, inconsistent OHLC (`DATA_DQ_OHLC`) or an invalid volume (`DATA_DQ_VOLUME`).
 * `indices` maps each bar to its input position for the rejection records (default: its position here).
 */
export function rejectInvalidPrices(bars: readonly CanonicalBar[], ms?: readonly number[], indices?: readonly number[]): PriceCheckResult {
  const times = ms ?? bars.map((b) => parseTsUtcMs(b.ts_utc));
  const out: CanonicalBar[] = [];
  const outMs: number[] = [];
  const rejected: DqRejection[] = [];
  const by_reason: Partial<Record<DqErrorId, number>> = {};
  for (let i = 0; i < bars.length; i++) {
    const b = bars[i]!;
    const issue = checkBarPrices(b);
    if (issue === null) {
      out.push(b);
      outMs.push(times[i]!);
    } else {
      rejected.push(rejection(indices ? indices[i]! : i, b, issue.errorId, issue.field, issue.message));
      by_reason[issue.errorId] = (by_reason[issue.errorId] ?? 0) + 1;
    }
  }
  return { bars: out, ms: outMs, rejected, by_reason };
}

// ---------------------------------------------------------------------------------------------------------
// Rule 4: gaps

/**
 * Synthesizes the bars of a short gap between `prev` and `next` at the given opens (the calendar grid).
 * Bar k (1-based, of m): open = previous bar's close (forward fill; prev.close for k = 1), close = linear
 * interpolation by grid position `prev.close + (next.close − prev.close) · k / (m + 1)`,
 * high = max(open, close), low = min(open, close), volume null, flag `resampled`,
 * `metadata.dq_fill = 'interpolated'`, `source_id` of `prev`.
 */
export function synthesizeGapBars(
  prev: CanonicalBar,
  next: CanonicalBar,
  opens: readonly number[],
  ingestRunId?: string,
): CanonicalBar[] {
  const m = opens.length;
  const out: CanonicalBar[] = [];
  let open = prev.close;
  for (let k = 1; k <= m; k++) {
    const close = prev.close + ((next.close - prev.close) * k) / (m + 1);
    out.push({
      ts_utc: formatTsUtc(opens[k - 1]!),
      symbol: prev.symbol,
      timeframe: prev.timeframe,
      open,
      high: Math.max(open, close),
      low: Math.min(open, close),
      close,
      volume: null,
      quality_flag: 'resampled',
      source_id: prev.source_id,
      ingest_run_id: ingestRunId ?? next.ingest_run_id,
      metadata: { dq_fill: DQ_FILL_MARKER },
    });
    open = close;
  }
  return out;
}

export interface GapFillResult {
  bars: CanonicalBar[];
  ms: number[];
  filled_bars: number;
  missing_bars: number;
  gaps: GapRange[];
  expected_bars: number;
}

/**
 * Gap handling of a sorted, unique series against the calendar's expected bar grid. Between two
 * consecutive bars, the expected opens strictly between them form the gap: a gap of
 * 1..`missing_fill_max_run` bars is filled with {@link synthesizeGapBars}; a longer gap is not filled and is
 * reported as a {@link GapRange} whose bars count as missing. Leading/trailing gaps outside the observed
 * span are not considered. `expected_bars` counts the grid from the first to the last bar inclusive.
 */
export function fillGaps(bars: readonly CanonicalBar[], options: DqOptions, ms?: readonly number[]): GapFillResult {
  const o = resolveDqOptions(options);
  const tf = assertSeries(bars);
  if (tf === undefined) return { bars: [], ms: [], filled_bars: 0, missing_bars: 0, gaps: [], expected_bars: 0 };
  const d = TIMEFRAME_MS[tf];
  const times = ms ?? bars.map((b) => parseTsUtcMs(b.ts_utc));
  const out: CanonicalBar[] = [bars[0]!];
  const outMs: number[] = [times[0]!];
  const gaps: GapRange[] = [];
  let filled = 0;
  let missing = 0;
  for (let i = 1; i < bars.length; i++) {
    const prevMs = times[i - 1]!;
    const t = times[i]!;
    if (!(t > prevMs)) throw new CanonicalBarError(DQ_ERROR.ORDER, `fillGaps needs strictly increasing times (bar ${i})`);
    const gap = countExpectedBars(prevMs + d, t, tf, o.calendar);
    if (gap > 0) {
      if (gap <= o.missing_fill_max_run) {
        const opens = [...expectedBarOpens(prevMs + d, t, tf, o.calendar)];
        for (const b of synthesizeGapBars(bars[i - 1]!, bars[i]!, opens, o.fill_ingest_run_id)) out.push(b);
        for (const x of opens) outMs.push(x);
        filled += gap;
      } else {
        gaps.push({ fromMs: firstTradingBarOpenAtOrAfter(prevMs + d, tf, o.calendar), toMs: t, bars: gap, quality_flag: 'missing' });
        missing += gap;
      }
    }
    out.push(bars[i]!);
    outMs.push(t);
  }
  const expected = countExpectedBars(times[0]!, times[times.length - 1]! + d, tf, o.calendar);
  return { bars: out, ms: outMs, filled_bars: filled, missing_bars: missing, gaps, expected_bars: expected };
}

// ---------------------------------------------------------------------------------------------------------
// Rules 5 + 6: outliers (σ) and spikes (median)

/** Reason recorded in `metadata.dq_reason` of a bar flagged `outlier`. */
export type OutlierReason = 'sigma' | 'spike';

export interface OutlierJudgeState {
  prevClose: number | null;
  sigma: RollingStdState;
  spike: number[];
}

/**
 * Per-bar core of the outlier and spike rules, shared by the batch and the streaming paths.
 * For a bar whose predecessor in the series is grid-adjacent (no expected bar between them):
 *   r = ln(close / prevClose), Δ = |close − prevClose|;
 *   1. σ rule: with ≥ `outlier_min_returns` returns in the σ window and σ > 0, `|r| > outlier_sigma · σ`
 *      → outlier (`sigma`); σ is the sample std of the last `outlier_window` returns of unflagged bars;
 *   2. spike rule (only if not already flagged): with ≥ `spike_min_count` values in the median window and
 *      median > 0, `Δ > dq_spike_k · median` → outlier (`spike`); the window holds the last `spike_window`
 *      Δ of unflagged bars.
 *   Unflagged bars push r and Δ into the windows. Bars after a gap, synthesized bars and bars already
 *   flagged `outlier` on input are not judged and feed no window; every bar's close becomes the reference
 *   for the next bar (so a one-bar spike also flags the following bar, whose return is measured from it).
 *   Zero dispersion (σ = 0 or median = 0) judges nothing.
 * Both rules live in one pass because each window excludes bars flagged by either rule; this is also what
 * makes `runDq` idempotent (a second run sees the same unflagged bars, hence the same windows).
 */
export class OutlierJudge {
  private readonly sig: RollingStd;
  private readonly med: RollingMedian;
  private prevClose: number | null = null;

  constructor(
    private readonly o: ResolvedDqOptions,
    state?: OutlierJudgeState,
  ) {
    this.sig = state ? RollingStd.restore(o.outlier_window, state.sigma) : new RollingStd(o.outlier_window);
    this.med = state ? RollingMedian.restore(o.spike_window, state.spike) : new RollingMedian(o.spike_window);
    if (state) this.prevClose = state.prevClose;
  }

  /** `gapBefore`: expected (calendar) bars strictly between the previous bar and this one. */
  judge(bar: CanonicalBar, gapBefore: number): OutlierReason | null {
    const prevClose = this.prevClose;
    const close = bar.close;
    this.prevClose = close;
    if (prevClose === null || gapBefore !== 0 || bar.quality_flag === 'outlier' || isSynthesizedBar(bar)) return null;
    const r = Math.log(close / prevClose);
    const delta = Math.abs(close - prevClose);
    const o = this.o;
    if (this.sig.count >= o.outlier_min_returns) {
      const s = this.sig.std();
      if (s > 0 && Math.abs(r) > o.outlier_sigma * s) return 'sigma';
    }
    if (this.med.count >= o.spike_min_count) {
      const m = this.med.median();
      if (m > 0 && delta > o.dq_spike_k * m) return 'spike';
    }
    this.sig.push(r);
    this.med.push(delta);
    return null;
  }

  snapshot(): OutlierJudgeState {
    return { prevClose: this.prevClose, sigma: this.sig.snapshot(), spike: this.med.values() };
  }
}

function flagBar(bar: CanonicalBar, reason: OutlierReason): CanonicalBar {
  return { ...bar, quality_flag: 'outlier', metadata: { ...bar.metadata, dq_reason: reason } };
}

export interface OutlierResult {
  bars: CanonicalBar[];
  outliers_sigma: number;
  outliers_spike: number;
  /** Bars flagged `outlier` in the output (new and pre-existing). */
  outlier_bars: number;
}

/**
 * Outlier (σ) and spike rules over a sorted, unique series (see {@link OutlierJudge}). Flagged bars are
 * copies with `quality_flag = 'outlier'` and `metadata.dq_reason` `'sigma'` or `'spike'`; other bars are
 * returned as they are.
 */
export function flagOutliers(bars: readonly CanonicalBar[], options: DqOptions, ms?: readonly number[]): OutlierResult {
  const o = resolveDqOptions(options);
  const tf = assertSeries(bars);
  if (tf === undefined) return { bars: [], outliers_sigma: 0, outliers_spike: 0, outlier_bars: 0 };
  const d = TIMEFRAME_MS[tf];
  const times = ms ?? bars.map((b) => parseTsUtcMs(b.ts_utc));
  const judge = new OutlierJudge(o);
  const out = new Array<CanonicalBar>(bars.length);
  let sigma = 0;
  let spike = 0;
  let flagged = 0;
  for (let i = 0; i < bars.length; i++) {
    const b = bars[i]!;
    const gap = i === 0 ? 0 : countExpectedBars(times[i - 1]! + d, times[i]!, tf, o.calendar);
    const verdict = judge.judge(b, gap);
    if (verdict === null) {
      out[i] = b;
      if (b.quality_flag === 'outlier') flagged++;
    } else {
      out[i] = flagBar(b, verdict);
      flagged++;
      if (verdict === 'sigma') sigma++;
      else spike++;
    }
  }
  return { bars: out, outliers_sigma: sigma, outliers_spike: spike, outlier_bars: flagged };
}

// ---------------------------------------------------------------------------------------------------------
// Shared per-bar engine (rules 3–6 on time-ordered unique bars) of runDq and DqChecker

/** Counters carried in {@link DqState} (the rates and expected_bars are derived on report). */
export type DqStateCounters = Omit<DqCounters, 'missing_rate' | 'outlier_rate' | 'expected_bars'>;

function emptyCounters(): DqStateCounters {
  return {
    input_bars: 0,
    output_bars: 0,
    reordered: 0,
    duplicates_dropped: 0,
    rejected: 0,
    rejected_by_reason: {},
    filled_bars: 0,
    missing_bars: 0,
    gap_count: 0,
    outliers_sigma: 0,
    outliers_spike: 0,
    outlier_bars: 0,
  };
}

class DqEngine {
  readonly d: number;
  judge: OutlierJudge;
  last: CanonicalBar | null = null;
  lastMs: number | null = null;
  firstMs: number | null = null;
  counters: DqStateCounters = emptyCounters();
  gaps: GapRange[] = [];
  rejections: DqRejection[] = [];
  lastGap: GapRange | null = null;

  constructor(
    readonly o: ResolvedDqOptions,
    readonly tf: Timeframe,
    judgeState?: OutlierJudgeState,
  ) {
    this.d = TIMEFRAME_MS[tf];
    this.judge = new OutlierJudge(o, judgeState);
  }

  reject(r: DqRejection): void {
    const c = this.counters;
    c.rejected++;
    c.rejected_by_reason[r.errorId] = (c.rejected_by_reason[r.errorId] ?? 0) + 1;
    this.rejections.push(r);
  }

  /**
   * Rules 3–6 for one bar later than every bar before it. Appends the synthesized gap bars and the bar
   * (possibly flagged) to `out`; returns false when the bar is rejected for its prices.
   */
  accept(bar: CanonicalBar, ms: number, index: number, out: CanonicalBar[]): boolean {
    this.lastGap = null;
    const issue = checkBarPrices(bar);
    if (issue !== null) {
      this.reject(rejection(index, bar, issue.errorId, issue.field, issue.message));
      return false;
    }
    const c = this.counters;
    const o = this.o;
    const last = this.last;
    const lastMs = this.lastMs;
    let gap = 0;
    if (last !== null && lastMs !== null) {
      gap = countExpectedBars(lastMs + this.d, ms, this.tf, o.calendar);
      if (gap > 0 && gap <= o.missing_fill_max_run) {
        const opens = [...expectedBarOpens(lastMs + this.d, ms, this.tf, o.calendar)];
        const synth = synthesizeGapBars(last, bar, opens, o.fill_ingest_run_id);
        for (let k = 0; k < synth.length; k++) {
          this.judge.judge(synth[k]!, 0); // synthesized: never flagged, only moves the reference close
          out.push(synth[k]!);
        }
        c.filled_bars += gap;
        c.output_bars += gap;
        gap = 0; // the bar is now grid-adjacent to the last synthesized bar
      } else if (gap > 0) {
        const g: GapRange = { fromMs: firstTradingBarOpenAtOrAfter(lastMs + this.d, this.tf, o.calendar), toMs: ms, bars: gap, quality_flag: 'missing' };
        this.gaps.push(g);
        this.lastGap = g;
        c.missing_bars += gap;
        c.gap_count++;
      }
    }
    const verdict = this.judge.judge(bar, gap);
    if (verdict === null) {
      out.push(bar);
      if (bar.quality_flag === 'outlier') c.outlier_bars++;
    } else {
      out.push(flagBar(bar, verdict));
      c.outlier_bars++;
      if (verdict === 'sigma') c.outliers_sigma++;
      else c.outliers_spike++;
    }
    c.output_bars++;
    this.last = bar;
    this.lastMs = ms;
    if (this.firstMs === null) this.firstMs = ms;
    return true;
  }

  report(): DqReport {
    const c = this.counters;
    const expected = this.firstMs === null || this.lastMs === null ? 0 : countExpectedBars(this.firstMs, this.lastMs + this.d, this.tf, this.o.calendar);
    return {
      ...c,
      rejected_by_reason: { ...c.rejected_by_reason },
      expected_bars: expected,
      missing_rate: expected === 0 ? 0 : c.missing_bars / expected,
      outlier_rate: c.output_bars === 0 ? 0 : c.outlier_bars / c.output_bars,
      gaps: this.gaps.slice(),
      rejections: this.rejections.slice(),
    };
  }
}

function emptyReport(inputBars: number): DqReport {
  return { ...emptyCounters(), input_bars: inputBars, expected_bars: 0, missing_rate: 0, outlier_rate: 0, gaps: [], rejections: [] };
}

// ---------------------------------------------------------------------------------------------------------
// Pipeline

/**
 * The DQ pipeline over one series (one symbol and timeframe; throws `DATA_DQ_SERIES` otherwise), in this
 * order: {@link sortByTime} → {@link dedupeLatestWins} → {@link rejectInvalidPrices} → {@link fillGaps} →
 * {@link flagOutliers} (σ rule, then spike rule). It gives exactly the result of composing those functions
 * (tested), in one fused pass after the sort. Never throws for bad data; the output has strictly increasing
 * unique timestamps, and `runDq(runDq(x).bars)` returns the same bars.
 */
export function runDq(bars: readonly CanonicalBar[], options: DqOptions): DqResult {
  const o = resolveDqOptions(options);
  const tf = assertSeries(bars);
  if (tf === undefined) return { bars: [], report: emptyReport(0) };
  const sorted = sortIndex(bars, tf);
  const engine = new DqEngine(o, tf);
  const { idx, ms } = sorted;
  const n = idx.length;
  const out: CanonicalBar[] = [];
  let dropped = 0;
  for (let k = 0; k < n; k++) {
    const t = ms[k]!;
    if (k + 1 < n && ms[k + 1] === t) {
      dropped++; // a later element (in input order) has the same timestamp: it wins
      continue;
    }
    const i = idx[k]!;
    engine.accept(bars[i]!, t, i, out);
  }
  const report = engine.report();
  report.input_bars = bars.length;
  report.reordered = sorted.reordered;
  report.duplicates_dropped = dropped;
  if (sorted.rejected.length > 0) {
    for (const r of sorted.rejected) report.rejected_by_reason[r.errorId] = (report.rejected_by_reason[r.errorId] ?? 0) + 1;
    report.rejections = [...sorted.rejected, ...report.rejections].sort((a, b) => a.index - b.index);
    report.rejected = report.rejections.length;
  } else if (sorted.reordered > 0) {
    report.rejections.sort((a, b) => a.index - b.index);
  }
  return { bars: out, report };
}

// ---------------------------------------------------------------------------------------------------------
// Streaming

/** Serializable state of a {@link DqChecker}: carry it across restarts with `DqChecker.restore`. */
export interface DqState {
  version: 1;
  symbol: string | null;
  timeframe: Timeframe | null;
  /** Last accepted bar (reference for gap fill and adjacency). */
  last: CanonicalBar | null;
  lastMs: number | null;
  firstMs: number | null;
  seq: number;
  judge: OutlierJudgeState | null;
  counters: DqStateCounters;
  gaps: GapRange[];
  rejections: DqRejection[];
}

export interface DqPushResult {
  /** Bars to publish/store, in time order: synthesized gap bars (if any), then the pushed bar (possibly flagged). */
  bars: CanonicalBar[];
  /** Set when the pushed bar was rejected (then `bars` is empty). */
  rejected: DqRejection | null;
  /** Set when the pushed bar closes a gap too long to fill. */
  gap: GapRange | null;
}

/**
 * Incremental DQ checker for live ingestion: bars of one series are pushed one at a time in time order and
 * get exactly the treatment of {@link runDq} (price rejection, gap fill/report, σ and spike flags), with the
 * previous close and the rolling σ / median windows carried in state (see {@link DqChecker.snapshot}).
 * For time-ordered unique input the emitted bars and the report equal `runDq` on the whole series.
 * Streaming cannot re-sort or replace an already-emitted bar, so a bar not after the last accepted one is
 * rejected: `DATA_DQ_DUP` (same time, also counted in `duplicates_dropped`) or `DATA_DQ_LATE` (older).
 */
export class DqChecker {
  private readonly o: ResolvedDqOptions;
  private symbol: string | null = null;
  private engine: DqEngine | null = null;
  private seq = 0;

  constructor(options: DqOptions, state?: DqState) {
    this.o = resolveDqOptions(options);
    if (state) {
      if (state.version !== 1) cfg('unsupported DqState version');
      const s = structuredClone(state);
      this.symbol = s.symbol;
      this.seq = s.seq;
      if (s.timeframe !== null) {
        const e = new DqEngine(this.o, s.timeframe, s.judge ?? undefined);
        e.last = s.last;
        e.lastMs = s.lastMs;
        e.firstMs = s.firstMs;
        e.counters = s.counters;
        e.gaps = s.gaps;
        e.rejections = s.rejections;
        this.engine = e;
      }
    }
  }

  /** Rebuilds a checker from {@link DqChecker.snapshot} output (JSON round-trip safe). */
  static restore(state: DqState, options: DqOptions): DqChecker {
    return new DqChecker(options, state);
  }

  snapshot(): DqState {
    const e = this.engine;
    return structuredClone({
      version: 1 as const,
      symbol: this.symbol,
      timeframe: e ? e.tf : null,
      last: e ? e.last : null,
      lastMs: e ? e.lastMs : null,
      firstMs: e ? e.firstMs : null,
      seq: this.seq,
      judge: e ? e.judge.snapshot() : null,
      counters: e ? e.counters : emptyCounters(),
      gaps: e ? e.gaps : [],
      rejections: e ? e.rejections : [],
    });
  }

  push(bar: CanonicalBar): DqPushResult {
    const index = this.seq++;
    if (this.engine === null) {
      if (!isTimeframe(bar.timeframe)) throw new CanonicalBarError(DQ_ERROR.TFRAME, `unknown timeframe ${describeValue(bar.timeframe)}`);
      this.symbol = bar.symbol;
      this.engine = new DqEngine(this.o, bar.timeframe);
    } else if (bar.symbol !== this.symbol || bar.timeframe !== this.engine.tf) {
      throw new CanonicalBarError(DQ_ERROR.SERIES, `bar is ${bar.symbol}/${bar.timeframe}; this checker runs on ${this.symbol}/${this.engine.tf}`);
    }
    const e = this.engine;
    e.counters.input_bars++;
    const fail = (errorId: DqErrorId, message: string): DqPushResult => {
      const r = rejection(index, bar, errorId, 'ts_utc', message);
      e.reject(r);
      return { bars: [], rejected: r, gap: null };
    };
    const ms = typeof bar.ts_utc === 'string' ? parseTsUtcMs(bar.ts_utc) : NaN;
    if (ms !== ms) return fail(DQ_ERROR.TSFMT, `ts_utc ${describeValue(bar.ts_utc)} is not canonical RFC3339 UTC with milliseconds`);
    if (ms % e.d !== 0) return fail(DQ_ERROR.ALIGN, `ts_utc ${bar.ts_utc} is not on a ${e.tf} bar boundary`);
    if (e.lastMs !== null && ms === e.lastMs) {
      e.counters.duplicates_dropped++;
      return fail(DQ_ERROR.DUP, `ts_utc ${bar.ts_utc} was already accepted; streaming cannot replace an emitted bar`);
    }
    if (e.lastMs !== null && ms < e.lastMs) {
      return fail(DQ_ERROR.LATE, `ts_utc ${bar.ts_utc} is older than the last accepted bar ${e.last!.ts_utc}`);
    }
    const out: CanonicalBar[] = [];
    if (!e.accept(bar, ms, index, out)) return { bars: [], rejected: e.rejections[e.rejections.length - 1]!, gap: null };
    return { bars: out, rejected: null, gap: e.lastGap };
  }

  /** Cumulative report over everything pushed so far (same shape and meaning as {@link runDq}'s). */
  report(): DqReport {
    return this.engine === null ? emptyReport(0) : structuredClone(this.engine.report());
  }
}
