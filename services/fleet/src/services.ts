/**
 * The services of the embedded fleet — one entry each. Adding a service = adding an entry: its env schema and
 * port variable, its schema + migrations, its module factory, the API paths shown in the banner, and what it does
 * once it listens (the ingest entry backfills the universe, then produces live bars).
 */
import type { Migration } from 'kysely';
import type { DynamicModule, Type } from '@nestjs/common';
import { sql } from 'kysely';
import { timeframeMs, type Timeframe } from '@noctria/canonical-bar';
import { subjects } from '@noctria/contracts';
import { loadEnv, type BaseEnv, type Logger, type PlatformContext, type RunningService } from '@noctria/platform';
import type { PolicySet } from '@noctria/policy';
import {
  buildIngestOptions,
  createIngestModule,
  ingestEnvSchema,
  ingestMigrations,
  INGEST_SCHEMA,
  INGEST_SERVICE,
  IngestRuntime,
  universeSymbols,
  type BackfillSummary,
} from '@noctria/ingest';
import {
  buildFeaturesOptions,
  createFeaturesModule,
  featuresEnvSchema,
  featuresMigrations,
  FEATURES_SCHEMA,
  FEATURES_SERVICE,
  FeaturesRuntime,
  type SeriesStatus,
} from '@noctria/features-service';
import type { FleetEnv } from './config.js';
import type { FleetMarketClock } from './market-clock.js';
import type { StartupProgress } from './progress.js';

type LoadedIngestEnv = ReturnType<typeof loadIngestEnv>;
function loadIngestEnv(source: Record<string, string | undefined>) {
  return loadEnv(ingestEnvSchema, { env: source });
}

export interface FleetOutput {
  /** One stdout record: JSON line in NOCTRIA_OUTPUT=json, the human lines otherwise. */
  record(event: string, data: Record<string, unknown>, human: string[]): void;
  progress(task: string): StartupProgress;
}

export interface FleetContext {
  fleet: FleetEnv;
  policies: PolicySet;
  /** Timeframes backfilled and produced live (NOCTRIA_TIMEFRAMES, default timeframe_default), validated. */
  timeframes: Timeframe[];
  clock: FleetMarketClock;
  out: FleetOutput;
  logger: Logger;
  /** True once Ctrl-C/SIGTERM was received. */
  stopping(): boolean;
  /** Aborted at shutdown. */
  signal: AbortSignal;
}

/** What every composed service's loaded environment has (the platform base keys, profile resolved). */
export type FleetServiceEnv = BaseEnv;

export interface FleetServiceEntry<E extends FleetServiceEnv = FleetServiceEnv> {
  name: string;
  /** Environment variable holding the HTTP port (named in the "port in use" error). */
  portVariable: string;
  loadEnv(source: Record<string, string | undefined>): E;
  port(env: E): number;
  schema?: string;
  migrations?: Record<string, Migration>;
  module(env: E, platform: PlatformContext, fleet: FleetContext): Type<unknown> | DynamicModule;
  /** API entry points shown in the banner (relative to the service URL). */
  apiPaths: string[];
  /** Runs once the service listens (start-up jobs, background loops). */
  afterStart?(running: RunningService, env: E, fleet: FleetContext): Promise<void>;
}

// ── ingest ─────────────────────────────────────────────────────────────────────────────────────────────────────

export interface FleetBackfillReport {
  run_id: string;
  status: BackfillSummary['status'];
  /** The timeframes, comma separated. */
  timeframe: string;
  series: { symbol: string; timeframe: Timeframe; from: string; to: string; resumed: boolean; stored_before: number; chunks: number; ok: boolean; error?: string }[];
  /** Bars already stored for series resumed from their watermark: not fetched again. */
  skipped_bars: number;
  fetched_bars: number;
  inserted_bars: number;
  market_time: string;
}

async function backfillUniverse(rt: IngestRuntime, timeframes: Timeframe[], symbols: string[], fleet: FleetContext): Promise<FleetBackfillReport> {
  const before = new Map<string, { stored: number; resumed: boolean }>();
  for (const symbol of symbols) {
    for (const timeframe of timeframes) {
      const wm = await rt.pipeline.watermarks.get(symbol, timeframe);
      const n = await sql<{ n: number }>`select count(*)::int as n from ingest.canonical_bars where symbol = ${symbol} and timeframe = ${timeframe}`.execute(rt.db);
      before.set(`${symbol}|${timeframe}`, { stored: n.rows[0]?.n ?? 0, resumed: wm !== undefined });
    }
  }
  const progress = fleet.out.progress('backfill');
  const { done } = await rt.backfill.start({ symbols, timeframes }, (p) =>
    progress.update(p.barsDone, p.barsTotal, `${p.symbol} ${p.timeframe}`, { run_id: p.runId, chunks_done: p.chunksDone, chunks_total: p.chunksTotal }),
  );
  let summary: BackfillSummary;
  try {
    summary = await done;
  } finally {
    progress.stop();
  }
  const series = summary.series.map((s) => {
    const b = before.get(`${s.symbol}|${s.timeframe}`) ?? { stored: 0, resumed: false };
    return { symbol: s.symbol, timeframe: s.timeframe, from: new Date(s.fromMs).toISOString(), to: new Date(s.toMs).toISOString(), resumed: b.resumed, stored_before: b.stored, chunks: s.chunks, ok: s.ok, ...(s.error ? { error: s.error } : {}) };
  });
  return {
    run_id: summary.runId,
    status: summary.status,
    timeframe: timeframes.join(','),
    series,
    skipped_bars: series.reduce((a, s) => a + (s.resumed ? s.stored_before : 0), 0),
    fetched_bars: summary.totals['fetched'] ?? 0,
    inserted_bars: summary.totals['inserted'] ?? 0,
    market_time: new Date(fleet.clock.now()).toISOString(),
  };
}

/** `HH:MM` (UTC) of a bar open, with the date when it is not the market clock's day. */
function shortTime(ms: number, nowMs: number): string {
  const iso = new Date(ms).toISOString();
  return iso.slice(0, 10) === new Date(nowMs).toISOString().slice(0, 10) ? iso.slice(11, 16) : `${iso.slice(5, 10)} ${iso.slice(11, 16)}`;
}

/**
 * Every NOCTRIA_STATUS_INTERVAL_MS a short live status: bars published per series since start, the newest bar and
 * its lag (market seconds after its close). Stops at shutdown.
 */
function startLiveStatus(rt: IngestRuntime, fleet: FleetContext): void {
  const every = fleet.fleet.NOCTRIA_STATUS_INTERVAL_MS;
  if (every === 0) return;
  const timer = setInterval(() => {
    if (fleet.stopping()) return;
    const nowMs = fleet.clock.now();
    const series = rt.live.status().map((s) => ({
      symbol: s.symbol,
      timeframe: s.timeframe,
      bars: s.bars,
      last_bar: s.lastBarMs === null ? null : new Date(s.lastBarMs).toISOString(),
      lag_seconds: s.lagSeconds,
    }));
    const total = series.reduce((a, s) => a + s.bars, 0);
    const parts = rt.live.status().map((s) => `${s.symbol} ${s.timeframe} +${s.bars}${s.lastBarMs === null ? '' : ` @${shortTime(s.lastBarMs, nowMs)} lag ${s.lagSeconds}s`}`);
    fleet.out.record('live_status', { market_time: new Date(nowMs).toISOString(), bars_published: total, series }, [
      `[live ${new Date(nowMs).toISOString().slice(0, 16)}Z] ${total} bars published | ${parts.join(' | ')}`,
    ]);
  }, every);
  timer.unref();
  fleet.signal.addEventListener('abort', () => clearInterval(timer), { once: true });
}

export const ingestEntry: FleetServiceEntry<LoadedIngestEnv> = {
  name: INGEST_SERVICE,
  portVariable: 'INGEST_HTTP_PORT',
  loadEnv: loadIngestEnv,
  port: (env) => env.INGEST_HTTP_PORT,
  schema: INGEST_SCHEMA,
  migrations: ingestMigrations,
  apiPaths: ['/ingest/watermarks', '/ingest/dq', '/ingest/quarantine', '/bars?symbol=XAUUSD&timeframe=1h', 'POST /ingest/backfill', 'POST /ingest/import'],
  module(env, platform, fleet) {
    const options = buildIngestOptions(env, platform);
    // One market clock for the whole service: pipeline, live loop, relay lag metrics (see market-clock.ts).
    options.now = () => Math.floor(fleet.clock.now());
    if (fleet.fleet.NOCTRIA_BACKFILL_MONTHS !== undefined) options.settings.historyLookbackMonths = fleet.fleet.NOCTRIA_BACKFILL_MONTHS;
    options.live = {
      enabled: false, // started by afterStart, once the backfill is done
      symbols: universeSymbols(fleet.policies.universe.values),
      timeframes: fleet.timeframes,
      pollMs: fleet.fleet.NOCTRIA_LIVE_POLL_MS,
    };
    return createIngestModule(options);
  },
  async afterStart(running, env, fleet) {
    const rt = running.app.get(IngestRuntime, { strict: false });
    const timeframes = fleet.timeframes;
    const symbols = universeSymbols(fleet.policies.universe.values);
    const label = timeframes.join(', ');
    let newest: number | undefined;
    for (const tf of timeframes) {
      for (const w of await rt.pipeline.watermarks.list({ timeframe: tf })) {
        if (symbols.includes(w.symbol)) newest = Math.max(newest ?? Number.NEGATIVE_INFINITY, w.last_ts.getTime() + timeframeMs(tf));
      }
    }
    const start = fleet.clock.start(newest);
    const d = timeframeMs(timeframes[0]!);
    fleet.out.record(
      'market_clock',
      { market_time: new Date(start).toISOString(), speed: fleet.clock.speed, resumed_from_watermark: newest !== undefined && newest >= start, bar_every_ms: d / fleet.clock.speed },
      [`market clock: ${new Date(start).toISOString()} (${newest !== undefined && newest >= start ? 'resumed after the newest stored bar' : 'wall clock'}), ${fleet.clock.speed}× real time — a ${timeframes[0]} bar closes every ${(d / fleet.clock.speed / 1000).toFixed(d / fleet.clock.speed < 1000 ? 2 : 1)} s`],
    );
    if (fleet.fleet.NOCTRIA_BACKFILL && !fleet.stopping()) {
      const r = await backfillUniverse(rt, timeframes, symbols, fleet);
      fleet.out.record('backfill', { ...r }, [
        `backfill ${r.status}: ${r.series.length} series (${label}), ${r.skipped_bars} bars already stored (skipped, resumed from watermarks: ${r.series.filter((s) => s.resumed).length}), ${r.fetched_bars} fetched, ${r.inserted_bars} inserted`,
        ...r.series.filter((s) => !s.ok).map((s) => `  ${s.symbol} ${s.timeframe}: FAILED ${s.error}`),
      ]);
    }
    if (fleet.fleet.NOCTRIA_LIVE && !fleet.stopping()) {
      await rt.live.start();
      const prefix = env.NOCTRIA_BUS_PREFIX === '' ? '' : `${env.NOCTRIA_BUS_PREFIX}.`;
      const example = subjects(prefix).barClosed(timeframes[0]!, symbols[0] ?? 'XAUUSD');
      fleet.out.record('live', { timeframe: timeframes.join(','), timeframes, symbols, subject_example: example, poll_ms: fleet.fleet.NOCTRIA_LIVE_POLL_MS }, [
        `live: closed ${label} bars of ${symbols.join(', ')} are published on ${example.replace(/\.[^.]+\.[^.]+$/, '.<timeframe>.<symbol>')}`,
      ]);
      startLiveStatus(rt, fleet);
    }
  },
};

// ── features ───────────────────────────────────────────────────────────────────────────────────────────────────

type LoadedFeaturesEnv = ReturnType<typeof loadFeaturesEnv>;
function loadFeaturesEnv(source: Record<string, string | undefined>) {
  return loadEnv(featuresEnvSchema, { env: source });
}

function fixed(x: number | null, digits: number): string {
  return x === null ? '–' : x.toFixed(digits);
}

/**
 * Every NOCTRIA_STATUS_INTERVAL_MS a features line: per pair × timeframe the vectors stored per second (real time)
 * since the previous line, the newest z and quality flag, or the warm-up progress. Stops at shutdown.
 */
function startFeaturesStatus(rt: FeaturesRuntime, fleet: FleetContext): void {
  const every = fleet.fleet.NOCTRIA_STATUS_INTERVAL_MS;
  if (every === 0) return;
  let previous = new Map<string, number>();
  let previousAt = Date.now();
  const timer = setInterval(() => {
    if (fleet.stopping()) return;
    const now = Date.now();
    const seconds = Math.max(0.001, (now - previousAt) / 1000);
    const status: SeriesStatus[] = rt.pipeline.status();
    const series = status.map((s) => {
      const key = `${s.pairId}|${s.timeframe}`;
      const rate = (s.vectorsSinceStart - (previous.get(key) ?? 0)) / seconds;
      return {
        pair_id: s.pairId,
        timeframe: s.timeframe,
        bars_seen: s.barsSeen,
        vectors_per_second: Math.round(rate * 100) / 100,
        last_ts: s.lastTsMs === null ? null : new Date(s.lastTsMs).toISOString(),
        last_z: s.lastZ,
        last_quality_flag: s.lastFlag,
        warmup_remaining: s.warmupRemaining,
      };
    });
    previous = new Map(status.map((s) => [`${s.pairId}|${s.timeframe}`, s.vectorsSinceStart]));
    previousAt = now;
    const parts = series.map((s) =>
      s.warmup_remaining > 0
        ? `${s.pair_id} ${s.timeframe} warm-up ${s.bars_seen}/${s.bars_seen + s.warmup_remaining}`
        : `${s.pair_id} ${s.timeframe} ${fixed(s.vectors_per_second, 1)} vec/s z ${fixed(s.last_z, 2)} ${s.last_quality_flag ?? ''}`.trimEnd(),
    );
    const nowMs = fleet.clock.now();
    fleet.out.record('features_status', { market_time: new Date(nowMs).toISOString(), series }, [`[features ${new Date(nowMs).toISOString().slice(0, 16)}Z] ${parts.join(' | ')}`]);
  }, every);
  timer.unref();
  fleet.signal.addEventListener('abort', () => clearInterval(timer), { once: true });
}

export const featuresEntry: FleetServiceEntry<LoadedFeaturesEnv> = {
  name: FEATURES_SERVICE,
  portVariable: 'FEATURES_HTTP_PORT',
  loadEnv: loadFeaturesEnv,
  port: (env) => env.FEATURES_HTTP_PORT,
  schema: FEATURES_SCHEMA,
  migrations: featuresMigrations,
  apiPaths: ['/features/status', '/features/vectors?pair_id=XAUUSD_XAGUSD&timeframe=1h&complete_only=true'],
  module(env, _platform, fleet) {
    // The fleet's ingest produces NOCTRIA_TIMEFRAMES; features consume those unless FEATURES_TIMEFRAMES says otherwise.
    const options = buildFeaturesOptions({ ...env, FEATURES_TIMEFRAMES: env.FEATURES_TIMEFRAMES ?? fleet.timeframes });
    // Arrival times, lag and freshness are judged on the fleet's market clock, like ingest's live loop.
    options.now = () => Math.floor(fleet.clock.now());
    return createFeaturesModule(options);
  },
  async afterStart(running, _env, fleet) {
    const rt = running.app.get(FeaturesRuntime, { strict: false });
    const pairs = [...new Set(rt.settings.series.map((s) => s.pairId))];
    fleet.out.record(
      'features',
      { series: rt.settings.series.map((s) => ({ pair_id: s.pairId, timeframe: s.timeframe, legs: [s.symbolA, s.symbolB] })), schema_hash: rt.pipeline.schemaHash, warmup_bars: rt.pipeline.warmupBars },
      [`features: ${pairs.join(', ')} (${rt.settings.timeframes.join(', ')}) — vectors on feat.<timeframe>.<pair_id> once ${rt.pipeline.warmupBars} aligned bars are in`],
    );
    startFeaturesStatus(rt, fleet);
  },
};

/** Every service of the embedded fleet, in start order. */
export const FLEET_SERVICES: FleetServiceEntry[] = [ingestEntry, featuresEntry];
