/** Series, budgets and parameters of the features service from the shipped policy files. */
import { describe, expect, it } from '@jest/globals';
import { resolve } from 'node:path';
import { featureParamsFromPolicy, featureSchemaHash } from '@noctria/features';
import { loadPolicySet } from '@noctria/policy';
import { featuresEnvSchema } from '../src/config.js';
import { buildFeaturesOptions } from '../src/main.options.js';
import { featuresSettingsFromPolicies } from '../src/pipeline/settings.js';
import { loadEnv } from '@noctria/platform';

const set = loadPolicySet(resolve('configs'));
const policies = { pipeline: set.pipeline_policy.values, universe: set.universe.values };

describe('features settings from configs/', () => {
  it('makes one series per universe pair and allowed timeframe, with the pipeline budgets and jump threshold', () => {
    const s = featuresSettingsFromPolicies(policies);
    const expected = set.universe.values.pairs.flatMap((p) =>
      (set.pipeline_policy.values.timeframe_allowed as string[])
        .filter((tf) => (p.constraints.allowed_timeframes as string[]).includes(tf))
        .map((tf) => [p.pair_id, tf, p.leg_A.canonical_symbol, p.leg_B.canonical_symbol]),
    );
    expect(s.series.map((x) => [x.pairId, x.timeframe, x.symbolA, x.symbolB])).toEqual(expected);
    // AUDUSD_NZDUSD allows 1h and 4h only.
    expect(s.series.filter((x) => x.pairId === 'AUDUSD_NZDUSD').map((x) => x.timeframe)).toEqual(['1h', '4h']);
    expect(s.freshnessBudgetMs).toEqual(Object.fromEntries(Object.entries(set.pipeline_policy.values.freshness_budget_seconds).map(([k, v]) => [k, v * 1000])));
    expect(s.betaJumpFactor).toBe(set.pipeline_policy.values.dq_thresholds.beta_stability_std_jump);
    expect(featureSchemaHash(s.params)).toBe(featureSchemaHash(featureParamsFromPolicy(set.pipeline_policy.values)));
  });

  it('narrows to FEATURES_TIMEFRAMES and refuses one outside timeframe_allowed', () => {
    expect(featuresSettingsFromPolicies(policies, { timeframes: ['4h'] }).series.map((x) => `${x.pairId} ${x.timeframe}`)).toEqual(['XAUUSD_XAGUSD 4h', 'EURUSD_GBPUSD 4h', 'AUDUSD_NZDUSD 4h']);
    expect(() => featuresSettingsFromPolicies(policies, { timeframes: ['1h', '2h'] })).toThrow(/FEATURES_TIMEFRAMES: 2h not in timeframe_allowed/);
  });

  it('builds module options from the environment (prefix, ack wait, store retry capped at a third of it)', () => {
    const env = loadEnv(featuresEnvSchema, { exit: false, env: { NOCTRIA_CONFIG_DIR: resolve('configs'), NOCTRIA_BUS_PREFIX: 'tx1', FEATURES_TIMEFRAMES: '1h', FEATURES_ACK_WAIT_MS: '6000', FEATURES_CHECKPOINT_EVERY: '7' } });
    const o = buildFeaturesOptions(env);
    expect([o.busPrefix, o.ackWaitMs, o.storeRetryMs, o.settings.checkpointEvery, o.settings.timeframes]).toEqual(['tx1.', 6000, 2000, 7, ['1h']]);
    expect(() => loadEnv(featuresEnvSchema, { exit: false, env: { FEATURES_TIMEFRAMES: '1h;4h' } })).toThrow(/FEATURES_TIMEFRAMES/);
  });
});
