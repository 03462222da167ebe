import type { Timeframe } from '@noctria/canonical-bar';
import type { PipelinePolicy, SourcesPolicy } from '@noctria/policy';
import { resolveSecretRef } from '@noctria/policy';
import type { IngestMetrics } from './telemetry.js';
import type { MarketDataProvider } from './providers/market-data-provider.port.js';
import { FailoverRouter } from './providers/resilience/failover-router.js';
import { ResilientProvider } from './providers/resilience/resilient.provider.js';
import { SyntheticProvider } from './providers/synthetic/synthetic.provider.js';
import { TwelveDataProvider } from './providers/twelvedata/twelvedata.provider.js';
import { sourceConfig, type SourceConfigInput } from './providers/source-config.js';
import type { MarketClock } from './providers/synthetic/clock.js';

export interface BuildProviderOptions {
  sources: SourcesPolicy;
  pipeline: PipelinePolicy;
  /** Source ids to enable, in the env's order (INGEST_SOURCES); priorities come from sources.yaml. */
  enabled: string[];
  metrics: IngestMetrics;
  /** Market clock of the synthetic provider (accelerated in demos). */
  clock?: MarketClock;
  syntheticSeed?: number;
  env?: Record<string, string | undefined>;
}

/**
 * The provider chain of seed 003: every enabled source wrapped in a ResilientProvider (retry with backoff up
 * to retry_max, circuit breaker per source × timeframe) behind a FailoverRouter ordered by `priority`.
 * Retries and failovers feed `data_retry_total`.
 */
export function buildProviderChain(o: BuildProviderOptions): MarketDataProvider {
  const routed = o.enabled.map((id) => {
    const cfg = o.sources.providers[id];
    if (!cfg) throw new Error(`source ${id} is not defined in sources.yaml`);
    let inner: MarketDataProvider;
    switch (cfg.type) {
      case 'Synthetic':
        inner = new SyntheticProvider({ seed: cfg.seed ?? o.syntheticSeed ?? 42, sourceId: id, ...(o.clock ? { clock: o.clock } : {}) });
        break;
      case 'TwelveData': {
        const env = o.env ?? process.env;
        inner = new TwelveDataProvider({
          config: sourceConfig(id, cfg as unknown as SourceConfigInput),
          resolveKey: async () => resolveSecretRef(cfg.api_key_ref ?? 'ENV:TWELVEDATA_API_KEY', env),
          stream: { onReconnect: (sourceId) => o.metrics.wsReconnects.inc({ source: sourceId }) },
        });
        break;
      }
      default:
        throw new Error(`source ${id}: provider type ${cfg.type} cannot be a backfill/live source (files are imported through POST /ingest/import)`);
    }
    const resilient = new ResilientProvider(inner, {
      retryMax: o.pipeline.retry_max,
      openThresholdErrors: o.pipeline.circuit_breaker.open_threshold_errors,
      halfOpenAfterSeconds: o.pipeline.circuit_breaker.half_open_after_seconds,
      maxDelayMs: o.pipeline.retry_backoff_max_seconds * 1000,
      onRetry: (sourceId) => o.metrics.retryTotal.inc({ source: sourceId }),
    });
    return { provider: resilient, priority: cfg.priority };
  });
  return new FailoverRouter(routed);
}

export type { Timeframe };
