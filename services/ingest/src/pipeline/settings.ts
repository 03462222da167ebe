import type { Calendar, Timeframe } from '@noctria/canonical-bar';
import type { DataRetentionPolicy, PipelinePolicy, UniversePolicy } from '@noctria/policy';
import type { RetentionSettings } from './retention.service.js';

/** Everything the pipeline reads from pipeline_policy / universe / data_retention, already unwrapped. */
export interface IngestSettings {
  timeframeAllowed: Timeframe[];
  /** Timeframes ingested for the universe (pipeline_policy timeframe_allowed). */
  timeframes: Timeframe[];
  historyLookbackMonths: number;
  diffThresh: number;
  outlierSigma: number;
  spikeK: number;
  missingFillMaxRun: number;
  dqThresholds: { missing_rate: number; outlier_rate: number };
  /** Seconds after a bar's close before it counts as late, per timeframe. */
  freshnessBudgetSeconds: Partial<Record<Timeframe, number>>;
  calendar: Calendar;
  /** Canonical symbols of both legs of every pair, sorted, unique. */
  universeSymbols: string[];
  retention: RetentionSettings;
  /** Stored bars fed to DQ ahead of each chunk so chunk boundaries never change a flag. */
  dqContextBars: number;
}

export function universeSymbols(universe: UniversePolicy): string[] {
  const set = new Set<string>();
  for (const p of universe.pairs) {
    set.add(p.leg_A.canonical_symbol);
    set.add(p.leg_B.canonical_symbol);
  }
  return [...set].sort();
}

export function settingsFromPolicies(p: {
  pipeline: PipelinePolicy;
  universe: UniversePolicy;
  retention: DataRetentionPolicy;
}): IngestSettings {
  const tfs = p.pipeline.timeframe_allowed as Timeframe[];
  return {
    timeframeAllowed: tfs,
    timeframes: tfs,
    historyLookbackMonths: p.pipeline.history_lookback_months,
    diffThresh: p.pipeline.diff_thresh,
    outlierSigma: p.pipeline.outlier_sigma,
    spikeK: p.pipeline.dq_spike_k,
    missingFillMaxRun: p.pipeline.missing_fill_max_run,
    dqThresholds: { missing_rate: p.pipeline.dq_thresholds.missing_rate, outlier_rate: p.pipeline.dq_thresholds.outlier_rate },
    freshnessBudgetSeconds: p.pipeline.freshness_budget_seconds as Partial<Record<Timeframe, number>>,
    calendar: p.universe.calendar,
    universeSymbols: universeSymbols(p.universe),
    retention: {
      canonicalMonths: p.retention.canonical_months,
      rawDays: p.retention.raw_days,
      graceDays: p.retention.deletion_grace_days,
    },
    dqContextBars: 400,
  };
}
