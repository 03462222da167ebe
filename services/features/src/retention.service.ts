/**
 * Physical deletion of the features cache per configs/data_retention.yaml (`features_cache_months`, plus
 * `deletion_grace_days`): whole month partitions of `leg_bars` and `vectors` whose month ended before the cutoff,
 * and outbox rows published more than `outboxSentHours` ago.
 *
 * It never deletes what an engine needs to restart bit-identically (feature-pipeline.ts `restore`): for every series
 * (pair × timeframe × schema hash) with consumed bars,
 * - `leg_bars` from its oldest kept checkpoint on (both checkpoints the pipeline keeps stay usable; the replay joins
 *   the vectors after the checkpoint with their leg bars), or from its first vector when it has no checkpoint;
 * - `vectors` from the same bar time, and the newest `betaJumpWindow` defined beta_stability values (the jump rule's
 *   history, read back at restore).
 * When the policy cutoff is later than that floor, the cutoff is clamped to the floor: the partitions in between are
 * kept, logged (`retention_clamped`, DATA_RETENTION_CLAMP) and counted (features_retention_clamped_total).
 * Runs under a non-waiting advisory lock: one run at a time, an overlapping one skips.
 */
import { sql, type Kysely } from 'kysely';
import type { Counter, Gauge, Registry } from 'prom-client';
import { FEATURE_INDEX } from '@noctria/features';
import { NoctriaError, getOrCreateCounter, getOrCreateGauge, tryAdvisoryLock, type Logger } from '@noctria/platform';
import type { PolicySet } from '@noctria/policy';
import type { DB } from './db/schema.js';
import { FEATURES_ERROR } from './errors.js';
import { OutboxRepository } from './repositories/outbox.repository.js';

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
export const FEATURES_RETENTION_LOCK_KEY = 'features.retention';
/** The month-partitioned tables, in drop order (vectors reference bar times of leg_bars, so they go first). */
export const PARTITIONED_TABLES = ['vectors', 'leg_bars'] as const;
export type PartitionedTable = (typeof PARTITIONED_TABLES)[number];
/** Months created ahead of the current one by each run, so live writes land in month partitions. */
const PRECREATE_MONTHS = 2;

export interface FeaturesRetentionSettings {
  /** data_retention.yaml `features_cache_months`. */
  cacheMonths: number;
  /** data_retention.yaml `deletion_grace_days`. */
  graceDays: number;
  /** Published outbox rows are kept this long for diagnostics (default 24 h). */
  outboxSentHours?: number;
  /** Bars of beta_stability history the jump rule restores (FEATURES_BETA_JUMP_WINDOW, default 180). */
  betaJumpWindow?: number;
}

export interface PartitionInfo {
  table: PartitionedTable;
  name: string;
  fromMs: number;
  toMs: number;
}

/** Why a table's cutoff was clamped: the series whose restart needs the oldest data. */
export interface RetentionFloor {
  table: PartitionedTable;
  floorMs: number;
  pairId: string;
  timeframe: string;
  schemaHash: string;
  /** checkpoint: oldest kept checkpoint; first_vector: no checkpoint yet; beta_history: the jump rule's window. */
  reason: 'checkpoint' | 'first_vector' | 'beta_history';
}

export interface RetentionResult {
  ran: boolean;
  dryRun: boolean;
  /** now − features_cache_months − grace. */
  policyCutoffMs: number;
  /** The cutoff applied per table (≤ policyCutoffMs; lower when clamped). */
  cutoffMs: Record<PartitionedTable, number>;
  /** Dropped (dry run: would be dropped) month partitions, oldest first. */
  droppedPartitions: string[];
  /** Month partitions the policy would drop but a series' restart needs. */
  heldPartitions: string[];
  floors: RetentionFloor[];
  /** Rows in the dropped (or would-be dropped) months. */
  deletedRows: Record<PartitionedTable, number>;
  /** Published outbox rows deleted (dry run: would be deleted). */
  outboxDeleted: number;
  /** Month partitions created (sweeping the default partition, pre-creating coming months); 0 in a dry run. */
  createdPartitions: number;
}

export interface FeaturesRetentionMetrics {
  runs: Counter<'outcome'>;
  clamped: Counter<'table'>;
  droppedPartitions: Counter<'table'>;
  deletedRows: Counter<'table'>;
  lastRun: Gauge;
}

export function createFeaturesRetentionMetrics(registry: Registry): FeaturesRetentionMetrics {
  return {
    runs: getOrCreateCounter(registry, {
      name: 'features_retention_runs_total',
      help: 'Features retention runs by outcome (done|dry_run|skipped|failed)',
      labelNames: ['outcome'] as const,
    }),
    clamped: getOrCreateCounter(registry, {
      name: 'features_retention_clamped_total',
      help: 'Retention runs whose cutoff was clamped to keep what an engine restart needs (checkpoint + replay tail), by table',
      labelNames: ['table'] as const,
    }),
    droppedPartitions: getOrCreateCounter(registry, {
      name: 'features_retention_dropped_partitions_total',
      help: 'Month partitions dropped by the features retention, by table',
      labelNames: ['table'] as const,
    }),
    deletedRows: getOrCreateCounter(registry, {
      name: 'features_retention_deleted_rows_total',
      help: 'Rows deleted by the features retention (dropped months and published outbox rows), by table',
      labelNames: ['table'] as const,
    }),
    lastRun: getOrCreateGauge(registry, {
      name: 'features_retention_last_run_timestamp_seconds',
      help: 'End of the last completed (non dry-run) features retention run, epoch seconds',
    }),
  };
}

/** `ms` moved by `months` calendar months (UTC; day clamped to the target month's length). */
export function addMonthsUtc(ms: number, months: number): number {
  const d = new Date(ms);
  const target = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + months, 1));
  const lastDay = new Date(Date.UTC(target.getUTCFullYear(), target.getUTCMonth() + 1, 0)).getUTCDate();
  return Date.UTC(target.getUTCFullYear(), target.getUTCMonth(), Math.min(d.getUTCDate(), lastDay), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), d.getUTCMilliseconds());
}

function monthStartUtc(ms: number): number {
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
}

function partitionName(table: PartitionedTable, monthStartMs: number): string {
  const d = new Date(monthStartMs);
  return `${table}_p${d.getUTCFullYear()}${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
}

const iso = (ms: number) => new Date(ms).toISOString();

export class FeaturesRetentionService {
  private readonly metrics: FeaturesRetentionMetrics | undefined;

  constructor(
    private readonly db: Kysely<DB>,
    private readonly logger: Logger,
    registry?: Registry,
  ) {
    this.metrics = registry ? createFeaturesRetentionMetrics(registry) : undefined;
  }

  /** Month partitions of a table (from the catalog), oldest first. */
  async listPartitions(table: PartitionedTable): Promise<PartitionInfo[]> {
    const r = await sql<{ name: string }>`
      select c.relname as name from pg_inherits i
      join pg_class c on c.oid = i.inhrelid
      join pg_class p on p.oid = i.inhparent
      join pg_namespace n on n.oid = p.relnamespace
      where n.nspname = 'features' and p.relname = ${table}`.execute(this.db);
    const out: PartitionInfo[] = [];
    for (const { name } of r.rows) {
      const m = new RegExp(`^${table}_p(\\d{4})(\\d{2})$`).exec(name);
      if (!m) continue; // the default partition
      const fromMs = Date.UTC(Number(m[1]), Number(m[2]) - 1, 1);
      out.push({ table, name, fromMs, toMs: addMonthsUtc(fromMs, 1) });
    }
    return out.sort((a, b) => a.fromMs - b.fromMs);
  }

  /**
   * The oldest bar time each table must keep so every series restarts exactly (see the file comment); undefined
   * when no series has consumed anything. The lowest floor per table is returned with the series that sets it.
   */
  async floors(betaJumpWindow: number): Promise<RetentionFloor[]> {
    const idx = FEATURE_INDEX.beta_stability + 1; // float8[] subscripts are 1-based
    const r = await sql<{ pair_id: string; timeframe: string; schema_hash: string; cp_ts: Date | null; first_ts: Date | null; hist_ts: Date | null }>`
      select s.pair_id, s.timeframe, s.schema_hash,
        (select min(c.ts_utc) from features.checkpoints c
          where c.pair_id = s.pair_id and c.timeframe = s.timeframe and c.schema_hash = s.schema_hash and c.bars_seen <= s.bars_seen) as cp_ts,
        (select min(v.ts_utc) from features.vectors v
          where v.pair_id = s.pair_id and v.timeframe = s.timeframe and v.schema_hash = s.schema_hash) as first_ts,
        (select min(h.ts_utc) from (
          select v.ts_utc from features.vectors v
          where v.pair_id = s.pair_id and v.timeframe = s.timeframe and v.schema_hash = s.schema_hash
            and v.ts_utc <= s.last_ts and v.feature_values[${idx}] is not null
          order by v.ts_utc desc limit ${betaJumpWindow}) h) as hist_ts
      from features.pair_state s
      where s.last_ts is not null and s.bars_seen > 0`.execute(this.db);
    const lowest = new Map<PartitionedTable, RetentionFloor>();
    const offer = (f: RetentionFloor) => {
      const cur = lowest.get(f.table);
      if (!cur || f.floorMs < cur.floorMs) lowest.set(f.table, f);
    };
    for (const s of r.rows) {
      const series = { pairId: s.pair_id, timeframe: s.timeframe, schemaHash: s.schema_hash };
      // No checkpoint: a restart replays the series from its first vector.
      const replay = s.cp_ts ? { floorMs: s.cp_ts.getTime(), reason: 'checkpoint' as const } : s.first_ts ? { floorMs: s.first_ts.getTime(), reason: 'first_vector' as const } : undefined;
      if (replay) {
        offer({ table: 'leg_bars', ...series, ...replay });
        offer({ table: 'vectors', ...series, ...replay });
      }
      if (s.hist_ts) offer({ table: 'vectors', ...series, floorMs: s.hist_ts.getTime(), reason: 'beta_history' });
    }
    return PARTITIONED_TABLES.flatMap((t) => (lowest.has(t) ? [lowest.get(t)!] : []));
  }

  /**
   * One retention pass. `dryRun` computes and logs the same plan (partitions, row counts, clamps) without changing
   * anything — not even the default-partition sweep.
   */
  async run(settings: FeaturesRetentionSettings, nowMs: number, options: { dryRun?: boolean } = {}): Promise<RetentionResult> {
    const dryRun = options.dryRun ?? false;
    if (!Number.isInteger(settings.cacheMonths) || settings.cacheMonths < 1) {
      throw new NoctriaError(FEATURES_ERROR.CONFIG, `features_cache_months must be a positive integer, got ${settings.cacheMonths}`, { severity: 'CRITICAL' });
    }
    const policyCutoffMs = addMonthsUtc(nowMs, -settings.cacheMonths) - settings.graceDays * DAY_MS;
    const outboxCutoffMs = nowMs - (settings.outboxSentHours ?? 24) * HOUR_MS;
    const empty = { vectors: 0, leg_bars: 0 };
    const locked = await tryAdvisoryLock(this.db, FEATURES_RETENTION_LOCK_KEY, async () => {
      let createdPartitions = 0;
      if (!dryRun) {
        // Rows the default partition caught go to their months first, so old ones are dropped with their month.
        for (const table of PARTITIONED_TABLES) {
          for (const m of await this.defaultMonths(table)) createdPartitions += await this.ensureMonths(table, m, addMonthsUtc(m, 1));
          const current = monthStartUtc(nowMs);
          createdPartitions += await this.ensureMonths(table, current, addMonthsUtc(current, PRECREATE_MONTHS + 1));
        }
      }
      const floors = await this.floors(settings.betaJumpWindow ?? 180);
      const cutoffMs = { vectors: policyCutoffMs, leg_bars: policyCutoffMs };
      for (const f of floors) cutoffMs[f.table] = Math.min(policyCutoffMs, f.floorMs);
      const droppedPartitions: string[] = [];
      const heldPartitions: string[] = [];
      const deletedRows = { ...empty };
      const clampedTables: PartitionedTable[] = [];
      for (const table of PARTITIONED_TABLES) {
        // A dry run has not swept the default partition: its old months count as the partitions they would become.
        const parts = await this.listPartitions(table);
        if (dryRun) {
          const known = new Set(parts.map((p) => p.fromMs));
          for (const m of await this.defaultMonths(table)) if (!known.has(m)) parts.push({ table, name: partitionName(table, m), fromMs: m, toMs: addMonthsUtc(m, 1) });
          parts.sort((a, b) => a.fromMs - b.fromMs);
        }
        let held = 0;
        for (const p of parts) {
          if (p.toMs > policyCutoffMs) continue;
          if (p.toMs > cutoffMs[table]) {
            heldPartitions.push(p.name);
            held++;
            continue;
          }
          deletedRows[table] += await this.countRows(table, p.fromMs, p.toMs);
          if (!dryRun) {
            // Parent first (see ensure_month_partitions): dropping a partition locks it, then its parent; a reader
            // holding the parent and about to open the partition would otherwise deadlock with the drop.
            await this.db.transaction().execute(async (trx) => {
              await sql`lock table only ${sql.table(`features.${table}`)} in access exclusive mode`.execute(trx);
              await sql`drop table if exists ${sql.table(`features.${p.name}`)}`.execute(trx);
            });
          }
          droppedPartitions.push(p.name);
        }
        if (held > 0) clampedTables.push(table);
      }
      const outbox = new OutboxRepository(this.db);
      const outboxDeleted = dryRun ? await this.countSentBefore(outboxCutoffMs) : await outbox.deleteSentBefore(outboxCutoffMs);
      return { cutoffMs, droppedPartitions, heldPartitions, floors, deletedRows, outboxDeleted, createdPartitions, clampedTables };
    });
    if (!locked.acquired) {
      this.metrics?.runs.inc({ outcome: 'skipped' });
      this.logger.info({ event: 'retention_skipped', details: { reason: 'another run holds the features retention lock' } }, 'features retention skipped');
      return { ran: false, dryRun, policyCutoffMs, cutoffMs: { vectors: policyCutoffMs, leg_bars: policyCutoffMs }, droppedPartitions: [], heldPartitions: [], floors: [], deletedRows: { ...empty }, outboxDeleted: 0, createdPartitions: 0 };
    }
    const { clampedTables, ...v } = locked.value;
    const floorDetails = v.floors.map((f) => ({ table: f.table, floor: iso(f.floorMs), pair_id: f.pairId, timeframe: f.timeframe, schema_hash: f.schemaHash, reason: f.reason }));
    for (const table of clampedTables) {
      if (!dryRun) this.metrics?.clamped.inc({ table });
      const f = v.floors.find((x) => x.table === table)!;
      this.logger.warn(
        {
          event: 'retention_clamped',
          error_id: FEATURES_ERROR.RETENTION_CLAMP,
          pair_id: f.pairId,
          timeframe: f.timeframe,
          details: { table, dry_run: dryRun, policy_cutoff: iso(policyCutoffMs), cutoff: iso(v.cutoffMs[table]), reason: f.reason, schema_hash: f.schemaHash, held: v.heldPartitions.filter((n) => n.startsWith(`${table}_p`)) },
        },
        `features retention clamped for ${table}: ${f.pairId} ${f.timeframe} needs data from ${iso(f.floorMs)} to restart`,
      );
    }
    if (!dryRun) {
      for (const table of PARTITIONED_TABLES) {
        const n = v.droppedPartitions.filter((p) => p.startsWith(`${table}_p`)).length;
        if (n > 0) this.metrics?.droppedPartitions.inc({ table }, n);
        if (v.deletedRows[table] > 0) this.metrics?.deletedRows.inc({ table }, v.deletedRows[table]);
      }
      if (v.outboxDeleted > 0) this.metrics?.deletedRows.inc({ table: 'outbox' }, v.outboxDeleted);
      this.metrics?.lastRun.set(Date.now() / 1000);
    }
    this.metrics?.runs.inc({ outcome: dryRun ? 'dry_run' : 'done' });
    this.logger.info(
      {
        event: dryRun ? 'retention_dry_run' : 'retention_done',
        details: {
          policy_cutoff: iso(policyCutoffMs),
          cutoff_vectors: iso(v.cutoffMs.vectors),
          cutoff_leg_bars: iso(v.cutoffMs.leg_bars),
          dropped_partitions: v.droppedPartitions,
          held_partitions: v.heldPartitions,
          deleted_rows: v.deletedRows,
          outbox_deleted: v.outboxDeleted,
          created_partitions: v.createdPartitions,
          floors: floorDetails,
        },
      },
      dryRun ? 'features retention dry run (nothing changed)' : 'features retention done',
    );
    return { ran: true, dryRun, policyCutoffMs, ...v };
  }

  /** Month starts of the rows the default partition holds. */
  private async defaultMonths(table: PartitionedTable): Promise<number[]> {
    const r = await sql<{ m: Date }>`
      select distinct date_trunc('month', ts_utc at time zone 'UTC') at time zone 'UTC' as m
      from ${sql.table(`features.${table}_default`)} order by 1`.execute(this.db);
    return r.rows.map((x) => x.m.getTime());
  }

  private async ensureMonths(table: PartitionedTable, fromMs: number, toMs: number): Promise<number> {
    const r = await sql<{ created: number }>`
      select features.ensure_month_partitions(${table}, ${iso(fromMs)}::timestamptz, ${iso(toMs)}::timestamptz) as created`.execute(this.db);
    return r.rows[0]?.created ?? 0;
  }

  private async countRows(table: PartitionedTable, fromMs: number, toMs: number): Promise<number> {
    const r = await sql<{ n: string }>`
      select count(*) as n from ${sql.table(`features.${table}`)}
      where ts_utc >= ${iso(fromMs)}::timestamptz and ts_utc < ${iso(toMs)}::timestamptz`.execute(this.db);
    return Number(r.rows[0]?.n ?? 0);
  }

  private async countSentBefore(beforeMs: number): Promise<number> {
    const r = await sql<{ n: string }>`select count(*) as n from features.outbox where sent_at is not null and sent_at < ${iso(beforeMs)}::timestamptz`.execute(this.db);
    return Number(r.rows[0]?.n ?? 0);
  }
}

/** Retention settings of the features schema from a loaded policy set (data_retention.yaml). */
export function featuresRetentionSettingsFromPolicies(set: PolicySet, overrides: Omit<FeaturesRetentionSettings, 'cacheMonths' | 'graceDays'> = {}): FeaturesRetentionSettings {
  const r = set.data_retention.values;
  return { cacheMonths: r.features_cache_months, graceDays: r.deletion_grace_days, ...overrides };
}

/**
 * The service's in-process retention: a first run `firstDelayMs` after start (default min(intervalMs, 10 min): engines
 * restore and catch up first), then every `intervalMs`, sharing the advisory
 * lock with the CronJob entry (whichever comes second skips). Running it in the scraped service makes
 * features_retention_* (the clamp counter above all) visible to Prometheus. Returns the stop function (registered
 * with the shutdown coordinator by the runtime).
 */
export function scheduleFeaturesRetention(o: {
  db: Kysely<DB>;
  logger: Logger;
  registry: Registry;
  settings: FeaturesRetentionSettings;
  intervalMs: number;
  firstDelayMs?: number;
  now: () => number;
  onError: (err: unknown) => void;
}): { stop: () => Promise<void>; runNow: () => Promise<RetentionResult | undefined> } {
  const service = new FeaturesRetentionService(o.db, o.logger, o.registry);
  const metrics = createFeaturesRetentionMetrics(o.registry);
  let running: Promise<RetentionResult | undefined> | undefined;
  let stopped = false;
  const runNow = (): Promise<RetentionResult | undefined> => {
    if (stopped) return Promise.resolve(undefined);
    // A run still in progress (a large drop) is joined, not overlapped.
    running ??= service
      .run(o.settings, o.now())
      .catch((err: unknown) => {
        metrics.runs.inc({ outcome: 'failed' });
        o.onError(err);
        return undefined;
      })
      .finally(() => {
        running = undefined;
      });
    return running;
  };
  let timer: NodeJS.Timeout | undefined;
  const first = setTimeout(() => {
    void runNow();
    timer = setInterval(() => void runNow(), o.intervalMs);
    timer.unref();
  }, o.firstDelayMs ?? Math.min(o.intervalMs, 600_000));
  first.unref();
  return {
    runNow,
    stop: async () => {
      stopped = true;
      clearTimeout(first);
      clearInterval(timer);
      await running;
    },
  };
}
