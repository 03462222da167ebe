/**
 * Features metrics (names documented in docs/observability.md). Metrics live on the service registry
 * (METRICS_REGISTRY); `getOrCreate*` makes the set idempotent so several pipelines in one process share the series.
 */
import type { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { getOrCreateCounter, getOrCreateGauge, getOrCreateHistogram } from '@noctria/platform';

export interface FeaturesMetrics {
  /** Latest beta_stability (std(β,180)/|mean(β,180)|) per pair: the seed's `beta_stability_std`. */
  betaStability: Gauge<'pair_id' | 'timeframe'>;
  betaJumps: Counter<'pair_id' | 'timeframe'>;
  /** Bar close → vector stored / published, for vectors with a live leg. */
  lagSeconds: Histogram<'timeframe' | 'stage'>;
  staleVectors: Counter<'pair_id' | 'timeframe' | 'reason'>;
  engineUpdateSeconds: Histogram<'timeframe'>;
  vectorsStored: Counter<'pair_id' | 'timeframe' | 'complete'>;
  vectorsPublished: Counter<'pair_id' | 'timeframe' | 'outcome'>;
  /** Every consumed bar message by outcome. */
  barsReceived: Counter<'timeframe' | 'outcome'>;
  /** Leg bars a pair could not use (a bar time it has already passed). */
  barsDropped: Counter<'pair_id' | 'timeframe' | 'reason'>;
  barsSeen: Gauge<'pair_id' | 'timeframe'>;
  lastVectorTs: Gauge<'pair_id' | 'timeframe'>;
  storeRetries: Counter<'timeframe'>;
  restores: Counter<'pair_id' | 'timeframe' | 'source'>;
  checkpoints: Counter<'pair_id' | 'timeframe'>;
}

export function createFeaturesMetrics(registry: Registry): FeaturesMetrics {
  return {
    betaStability: getOrCreateGauge(registry, {
      name: 'features_beta_stability_std',
      help: 'Latest beta_stability = std(beta,180)/(|mean(beta,180)|+1e-6) per pair (seed beta_stability_std)',
      labelNames: ['pair_id', 'timeframe'] as const,
    }),
    betaJumps: getOrCreateCounter(registry, {
      name: 'features_beta_stability_jumps_total',
      help: 'beta_stability rising above dq_thresholds.beta_stability_std_jump x its recent median (counted when the condition starts)',
      labelNames: ['pair_id', 'timeframe'] as const,
    }),
    lagSeconds: getOrCreateHistogram(registry, {
      name: 'features_lag_seconds',
      help: 'Seconds from bar close to feature vector stored/published (vectors with a live leg)',
      labelNames: ['timeframe', 'stage'] as const,
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600],
    }),
    staleVectors: getOrCreateCounter(registry, {
      name: 'features_stale_vectors_total',
      help: 'Vectors flagged stale, by reason (late_after_close, late_after_leg, ingest_stale)',
      labelNames: ['pair_id', 'timeframe', 'reason'] as const,
    }),
    engineUpdateSeconds: getOrCreateHistogram(registry, {
      name: 'features_engine_update_seconds',
      help: 'Duration of one PairFeatureEngine.update',
      labelNames: ['timeframe'] as const,
      buckets: [0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.01],
    }),
    vectorsStored: getOrCreateCounter(registry, {
      name: 'features_vectors_stored_total',
      help: 'Feature vectors stored (complete=false: warm-up, not published)',
      labelNames: ['pair_id', 'timeframe', 'complete'] as const,
    }),
    vectorsPublished: getOrCreateCounter(registry, {
      name: 'features_vectors_published_total',
      help: 'Outbox feature vectors published to feat.<tf>.<pair_id> (outcome=published|duplicate|failed)',
      labelNames: ['pair_id', 'timeframe', 'outcome'] as const,
    }),
    barsReceived: getOrCreateCounter(registry, {
      name: 'features_bars_received_total',
      help: 'Bar messages consumed from md.bar.<tf>.*, by outcome (stored|duplicate|revised|revision_ignored|unrouted|invalid|undecodable)',
      labelNames: ['timeframe', 'outcome'] as const,
    }),
    barsDropped: getOrCreateCounter(registry, {
      name: 'features_bars_dropped_total',
      help: 'Leg bars a pair dropped (reason=out_of_order: the pair had already passed that bar time)',
      labelNames: ['pair_id', 'timeframe', 'reason'] as const,
    }),
    barsSeen: getOrCreateGauge(registry, {
      name: 'features_bars_seen',
      help: 'Aligned bars consumed by the pair engine',
      labelNames: ['pair_id', 'timeframe'] as const,
    }),
    lastVectorTs: getOrCreateGauge(registry, {
      name: 'features_last_vector_timestamp_seconds',
      help: 'Bar open time of the newest stored vector, epoch seconds',
      labelNames: ['pair_id', 'timeframe'] as const,
    }),
    storeRetries: getOrCreateCounter(registry, {
      name: 'features_store_retry_total',
      help: 'Bar transactions re-run after a transient database failure',
      labelNames: ['timeframe'] as const,
    }),
    restores: getOrCreateCounter(registry, {
      name: 'features_engine_restores_total',
      help: 'Engine restores (source=checkpoint|rebuild) at start or after another writer advanced the pair',
      labelNames: ['pair_id', 'timeframe', 'source'] as const,
    }),
    checkpoints: getOrCreateCounter(registry, {
      name: 'features_checkpoints_total',
      help: 'Engine checkpoints written',
      labelNames: ['pair_id', 'timeframe'] as const,
    }),
  };
}
