import type { PlatformContext } from '@noctria/platform';
import { loadPolicySet } from '@noctria/policy';
import type { FeaturesEnv } from './config.js';
import type { FeaturesModuleOptions } from './features.runtime.js';
import { featuresSettingsFromPolicies } from './pipeline/settings.js';
import { featuresRetentionSettingsFromPolicies } from './retention.service.js';

export const FEATURES_SERVICE = 'features';

/**
 * Features module options from the environment and the policy files (pipeline_policy: timeframes, freshness budgets,
 * feature windows, beta-jump threshold; universe: pairs and legs), validated with their schemas and cross-rules.
 */
export function buildFeaturesOptions(
  env: FeaturesEnv & { NOCTRIA_CONFIG_DIR: string; NOCTRIA_BUS_PREFIX: string },
  _ctx?: Pick<PlatformContext, 'registry'>,
): FeaturesModuleOptions {
  const set = loadPolicySet(env.NOCTRIA_CONFIG_DIR);
  const settings = featuresSettingsFromPolicies(
    { pipeline: set.pipeline_policy.values, universe: set.universe.values },
    {
      ...(env.FEATURES_TIMEFRAMES ? { timeframes: env.FEATURES_TIMEFRAMES } : {}),
      checkpointEvery: env.FEATURES_CHECKPOINT_EVERY,
      betaJumpWindow: env.FEATURES_BETA_JUMP_WINDOW,
    },
  );
  return {
    settings,
    busPrefix: env.NOCTRIA_BUS_PREFIX === '' ? '' : `${env.NOCTRIA_BUS_PREFIX}.`,
    relayPollMs: env.FEATURES_RELAY_POLL_MS,
    // A batch retried past its ack wait would be redelivered while still being applied.
    storeRetryMs: Math.min(env.FEATURES_STORE_RETRY_MS, Math.floor(env.FEATURES_ACK_WAIT_MS / 3)),
    batchMax: env.FEATURES_BATCH_MAX,
    ackWaitMs: env.FEATURES_ACK_WAIT_MS,
    retention: { settings: featuresRetentionSettingsFromPolicies(set, { betaJumpWindow: env.FEATURES_BETA_JUMP_WINDOW }), intervalMs: env.FEATURES_RETENTION_INTERVAL_MS },
    datasets: {
      calendar: set.universe.values.calendar,
      dq: { missing_fill_max_run: set.pipeline_policy.values.missing_fill_max_run, outlier_sigma: set.pipeline_policy.values.outlier_sigma, dq_spike_k: set.pipeline_policy.values.dq_spike_k },
      labelPolicy: set.core_policy.values,
      retentionMonths: set.data_retention.values.features_snapshot_months,
    },
  };
}
