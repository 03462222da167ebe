import { timeframeMs, type Timeframe } from '@noctria/canonical-bar';
import { NoctriaError } from '@noctria/platform';
import type { PipelinePolicy, UniversePolicy } from '@noctria/policy';
import { featureParamsFromPolicy, type FeatureParams } from '@noctria/features';
import { FEATURES_ERROR } from '../errors.js';

/** One (pair, timeframe) series the service computes: legs from configs/universe.yaml. */
export interface PairSeriesSpec {
  pairId: string;
  timeframe: Timeframe;
  symbolA: string;
  symbolB: string;
}

/** Everything the pipeline reads from pipeline_policy / universe and the environment, already unwrapped. */
export interface FeaturesSettings {
  /** Timeframes consumed (`md.bar.<tf>.*`). */
  timeframes: Timeframe[];
  /** Every (pair, timeframe) computed: the pair's allowed_timeframes ∩ `timeframes`. */
  series: PairSeriesSpec[];
  /** freshness_budget_seconds × 1000 per timeframe; a timeframe without a budget has no timing check. */
  freshnessBudgetMs: Partial<Record<Timeframe, number>>;
  /** dq_thresholds.beta_stability_std_jump. */
  betaJumpFactor: number;
  /** Bars of beta_stability history behind the jump rule's median. */
  betaJumpWindow: number;
  /** Checkpoint every this many bars per series. */
  checkpointEvery: number;
  params: Readonly<FeatureParams>;
}

export interface SettingsOverrides {
  timeframes?: string[];
  checkpointEvery?: number;
  betaJumpWindow?: number;
  params?: Readonly<FeatureParams>;
}

/** Feature parameters from pipeline_policy's window keys (featureParamsFromPolicy, validated by the features library). */
export function paramsFromPolicy(pipeline: PipelinePolicy): Readonly<FeatureParams> {
  return featureParamsFromPolicy(pipeline);
}

export function featuresSettingsFromPolicies(p: { pipeline: PipelinePolicy; universe: UniversePolicy }, overrides: SettingsOverrides = {}): FeaturesSettings {
  const allowed = p.pipeline.timeframe_allowed as string[];
  const wanted = overrides.timeframes ?? allowed;
  const unknown = wanted.filter((tf) => !allowed.includes(tf));
  if (unknown.length > 0) {
    throw new NoctriaError(FEATURES_ERROR.CONFIG, `FEATURES_TIMEFRAMES: ${unknown.join(', ')} not in timeframe_allowed of pipeline_policy (${allowed.join(', ')})`, {
      severity: 'CRITICAL',
      details: { variable: 'FEATURES_TIMEFRAMES', unknown, allowed },
    });
  }
  const timeframes = wanted as Timeframe[];
  const series: PairSeriesSpec[] = [];
  const ids = new Set<string>();
  for (const pair of p.universe.pairs) {
    if (ids.has(pair.pair_id)) throw new NoctriaError(FEATURES_ERROR.CONFIG, `pair_id ${pair.pair_id} appears twice in universe.yaml`, { severity: 'CRITICAL' });
    ids.add(pair.pair_id);
    for (const tf of timeframes) {
      if (!(pair.constraints.allowed_timeframes as string[]).includes(tf)) continue;
      series.push({ pairId: pair.pair_id, timeframe: tf, symbolA: pair.leg_A.canonical_symbol, symbolB: pair.leg_B.canonical_symbol });
    }
  }
  const freshnessBudgetMs: Partial<Record<Timeframe, number>> = {};
  for (const [tf, seconds] of Object.entries(p.pipeline.freshness_budget_seconds)) freshnessBudgetMs[tf as Timeframe] = seconds * 1000;
  return {
    timeframes,
    series,
    freshnessBudgetMs,
    betaJumpFactor: p.pipeline.dq_thresholds.beta_stability_std_jump,
    betaJumpWindow: overrides.betaJumpWindow ?? 180,
    checkpointEvery: overrides.checkpointEvery ?? 100,
    params: overrides.params ?? paramsFromPolicy(p.pipeline),
  };
}

/** Bar close time (open + timeframe). */
export function closeOf(tsMs: number, tf: Timeframe): number {
  return tsMs + timeframeMs(tf);
}
