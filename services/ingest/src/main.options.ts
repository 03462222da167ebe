import { join } from 'node:path';
import type { PlatformContext } from '@noctria/platform';
import { loadPolicySet } from '@noctria/policy';
import type { IngestEnv } from './config.js';
import type { IngestModuleOptions } from './ingest.runtime.js';
import { retentionSettingsFromPolicies } from './pipeline/retention.service.js';
import { settingsFromPolicies } from './pipeline/settings.js';
import { windowParamsFromPolicy } from './pipeline/export.service.js';
import { buildProviderChain } from './providers.factory.js';
import { AcceleratedClock } from './providers/synthetic/clock.js';
import { createIngestMetrics } from './telemetry.js';

export const INGEST_SERVICE = 'ingest';

/**
 * Ingest module options from the environment and the policy files (validated with their schemas and
 * cross-rules, including the retention guard). The market clock runs `INGEST_LIVE_SPEED` times real time.
 */
export function buildIngestOptions(env: IngestEnv & { NOCTRIA_CONFIG_DIR: string; NOCTRIA_DATA_DIR: string; NOCTRIA_BUS_PREFIX: string }, ctx: Pick<PlatformContext, 'registry'>): IngestModuleOptions {
  const set = loadPolicySet(env.NOCTRIA_CONFIG_DIR);
  const settings = settingsFromPolicies({ pipeline: set.pipeline_policy.values, universe: set.universe.values, retention: set.data_retention.values });
  settings.retention = retentionSettingsFromPolicies(set);
  const clock = new AcceleratedClock({ speed: env.INGEST_LIVE_SPEED });
  const enabled = env.INGEST_SOURCES.split(',');
  // The WebSocket live path needs a source with a quote stream (TwelveData); the synthetic provider polls.
  const streaming = enabled.some((id) => set.sources.values.providers[id]?.type === 'TwelveData');
  const provider = buildProviderChain({
    sources: set.sources.values,
    pipeline: set.pipeline_policy.values,
    enabled,
    metrics: createIngestMetrics(ctx.registry),
    clock,
    syntheticSeed: env.INGEST_SYNTHETIC_SEED,
    // Secret references resolve against the process environment plus the validated key (env given to loadEnv).
    env: { ...process.env, ...(env.TWELVEDATA_API_KEY ? { TWELVEDATA_API_KEY: env.TWELVEDATA_API_KEY } : {}) },
  });
  const prefix = env.NOCTRIA_BUS_PREFIX === '' ? '' : `${env.NOCTRIA_BUS_PREFIX}.`;
  return {
    settings,
    provider,
    busPrefix: prefix,
    chunkBars: env.INGEST_CHUNK_BARS,
    artifactDir: env.INGEST_ARTIFACT_DIR ?? join(env.NOCTRIA_DATA_DIR, 'artifacts'),
    now: () => Math.floor(clock.now()),
    live: { enabled: env.INGEST_LIVE_ENABLED, mode: env.INGEST_LIVE_MODE ?? (streaming ? 'stream' : 'poll') },
    retention: { intervalMs: 24 * 3600_000 },
    windowParams: (timeframe) => windowParamsFromPolicy(set.pipeline_policy.values, timeframe),
  };
}
