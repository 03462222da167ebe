import { expectedBarOpens, runDq, type CanonicalBar, type DqRejection, type Timeframe } from '@noctria/canonical-bar';
import type { IngestSettings } from './settings.js';

export interface DqInput {
  symbol: string;
  timeframe: Timeframe;
  runId: string;
  /** Stored bars just before the chunk, oldest first (as stored: flags and DQ fills included). */
  context: readonly CanonicalBar[];
  /** The chunk's validated, closed bars (any order, duplicates possible). */
  bars: readonly { bar: CanonicalBar; tsMs: number }[];
  settings: IngestSettings;
}

export interface DqBar {
  bar: CanonicalBar;
  tsMs: number;
  /** Flagged by the spike rule (`metadata.dq_reason = 'spike'`). */
  spike: boolean;
}

export interface DqOutput {
  /** Bars to store: the chunk's bars after DQ plus DQ fills of short gaps, time-ordered, unique. */
  bars: DqBar[];
  /** Duplicate copies dropped (latest wins). */
  duplicates: number;
  /** Open time of each dropped duplicate (for per-month counters). */
  duplicateOpens: number[];
  /** Expected bar opens inside gaps too long to fill (reported `missing`, not synthesised). */
  missingOpens: number[];
  rejected: DqRejection[];
}

/**
 * `runDq` over the stored context followed by the chunk, keeping only what lies after the context. Because
 * the context is read from what is stored (not from process memory), flags never depend on where a chunk
 * boundary or a restart fell: a resumed backfill computes exactly what an undisturbed one does.
 */
export function applyDq(input: DqInput): DqOutput {
  const { settings } = input;
  const lastContextMs = input.context.length > 0 ? Date.parse(input.context[input.context.length - 1]!.ts_utc) : -Infinity;
  const seen = new Map<number, number>();
  for (const b of input.bars) seen.set(b.tsMs, (seen.get(b.tsMs) ?? 0) + 1);
  const duplicateOpens: number[] = [];
  for (const [ms, n] of seen) for (let i = 1; i < n; i++) duplicateOpens.push(ms);
  // Input order is arrival order: runDq's latest-wins keeps the last copy of a timestamp.
  const result = runDq([...input.context, ...input.bars.map((b) => b.bar)], {
    calendar: settings.calendar,
    missing_fill_max_run: settings.missingFillMaxRun,
    outlier_sigma: settings.outlierSigma,
    dq_spike_k: settings.spikeK,
    fill_ingest_run_id: input.runId,
  });
  const bars: DqBar[] = [];
  for (const bar of result.bars) {
    const tsMs = Date.parse(bar.ts_utc);
    if (tsMs <= lastContextMs) continue;
    bars.push({ bar, tsMs, spike: bar.quality_flag === 'outlier' && bar.metadata?.dq_reason === 'spike' });
  }
  const missingOpens: number[] = [];
  for (const gap of result.report.gaps) {
    if (gap.toMs <= lastContextMs) continue;
    for (const ms of expectedBarOpens(Math.max(gap.fromMs, lastContextMs + 1), gap.toMs, input.timeframe, settings.calendar)) missingOpens.push(ms);
  }
  const rejected = result.report.rejections.filter((r) => r.index >= input.context.length);
  return { bars, duplicates: duplicateOpens.length, duplicateOpens: duplicateOpens.sort((a, b) => a - b), missingOpens, rejected };
}
