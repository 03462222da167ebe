import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { FeatureError } from '../src/errors.js';
import { DEFAULT_FEATURE_PARAMS, featureParamsFromPolicy, type FeatureWindowPolicy } from '../src/params.js';

/** The shipped configs/pipeline_policy.yaml, unwrapped from its { value, label_ja, description } entries. */
function shippedPipelinePolicy(): FeatureWindowPolicy {
  const file = fileURLToPath(new URL('../../../configs/pipeline_policy.yaml', import.meta.url));
  const doc = parse(readFileSync(file, 'utf8')) as Record<string, { value: unknown }>;
  return Object.fromEntries(Object.entries(doc).map(([k, e]) => [k, e.value])) as unknown as FeatureWindowPolicy;
}

describe('featureParamsFromPolicy', () => {
  it('maps the shipped pipeline_policy to the seed defaults', () => {
    expect(featureParamsFromPolicy(shippedPipelinePolicy())).toEqual(DEFAULT_FEATURE_PARAMS);
  });

  it('maps every key to its parameter', () => {
    const p = shippedPipelinePolicy();
    const q: FeatureWindowPolicy = {
      ...p,
      beta_window_bars: 120,
      beta_ema_half_life_bars: 48,
      z_window_bars: 100,
      z_ema_half_life_bars: 6,
      z_clip_sigma: 4,
      atr_period: 10,
      atr_baseline_median_bars: 90,
      rho_window_bars: 60,
      corr_stability_window_bars: 70,
      beta_stability_window_bars: 80,
      half_life_window_bars: 110,
      half_life_clip_bars: { min: 2, max: 200 },
      slope_window_bars: 15,
      ema_gap_spans: { fast: 8, slow: 21 },
      rsi_period: 9,
      beta_robust_switch: { mad_ratio: 2.5, huber_c: 1.5, huber_max_iter: 30 },
    };
    expect(featureParamsFromPolicy(q)).toEqual({
      betaWindow: 120, betaEmaHalfLife: 48, zWindow: 100, zEmaHalfLife: 6, zClip: 4, atrPeriod: 10, atrBaselineWindow: 90,
      rhoWindow: 60, corrStabilityWindow: 70, betaStabilityWindow: 80, halfLifeWindow: 110, halfLifeMin: 2, halfLifeMax: 200,
      slopeWindow: 15, emaFastSpan: 8, emaSlowSpan: 21, rsiPeriod: 9, robustMadRatio: 2.5, huberC: 1.5, huberMaxIter: 30,
    });
  });

  it('a missing or invalid key is CORE_FEATURE_PARAM', () => {
    const p = shippedPipelinePolicy() as unknown as Record<string, unknown>;
    for (const key of ['rsi_period', 'beta_robust_switch', 'half_life_clip_bars']) {
      const q = { ...p };
      delete q[key];
      expect(() => featureParamsFromPolicy(q as unknown as FeatureWindowPolicy)).toThrow(expect.objectContaining({ id: 'CORE_FEATURE_PARAM' }));
    }
    const bad = { ...p, slope_window_bars: 1 } as unknown as FeatureWindowPolicy;
    expect(() => featureParamsFromPolicy(bad)).toThrow(FeatureError);
  });
});
