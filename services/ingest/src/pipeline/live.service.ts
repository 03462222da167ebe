import { randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { Registry } from 'prom-client';
import { barCloseMs, timeframeMs, type Timeframe } from '@noctria/canonical-bar';
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

  constructor(private readonly deps: LiveDeps) {}

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
          const expectedOpen = Math.floor(nowMs / d) * d - d; // last bar that should be closed by now
          const wm = await pipeline.watermarks.get(symbol, timeframe);
          const from = wm ? wm.last_ts.getTime() + d : expectedOpen;
          if (from <= expectedOpen) {
            try {
              const r = await pipeline.ingestChunk(this.deps.provider, { runId, symbol, timeframe, startMs: from, endMs: expectedOpen + d, live: true, ...(signal ? { signal } : {}) });
              out.stored += r.inserted + r.updated;
            } catch (err) {
              reportError(err, { logger: this.deps.logger, registry: this.deps.registry, fallbackId: INGEST_ERROR.FETCH, context: { event: 'live_fetch_failed', symbol, timeframe, ingest_run_id: runId } });
            }
          }
          const key = `${symbol}|${timeframe}`;
          const after = await pipeline.watermarks.get(symbol, timeframe);
          const lastMs = after?.last_ts.getTime() ?? null;
          const budget = pipeline.deps.settings.freshnessBudgetSeconds[timeframe];
          const watermarkLag = lastMs === null ? 0 : Math.max(0, Math.round((expectedOpen - lastMs) / d));
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
