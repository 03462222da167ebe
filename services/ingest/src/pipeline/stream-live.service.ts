import { randomUUID } from 'node:crypto';
import type { Registry } from 'prom-client';
import { TickBarAggregator, parseTsUtcMs, timeframeMs, type CanonicalBar, type CanonicalTick, type Timeframe } from '@noctria/canonical-bar';
import { reportError, type Logger } from '@noctria/platform';
import { INGEST_ERROR } from '../errors.js';
import type { MarketDataProvider, QuoteStreamHandle } from '../providers/market-data-provider.port.js';
import { logEvent, type IngestMetrics } from '../telemetry.js';
import type { IngestPipeline } from './ingest-pipeline.js';
import { lastClosedTradingBar, seriesStatus, type LiveSeriesStatus } from './live.service.js';

export interface StreamLiveOptions {
  /** Default: the universe symbols. */
  symbols?: string[];
  /** Default: the configured timeframes. */
  timeframes?: Timeframe[];
  /** Real milliseconds between checks for forming bars whose close has passed (default 1000). */
  flushMs?: number;
  /** Market milliseconds after a bar's close before a quiet series' forming bar is closed by the clock (default 2000). */
  flushGraceMs?: number;
}

export interface StreamLiveDeps extends StreamLiveOptions {
  pipeline: IngestPipeline;
  provider: MarketDataProvider;
  logger: Logger;
  registry?: Registry;
  metrics: IngestMetrics;
}

export interface StreamLiveStats {
  /** Ticks received from the stream (for the configured symbols). */
  ticks: number;
  /** Tick-built bars stored (inserted or updated). */
  barsStored: number;
  /** Tick-built bars not stored because a REST fetch (or an earlier run) already stored that bar or a later one. */
  superseded: number;
  /** Bars stored by REST catch-ups (at start and after reconnects). */
  resyncBars: number;
  /** Reconnects of the stream seen since `start()`. */
  reconnects: number;
}

/**
 * Live mode over the provider's quote stream (TwelveData WebSocket): canonical ticks are aggregated per symbol ×
 * timeframe with {@link TickBarAggregator}; a bar is closed when a tick of a later bucket arrives, or by the
 * market clock (`flushGraceMs` after its close) when the series is quiet, and then goes through
 * `pipeline.processFetched` — the same canonicalise → DQ → store + outbox transaction as every other bar,
 * attributed to the stream's source.
 *
 * Bars built from ticks are provisional: a tick-built bar at or before the series' watermark is never stored (REST,
 * or an earlier run, already has it), and REST re-fetches replace tick-built bars through the store's
 * latest-wins / revised rules. After a reconnect of the stream, the bars from the one that was forming when the
 * socket dropped (or from the watermark, if earlier) are re-fetched over REST once closed ("WS 断時は REST で再同期").
 * At start, series with a watermark are caught up over REST first (resume after downtime); series without one
 * start from the stream (history is the backfill's job).
 */
export class StreamingLiveService {
  private running = false;
  private controller: AbortController | undefined;
  private runId: string | undefined;
  private handle: QuoteStreamHandle | undefined;
  private loop: Promise<void> | undefined;
  private flushTimer: NodeJS.Timeout | undefined;
  private sourceId: string;
  private readonly aggregators = new Map<Timeframe, TickBarAggregator>();
  /** Store work (tick bars, REST catch-ups) runs one item at a time, in the order it was queued. */
  private work: Promise<void> = Promise.resolve();
  private resyncQueued = false;
  /** Newest tick time per symbol. */
  private readonly lastTickMs = new Map<string, number>();
  /** `symbol|timeframe` → market time from which bars must be re-fetched over REST (set by reconnects). */
  private readonly resyncFrom = new Map<string, number>();
  private readonly counters = new Map<string, { bars: number; lastBarMs: number | null }>();
  private readonly statsValue: StreamLiveStats = { ticks: 0, barsStored: 0, superseded: 0, resyncBars: 0, reconnects: 0 };

  constructor(private readonly deps: StreamLiveDeps) {
    this.sourceId = deps.provider.sourceId;
  }

  get stats(): Readonly<StreamLiveStats> {
    return { ...this.statsValue };
  }

  /** Bars stored per series since the service was built, the newest bar and its lag (market time). */
  status(): LiveSeriesStatus[] {
    return seriesStatus(this.counters, this.symbols(), this.timeframes(), this.deps.pipeline.now());
  }

  /** Resolves once the stream is open (after the start catch-up); rejects when it cannot be opened. */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    const controller = new AbortController();
    this.controller = controller;
    const runId = randomUUID();
    this.runId = runId;
    try {
      await this.deps.pipeline.runs.create({ id: runId, kind: 'live', source: this.deps.provider.sourceId, params: { symbols: this.symbols(), timeframes: this.timeframes(), mode: 'stream' } });
      await this.enqueue(() => this.catchUp(runId, controller.signal, true));
      const handle = await this.deps.provider.streamQuotes(this.symbols(), { signal: controller.signal, onReconnect: () => this.onReconnect() });
      this.handle = handle;
      this.sourceId = (handle as QuoteStreamHandle & { servedBy?: string }).servedBy ?? this.deps.provider.sourceId;
      for (const timeframe of this.timeframes()) {
        this.aggregators.set(timeframe, new TickBarAggregator({ timeframe, source_id: this.sourceId, ingest_run_id: runId }));
      }
      this.loop = this.consume(handle, runId, controller.signal);
      this.flushTimer = setInterval(() => this.onTimer(runId, controller.signal), this.deps.flushMs ?? 1000);
      this.flushTimer.unref();
    } catch (err) {
      this.running = false;
      controller.abort();
      await this.deps.pipeline.runs.finish(runId, 'failed').catch(() => undefined);
      throw err;
    }
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    if (this.flushTimer) clearInterval(this.flushTimer);
    this.flushTimer = undefined;
    await this.handle?.close().catch(() => undefined);
    await this.loop;
    // Bars already closed are stored before stopping; forming bars are not closed and are left to the next run.
    await this.work;
    this.controller?.abort();
    if (this.runId) await this.deps.pipeline.runs.finish(this.runId, 'succeeded').catch(() => undefined);
    this.handle = undefined;
    this.aggregators.clear();
  }

  private symbols(): string[] {
    return this.deps.symbols ?? this.deps.pipeline.deps.settings.universeSymbols;
  }
  private timeframes(): Timeframe[] {
    return this.deps.timeframes ?? this.deps.pipeline.deps.settings.timeframes;
  }

  private enqueue(task: () => Promise<void>): Promise<void> {
    const next = this.work.then(task);
    this.work = next.catch(() => undefined);
    return next;
  }

  private async consume(handle: QuoteStreamHandle, runId: string, signal: AbortSignal): Promise<void> {
    const wanted = new Set(this.symbols());
    try {
      for await (const tick of handle.ticks) {
        if (!wanted.has(tick.symbol)) continue;
        this.onTick(tick, runId, signal);
      }
    } catch (err) {
      if (this.running) reportError(err, { logger: this.deps.logger, registry: this.deps.registry, fallbackId: INGEST_ERROR.FETCH, context: { event: 'live_stream_failed', ingest_run_id: runId } });
    }
  }

  private onTick(tick: CanonicalTick, runId: string, signal: AbortSignal): void {
    this.statsValue.ticks += 1;
    const ms = parseTsUtcMs(tick.ts_utc);
    if (!Number.isNaN(ms)) this.lastTickMs.set(tick.symbol, Math.max(ms, this.lastTickMs.get(tick.symbol) ?? ms));
    for (const aggregator of this.aggregators.values()) {
      for (const bar of aggregator.push(tick)) void this.enqueue(() => this.storeBar(bar, runId, signal));
    }
  }

  private onReconnect(): void {
    this.statsValue.reconnects += 1;
    // The bar forming when the socket dropped misses the ticks sent meanwhile: re-fetch it (and what follows) over REST.
    for (const symbol of this.symbols()) {
      const last = this.lastTickMs.get(symbol);
      for (const timeframe of this.timeframes()) {
        const key = `${symbol}|${timeframe}`;
        const from = last ?? Number.POSITIVE_INFINITY;
        this.resyncFrom.set(key, Math.min(from, this.resyncFrom.get(key) ?? from));
      }
    }
    logEvent(this.deps.logger, 'warn', 'live_stream_reconnect', { source: this.sourceId, ...(this.runId ? { ingest_run_id: this.runId } : {}), details: { reconnects: this.statsValue.reconnects } });
    if (this.runId && this.controller) this.queueResync(this.runId, this.controller.signal);
  }

  private onTimer(runId: string, signal: AbortSignal): void {
    if (!this.running) return;
    const at = this.deps.pipeline.now() - (this.deps.flushGraceMs ?? 2000);
    for (const aggregator of this.aggregators.values()) {
      for (const bar of aggregator.flush(at)) void this.enqueue(() => this.storeBar(bar, runId, signal));
    }
    if (this.resyncFrom.size > 0) this.queueResync(runId, signal);
  }

  private queueResync(runId: string, signal: AbortSignal): void {
    if (this.resyncQueued) return;
    this.resyncQueued = true;
    void this.enqueue(async () => {
      this.resyncQueued = false;
      await this.catchUp(runId, signal, false);
    });
  }

  private async storeBar(bar: CanonicalBar, runId: string, signal: AbortSignal): Promise<void> {
    const { pipeline } = this.deps;
    const timeframe = bar.timeframe;
    const tsMs = parseTsUtcMs(bar.ts_utc);
    try {
      const wm = await pipeline.watermarks.get(bar.symbol, timeframe);
      if (wm && tsMs <= wm.last_ts.getTime()) {
        this.statsValue.superseded += 1;
        return;
      }
      const r = await pipeline.processFetched(
        { runId, symbol: bar.symbol, timeframe, startMs: tsMs, endMs: tsMs + timeframeMs(timeframe), live: true, signal },
        { bars: [bar], rejected: [], latencyMs: 0 },
        this.sourceId,
        { request: { source: this.sourceId, mode: 'stream', symbol: bar.symbol, timeframe, ts_utc: bar.ts_utc } },
      );
      this.statsValue.barsStored += r.inserted + r.updated;
      this.count(bar.symbol, timeframe, r.inserted + r.updated, r.lastTsMs);
    } catch (err) {
      if (!signal.aborted) reportError(err, { logger: this.deps.logger, registry: this.deps.registry, fallbackId: INGEST_ERROR.STORE, context: { event: 'live_stream_store_failed', symbol: bar.symbol, timeframe, ingest_run_id: runId } });
    }
  }

  /**
   * REST catch-up of every series from its watermark (and from a pending re-sync point, if earlier) to the last
   * closed bar. `atStart`: only series that have a watermark. A re-sync point is cleared once the bar it falls in
   * has closed and been fetched.
   */
  private async catchUp(runId: string, signal: AbortSignal, atStart: boolean): Promise<void> {
    const { pipeline } = this.deps;
    const calendar = pipeline.deps.settings.calendar;
    for (const timeframe of this.timeframes()) {
      const d = timeframeMs(timeframe);
      for (const symbol of this.symbols()) {
        if (signal.aborted) return;
        const key = `${symbol}|${timeframe}`;
        const pending = this.resyncFrom.get(key);
        try {
          const expectedOpen = lastClosedTradingBar(pipeline.now(), timeframe, calendar);
          const wm = await pipeline.watermarks.get(symbol, timeframe);
          if (atStart && !wm) continue;
          const pendingOpen = pending === undefined || !Number.isFinite(pending) ? Number.POSITIVE_INFINITY : Math.floor(pending / d) * d;
          const from = Math.min(wm ? wm.last_ts.getTime() + d : Number.POSITIVE_INFINITY, pendingOpen);
          if (!Number.isFinite(from)) {
            this.resyncFrom.delete(key);
            continue;
          }
          if (from <= expectedOpen) {
            const r = await pipeline.ingestChunk(this.deps.provider, { runId, symbol, timeframe, startMs: from, endMs: expectedOpen + d, live: true, signal });
            this.statsValue.resyncBars += r.inserted + r.updated;
            this.count(symbol, timeframe, r.inserted + r.updated, r.lastTsMs);
          }
          if (pending !== undefined && (pendingOpen <= expectedOpen || !Number.isFinite(pendingOpen)) && this.resyncFrom.get(key) === pending) this.resyncFrom.delete(key);
        } catch (err) {
          if (!signal.aborted) reportError(err, { logger: this.deps.logger, registry: this.deps.registry, fallbackId: INGEST_ERROR.FETCH, context: { event: 'live_resync_failed', symbol, timeframe, ingest_run_id: runId } });
        }
      }
    }
  }

  private count(symbol: string, timeframe: Timeframe, stored: number, lastTsMs: number | null): void {
    const key = `${symbol}|${timeframe}`;
    const c = this.counters.get(key) ?? { bars: 0, lastBarMs: null };
    c.bars += stored;
    if (lastTsMs !== null) c.lastBarMs = Math.max(c.lastBarMs ?? lastTsMs, lastTsMs);
    this.counters.set(key, c);
  }
}
