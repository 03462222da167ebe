/**
 * The features pipeline: consumed leg bars → aligned pair bars → PairFeatureEngine → stored vectors + outbox.
 *
 * The database is the truth, the in-memory engines a cache of it:
 * - A batch of consumed leg bars is one transaction. Every series (pair × timeframe) the batch touches locks its
 *   `pair_state` row and checks that its engine has consumed exactly what the row says (else it is restored: latest
 *   checkpoint + replay of the bars consumed after it). Then bar by bar, in stream order: the leg is stored
 *   (idempotently, `features.leg_bars`), and when it completes its bar time (the other leg is stored, the time is
 *   after `last_ts`) every series using it is fed that time — one vector (and, when complete, one outbox row) per
 *   bar time, a checkpoint every `checkpointEvery` bars.
 * - A redelivered or replayed bar finds its key stored and its bar time passed: nothing changes. A new leg bar for
 *   a bar time its series has passed is counted and dropped (`out_of_order`).
 * - A transaction that fails leaves the engine ahead of its row; the next use sees the mismatch and restores it, so
 *   what the engine consumed and what is stored never drift apart — and the replayed input is the stored input,
 *   which makes a restarted engine bit-identical to an uninterrupted one.
 */
import { context, propagation } from '@opentelemetry/api';
import type { Kysely } from 'kysely';
import type { Registry } from 'prom-client';
import type { QualityFlag, Timeframe } from '@noctria/canonical-bar';
import { encodeFeatureVector, envelopeHeaders, featureKey, newEnvelope, subjects } from '@noctria/contracts';
import {
  FEATURE_INDEX,
  FEATURE_NAMES,
  PairFeatureEngine,
  fullVectorWarmupBars,
  type PairBar,
} from '@noctria/features';
import { NoctriaError, reportError, withTransaction, type Logger } from '@noctria/platform';
import type { DB } from '../db/schema.js';
import { FEATURES_ERROR } from '../errors.js';
import { LegBarsRepository, type AlignedRow, type LegBarRow, type LegKey, type LegState } from '../repositories/leg-bars.repository.js';
import { OutboxRepository, type OutboxMessage } from '../repositories/outbox.repository.js';
import { StateRepository, type PairStateRow, type SeriesKey } from '../repositories/state.repository.js';
import { VectorsRepository, type VectorToStore } from '../repositories/vectors.repository.js';
import type { FeaturesMetrics } from '../telemetry.js';
import { BAR_CLOSE_HEADER, LIVE_HEADER } from './outbox-relay.js';
import { BetaJumpDetector, staleMetricReason, vectorQuality, type VectorQuality } from './quality.js';
import { closeOf, type FeaturesSettings, type PairSeriesSpec } from './settings.js';

export const FEATURES_PRODUCER = 'features';
const IDX_BETA_STABILITY = FEATURE_INDEX.beta_stability;
const IDX_Z = FEATURE_INDEX.z;
/** Bar times fed per transaction when catching up on stored bars (start-up, rebuild). */
const CATCH_UP_BATCH = 500;
/** Rows per query when replaying after a checkpoint. */
const REPLAY_BATCH = 2000;

/** A consumed bar message, ready to store. */
export interface IncomingBar extends LegBarRow {
  timeframe: Timeframe;
}

export type BarOutcome = 'stored' | 'duplicate' | 'revised' | 'revision_ignored' | 'unrouted';

export interface VectorEffect {
  pairId: string;
  timeframe: Timeframe;
  tsMs: number;
  complete: boolean;
  quality: VectorQuality;
  barsSeen: number;
  z: number;
  betaStability: number;
}

export interface ApplyResult {
  outcome: BarOutcome;
  /** Vectors stored by this bar (usually 0 or 1). */
  vectors: VectorEffect[];
  /** Series that dropped the bar as out of order. */
  dropped: string[];
}

export interface SeriesStatus {
  pairId: string;
  timeframe: Timeframe;
  symbolA: string;
  symbolB: string;
  schemaHash: string;
  barsSeen: number;
  lastTsMs: number | null;
  /** Bars until every feature is defined (0 once complete). */
  warmupRemaining: number;
  complete: boolean;
  lastFlag: string | null;
  lastZ: number | null;
  /** Vectors stored since this process started. */
  vectorsSinceStart: number;
  /** Service clock when the last vector was stored (ms). */
  lastStoredMs: number | null;
}

/** One (pair, timeframe) series: its engine and jump-rule state (caches of the database) and status counters. */
class SeriesRuntime {
  engine: PairFeatureEngine;
  detector: BetaJumpDetector;
  lastFlag: string | null = null;
  lastZ: number | null = null;
  vectorsSinceStart = 0;
  lastStoredMs: number | null = null;

  constructor(
    readonly spec: PairSeriesSpec,
    readonly key: SeriesKey,
    private readonly settings: FeaturesSettings,
  ) {
    this.engine = new PairFeatureEngine(settings.params);
    this.detector = new BetaJumpDetector(settings.betaJumpFactor, settings.betaJumpWindow);
  }

  fresh(): void {
    this.engine = new PairFeatureEngine(this.settings.params);
    this.detector = new BetaJumpDetector(this.settings.betaJumpFactor, this.settings.betaJumpWindow);
  }

  /** Has the engine consumed exactly what the series row says? */
  matches(st: PairStateRow): boolean {
    const last = this.engine.lastTsMs;
    return this.engine.barsSeen === st.bars_seen && (st.last_ts === null ? last !== last : last === st.last_ts.getTime());
  }
}

interface PendingEffects {
  vectors: Array<VectorEffect & { closeMs: number; live: boolean; storedMs: number }>;
  checkpoints: SeriesKey[];
  jumps: Array<{ rt: SeriesRuntime; tsMs: number; value: number; median: number }>;
}

export interface FeaturePipelineOptions {
  db: Kysely<DB>;
  logger: Logger;
  registry?: Registry;
  metrics: FeaturesMetrics;
  settings: FeaturesSettings;
  /** Bus subject prefix ('' in production). */
  busPrefix: string;
  /** Service clock (ms): arrival times, lag, stored_at. The fleet passes its market clock. */
  now?: () => number;
  /** Called after a transaction that wrote outbox rows committed (kicks the relay). */
  onCommitted?: () => void;
  /** Retry budget (ms) of one batch transaction after transient database failures (default 10 s). */
  storeRetryMs?: number;
}

const TRANSIENT_SQLSTATE = /^(08|40001|40P01|57P0[123]|53300)/;

/** Connection loss, server shutdown, too many connections, serialization/deadlock: worth running again. */
export function isTransientDbError(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  if (typeof code === 'string' && TRANSIENT_SQLSTATE.test(code)) return true;
  const msg = err instanceof Error ? err.message : '';
  return /Connection terminated|connection timeout|ECONNREFUSED|ECONNRESET|Client has encountered a connection error|timeout exceeded when trying to connect/i.test(msg);
}

function pairBar(row: AlignedRow): PairBar {
  return {
    tsMs: row.ts_utc.getTime(),
    a: { open: row.a_open, high: row.a_high, low: row.a_low, close: row.a_close },
    b: { open: row.b_open, high: row.b_high, low: row.b_low, close: row.b_close },
  };
}

function alignedLegs(row: AlignedRow): [LegState, LegState] {
  return [
    { open: row.a_open, high: row.a_high, low: row.a_low, close: row.a_close, qualityFlag: row.a_flag as QualityFlag, ingestStale: row.a_ingest_stale, live: row.a_live, receivedMs: row.a_received_at.getTime(), checksum: '' },
    { open: row.b_open, high: row.b_high, low: row.b_low, close: row.b_close, qualityFlag: row.b_flag as QualityFlag, ingestStale: row.b_ingest_stale, live: row.b_live, receivedMs: row.b_received_at.getTime(), checksum: '' },
  ];
}

function legKey(symbol: string, timeframe: string, tsMs: number): string {
  return `${symbol}|${timeframe}|${tsMs}`;
}

function legOf(bar: IncomingBar): LegState {
  return { open: bar.open, high: bar.high, low: bar.low, close: bar.close, qualityFlag: bar.qualityFlag, ingestStale: bar.ingestStale, live: bar.live, receivedMs: bar.receivedMs, checksum: bar.checksum };
}

/** Has the series consumed this bar time (or a later one)? */
function passed(st: PairStateRow, tsMs: number): boolean {
  return st.last_ts !== null && tsMs <= st.last_ts.getTime();
}

function sameBits(a: Float64Array, b: Float64Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

export class FeaturePipeline {
  readonly schemaHash: string;
  readonly warmupBars: number;
  private readonly series: SeriesRuntime[];
  private readonly bySymbol = new Map<string, SeriesRuntime[]>();
  private readonly legs = new LegBarsRepository();
  private readonly states = new StateRepository();
  private readonly vectors = new VectorsRepository();
  private readonly outbox: OutboxRepository;
  private readonly now: () => number;
  private readonly subjects;

  constructor(private readonly options: FeaturePipelineOptions) {
    const { settings } = options;
    this.now = options.now ?? Date.now;
    this.subjects = subjects(options.busPrefix);
    this.outbox = new OutboxRepository(options.db);
    this.schemaHash = new PairFeatureEngine(settings.params).schemaHash;
    this.warmupBars = fullVectorWarmupBars(settings.params) + 1;
    // Lock order of a bar's transaction: series sorted by pair id, so two writers never wait on each other in a cycle.
    this.series = [...settings.series]
      .sort((x, y) => (x.pairId < y.pairId ? -1 : x.pairId > y.pairId ? 1 : x.timeframe.localeCompare(y.timeframe)))
      .map((spec) => new SeriesRuntime(spec, { pairId: spec.pairId, timeframe: spec.timeframe, schemaHash: this.schemaHash }, settings));
    for (const rt of this.series) {
      for (const symbol of new Set([rt.spec.symbolA, rt.spec.symbolB])) {
        const k = `${rt.spec.timeframe}|${symbol}`;
        this.bySymbol.set(k, [...(this.bySymbol.get(k) ?? []), rt]);
      }
    }
  }

  get db(): Kysely<DB> {
    return this.options.db;
  }

  /** Does any configured series use this symbol on this timeframe? */
  routes(timeframe: string, symbol: string): boolean {
    return this.bySymbol.has(`${timeframe}|${symbol}`);
  }

  /** Restores every series from the database and feeds any stored aligned bars it has not consumed yet. */
  async start(): Promise<void> {
    for (const rt of this.series) {
      await this.retrying(rt.spec.timeframe, () => this.inTransaction(async (u) => void (await this.lock(u, rt, 'start'))));
      await this.catchUp(rt);
    }
  }

  /** Feeds stored aligned bars the series has not consumed (start-up; first run of a new schema hash). */
  private async catchUp(rt: SeriesRuntime): Promise<void> {
    for (;;) {
      const { value: n, unit } = await this.retrying(rt.spec.timeframe, () => this.inTransaction((u) => this.advance(u, rt, CATCH_UP_BATCH)));
      this.afterCommit(unit.effects);
      if (n < CATCH_UP_BATCH) return;
    }
  }

  /** Stores one consumed leg bar and advances every series using it; returns what changed. */
  async apply(bar: IncomingBar): Promise<ApplyResult> {
    return (await this.applyBatch([bar]))[0]!;
  }

  /**
   * Stores consumed leg bars in the given order and advances every series using them, all in ONE transaction (group
   * commit: one WAL flush for the batch). Each bar advances its series before the next bar is looked at, exactly as
   * if it had come alone. Results are in input order; nothing is visible before the commit.
   */
  async applyBatch(bars: readonly IncomingBar[]): Promise<ApplyResult[]> {
    const { metrics, logger } = this.options;
    const routed = bars.filter((bar) => this.bySymbol.has(`${bar.timeframe}|${bar.symbol}`));
    let effects = emptyEffects();
    let outcomes = new Map<IncomingBar, { outcome: BarOutcome; from: number; dropped: string[] }>();
    if (routed.length > 0) {
      const done = await this.retrying(routed[0]!.timeframe, () => this.inTransaction((u) => this.applyInTransaction(u, routed)));
      effects = done.unit.effects;
      outcomes = done.value;
    }
    const results: ApplyResult[] = [];
    for (const bar of bars) {
      const o = outcomes.get(bar);
      if (!o) {
        metrics.barsReceived.inc({ timeframe: bar.timeframe, outcome: 'unrouted' });
        results.push({ outcome: 'unrouted', vectors: [], dropped: [] });
        continue;
      }
      metrics.barsReceived.inc({ timeframe: bar.timeframe, outcome: o.outcome });
      for (const pairId of o.dropped) {
        metrics.barsDropped.inc({ pair_id: pairId, timeframe: bar.timeframe, reason: 'out_of_order' });
        logger.info(
          { event: 'bar_out_of_order', error_id: FEATURES_ERROR.LATE, pair_id: pairId, timeframe: bar.timeframe, symbol: bar.symbol, ts_utc: new Date(bar.tsMs).toISOString() },
          'leg bar for a bar time the pair has passed: stored, not used',
        );
      }
      results.push({ outcome: o.outcome, vectors: [], dropped: o.dropped });
    }
    // Vectors belong to the bar whose arrival produced them (the entries between its start and the next bar's).
    const ordered = routed.map((bar) => outcomes.get(bar)!);
    ordered.forEach((o, i) => {
      const to = i + 1 < ordered.length ? ordered[i + 1]!.from : effects.vectors.length;
      const r = results[bars.indexOf(routed[i]!)]!;
      r.vectors = effects.vectors.slice(o.from, to).map(({ closeMs: _c, live: _l, storedMs: _s, ...v }) => v);
    });
    this.afterCommit(effects);
    return results;
  }

  /**
   * The batch inside its transaction, with a constant number of statements: every series it touches locked (and
   * its engine checked) once, the stored legs it needs read in one query, then each bar in order — exactly as if it
   * had come alone — against that in-memory view: its leg stored or recognised, and every series using it fed the
   * one bar time it can complete (every earlier complete time was consumed when it completed). New legs, vectors,
   * outbox rows and series rows are written at the end.
   */
  private async applyInTransaction(u: TxUnit, routed: readonly IncomingBar[]): Promise<Map<IncomingBar, { outcome: BarOutcome; from: number; dropped: string[] }>> {
    const out = new Map<IncomingBar, { outcome: BarOutcome; from: number; dropped: string[] }>();
    const targetsOf = (bar: IncomingBar) => this.bySymbol.get(`${bar.timeframe}|${bar.symbol}`)!;
    for (const rt of this.series) {
      if (routed.some((bar) => targetsOf(bar).includes(rt))) await this.lock(u, rt, 'resync');
    }
    const wanted = new Map<string, LegKey>();
    for (const bar of routed) {
      wanted.set(legKey(bar.symbol, bar.timeframe, bar.tsMs), { symbol: bar.symbol, timeframe: bar.timeframe, tsMs: bar.tsMs });
      for (const rt of targetsOf(bar)) {
        const other = bar.symbol === rt.spec.symbolA ? rt.spec.symbolB : rt.spec.symbolA;
        wanted.set(legKey(other, bar.timeframe, bar.tsMs), { symbol: other, timeframe: bar.timeframe, tsMs: bar.tsMs });
      }
    }
    const known = await this.legs.fetch(u.trx, [...wanted.values()]);
    const inserts = new Map<string, IncomingBar>();
    const revisions: IncomingBar[] = [];
    for (const bar of routed) {
      const from = u.effects.vectors.length;
      const dropped: string[] = [];
      const targets = targetsOf(bar);
      const key = legKey(bar.symbol, bar.timeframe, bar.tsMs);
      const prev = known.get(key);
      let outcome: BarOutcome;
      if (!prev) outcome = 'stored';
      else if (prev.checksum === bar.checksum && prev.qualityFlag === bar.qualityFlag && prev.ingestStale === bar.ingestStale) outcome = 'duplicate';
      else if (targets.some((rt) => passed(u.locked.get(rt)!, bar.tsMs))) outcome = 'revision_ignored';
      else outcome = 'revised';
      if (outcome === 'stored') inserts.set(key, bar);
      if (outcome === 'revised') {
        // A leg first seen in this same batch is not inserted yet: insert the revised content instead.
        if (inserts.has(key)) inserts.set(key, bar);
        else revisions.push(bar);
      }
      if (outcome === 'stored' || outcome === 'revised') known.set(key, legOf(bar));
      for (const rt of targets) {
        const st = u.locked.get(rt)!;
        if (passed(st, bar.tsMs)) {
          if (outcome === 'stored' || outcome === 'revised') dropped.push(rt.spec.pairId);
          continue;
        }
        const a = known.get(legKey(rt.spec.symbolA, bar.timeframe, bar.tsMs));
        const b = known.get(legKey(rt.spec.symbolB, bar.timeframe, bar.tsMs));
        if (a && b) await this.feed(u, rt, bar.tsMs, a, b);
      }
      out.set(bar, { outcome, from, dropped });
    }
    await this.legs.insertMany(u.trx, [...inserts.values()]);
    for (const bar of revisions) await this.legs.revise(u.trx, bar);
    return out;
  }

  /** Runs `fn` in one transaction whose buffered vectors, outbox rows and series rows are written before the commit. */
  private async inTransaction<T>(fn: (u: TxUnit) => Promise<T>): Promise<{ value: T; unit: TxUnit }> {
    return withTransaction(this.options.db, async (trx) => {
      const u = new TxUnit(trx);
      const value = await fn(u);
      await this.vectors.insertMany(trx, u.vectors);
      if (u.messages.length > 0) await this.outbox.enqueue(trx, u.messages);
      for (const rt of u.advanced) {
        const st = u.locked.get(rt)!;
        await this.states.advance(trx, rt.key, st.last_ts!.getTime(), st.bars_seen);
      }
      return { value, unit: u };
    });
  }

  /**
   * The series row, locked once per transaction; on that first lock the engine is checked against it and restored
   * when it differs (another writer advanced it, or an earlier transaction of ours rolled back after updating it).
   */
  private async lock(u: TxUnit, rt: SeriesRuntime, why: 'start' | 'resync'): Promise<PairStateRow> {
    let st = u.locked.get(rt);
    if (st) return st;
    st = await this.states.lock(u.trx, rt.key, rt.spec);
    if (why === 'start' || !rt.matches(st)) await this.restore(u.trx, rt, st, why);
    u.locked.set(rt, st);
    return st;
  }

  /** Feeds the series every stored aligned bar after its `last_ts` (at most `limit`; start-up catch-up). */
  private async advance(u: TxUnit, rt: SeriesRuntime, limit: number): Promise<number> {
    const st = await this.lock(u, rt, 'resync');
    const rows = await this.legs.aligned(u.trx, {
      symbolA: rt.spec.symbolA,
      symbolB: rt.spec.symbolB,
      timeframe: rt.spec.timeframe,
      afterMs: st.last_ts === null ? null : st.last_ts.getTime(),
      limit: Math.min(limit, 100_000),
    });
    for (const row of rows) {
      const [a, b] = alignedLegs(row);
      await this.feed(u, rt, row.ts_utc.getTime(), a, b);
    }
    return rows.length;
  }

  /**
   * Feeds one bar time (both legs) to the series' engine and buffers its vector (and outbox row when complete);
   * writes a checkpoint every `checkpointEvery` bars. The series row must be locked by the unit.
   */
  private async feed(u: TxUnit, rt: SeriesRuntime, tsMs: number, a: LegState, b: LegState): Promise<void> {
    const { settings, metrics } = this.options;
    const st = u.locked.get(rt)!;
    const tf = rt.spec.timeframe;
    const values = new Float64Array(FEATURE_NAMES.length);
    const t0 = process.hrtime.bigint();
    rt.engine.update({ tsMs, a: { open: a.open, high: a.high, low: a.low, close: a.close }, b: { open: b.open, high: b.high, low: b.low, close: b.close } }, values);
    metrics.engineUpdateSeconds.observe({ timeframe: tf }, Number(process.hrtime.bigint() - t0) / 1e9);
    const complete = values.every((v) => v === v);
    const betaStability = values[IDX_BETA_STABILITY]!;
    const jump = rt.detector.observe(betaStability);
    if (jump.started) u.effects.jumps.push({ rt, tsMs, value: betaStability, median: jump.median });
    const closeMs = closeOf(tsMs, tf);
    const quality = vectorQuality(a, b, { closeMs, budgetMs: settings.freshnessBudgetMs[tf], betaJump: jump.jump });
    const storedMs = this.now();
    const barsSeen = rt.engine.barsSeen;
    u.vectors.push({ key: rt.key, v: { tsMs, values, complete, qualityFlag: quality.flag, qualityReasons: quality.reasons, barsSeen, storedMs } });
    const live = a.live || b.live;
    if (complete) u.messages.push(this.message(rt, tsMs, values, quality, barsSeen, closeMs, live, storedMs));
    if (barsSeen % settings.checkpointEvery === 0) {
      await this.states.writeCheckpoint(u.trx, rt.key, { barsSeen, tsMs, state: JSON.stringify(rt.engine.snapshot()) });
      u.effects.checkpoints.push(rt.key);
    }
    u.effects.vectors.push({ pairId: rt.spec.pairId, timeframe: tf, tsMs, complete, quality, barsSeen, z: values[IDX_Z]!, betaStability, closeMs, live, storedMs });
    st.last_ts = new Date(tsMs);
    st.bars_seen = barsSeen;
    u.advanced.add(rt);
  }

  private message(rt: SeriesRuntime, tsMs: number, values: Float64Array, quality: VectorQuality, barsSeen: number, closeMs: number, live: boolean, nowMs: number): OutboxMessage {
    const key = featureKey(rt.spec.pairId, rt.spec.timeframe, tsMs, this.schemaHash);
    const carrier: Record<string, string> = {};
    propagation.inject(context.active(), carrier);
    const envelope = newEnvelope({
      messageId: key,
      producer: FEATURES_PRODUCER,
      producedAtMs: Math.floor(nowMs),
      ...(carrier['traceparent'] ? { traceparent: carrier['traceparent'] } : {}),
      ...(carrier['tracestate'] ? { tracestate: carrier['tracestate'] } : {}),
    });
    const payload = encodeFeatureVector({
      envelope,
      pairId: rt.spec.pairId,
      timeframe: rt.spec.timeframe,
      tsMs,
      values,
      schemaHash: this.schemaHash,
      qualityFlag: quality.flag,
      barsSeen,
      barCloseMs: closeMs,
    });
    const headers = envelopeHeaders(envelope);
    delete headers['Nats-Msg-Id']; // the bus sets it from msgId
    headers[BAR_CLOSE_HEADER] = String(closeMs);
    if (live) headers[LIVE_HEADER] = '1';
    return { subject: this.subjects.features(rt.spec.timeframe, rt.spec.pairId), msgId: key, payload, headers };
  }

  /**
   * Rebuilds the series' engine and jump-rule state from the database as of the locked row `st`: the newest
   * checkpoint at or before it, then the bars consumed after the checkpoint. The replay must land on the row's
   * bar count and time and reproduce the last stored vector bit for bit; otherwise the checkpoint is discarded
   * and the series replays from its first bar (DATA_FEATURES_RESTORE).
   */
  private async restore(trx: Kysely<DB>, rt: SeriesRuntime, st: PairStateRow, why: 'start' | 'resync'): Promise<void> {
    if (st.last_ts === null || st.bars_seen === 0) {
      rt.fresh();
      return;
    }
    const lastMs = st.last_ts.getTime();
    const { settings, metrics } = this.options;
    const replay = async (useCheckpoint: boolean): Promise<PairFeatureEngine> => {
      const cp = useCheckpoint ? await this.states.latestCheckpoint(trx, rt.key, st.bars_seen) : undefined;
      const engine = cp ? PairFeatureEngine.restore(JSON.parse(cp.state), settings.params) : new PairFeatureEngine(settings.params);
      let after: number | null = cp ? cp.ts_utc.getTime() : null;
      let last: Float64Array | undefined;
      for (;;) {
        const rows = await this.legs.consumed(trx, { ...rt.key, symbolA: rt.spec.symbolA, symbolB: rt.spec.symbolB, afterMs: after, uptoMs: lastMs, limit: REPLAY_BATCH });
        for (const row of rows) last = engine.update(pairBar(row), new Float64Array(FEATURE_NAMES.length));
        if (rows.length > 0) after = rows[rows.length - 1]!.ts_utc.getTime();
        if (rows.length < REPLAY_BATCH) break;
      }
      if (engine.barsSeen !== st.bars_seen || engine.lastTsMs !== lastMs) {
        throw new NoctriaError(FEATURES_ERROR.RESTORE, `${rt.spec.pairId} ${rt.spec.timeframe}: replay ended at ${engine.barsSeen} bars / ${engine.lastTsMs}, the series row says ${st.bars_seen} / ${lastMs}`, {
          severity: 'CRITICAL',
          details: { pair_id: rt.spec.pairId, timeframe: rt.spec.timeframe, checkpoint_bars: cp?.bars_seen ?? 0 },
        });
      }
      if (last) {
        const stored = await this.vectors.last(trx, rt.key, lastMs);
        if (!stored || !sameBits(stored.values, last)) {
          throw new NoctriaError(FEATURES_ERROR.RESTORE, `${rt.spec.pairId} ${rt.spec.timeframe}: the replayed vector at ${new Date(lastMs).toISOString()} differs from the stored one`, {
            severity: 'CRITICAL',
            details: { pair_id: rt.spec.pairId, timeframe: rt.spec.timeframe, checkpoint_bars: cp?.bars_seen ?? 0 },
          });
        }
      }
      metrics.restores.inc({ pair_id: rt.spec.pairId, timeframe: rt.spec.timeframe, source: cp ? 'checkpoint' : 'rebuild' });
      return engine;
    };
    let engine: PairFeatureEngine;
    try {
      engine = await replay(true);
    } catch (err) {
      if (isTransientDbError(err) || (err as { code?: unknown })?.code !== undefined) throw err;
      reportError(err, {
        logger: this.options.logger,
        registry: this.options.registry,
        fallbackId: FEATURES_ERROR.RESTORE,
        context: { event: 'checkpoint_unusable', pair_id: rt.spec.pairId, timeframe: rt.spec.timeframe, why },
      });
      engine = await replay(false);
    }
    const hist = await this.vectors.featureHistory(trx, rt.key, IDX_BETA_STABILITY, lastMs, settings.betaJumpWindow, 'beta_jump');
    rt.engine = engine;
    rt.detector = BetaJumpDetector.fromHistory(settings.betaJumpFactor, settings.betaJumpWindow, hist.values, hist.lastHadReason);
  }

  /** Writes a checkpoint of every series whose engine is current and ahead of its newest checkpoint (shutdown). */
  async checkpointAll(): Promise<number> {
    let written = 0;
    for (const rt of this.series) {
      try {
        written += await withTransaction(this.options.db, async (trx) => {
          const st = await this.states.lock(trx, rt.key, rt.spec);
          if (st.last_ts === null || !rt.matches(st)) return 0;
          if ((await this.states.latestCheckpointBars(trx, rt.key)) >= st.bars_seen) return 0;
          await this.states.writeCheckpoint(trx, rt.key, { barsSeen: st.bars_seen, tsMs: st.last_ts.getTime(), state: JSON.stringify(rt.engine.snapshot()) });
          return 1;
        });
        this.options.metrics.checkpoints.inc({ pair_id: rt.spec.pairId, timeframe: rt.spec.timeframe });
      } catch (err) {
        reportError(err, { logger: this.options.logger, registry: this.options.registry, fallbackId: FEATURES_ERROR.STORE, context: { event: 'checkpoint_failed', pair_id: rt.spec.pairId } });
      }
    }
    return written;
  }

  status(): SeriesStatus[] {
    return this.series.map((rt) => {
      const barsSeen = rt.engine.barsSeen;
      const last = rt.engine.lastTsMs;
      return {
        pairId: rt.spec.pairId,
        timeframe: rt.spec.timeframe,
        symbolA: rt.spec.symbolA,
        symbolB: rt.spec.symbolB,
        schemaHash: this.schemaHash,
        barsSeen,
        lastTsMs: last === last ? last : null,
        warmupRemaining: Math.max(0, this.warmupBars - barsSeen),
        complete: barsSeen >= this.warmupBars,
        lastFlag: rt.lastFlag,
        lastZ: rt.lastZ,
        vectorsSinceStart: rt.vectorsSinceStart,
        lastStoredMs: rt.lastStoredMs,
      };
    });
  }

  private afterCommit(effects: PendingEffects): void {
    const { metrics, logger, registry } = this.options;
    let published = false;
    for (const v of effects.vectors) {
      const rt = this.series.find((s) => s.spec.pairId === v.pairId && s.spec.timeframe === v.timeframe)!;
      const labels = { pair_id: v.pairId, timeframe: v.timeframe };
      metrics.vectorsStored.inc({ ...labels, complete: String(v.complete) });
      metrics.barsSeen.set(labels, v.barsSeen);
      metrics.lastVectorTs.set(labels, v.tsMs / 1000);
      if (v.betaStability === v.betaStability) metrics.betaStability.set(labels, v.betaStability);
      if (v.live) metrics.lagSeconds.observe({ timeframe: v.timeframe, stage: 'stored' }, Math.max(0, (v.storedMs - v.closeMs) / 1000));
      const staleReasons = new Set(v.quality.reasons.map(staleMetricReason).filter((r) => r !== undefined));
      for (const reason of staleReasons) metrics.staleVectors.inc({ ...labels, reason });
      if (staleReasons.size > 0) {
        logger.warn(
          { event: 'vector_stale', error_id: FEATURES_ERROR.STALE, ...labels, ts_utc: new Date(v.tsMs).toISOString(), details: { reasons: v.quality.reasons } },
          'feature vector flagged stale',
        );
      }
      rt.lastFlag = v.quality.flag;
      rt.lastZ = v.z === v.z ? v.z : null;
      rt.vectorsSinceStart += 1;
      rt.lastStoredMs = v.storedMs;
      if (v.complete) published = true;
    }
    for (const key of effects.checkpoints) metrics.checkpoints.inc({ pair_id: key.pairId, timeframe: key.timeframe });
    for (const j of effects.jumps) {
      metrics.betaJumps.inc({ pair_id: j.rt.spec.pairId, timeframe: j.rt.spec.timeframe });
      reportError(
        new NoctriaError(FEATURES_ERROR.BETA_JUMP, `${j.rt.spec.pairId} ${j.rt.spec.timeframe}: beta_stability ${j.value} > ${this.options.settings.betaJumpFactor} × median ${j.median}`, {
          severity: 'WARNING',
          details: { pair_id: j.rt.spec.pairId, timeframe: j.rt.spec.timeframe, ts_utc: new Date(j.tsMs).toISOString(), beta_stability: j.value, median: j.median, factor: this.options.settings.betaJumpFactor },
        }),
        { logger, ...(registry ? { registry } : {}), context: { event: 'beta_stability_jump' } },
      );
    }
    if (published) this.options.onCommitted?.();
  }

  /** Runs `fn` again after transient database failures, for up to `storeRetryMs`. */
  private async retrying<T>(timeframe: string, fn: () => Promise<T>): Promise<T> {
    const budget = this.options.storeRetryMs ?? 10_000;
    const deadline = Date.now() + budget;
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (!isTransientDbError(err) || Date.now() >= deadline) {
          if (isTransientDbError(err)) throw new NoctriaError(FEATURES_ERROR.STORE, `storing failed after retries: ${(err as Error).message}`, { severity: 'CRITICAL', cause: err });
          throw err;
        }
        this.options.metrics.storeRetries.inc({ timeframe });
        const wait = Math.min(100 * 2 ** attempt, 2_000, Math.max(0, deadline - Date.now()));
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  }
}

/** The work of one transaction: series rows locked once; vectors, outbox rows and series rows written at the end. */
class TxUnit {
  readonly locked = new Map<SeriesRuntime, PairStateRow>();
  readonly vectors: Array<{ key: SeriesKey; v: VectorToStore }> = [];
  readonly messages: OutboxMessage[] = [];
  readonly advanced = new Set<SeriesRuntime>();
  readonly effects = emptyEffects();
  constructor(readonly trx: Kysely<DB>) {}
}

function emptyEffects(): PendingEffects {
  return { vectors: [], checkpoints: [], jumps: [] };
}
