import { randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { Registry } from 'prom-client';
import { barCloseMs, countExpectedBars, isTradingBar, timeframeMs, type Calendar, type Timeframe } from '@noctria/canonical-bar';
import { encodeBarStale, envelopeHeaders, newEnvelope, subjects } from '@noctria/contracts';
import { reportError, withTransaction, type Logger } from '@noctria/platform';
import type { DB } from '../db/schema.js';
import { INGEST_ERROR } from '../errors.js';
import type { MarketDataProvider } from '../providers/market-data-provider.port.js';
import { OutboxRepository } from '../repositories/outbox.repository.js';
import { SPAN, logEvent, span, type IngestMetrics } from '../telemetry.js';
import { PRODUCER, type IngestPipeline } from './ingest-pipeline.js';

export interface LiveOptions {
  /** Default: the universe symbols. */
  symbols?: string[];
  /** Default: the configured timeframes. */
  timeframes?: Timeframe[];
  /** Real milliseconds between polls (default 1000). */
  pollMs?: number;
}

export interface LiveDeps extends LiveOptions {
  pipeline: IngestPipeline;
  provider: MarketDataProvider;
  db: Kysely<DB>;
  logger: Logger;
  registry?: Registry;
  metrics: IngestMetrics;
  busPrefix: string;
  onCommitted?: () => void;
}

/** Per-series live counters since `start()` (for a status line). */
export interface LiveSeriesStatus {
  symbol: string;
  timeframe: Timeframe;
  /** Bars stored (and queued for publication) by the live loop. */
  bars: number;
  /** Open time of the newest stored bar (epoch ms), null before the first. */
  lastBarMs: number | null;
  /** Market seconds between that bar's close and now. */
  lagSeconds: number | null;
}

export interface LiveTickResult {
  stored: number;
  staleRaised: string[];
  staleCleared: string[];
}

/**
 * Live mode: each poll fetches, per (symbol, timeframe), the bars closed since the watermark (the pipeline's
 * clock is market time: real time, or the synthetic provider's accelerated clock) and publishes them once
 * closed. When the bar that should have closed is still missing `freshness_budget_seconds` after its close, a
 * suppress flag is published on `md.stale.<tf>.<symbol>` (once per late bar) and counted; it is cleared
 * (suppress=false) when the bar arrives.
 */
export class LiveService {
  private running = false;
  private loop: Promise<void> | undefined;
  private controller: AbortController | undefined;
  private runId: string | undefined;
  private readonly counters = new Map<string, { bars: number; lastBarMs: number | null }>();

  constructor(private readonly deps: LiveDeps) {}

  /** Bars stored per series since the service was built, the newest bar and its lag (market time). */
  status(): LiveSeriesStatus[] {
    return seriesStatus(this.counters, this.symbols(), this.timeframes(), this.deps.pipeline.now());
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.controller = new AbortController();
    this.runId = randomUUID();
    await this.deps.pipeline.runs.create({ id: this.runId, kind: 'live', source: this.deps.provider.sourceId, params: { symbols: this.symbols(), timeframes: this.timeframes() } });
    this.loop = this.run(this.runId, this.controller.signal);
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.controller?.abort();
    await this.loop;
    if (this.runId) await this.deps.pipeline.runs.finish(this.runId, 'succeeded').catch(() => undefined);
  }

  private symbols(): string[] {
    return this.deps.symbols ?? this.deps.pipeline.deps.settings.universeSymbols;
  }
  private timeframes(): Timeframe[] {
    return this.deps.timeframes ?? this.deps.pipeline.deps.settings.timeframes;
  }

  private async run(runId: string, signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        await this.tick(runId, signal);
      } catch (err) {
        if (!signal.aborted) reportError(err, { logger: this.deps.logger, registry: this.deps.registry, fallbackId: INGEST_ERROR.FETCH, context: { event: 'live_tick_failed', ingest_run_id: runId } });
      }
      await pollDelay(this.deps.pollMs ?? 1000, signal);
    }
  }

  /** One poll over every series (exposed for tests and the CLI). */
  async tick(runId: string, signal?: AbortSignal): Promise<LiveTickResult> {
    const { pipeline } = this.deps;
    const out: LiveTickResult = { stored: 0, staleRaised: [], staleCleared: [] };
    return span(SPAN.run, { ingest_run_id: runId, kind: 'live' }, async () => {
      for (const timeframe of this.timeframes()) {
        const d = timeframeMs(timeframe);
        for (const symbol of this.symbols()) {
          if (signal?.aborted) return out;
          const nowMs = pipeline.now();
          const calendar = pipeline.deps.settings.calendar;
          const expectedOpen = lastClosedTradingBar(nowMs, timeframe, calendar); // last bar that should be closed by now
          const wm = await pipeline.watermarks.get(symbol, timeframe);
          const from = wm ? wm.last_ts.getTime() + d : expectedOpen;
          if (from <= expectedOpen) {
            try {
              const r = await pipeline.ingestChunk(this.deps.provider, { runId, symbol, timeframe, startMs: from, endMs: expectedOpen + d, live: true, ...(signal ? { signal } : {}) });
              out.stored += r.inserted + r.updated;
              const c = this.counters.get(`${symbol}|${timeframe}`) ?? { bars: 0, lastBarMs: null };
              c.bars += r.inserted + r.updated;
              if (r.lastTsMs !== null) c.lastBarMs = Math.max(c.lastBarMs ?? r.lastTsMs, r.lastTsMs);
              this.counters.set(`${symbol}|${timeframe}`, c);
            } catch (err) {
              reportError(err, { logger: this.deps.logger, registry: this.deps.registry, fallbackId: INGEST_ERROR.FETCH, context: { event: 'live_fetch_failed', symbol, timeframe, ingest_run_id: runId } });
            }
          }
          const key = `${symbol}|${timeframe}`;
          const after = await pipeline.watermarks.get(symbol, timeframe);
          const lastMs = after?.last_ts.getTime() ?? null;
          const budget = pipeline.deps.settings.freshnessBudgetSeconds[timeframe];
          // Trading bars expected after the watermark up to the last closed one (weekend bars are not owed).
          const watermarkLag = lastMs === null ? 0 : countExpectedBars(lastMs + d, expectedOpen + d, timeframe, calendar);
          this.deps.metrics.watermarkLagBars.set({ symbol, timeframe }, watermarkLag);
          if (budget === undefined) continue;
          const late = (lastMs === null || lastMs < expectedOpen) && nowMs - barCloseMs(expectedOpen, timeframe) > budget * 1000;
          if (late && (await this.raise(symbol, timeframe, expectedOpen, lastMs, budget, nowMs))) out.staleRaised.push(key);
          if (!late && (await this.clear(symbol, timeframe, lastMs, budget, nowMs))) out.staleCleared.push(key);
        }
      }
      return out;
    });
  }

  private async raise(symbol: string, timeframe: Timeframe, expectedOpen: number, lastMs: number | null, budget: number, nowMs: number): Promise<boolean> {
    const raised = await withTransaction(this.deps.db, async (trx) => {
      const r = await sql`
        insert into ingest.stale_flags (symbol, timeframe, expected_ts, budget_seconds)
        values (${symbol}, ${timeframe}, ${new Date(expectedOpen).toISOString()}::timestamptz, ${budget})
        on conflict do nothing`.execute(trx);
      if (Number(r.numAffectedRows ?? 0n) === 0) return false;
      await new OutboxRepository(this.deps.db).enqueue(trx, [this.staleMessage(symbol, timeframe, expectedOpen, lastMs, budget, nowMs, true)]);
      return true;
    });
    if (raised) {
      this.deps.metrics.staleFlags.inc({ symbol, timeframe });
      this.deps.onCommitted?.();
      logEvent(this.deps.logger, 'warn', 'freshness_budget_exceeded', {
        symbol,
        timeframe,
        source: this.deps.provider.sourceId,
        ...(this.runId ? { ingest_run_id: this.runId } : {}),
        details: { error_id: INGEST_ERROR.STALE, expected_bar: new Date(expectedOpen).toISOString(), budget_seconds: budget },
      });
    }
    return raised;
  }

  private async clear(symbol: string, timeframe: Timeframe, lastMs: number | null, budget: number, nowMs: number): Promise<boolean> {
    if (lastMs === null) return false;
    const cleared = await withTransaction(this.deps.db, async (trx) => {
      const r = await sql<{ expected_ts: Date }>`
        update ingest.stale_flags set cleared_at = now()
        where symbol = ${symbol} and timeframe = ${timeframe} and cleared_at is null and expected_ts <= ${new Date(lastMs).toISOString()}::timestamptz
        returning expected_ts`.execute(trx);
      if (r.rows.length === 0) return false;
      const latest = Math.max(...r.rows.map((x) => x.expected_ts.getTime()));
      await new OutboxRepository(this.deps.db).enqueue(trx, [this.staleMessage(symbol, timeframe, latest, lastMs, budget, nowMs, false)]);
      return true;
    });
    if (cleared) this.deps.onCommitted?.();
    return cleared;
  }

  private staleMessage(symbol: string, timeframe: Timeframe, expectedOpen: number, lastMs: number | null, budget: number, nowMs: number, suppress: boolean) {
    const msgId = `stale|${symbol}|${timeframe}|${expectedOpen}|${suppress ? 'raise' : 'clear'}`;
    const envelope = newEnvelope({ messageId: msgId, producer: PRODUCER, producedAtMs: Math.floor(nowMs) });
    const payload = encodeBarStale({
      envelope,
      symbol,
      timeframe,
      expectedBarTsMs: expectedOpen,
      lastBarTsMs: lastMs,
      lagSeconds: Math.max(0, (nowMs - barCloseMs(expectedOpen, timeframe)) / 1000),
      budgetSeconds: budget,
      suppress,
      sourceId: this.deps.provider.sourceId,
    });
    return { subject: subjects(this.deps.busPrefix).barStale(timeframe, symbol), msgId, payload, headers: envelopeHeaders(envelope) };
  }
}

/**
 * Open of the last bar of `calendar` closed at `nowMs`: the newest trading bar whose close is ≤ now. Under 24/5
 * on a weekend this is Friday's last bar, so the freshness check owes nothing until Monday's first bar closes.
 */
export function lastClosedTradingBar(nowMs: number, timeframe: Timeframe, calendar: Calendar): number {
  const d = timeframeMs(timeframe);
  let open = Math.floor(nowMs / d) * d - d;
  // At most a weekend (plus a day of slack) of non-trading bars to step back over.
  for (let steps = 0; !isTradingBar(open, calendar) && steps < (4 * 86_400_000) / d; steps++) open -= d;
  return open;
}

/** Waits `ms` or until `signal` aborts; the abort listener is removed either way (the loop runs for days). */
function pollDelay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    const onAbort = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Per-series live counters as reported by `status()` (bars stored, newest bar, its lag in market time). */
export function seriesStatus(
  counters: ReadonlyMap<string, { bars: number; lastBarMs: number | null }>,
  symbols: readonly string[],
  timeframes: readonly Timeframe[],
  nowMs: number,
): LiveSeriesStatus[] {
  const out: LiveSeriesStatus[] = [];
  for (const timeframe of timeframes) {
    for (const symbol of symbols) {
      const c = counters.get(`${symbol}|${timeframe}`) ?? { bars: 0, lastBarMs: null };
      const lagSeconds = c.lastBarMs === null ? null : Math.max(0, Math.round((nowMs - barCloseMs(c.lastBarMs, timeframe)) / 1000));
      out.push({ symbol, timeframe, bars: c.bars, lastBarMs: c.lastBarMs, lagSeconds });
    }
  }
  return out;
}
