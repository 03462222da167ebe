/**
 * Ingest metrics (seed 003 "監視・運用": Prometheus names), structured-log helpers and trace spans.
 * Metrics live on the service registry (METRICS_REGISTRY); `getOrCreate*` makes the set idempotent so
 * several pipeline instances in one process share the series.
 */
import type { Span } from '@opentelemetry/api';
import type { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { getOrCreateCounter, getOrCreateGauge, getOrCreateHistogram, withSpan, type Logger } from '@noctria/platform';

export interface IngestMetrics {
  /** Successful fetches / all fetches, per source (rolling over the process lifetime). */
  ingestSuccessRate: Gauge<'source'>;
  fetchTotal: Counter<'source' | 'outcome'>;
  /** Provider call latency; p50/p95 through `histogram_quantile`. */
  apiLatencyMs: Histogram<'source' | 'timeframe'>;
  missingRate: Gauge<'symbol' | 'timeframe'>;
  outlierRate: Gauge<'symbol' | 'timeframe'>;
  wsReconnects: Counter<'source'>;
  /** Bar close → stored / published (live mode). */
  pipelineLagSeconds: Histogram<'timeframe' | 'stage'>;
  retryTotal: Counter<'source'>;
  /** Chunk store transactions re-run after a transient database failure. */
  storeRetries: Counter<'symbol' | 'timeframe'>;
  dedupeDrops: Counter<'symbol' | 'timeframe' | 'stage'>;
  watermarkLagBars: Gauge<'symbol' | 'timeframe'>;
  dqFailTotal: Counter<'symbol' | 'timeframe' | 'reason'>;
  rejectedRows: Counter<'source' | 'error_id'>;
  barsStored: Counter<'symbol' | 'timeframe' | 'outcome'>;
  outboxPublished: Counter<'outcome'>;
  staleFlags: Counter<'symbol' | 'timeframe'>;
  quarantineActive: Gauge<'symbol' | 'timeframe'>;
}

export function createIngestMetrics(registry: Registry): IngestMetrics {
  return {
    ingestSuccessRate: getOrCreateGauge(registry, {
      name: 'data_ingest_success_rate',
      help: 'Share of successful provider fetches since start, per source',
      labelNames: ['source'] as const,
    }),
    fetchTotal: getOrCreateCounter(registry, {
      name: 'data_ingest_fetch_total',
      help: 'Provider fetches by outcome',
      labelNames: ['source', 'outcome'] as const,
    }),
    apiLatencyMs: getOrCreateHistogram(registry, {
      name: 'data_api_latency_ms',
      help: 'Provider REST/WS call latency in milliseconds (p50/p95 via histogram_quantile)',
      labelNames: ['source', 'timeframe'] as const,
      buckets: [5, 10, 25, 50, 100, 200, 400, 800, 1600, 3200, 6400, 12800, 30000],
    }),
    missingRate: getOrCreateGauge(registry, {
      name: 'data_missing_rate',
      help: 'Missing-bar rate of the last evaluated month, per symbol/timeframe',
      labelNames: ['symbol', 'timeframe'] as const,
    }),
    outlierRate: getOrCreateGauge(registry, {
      name: 'data_outlier_rate',
      help: 'Outlier rate of the last evaluated month, per symbol/timeframe',
      labelNames: ['symbol', 'timeframe'] as const,
    }),
    wsReconnects: getOrCreateCounter(registry, {
      name: 'data_ws_reconnects_total',
      help: 'WebSocket reconnects of quote streams',
      labelNames: ['source'] as const,
    }),
    pipelineLagSeconds: getOrCreateHistogram(registry, {
      name: 'data_pipeline_lag_seconds',
      help: 'Seconds from bar close to stored/published canonical bar (live mode)',
      labelNames: ['timeframe', 'stage'] as const,
      buckets: [0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 180, 300, 600],
    }),
    retryTotal: getOrCreateCounter(registry, {
      name: 'data_retry_total',
      help: 'Provider call retries',
      labelNames: ['source'] as const,
    }),
    storeRetries: getOrCreateCounter(registry, {
      name: 'data_store_retry_total',
      help: 'Chunk store transactions re-run after a transient database failure (connection lost, deadlock, serialization)',
      labelNames: ['symbol', 'timeframe'] as const,
    }),
    dedupeDrops: getOrCreateCounter(registry, {
      name: 'data_dedupe_drops_total',
      help: 'Bars dropped as duplicates (stage=dq: same key twice in a fetch; stage=store: identical bar already stored)',
      labelNames: ['symbol', 'timeframe', 'stage'] as const,
    }),
    watermarkLagBars: getOrCreateGauge(registry, {
      name: 'data_watermark_lag_bars',
      help: 'Closed bars between the watermark and now',
      labelNames: ['symbol', 'timeframe'] as const,
    }),
    dqFailTotal: getOrCreateCounter(registry, {
      name: 'dq_fail_total',
      help: 'DQ failures (threshold breaches, rejected rows)',
      labelNames: ['symbol', 'timeframe', 'reason'] as const,
    }),
    rejectedRows: getOrCreateCounter(registry, {
      name: 'data_rejected_rows_total',
      help: 'Rows/messages rejected with a reason (kept in ingest.rejected_rows)',
      labelNames: ['source', 'error_id'] as const,
    }),
    barsStored: getOrCreateCounter(registry, {
      name: 'data_bars_stored_total',
      help: 'Canonical bars written, by outcome (inserted|updated)',
      labelNames: ['symbol', 'timeframe', 'outcome'] as const,
    }),
    outboxPublished: getOrCreateCounter(registry, {
      name: 'data_outbox_published_total',
      help: 'Outbox messages published (outcome=published|duplicate|failed)',
      labelNames: ['outcome'] as const,
    }),
    staleFlags: getOrCreateCounter(registry, {
      name: 'data_stale_flags_total',
      help: 'Freshness-budget breaches flagged on md.stale.<tf>.<symbol>',
      labelNames: ['symbol', 'timeframe'] as const,
    }),
    quarantineActive: getOrCreateGauge(registry, {
      name: 'data_quarantine_active',
      help: 'Active quarantined months per symbol/timeframe',
      labelNames: ['symbol', 'timeframe'] as const,
    }),
  };
}

/** Success-rate bookkeeping behind `data_ingest_success_rate`. */
export class SuccessRateTracker {
  private readonly counts = new Map<string, { ok: number; all: number }>();
  constructor(private readonly metrics: IngestMetrics) {}

  record(source: string, ok: boolean): void {
    const c = this.counts.get(source) ?? { ok: 0, all: 0 };
    c.all += 1;
    if (ok) c.ok += 1;
    this.counts.set(source, c);
    this.metrics.fetchTotal.inc({ source, outcome: ok ? 'success' : 'failure' });
    this.metrics.ingestSuccessRate.set({ source }, c.ok / c.all);
  }
}

/** Structured log fields of seed 003: `ts, level, source, timeframe, symbol, run_id, ingest_run_id, event, details`. */
export interface IngestLogFields {
  source?: string;
  timeframe?: string;
  symbol?: string;
  run_id?: string;
  ingest_run_id?: string;
  details?: Record<string, unknown>;
}

/** One log record with the seed's fields (`ts`/`level` come from the platform logger). */
export function logEvent(logger: Logger, level: 'debug' | 'info' | 'warn' | 'error', event: string, fields: IngestLogFields): void {
  const record = { ...fields, run_id: fields.run_id ?? fields.ingest_run_id, event, details: fields.details ?? {} };
  logger[level](record, event);
}

export const SPAN = {
  run: 'ingest.run',
  chunk: 'ingest.chunk',
  fetch: 'ingest.fetch',
  canonicalise: 'ingest.canonicalise',
  dq: 'ingest.dq',
  store: 'ingest.store',
} as const;

/** A child span of the active context (the run span is the parent; `ingest_run_id` is an attribute of each). */
export function span<T>(name: string, attributes: Record<string, string | number | boolean>, fn: (span: Span) => Promise<T> | T): Promise<T> {
  return withSpan(name, attributes, fn);
}
