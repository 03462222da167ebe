import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type pg from 'pg';
import type { Registry } from 'prom-client';
import {
  barChecksum,
  barCloseMs,
  barIdempotencyKey,
  countExpectedBars,
  isBarClosed,
  normalizeSymbol,
  parseTsUtcMs,
  timeframeMs,
  validateBar,
  type BarValidationOptions,
  type CanonicalBar,
  type Timeframe,
} from '@noctria/canonical-bar';
import { encodeBarClosed, envelopeHeaders, newEnvelope, subjects } from '@noctria/contracts';
import { injectTraceContext, poolOf, withClientTransaction, type Logger } from '@noctria/platform';
import type { DB } from '../db/schema.js';
import { INGEST_ERROR } from '../errors.js';
import type { FetchResult, MarketDataProvider, RejectedRow } from '../providers/market-data-provider.port.js';
import { BarsRepository, rowToBar, type BarToStore, type StoredBar, type UpsertResult } from '../repositories/bars.repository.js';
import { DqRepository, emptyDqCounts, type DqCounts } from '../repositories/dq.repository.js';
import { OutboxRepository, type OutboxMessage } from '../repositories/outbox.repository.js';
import { RawResponsesRepository } from '../repositories/raw.repository.js';
import { RejectedRepository, type RejectedRowInput } from '../repositories/rejected.repository.js';
import { RunsRepository } from '../repositories/runs.repository.js';
import { WatermarksRepository } from '../repositories/watermarks.repository.js';
import { SPAN, SuccessRateTracker, logEvent, span, type IngestMetrics } from '../telemetry.js';
import { applyDq } from './dq-adapter.js';
import { monthKey, monthStartMs, nextMonthStartMs } from './months.js';
import { BAR_CLOSE_HEADER, LIVE_HEADER } from './outbox-relay.js';
import type { IngestSettings } from './settings.js';
import { withStoreRetry, type StoreRetryOptions } from './store-retry.js';

export const PRODUCER = 'ingest';

/** One chunk store's identity across its retries (see the chunk ledger). */
export interface StoreAttempt {
  token: string;
  /** A previous attempt failed: it may still have committed (a COMMIT whose reply was lost). */
  retry: boolean;
}

export interface ChunkRequest {
  runId: string;
  symbol: string;
  timeframe: Timeframe;
  /** Inclusive bar-open bound, epoch ms. */
  startMs: number;
  /** Exclusive bar-open bound, epoch ms. */
  endMs: number;
  /** Live mode: lag metrics and the `stale` flag of BarClosedEvent are computed. */
  live?: boolean;
  signal?: AbortSignal;
}

export interface ChunkResult {
  symbol: string;
  timeframe: Timeframe;
  sourceId: string | null;
  fetched: number;
  /** Bars not yet closed at processing time (left for a later run, not an error). */
  pending: number;
  rejected: number;
  dqDuplicates: number;
  inserted: number;
  updated: number;
  storeDuplicates: number;
  revised: number;
  conflicts: number;
  missing: number;
  outliers: number;
  filled: number;
  published: number;
  lastTsMs: number | null;
  months: string[];
}

export interface PipelineDeps {
  db: Kysely<DB>;
  logger: Logger;
  metrics: IngestMetrics;
  registry?: Registry;
  settings: IngestSettings;
  /** Bus subject prefix ('' in production). */
  busPrefix: string;
  /** Called after every commit that wrote outbox rows (the relay publishes them). */
  onCommitted?: () => void;
  now?: () => number;
  /** The pg pool under `db` (for the chunk's COPY); default: the pool `createDatabase` built `db` on. */
  pool?: pg.Pool;
  /** Re-runs of a chunk's DQ + store step after transient database failures (connection lost, deadlock…). */
  storeRetry?: StoreRetryOptions;
}

/**
 * fetch → canonicalise → DQ → store, one (symbol, timeframe, range) chunk at a time. The store step is one
 * transaction: bars (upsert), watermark, outbox rows of every written bar, DQ counters, rejected rows, raw
 * response and run counters commit together — a crash anywhere loses and duplicates nothing.
 */
export class IngestPipeline {
  readonly bars: BarsRepository;
  readonly watermarks: WatermarksRepository;
  readonly runs: RunsRepository;
  private readonly dq: DqRepository;
  private readonly outbox: OutboxRepository;
  private readonly rejectedRepo: RejectedRepository;
  private readonly raw: RawResponsesRepository;
  private readonly successRate: SuccessRateTracker;
  private readonly validation: BarValidationOptions;
  readonly now: () => number;

  constructor(readonly deps: PipelineDeps) {
    this.bars = new BarsRepository(deps.db);
    this.watermarks = new WatermarksRepository(deps.db);
    this.runs = new RunsRepository(deps.db);
    this.dq = new DqRepository(deps.db);
    this.outbox = new OutboxRepository(deps.db);
    this.rejectedRepo = new RejectedRepository(deps.db);
    this.raw = new RawResponsesRepository(deps.db);
    this.successRate = new SuccessRateTracker(deps.metrics);
    this.validation = { timeframe_allowed: deps.settings.timeframeAllowed };
    this.now = deps.now ?? Date.now;
  }

  /** Fetches one chunk through `provider` (retry/failover live inside it) and processes it. */
  async ingestChunk(provider: MarketDataProvider, req: ChunkRequest): Promise<ChunkResult> {
    const attrs = { ingest_run_id: req.runId, symbol: req.symbol, timeframe: req.timeframe, start: new Date(req.startMs).toISOString(), end: new Date(req.endMs).toISOString() };
    return span(SPAN.chunk, attrs, async () => {
      const fetched = await span(SPAN.fetch, { ...attrs, source: provider.sourceId }, async () => {
        const t0 = performance.now();
        try {
          const r = await provider.fetchTimeSeries({
            symbol: req.symbol,
            timeframe: req.timeframe,
            startMs: req.startMs,
            endMs: req.endMs,
            ingestRunId: req.runId,
            ...(req.signal ? { signal: req.signal } : {}),
          });
          const source = r.bars[0]?.source_id ?? provider.sourceId;
          this.successRate.record(source, true);
          this.deps.metrics.apiLatencyMs.observe({ source, timeframe: req.timeframe }, r.latencyMs ?? performance.now() - t0);
          return r;
        } catch (err) {
          this.successRate.record(provider.sourceId, false);
          this.deps.metrics.apiLatencyMs.observe({ source: provider.sourceId, timeframe: req.timeframe }, performance.now() - t0);
          throw err;
        }
      });
      return this.processFetched(req, fetched, provider.sourceId, { request: { ...attrs, source: provider.sourceId } });
    });
  }

  /**
   * Canonicalise → DQ → store an already fetched result (also the path of file imports). Bars outside the
   * request (other series, outside [start, end)) are rejected with a reason; bars not closed yet are left
   * for later. The step reads its DQ context and writes in one transaction, so after a transient database
   * failure (a dropped connection, a deadlock) it is re-run with backoff instead of losing the chunk.
   */
  async processFetched(
    req: ChunkRequest,
    fetched: FetchResult,
    fallbackSourceId: string,
    extra: { request?: Record<string, unknown>; lines?: readonly number[] } = {},
  ): Promise<ChunkResult> {
    // One token per chunk store: a retry after an uncertain COMMIT (connection lost while committing) finds it in
    // the chunk ledger when that commit went through, and then writes nothing a second time.
    const attempt = { token: randomUUID(), retry: false };
    return withStoreRetry(() => {
      const r = this.processFetchedOnce(req, fetched, fallbackSourceId, extra, { ...attempt });
      attempt.retry = true;
      return r;
    }, {
      ...this.deps.storeRetry,
      ...(req.signal ? { signal: req.signal } : {}),
      onRetry: (err, attempt, delayMs) => {
        this.deps.metrics.storeRetries.inc({ symbol: req.symbol, timeframe: req.timeframe });
        logEvent(this.deps.logger, 'warn', 'chunk_store_retry', {
          symbol: req.symbol,
          timeframe: req.timeframe,
          ingest_run_id: req.runId,
          details: { error_id: INGEST_ERROR.STORE, attempt, delay_ms: delayMs, message: err instanceof Error ? err.message : String(err) },
        });
      },
    });
  }

  private async processFetchedOnce(
    req: ChunkRequest,
    fetched: FetchResult,
    fallbackSourceId: string,
    extra: { request?: Record<string, unknown>; lines?: readonly number[] },
    attempt: StoreAttempt = { token: randomUUID(), retry: false },
  ): Promise<ChunkResult> {
    const { settings, metrics } = this.deps;
    const tf = req.timeframe;
    const tfMs = timeframeMs(tf);
    const nowMs = this.now();
    const sourceId = fetched.bars[0]?.source_id ?? fallbackSourceId;

    // ── canonicalise ────────────────────────────────────────────────────────────
    const { good, rejected, pending } = await span(SPAN.canonicalise, { ingest_run_id: req.runId, symbol: req.symbol, timeframe: tf }, () => {
      const rejectedRows: RejectedRowInput[] = fetched.rejected.map((r: RejectedRow) => ({
        runId: req.runId,
        sourceId,
        symbol: req.symbol,
        timeframe: tf,
        line: r.line ?? null,
        errorId: r.errorId,
        reason: r.reason,
        raw: r.raw ?? null,
      }));
      const ok: { bar: CanonicalBar; tsMs: number }[] = [];
      let notClosed = 0;
      fetched.bars.forEach((input, index) => {
        const reject = (errorId: string, reason: string) =>
          rejectedRows.push({ runId: req.runId, sourceId, symbol: req.symbol, timeframe: tf, line: extra.lines?.[index] ?? index, errorId, reason, raw: safeJson(input) });
        let bar = input;
        if (bar && typeof bar.symbol === 'string' && bar.symbol !== req.symbol) {
          try {
            bar = { ...bar, symbol: normalizeSymbol(bar.symbol), metadata: { ...bar.metadata, symbol_source: bar.metadata?.symbol_source ?? input.symbol } };
          } catch (err) {
            return reject(INGEST_ERROR.REJECTED, (err as Error).message);
          }
        }
        const v = validateBar(bar, this.validation);
        if (!v.ok) return reject(v.issues[0]?.errorId ?? INGEST_ERROR.REJECTED, v.issues.map((i) => `${i.field}: ${i.message}`).join('; '));
        if (bar.symbol !== req.symbol || bar.timeframe !== tf) {
          return reject(INGEST_ERROR.MISMATCH, `bar of ${bar.symbol} ${bar.timeframe} in a ${req.symbol} ${tf} request`);
        }
        const tsMs = parseTsUtcMs(bar.ts_utc);
        if (tsMs < req.startMs || tsMs >= req.endMs) {
          return reject(INGEST_ERROR.MISMATCH, `bar ${bar.ts_utc} outside the requested range [${new Date(req.startMs).toISOString()}, ${new Date(req.endMs).toISOString()})`);
        }
        if (!isBarClosed(tsMs, tf, nowMs)) {
          notClosed += 1;
          return;
        }
        ok.push({ bar: { ...bar, ingest_run_id: req.runId }, tsMs });
      });
      return { good: ok, rejected: rejectedRows, pending: notClosed };
    });
    for (const r of rejected) metrics.rejectedRows.inc({ source: r.sourceId, error_id: r.errorId });

    // ── DQ ───────────────────────────────────────────────────────────────────────
    const dqOut = await span(SPAN.dq, { ingest_run_id: req.runId, symbol: req.symbol, timeframe: tf, bars: good.length }, async () => {
      const context = await this.bars.tail(req.symbol, tf, req.startMs, settings.dqContextBars);
      return applyDq({
        symbol: req.symbol,
        timeframe: tf,
        runId: req.runId,
        context: context.map(rowToBar),
        bars: good,
        settings,
      });
    });
    if (dqOut.duplicates > 0) metrics.dedupeDrops.inc({ symbol: req.symbol, timeframe: tf, stage: 'dq' }, dqOut.duplicates);

    // ── per-month DQ counters ───────────────────────────────────────────────────
    const closedEnd = Math.min(req.endMs, Math.floor(nowMs / tfMs) * tfMs);
    const perMonth = new Map<string, DqCounts>();
    const counts = (ms: number) => {
      const k = monthKey(ms);
      let c = perMonth.get(k);
      if (!c) perMonth.set(k, (c = emptyDqCounts()));
      return c;
    };
    for (let m = monthStartMs(monthKey(req.startMs)); m < closedEnd; m = nextMonthStartMs(monthKey(m))) {
      const from = Math.max(m, req.startMs);
      const to = Math.min(nextMonthStartMs(monthKey(m)), closedEnd);
      if (to > from) counts(m).expected += countExpectedBars(from, to, tf, settings.calendar);
    }
    for (const g of good) counts(g.tsMs).received += 1;
    for (const b of dqOut.bars) {
      const c = counts(b.tsMs);
      if (b.bar.quality_flag === 'outlier') c.outliers += 1;
      if (b.bar.quality_flag === 'resampled') c.filled += 1;
      if (b.bar.quality_flag === 'missing') c.missing += 1;
      if (b.spike) c.spikes += 1;
    }
    for (const ms of dqOut.missingOpens) counts(ms).missing += 1;
    for (const ms of dqOut.duplicateOpens) counts(ms).duplicates_dropped += 1;
    if (rejected.length > 0) counts(req.startMs).rejected += rejected.length;

    // ── store (one transaction) ───────────────────────────────────────────────
    const toStore: BarToStore[] = dqOut.bars.map((b) => ({ bar: b.bar, tsMs: b.tsMs, checksum: barChecksum(b.bar) }));
    const lastTsMs = toStore.length > 0 ? Math.max(...toStore.map((b) => b.tsMs)) : null;
    const stored = await span(SPAN.store, { ingest_run_id: req.runId, symbol: req.symbol, timeframe: tf, bars: toStore.length }, async () => {
      if (attempt.retry) {
        const prior = await this.runs.committedChunk(attempt.token);
        if (prior) return { up: { written: [], inserted: prior.inserted, updated: prior.updated, duplicates: prior.duplicates, revised: prior.revised, conflicts: prior.conflicts }, published: prior.published, replayed: true };
      }
      if (toStore.length > 0) {
        const minTs = Math.min(...toStore.map((b) => b.tsMs));
        await this.bars.ensurePartitions(minTs, (lastTsMs as number) + 1);
      }
      return this.storeChunk(req, attempt.token, { toStore, lastTsMs, sourceId, nowMs, perMonth, counts, rejected, fetched, extra, dqOut });
    });
    if (stored.published > 0) this.deps.onCommitted?.();

    const { up } = stored;
    if (up.duplicates > 0) metrics.dedupeDrops.inc({ symbol: req.symbol, timeframe: tf, stage: 'store' }, up.duplicates);
    if (up.inserted > 0) metrics.barsStored.inc({ symbol: req.symbol, timeframe: tf, outcome: 'inserted' }, up.inserted);
    if (up.updated > 0) metrics.barsStored.inc({ symbol: req.symbol, timeframe: tf, outcome: 'updated' }, up.updated);
    if (req.live) {
      for (const w of up.written) metrics.pipelineLagSeconds.observe({ timeframe: tf, stage: 'stored' }, Math.max(0, (nowMs - barCloseMs(w.tsMs, tf)) / 1000));
    }
    if (rejected.length > 0) {
      logEvent(this.deps.logger, 'warn', 'rows_rejected', {
        source: sourceId,
        symbol: req.symbol,
        timeframe: tf,
        ingest_run_id: req.runId,
        details: { error_id: INGEST_ERROR.REJECTED, count: rejected.length, first: rejected[0]?.reason },
      });
    }
    const result: ChunkResult = {
      symbol: req.symbol,
      timeframe: tf,
      sourceId,
      fetched: fetched.bars.length,
      pending,
      rejected: rejected.length,
      dqDuplicates: dqOut.duplicates,
      inserted: up.inserted,
      updated: up.updated,
      storeDuplicates: up.duplicates,
      revised: up.revised,
      conflicts: up.conflicts,
      missing: dqOut.missingOpens.length,
      outliers: dqOut.bars.filter((b) => b.bar.quality_flag === 'outlier').length,
      filled: dqOut.bars.filter((b) => b.bar.quality_flag === 'resampled').length,
      published: stored.published,
      lastTsMs,
      months: [...perMonth.keys()].sort(),
    };
    logEvent(this.deps.logger, 'debug', 'chunk_stored', { source: sourceId, symbol: req.symbol, timeframe: tf, ingest_run_id: req.runId, details: { ...result } });
    return result;
  }

  /**
   * The chunk's store transaction on one connection: bars (COPY into a temp staging table + set-based upsert),
   * watermark, outbox rows, DQ counters, rejected rows, raw response, run counts and the chunk-ledger row under
   * `token` commit together or not at all.
   */
  private async storeChunk(
    req: ChunkRequest,
    token: string,
    c: {
      toStore: BarToStore[];
      lastTsMs: number | null;
      sourceId: string;
      nowMs: number;
      perMonth: Map<string, DqCounts>;
      counts: (ms: number) => DqCounts;
      rejected: RejectedRowInput[];
      fetched: FetchResult;
      extra: { request?: Record<string, unknown> };
      dqOut: { duplicates: number; bars: { bar: CanonicalBar }[]; missingOpens: readonly number[] };
    },
  ): Promise<{ up: UpsertResult; published: number; replayed: boolean }> {
    const tf = req.timeframe;
    const db = this.deps.db;
    const pool = this.deps.pool ?? poolOf(db as Kysely<unknown>)?.pool;
    if (!pool) throw new Error('IngestPipeline needs the pg pool of its database (deps.pool, or a Kysely built by createDatabase)');
    const plugins = poolOf(db as Kysely<unknown>)?.plugins ?? [];
    return withClientTransaction<DB, { up: UpsertResult; published: number; replayed: boolean }>(
      pool,
      async (tx) => {
        const trx = tx.db;
        const up = await this.bars.upsertStaged(tx, c.toStore, this.deps.settings.diffThresh);
        if (c.lastTsMs !== null) await this.watermarks.advance(trx, req.symbol, tf, c.lastTsMs, c.sourceId);
        const messages = up.written.filter((w) => w.bar.quality_flag !== 'missing').map((w) => this.barMessage(w, req.live === true, c.nowMs));
        await this.outbox.enqueueCopy(tx, messages);
        for (const w of up.written) {
          if (w.bar.quality_flag === 'revised') c.counts(w.tsMs).revised += 1;
          if (w.bar.quality_flag === 'conflict') c.counts(w.tsMs).conflicts += 1;
        }
        for (const [month, counts] of c.perMonth) await this.dq.add(trx, { runId: req.runId, symbol: req.symbol, timeframe: tf, month }, counts);
        await this.rejectedRepo.insert(trx, c.rejected);
        if (c.fetched.raw) {
          await this.raw.insert(trx, { runId: req.runId, sourceId: c.sourceId, request: c.extra.request ?? {}, contentType: c.fetched.raw.contentType, body: c.fetched.raw.body });
        }
        await this.runs.addCounts(
          req.runId,
          {
            fetched: c.fetched.bars.length,
            rejected: c.rejected.length,
            inserted: up.inserted,
            updated: up.updated,
            duplicates: up.duplicates + c.dqOut.duplicates,
            revised: up.revised,
            conflicts: up.conflicts,
            outliers: c.dqOut.bars.filter((b) => b.bar.quality_flag === 'outlier').length,
            filled: c.dqOut.bars.filter((b) => b.bar.quality_flag === 'resampled').length,
            missing: c.dqOut.missingOpens.length,
            published: messages.length,
            chunks: 1,
          },
          trx,
        );
        await this.runs.recordChunk(trx, {
          token,
          runId: req.runId,
          symbol: req.symbol,
          timeframe: tf,
          startMs: req.startMs,
          endMs: req.endMs,
          outcome: { inserted: up.inserted, updated: up.updated, duplicates: up.duplicates, revised: up.revised, conflicts: up.conflicts, published: messages.length },
        });
        return { up, published: messages.length, replayed: false };
      },
      { plugins },
    );
  }

  /**
   * BarClosedEvent of a written bar. msgId = idempotency key + checksum + quality flag: a re-run produces the
   * same id (JetStream drops it inside the duplicate window; the store already dropped it as a duplicate), a
   * revision or a changed DQ verdict produces a new one.
   */
  barMessage(w: StoredBar, live: boolean, nowMs: number): OutboxMessage {
    const tf = w.bar.timeframe;
    const closeMs = barCloseMs(w.tsMs, tf);
    const msgId = `${barIdempotencyKey(w.bar)}|${w.checksum}|${w.bar.quality_flag}`;
    const envelope = newEnvelope({ messageId: msgId, producer: PRODUCER, producedAtMs: nowMs });
    const budget = this.deps.settings.freshnessBudgetSeconds[tf];
    const stale = live && budget !== undefined && nowMs - closeMs > budget * 1000;
    const payload = encodeBarClosed({ envelope, bar: w.bar, checksum: w.checksum, stale, closedAtMs: nowMs });
    const headers: Record<string, string> = { ...injectTraceContext({}), ...envelopeHeaders(envelope), [BAR_CLOSE_HEADER]: String(closeMs) };
    if (live) headers[LIVE_HEADER] = '1';
    return { subject: subjects(this.deps.busPrefix).barClosed(tf, w.bar.symbol), msgId, payload, headers };
  }
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
