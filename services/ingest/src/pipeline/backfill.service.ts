import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { countExpectedBars, timeframeMs, type Timeframe } from '@noctria/canonical-bar';
import { reportError, type Logger } from '@noctria/platform';
import type { Registry } from 'prom-client';
import { INGEST_ERROR } from '../errors.js';
import type { FetchResult, FetchTimeSeriesRequest, MarketDataProvider } from '../providers/market-data-provider.port.js';
import { SPAN, logEvent, span } from '../telemetry.js';
import type { ChunkResult, IngestPipeline } from './ingest-pipeline.js';
import { addMonthsMs } from './months.js';
import type { QuarantineService } from './quarantine.service.js';
import { withStoreRetry } from './store-retry.js';

export interface BackfillRequest {
  /** Default: every leg of the universe. */
  symbols?: string[];
  /** Default: the configured timeframes. */
  timeframes?: Timeframe[];
  /** Inclusive start (epoch ms). Default: watermark + 1 bar, else now − history_lookback_months. */
  fromMs?: number;
  /** Exclusive end (epoch ms). Default: the open of the current (unclosed) bar. */
  toMs?: number;
  /** Bars per chunk (provider request + store transaction). */
  chunkBars?: number;
  /** Resume an existing run id (e.g. after a crash); default a new uuid. */
  runId?: string;
}

export interface BackfillProgress {
  runId: string;
  symbol: string;
  timeframe: Timeframe;
  /** Chunks done / total over the whole run. */
  chunksDone: number;
  chunksTotal: number;
  /** Expected bars covered so far / in total (trading calendar), for a progress bar. */
  barsDone: number;
  barsTotal: number;
  fraction: number;
  last?: ChunkResult;
}

export interface BackfillSummary {
  runId: string;
  status: 'succeeded' | 'partial' | 'failed' | 'interrupted';
  /** Chunks served per source (the source that actually answered: FailoverRouter `servedBy`). */
  servedBy: Record<string, number>;
  /** The source of the latest chunk (also the run's `source`). */
  lastServedBy: string | null;
  series: { symbol: string; timeframe: Timeframe; fromMs: number; toMs: number; chunks: number; ok: boolean; error?: string }[];
  totals: Record<string, number>;
}

/**
 * The provider chain as seen by one run: every fetch is passed through, and the source that actually served it
 * (`servedBy` of a FailoverRouter result, else the provider's own id) is reported.
 */
class ServedByRecorder implements MarketDataProvider {
  constructor(
    private readonly inner: MarketDataProvider,
    private readonly onServed: (sourceId: string) => void,
  ) {}
  get sourceId() {
    return this.inner.sourceId;
  }
  get providerVersion() {
    return this.inner.providerVersion;
  }
  async fetchTimeSeries(req: FetchTimeSeriesRequest): Promise<FetchResult> {
    const r = await this.inner.fetchTimeSeries(req);
    const servedBy = (r as FetchResult & { servedBy?: unknown }).servedBy;
    this.onServed(typeof servedBy === 'string' ? servedBy : this.inner.sourceId);
    return r;
  }
  streamQuotes: MarketDataProvider['streamQuotes'] = (...a) => this.inner.streamQuotes(...a);
  listSymbols: MarketDataProvider['listSymbols'] = (...a) => this.inner.listSymbols(...a);
  getCapabilities: MarketDataProvider['getCapabilities'] = () => this.inner.getCapabilities();
  getRateLimit: MarketDataProvider['getRateLimit'] = () => this.inner.getRateLimit();
  healthCheck: MarketDataProvider['healthCheck'] = () => this.inner.healthCheck();
}

interface SeriesPlan {
  symbol: string;
  timeframe: Timeframe;
  fromMs: number;
  toMs: number;
  chunks: { startMs: number; endMs: number; expected: number }[];
}

export interface BackfillServiceDeps {
  pipeline: IngestPipeline;
  provider: MarketDataProvider;
  quarantine: QuarantineService;
  logger: Logger;
  registry?: Registry;
  /** Default chunk size in bars. */
  chunkBars: number;
}

/**
 * Backfill per (symbol, timeframe) in chunks on a fixed grid (multiples of chunkBars × timeframe since the
 * epoch), from the watermark (+1 bar) or a requested start to now. Each chunk commits bars + watermark +
 * outbox together, so an interrupted run resumes from the watermark and produces exactly what an
 * undisturbed run does (the grid and the DQ context read from storage do not depend on where it stopped).
 */
export class BackfillService {
  private readonly active = new Map<string, { controller: AbortController; done: Promise<BackfillSummary> }>();

  constructor(private readonly deps: BackfillServiceDeps) {}

  /** Starts a run in the background; returns its id at once (the run row exists when this resolves). */
  async start(req: BackfillRequest, onProgress?: (p: BackfillProgress) => void): Promise<{ runId: string; done: Promise<BackfillSummary> }> {
    const runId = req.runId ?? randomUUID();
    await this.createRun(runId, req);
    const controller = new AbortController();
    const done = this.execute({ ...req, runId }, { onProgress, signal: controller.signal }).finally(() => this.active.delete(runId));
    // A background run never rejects unhandled: failures are in the summary and the run row.
    done.catch(() => undefined);
    this.active.set(runId, { controller, done });
    return { runId, done };
  }

  /** Runs to completion (foreground: CLI, tests). */
  async run(req: BackfillRequest, options: { onProgress?: (p: BackfillProgress) => void; signal?: AbortSignal } = {}): Promise<BackfillSummary> {
    const runId = req.runId ?? randomUUID();
    await this.createRun(runId, req);
    return this.execute({ ...req, runId }, options);
  }

  /** Aborts every active run between chunks and waits for them (graceful shutdown). */
  async stopAll(): Promise<void> {
    const runs = [...this.active.values()];
    for (const r of runs) r.controller.abort();
    await Promise.allSettled(runs.map((r) => r.done));
  }

  activeRunIds(): string[] {
    return [...this.active.keys()];
  }

  private async createRun(runId: string, req: BackfillRequest): Promise<void> {
    const existing = await this.deps.pipeline.runs.get(runId);
    if (existing) return;
    await this.deps.pipeline.runs.create({ id: runId, kind: 'backfill', source: this.deps.provider.sourceId, params: { ...req, runId: undefined } });
  }

  /**
   * The run's `source` becomes the source that served its latest chunk (not the router's id) and
   * `params.served_by` counts the chunks each source served.
   */
  private async recordServedBy(summary: BackfillSummary, sourceId: string, series: SeriesPlan): Promise<void> {
    // Counted once, outside the retried write (a retry re-sends the same totals).
    summary.servedBy[sourceId] = (summary.servedBy[sourceId] ?? 0) + 1;
    summary.lastServedBy = sourceId;
    const patch = JSON.stringify({ served_by: summary.servedBy, last_served_by: sourceId });
    await this.retryDb(
      () => sql`update ingest.ingest_runs set source = ${sourceId}, params = params || ${patch}::jsonb where id = ${summary.runId}`.execute(this.deps.pipeline.deps.db),
      series,
    );
  }

  /**
   * Database steps of a run outside the chunk store (planning, run bookkeeping, quarantine) are retried like the
   * store step after a transient failure, and counted in the same `data_store_retry_total`.
   */
  private retryDb<T>(fn: () => Promise<T>, series?: { symbol: string; timeframe: string }): Promise<T> {
    const { pipeline, logger } = this.deps;
    const labels = { symbol: series?.symbol ?? '', timeframe: series?.timeframe ?? '' };
    return withStoreRetry(fn, {
      ...pipeline.deps.storeRetry,
      onRetry: (err, attempt, delayMs) => {
        pipeline.deps.metrics.storeRetries.inc(labels);
        logEvent(logger, 'warn', 'db_step_retry', { ...labels, details: { error_id: INGEST_ERROR.STORE, attempt, delay_ms: delayMs, message: err instanceof Error ? err.message : String(err) } });
      },
    });
  }

  async plan(req: BackfillRequest): Promise<SeriesPlan[]> {
    const { pipeline } = this.deps;
    const settings = pipeline.deps.settings;
    const nowMs = pipeline.now();
    const symbols = req.symbols ?? settings.universeSymbols;
    const timeframes = req.timeframes ?? settings.timeframes;
    const chunkBars = req.chunkBars ?? this.deps.chunkBars;
    const plans: SeriesPlan[] = [];
    for (const symbol of symbols) {
      for (const timeframe of timeframes) {
        const d = timeframeMs(timeframe);
        const endDefault = Math.floor(nowMs / d) * d;
        const toMs = Math.min(req.toMs ?? endDefault, endDefault);
        let fromMs: number;
        if (req.fromMs !== undefined) fromMs = req.fromMs;
        else {
          const wm = await pipeline.watermarks.get(symbol, timeframe);
          fromMs = wm ? wm.last_ts.getTime() + d : addMonthsMs(nowMs, -settings.historyLookbackMonths);
        }
        fromMs = Math.ceil(fromMs / d) * d;
        const span = chunkBars * d;
        const chunks: SeriesPlan['chunks'] = [];
        for (let s = fromMs; s < toMs; ) {
          const e = Math.min(toMs, (Math.floor(s / span) + 1) * span);
          chunks.push({ startMs: s, endMs: e, expected: countExpectedBars(s, e, timeframe, settings.calendar) });
          s = e;
        }
        plans.push({ symbol, timeframe, fromMs, toMs, chunks });
      }
    }
    return plans;
  }

  private async execute(
    req: BackfillRequest & { runId: string },
    options: { onProgress?: (p: BackfillProgress) => void; signal?: AbortSignal },
  ): Promise<BackfillSummary> {
    const { pipeline, logger } = this.deps;
    const runId = req.runId;
    return span(SPAN.run, { ingest_run_id: runId, kind: 'backfill', source: this.deps.provider.sourceId }, async () => {
      const summary: BackfillSummary = { runId, status: 'succeeded', series: [], totals: {}, servedBy: {}, lastServedBy: null };
      let served: string | undefined;
      const provider = new ServedByRecorder(this.deps.provider, (id) => (served = id));
      try {
        // A resumed run keeps counting where it stopped.
        const previous = (await this.retryDb(() => pipeline.runs.get(runId)))?.params['served_by'];
        if (previous && typeof previous === 'object') for (const [k, v] of Object.entries(previous)) if (typeof v === 'number') summary.servedBy[k] = v;
        const plans = await this.retryDb(() => this.plan(req));
        const chunksTotal = plans.reduce((a, p) => a + p.chunks.length, 0);
        const barsTotal = plans.reduce((a, p) => a + p.chunks.reduce((x, c) => x + c.expected, 0), 0);
        let chunksDone = 0;
        let barsDone = 0;
        logEvent(logger, 'info', 'backfill_started', { source: this.deps.provider.sourceId, ingest_run_id: runId, details: { series: plans.length, chunks: chunksTotal } });
        for (const plan of plans) {
          const entry: BackfillSummary['series'][number] = { symbol: plan.symbol, timeframe: plan.timeframe, fromMs: plan.fromMs, toMs: plan.toMs, chunks: 0, ok: true };
          summary.series.push(entry);
          const months = new Set<string>();
          for (const chunk of plan.chunks) {
            if (options.signal?.aborted) break;
            try {
              served = undefined;
              const r = await pipeline.ingestChunk(provider, {
                runId,
                symbol: plan.symbol,
                timeframe: plan.timeframe,
                startMs: chunk.startMs,
                endMs: chunk.endMs,
                ...(options.signal ? { signal: options.signal } : {}),
              });
              if (served !== undefined) await this.recordServedBy(summary, served as string, plan);
              for (const m of r.months) months.add(m);
              for (const [k, v] of Object.entries(r)) if (typeof v === 'number' && k !== 'lastTsMs') summary.totals[k] = (summary.totals[k] ?? 0) + v;
              entry.chunks += 1;
              chunksDone += 1;
              barsDone += chunk.expected;
              options.onProgress?.({ runId, symbol: plan.symbol, timeframe: plan.timeframe, chunksDone, chunksTotal, barsDone, barsTotal, fraction: barsTotal === 0 ? 1 : barsDone / barsTotal, last: r });
            } catch (err) {
              if (options.signal?.aborted) break;
              const e = reportError(err, {
                logger,
                registry: this.deps.registry,
                fallbackId: INGEST_ERROR.FETCH,
                context: { event: 'backfill_chunk_failed', ingest_run_id: runId, symbol: plan.symbol, timeframe: plan.timeframe },
              });
              entry.ok = false;
              entry.error = `${e.id}: ${e.message}`;
              chunksDone += plan.chunks.length - entry.chunks;
              break; // the next run resumes this series from its watermark
            }
          }
          // Quarantine evaluation and the run's final status are database writes too: a dropped connection is retried.
          if (months.size > 0) await this.retryDb(() => this.deps.quarantine.evaluate(runId, plan.symbol, plan.timeframe, [...months]), plan);
          if (options.signal?.aborted) break;
        }
        const failed = summary.series.filter((s) => !s.ok).length;
        summary.status = options.signal?.aborted ? 'interrupted' : failed === 0 ? 'succeeded' : failed === summary.series.length ? 'failed' : 'partial';
        const errors = summary.series.filter((s) => s.error).map((s) => ({ symbol: s.symbol, timeframe: s.timeframe, error: s.error }));
        await this.retryDb(() => pipeline.runs.finish(runId, summary.status, errors.length > 0 ? { series: errors } : null));
        logEvent(logger, summary.status === 'succeeded' ? 'info' : 'warn', 'backfill_finished', { ingest_run_id: runId, details: { status: summary.status, totals: summary.totals } });
        return summary;
      } catch (err) {
        const e = reportError(err, { logger, registry: this.deps.registry, fallbackId: INGEST_ERROR.STORE, context: { event: 'backfill_failed', ingest_run_id: runId } });
        summary.status = 'failed';
        await pipeline.runs.finish(runId, 'failed', { id: e.id, message: e.message }).catch(() => undefined);
        return summary;
      }
    });
  }
}
