/**
 * Features retention on a real PostgreSQL (month partitions of leg_bars / vectors, data_retention.yaml
 * features_cache_months):
 * - a dry run reports the plan and changes nothing; the run then sweeps the default partition into months, drops
 *   the months before the cutoff, deletes published outbox rows after the window and keeps unsent ones;
 * - a restart after pruning restores from the kept checkpoint and continues bit-identical to computeFeatureMatrix;
 * - a cutoff later than a series' oldest checkpoint is clamped (log + counter): the restart still works;
 * - the migration converts populated plain tables to partitioned ones and back without losing a row;
 * - the CronJob entry: exit codes, --dry-run.
 * Expected partitions and floors are derived from the fixture (bar k's time, checkpoint cadence), not read back.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql, type Kysely } from 'kysely';
import { barChecksum, type CanonicalBar } from '@noctria/canonical-bar';
import { fullVectorWarmupBars, type PairBar } from '@noctria/features';
import { createDatabase, createLogger, createMetricsRegistry, ENV_EXIT_CODE, loadEnv, migrateDown, migrateToLatest, type Database, type Logger } from '@noctria/platform';
import { createTestDatabase, waitFor, type TestDatabase } from '@noctria/testing';
import * as initial from '../src/db/migrations/20250901000000-initial.js';
import * as monthly from '../src/db/migrations/20250915000000-monthly-partitions.js';
import { featuresMigrations, FEATURES_SCHEMA } from '../src/db/migrations/index.js';
import type { DB } from '../src/db/schema.js';
import { FeaturePipeline, type IncomingBar } from '../src/pipeline/feature-pipeline.js';
import { float8ArrayFromDb } from '../src/pipeline/float8-array.js';
import type { FeaturesSettings } from '../src/pipeline/settings.js';
import { runFeaturesRetention } from '../src/retention.js';
import { FeaturesRetentionService, scheduleFeaturesRetention, type RetentionResult } from '../src/retention.service.js';
import { featuresEnvSchema } from '../src/config.js';
import { buildFeaturesOptions } from '../src/main.options.js';
import { createFeaturesMetrics } from '../src/telemetry.js';
import { alignBars, bitDiff, fixtureLegs, interleave, matrixRow, PAIR_ID, referenceMatrix, testSettings } from './support/bars.js';

const silent = createLogger({ service: 'features-retention-test', level: 'silent' });
const FED = 1800;
const BETA_WINDOW = 180;

function incoming(bar: CanonicalBar): IncomingBar {
  const tsMs = Date.parse(bar.ts_utc);
  return {
    symbol: bar.symbol,
    timeframe: '1h',
    tsMs,
    open: bar.open,
    high: bar.high,
    low: bar.low,
    close: bar.close,
    volume: bar.volume,
    qualityFlag: bar.quality_flag,
    sourceId: bar.source_id,
    checksum: barChecksum(bar),
    ingestStale: false,
    live: false,
    closedAtMs: null,
    receivedMs: tsMs + 3_600_000,
  };
}

/** A logger that keeps every record (pino-style `(obj, msg)` calls) for assertions on warnings. */
function recordingLogger(): { logger: Logger; records: Array<{ level: string; obj: Record<string, unknown> }> } {
  const records: Array<{ level: string; obj: Record<string, unknown> }> = [];
  const base = createLogger({ service: 'features-retention-test', level: 'silent' });
  const wrap = (level: string) => (obj: unknown, ...rest: unknown[]) => {
    records.push({ level, obj: (typeof obj === 'object' && obj !== null ? obj : { msg: obj }) as Record<string, unknown> });
    return (base as unknown as Record<string, (...a: unknown[]) => unknown>)[level]!(obj, ...rest);
  };
  const logger = new Proxy(base, { get: (t, p) => (['info', 'warn', 'error'].includes(p as string) ? wrap(p as string) : Reflect.get(t, p)) });
  return { logger, records };
}

const monthStart = (ms: number) => {
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
};
const monthName = (table: string, ms: number) => {
  const d = new Date(ms);
  return `${table}_p${d.getUTCFullYear()}${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
};

describe('features retention', () => {
  const legs = fixtureLegs();
  const aligned: PairBar[] = alignBars(legs.a, legs.b);
  const ref = referenceMatrix(aligned);
  const betaCol = ref.columns.beta_stability;

  /** Feeds the first `n` aligned bar times (both legs) through a pipeline in batches. */
  async function feed(p: FeaturePipeline, from: number, to: number): Promise<void> {
    const times = new Set(aligned.slice(from, to).map((b) => b.tsMs));
    const bars = interleave(legs.a, legs.b).filter((x) => times.has(Date.parse(x.ts_utc)));
    for (let i = 0; i < bars.length; i += 64) await p.applyBatch(bars.slice(i, i + 64).map(incoming));
  }

  function pipelineOn(db: Kysely<DB>, settings: FeaturesSettings) {
    const registry = createMetricsRegistry({ service: 'features', defaultMetrics: false });
    const metrics = createFeaturesMetrics(registry);
    return { p: new FeaturePipeline({ db, logger: silent, registry, metrics, settings, busPrefix: '', storeRetryMs: 0 }), metrics };
  }

  async function relations(db: Kysely<DB>): Promise<string[]> {
    return (await sql<{ n: string }>`select c.relname as n from pg_class c join pg_namespace ns on ns.oid = c.relnamespace where ns.nspname = 'features' and c.relkind in ('r','p') order by 1`.execute(db)).rows.map((r) => r.n);
  }
  async function counts(db: Kysely<DB>): Promise<{ legs: number; vectors: number; outbox: number }> {
    const r = await sql<{ legs: number; vectors: number; outbox: number }>`
      select (select count(*)::int from features.leg_bars) as legs, (select count(*)::int from features.vectors) as vectors, (select count(*)::int from features.outbox) as outbox`.execute(db);
    return r.rows[0]!;
  }

  /** The time of the k-th consumed bar (1-based), from the fixture. */
  const barTime = (k: number) => aligned[k - 1]!.tsMs;
  /** Oldest of the newest `n` defined beta_stability values among the first `upto` bars, from the reference matrix. */
  function betaHistoryFloor(upto: number, n: number): number {
    const defined: number[] = [];
    for (let i = 0; i < upto; i++) if (!Number.isNaN(betaCol[i]!)) defined.push(aligned[i]!.tsMs);
    return defined.slice(-n)[0]!;
  }

  async function expectContinuesBitIdentical(db: Kysely<DB>, settings: FeaturesSettings, expectedSource: 'checkpoint') {
    const { p, metrics } = pipelineOn(db, settings);
    await p.start();
    expect((await metrics.restores.get()).values.filter((v) => v.value > 0).map((v) => [v.labels['source'], v.value])).toEqual([[expectedSource, 1]]);
    await feed(p, FED, aligned.length);
    const rows = (
      await sql<{ ts_utc: Date; feature_values: (number | null)[]; bars_seen: number }>`
        select ts_utc, feature_values, bars_seen from features.vectors where pair_id = ${PAIR_ID} and ts_utc >= ${new Date(barTime(FED + 1)).toISOString()}::timestamptz order by ts_utc`.execute(db)
    ).rows;
    expect(rows.map((r) => r.ts_utc.getTime())).toEqual(aligned.slice(FED).map((b) => b.tsMs));
    const diffs = rows.flatMap((r, j) => [...bitDiff(float8ArrayFromDb(r.feature_values), matrixRow(ref, FED + j)), ...(r.bars_seen === FED + j + 1 ? [] : [`bars_seen ${r.bars_seen} at ${FED + j}`])]);
    expect(diffs).toEqual([]);
  }

  describe('prune with checkpoints every 50 bars', () => {
    let test: TestDatabase;
    let database: Database<DB>;
    const settings = testSettings({ checkpointEvery: 50, betaJumpWindow: BETA_WINDOW });
    // now − 1 month with no grace: the cutoff falls inside the fixture's third month.
    const NOW = Date.UTC(2023, 4, 20);
    const CUTOFF = Date.UTC(2023, 3, 20);

    beforeAll(async () => {
      test = await createTestDatabase({ schema: FEATURES_SCHEMA, migrations: featuresMigrations });
      database = createDatabase<DB>({ connectionString: test.connectionString, schema: FEATURES_SCHEMA, poolMax: 4 });
      const { p } = pipelineOn(database.db, settings);
      await p.start();
      await feed(p, 0, FED);
    });
    afterAll(async () => {
      await database?.close();
      await test?.drop();
    });

    it('stores the fixture in the default partition (the migration pre-created only the months around the real clock)', async () => {
      const r = await sql<{ n: number }>`select count(*)::int as n from features.leg_bars_default`.execute(database.db);
      expect(r.rows[0]!.n).toBe(2 * FED);
      expect((await counts(database.db)).vectors).toBe(FED);
    });

    it('dry run reports the months it would drop and changes nothing', async () => {
      // Half the published outbox rows were published two days ago, a few an hour ago; the rest are unsent.
      const outbox = (await counts(database.db)).outbox;
      expect(outbox).toBe(FED - fullVectorWarmupBars());
      await sql`update features.outbox set sent_at = ${new Date(NOW - 2 * 86_400_000).toISOString()}::timestamptz where id % 2 = 0`.execute(database.db);
      await sql`update features.outbox set sent_at = ${new Date(NOW - 3_600_000).toISOString()}::timestamptz where id % 7 = 1`.execute(database.db);
      const oldSent = (await sql<{ n: number }>`select count(*)::int as n from features.outbox where id % 2 = 0 and id % 7 <> 1`.execute(database.db)).rows[0]!.n;
      const relsBefore = await relations(database.db);
      const countsBefore = await counts(database.db);

      const result = await new FeaturesRetentionService(database.db, silent).run({ cacheMonths: 1, graceDays: 0, betaJumpWindow: BETA_WINDOW }, NOW, { dryRun: true });

      expect(result.dryRun).toBe(true);
      expect(result.policyCutoffMs).toBe(CUTOFF);
      // Months wholly before 2023-04-20: January, February, March 2023.
      const months = [Date.UTC(2023, 0, 1), Date.UTC(2023, 1, 1), Date.UTC(2023, 2, 1)];
      expect(result.droppedPartitions).toEqual([...months.map((m) => monthName('vectors', m)), ...months.map((m) => monthName('leg_bars', m))]);
      expect(result.heldPartitions).toEqual([]);
      const before = aligned.slice(0, FED).filter((b) => b.tsMs < Date.UTC(2023, 3, 1)).length;
      expect(result.deletedRows).toEqual({ vectors: before, leg_bars: 2 * before });
      expect(result.outboxDeleted).toBe(oldSent);
      expect(result.createdPartitions).toBe(0);
      expect(await relations(database.db)).toEqual(relsBefore);
      expect(await counts(database.db)).toEqual(countsBefore);
    });

    it('sweeps the default partition, drops the old months and published outbox rows, keeps the rest', async () => {
      const registry = createMetricsRegistry({ service: 'features', defaultMetrics: false });
      const { outbox: outboxBefore } = await counts(database.db);
      const oldSent = (await sql<{ n: number }>`select count(*)::int as n from features.outbox where id % 2 = 0 and id % 7 <> 1`.execute(database.db)).rows[0]!.n;
      const result = await new FeaturesRetentionService(database.db, silent, registry).run({ cacheMonths: 1, graceDays: 0, betaJumpWindow: BETA_WINDOW }, NOW);
      expect(result.ran).toBe(true);
      const kept = aligned.slice(0, FED).filter((b) => b.tsMs >= Date.UTC(2023, 3, 1));
      const rels = await relations(database.db);
      for (const t of ['vectors', 'leg_bars']) {
        // April 2023 (partly after the cutoff) is the oldest month left; May to July were pre-created.
        expect(rels.filter((r) => r.startsWith(`${t}_p2023`))).toEqual([3, 4, 5, 6].map((m) => monthName(t, Date.UTC(2023, m, 1))));
      }
      // The default partition is empty after the sweep; the months of NOW and the next two exist.
      expect((await sql<{ n: number }>`select count(*)::int as n from features.leg_bars_default`.execute(database.db)).rows[0]!.n).toBe(0);
      for (const m of [Date.UTC(2023, 4, 1), Date.UTC(2023, 5, 1), Date.UTC(2023, 6, 1)]) expect(rels).toContain(monthName('leg_bars', m));
      const c = await counts(database.db);
      expect(c).toEqual({ legs: 2 * kept.length, vectors: kept.length, outbox: outboxBefore - oldSent });
      const vectorsLeft = (await sql<{ t: Date }>`select min(ts_utc) as t from features.vectors`.execute(database.db)).rows[0]!.t.getTime();
      expect(vectorsLeft).toBe(kept[0]!.tsMs);
      expect((await sql<{ n: number }>`select count(*)::int as n from features.outbox where sent_at is null`.execute(database.db)).rows[0]!.n).toBeGreaterThan(0);
      const metric = async (name: string) => (await registry.getSingleMetric(name)!.get()).values.map((v) => [v.labels['table'], v.value]).sort();
      expect(await metric('features_retention_dropped_partitions_total')).toEqual([['leg_bars', 3], ['vectors', 3]]);
      expect(await metric('features_retention_clamped_total')).toEqual([]);
      // The floors: the oldest kept checkpoint (bar 1750, checkpoints every 50, the newest two kept) and the jump history.
      expect(result.floors.find((f) => f.table === 'leg_bars')).toMatchObject({ floorMs: barTime(1750), reason: 'checkpoint' });
      expect(result.floors.find((f) => f.table === 'vectors')!.floorMs).toBe(Math.min(barTime(1750), betaHistoryFloor(FED, BETA_WINDOW)));
    });

    it('a restart after pruning restores from the checkpoint and continues bit-identically', async () => {
      await expectContinuesBitIdentical(database.db, settings, 'checkpoint');
    });
  });

  describe('clamp: the policy cutoff is later than a series needs', () => {
    let test: TestDatabase;
    let database: Database<DB>;
    // One checkpoint only (bar 1000, mid February): everything after it must survive.
    const settings = testSettings({ checkpointEvery: 1000, betaJumpWindow: BETA_WINDOW });
    const NOW = Date.UTC(2023, 5, 1);

    beforeAll(async () => {
      test = await createTestDatabase({ schema: FEATURES_SCHEMA, migrations: featuresMigrations });
      database = createDatabase<DB>({ connectionString: test.connectionString, schema: FEATURES_SCHEMA, poolMax: 4 });
      const { p } = pipelineOn(database.db, settings);
      await p.start();
      await feed(p, 0, FED);
    });
    afterAll(async () => {
      await database?.close();
      await test?.drop();
    });

    it('keeps every month from the checkpoint on, logs and counts the clamp', async () => {
      const floor = barTime(1000);
      expect(new Date(floor).toISOString().slice(0, 7)).toBe('2023-02');
      const registry = createMetricsRegistry({ service: 'features', defaultMetrics: false });
      const { logger, records } = recordingLogger();
      // Policy cutoff 2023-04-28 (1 month + 3 days grace): January–March would go; February and March are held.
      const result = await new FeaturesRetentionService(database.db, logger, registry).run({ cacheMonths: 1, graceDays: 3, betaJumpWindow: BETA_WINDOW }, NOW);
      expect(result.policyCutoffMs).toBe(Date.UTC(2023, 3, 28));
      expect(result.cutoffMs).toEqual({ leg_bars: floor, vectors: floor });
      expect(result.droppedPartitions).toEqual(['vectors_p202301', 'leg_bars_p202301']);
      expect(result.heldPartitions).toEqual(['vectors_p202302', 'vectors_p202303', 'leg_bars_p202302', 'leg_bars_p202303']);
      const clamped = (await registry.getSingleMetric('features_retention_clamped_total')!.get()).values.map((v) => [v.labels['table'], v.value]).sort();
      expect(clamped).toEqual([['leg_bars', 1], ['vectors', 1]]);
      const warnings = records.filter((r) => r.level === 'warn' && r.obj['event'] === 'retention_clamped');
      expect(warnings.map((w) => [w.obj['error_id'], (w.obj['details'] as { table: string }).table])).toEqual([
        ['DATA_RETENTION_CLAMP', 'vectors'],
        ['DATA_RETENTION_CLAMP', 'leg_bars'],
      ]);
      const legsLeft = (await sql<{ t: Date }>`select min(ts_utc) as t from features.leg_bars`.execute(database.db)).rows[0]!.t.getTime();
      expect(legsLeft).toBe(aligned.find((b) => b.tsMs >= Date.UTC(2023, 1, 1))!.tsMs);
    });

    it('the in-process schedule runs at once, exposes the clamp on the service registry, joins a running run and stops', async () => {
      const registry = createMetricsRegistry({ service: 'features', defaultMetrics: false });
      const errors: unknown[] = [];
      const schedule = scheduleFeaturesRetention({
        db: database.db,
        logger: silent,
        registry,
        settings: { cacheMonths: 1, graceDays: 3, betaJumpWindow: BETA_WINDOW },
        intervalMs: 86_400_000,
        firstDelayMs: 0,
        now: () => NOW,
        onError: (e) => errors.push(e),
      });
      // The first run is due at once (firstDelayMs 0).
      await waitFor(async () => /features_retention_runs_total\{outcome="done"/.test(await registry.metrics()));
      const second = await schedule.runNow();
      expect(second?.ran).toBe(true);
      // January went in the previous test; February and March are still held by the checkpoint.
      expect(second?.droppedPartitions).toEqual([]);
      expect(second?.heldPartitions).toEqual(['vectors_p202302', 'vectors_p202303', 'leg_bars_p202302', 'leg_bars_p202303']);
      // A call while a run is in progress joins it instead of starting another.
      const [x, y] = await Promise.all([schedule.runNow(), schedule.runNow()]);
      expect(x).toBe(y);
      await schedule.stop();
      expect(await schedule.runNow()).toBeUndefined();
      expect(errors).toEqual([]);
      const text = await registry.metrics();
      expect(text).toMatch(/features_retention_clamped_total\{table="leg_bars",service="features"\} 3\n/);
      expect(text).toMatch(/features_retention_runs_total\{outcome="done",service="features"\} 3\n/);
    });

    it('a restart after the clamped prune continues bit-identically', async () => {
      await expectContinuesBitIdentical(database.db, settings, 'checkpoint');
    });
  });

  describe('retention while the pipeline writes', () => {
    let test: TestDatabase;
    let database: Database<DB>;
    const settings = testSettings({ checkpointEvery: 100, betaJumpWindow: BETA_WINDOW });

    beforeAll(async () => {
      test = await createTestDatabase({ schema: FEATURES_SCHEMA, migrations: featuresMigrations });
      database = createDatabase<DB>({ connectionString: test.connectionString, schema: FEATURES_SCHEMA, poolMax: 6 });
    });
    afterAll(async () => {
      await database?.close();
      await test?.drop();
    });

    it('moves rows out of the default partition and attaches months under concurrent writes without losing or changing a vector', async () => {
      const { p } = pipelineOn(database.db, settings);
      await p.start();
      await feed(p, 0, 300);
      const service = new FeaturesRetentionService(database.db, silent);
      // Nothing is old enough to drop (cutoff in 2022): every run only sweeps the default partition and pre-creates
      // months — the clock walks through the fixture so each run attaches the month the writer is filling.
      let done = false;
      let runs = 0;
      const writer = feed(p, 300, 1200).finally(() => (done = true));
      const sweeper = (async () => {
        while (!done) {
          const month = Math.min(runs, 3);
          const r = await service.run({ cacheMonths: 12, graceDays: 0, betaJumpWindow: BETA_WINDOW }, Date.UTC(2023, month, 1));
          expect(r.droppedPartitions).toEqual([]);
          runs++;
        }
      })();
      await Promise.all([writer, sweeper]);
      expect(runs).toBeGreaterThan(1);
      await service.run({ cacheMonths: 12, graceDays: 0, betaJumpWindow: BETA_WINDOW }, Date.UTC(2023, 3, 1));
      expect((await sql<{ n: number }>`select count(*)::int as n from features.vectors_default`.execute(database.db)).rows[0]!.n).toBe(0);
      const rows = (await sql<{ ts_utc: Date; feature_values: (number | null)[] }>`select ts_utc, feature_values from features.vectors order by ts_utc`.execute(database.db)).rows;
      expect(rows.map((r) => r.ts_utc.getTime())).toEqual(aligned.slice(0, 1200).map((b) => b.tsMs));
      expect(rows.flatMap((r, i) => bitDiff(float8ArrayFromDb(r.feature_values), matrixRow(ref, i)))).toEqual([]);
      expect((await counts(database.db)).legs).toBe(2 * 1200);
    });
  });

  describe('migration 20250915000000-monthly-partitions', () => {
    let test: TestDatabase;
    let database: Database<DB>;

    beforeAll(async () => {
      test = await createTestDatabase({ schema: FEATURES_SCHEMA, migrations: { '20250901000000-initial': initial } });
      database = createDatabase<DB>({ connectionString: test.connectionString, schema: FEATURES_SCHEMA, poolMax: 2 });
    });
    afterAll(async () => {
      await database?.close();
      await test?.drop();
    });

    const kinds = async () =>
      (await sql<{ n: string; k: string }>`select c.relname as n, c.relkind as k from pg_class c join pg_namespace ns on ns.oid = c.relnamespace where ns.nspname = 'features' and c.relname in ('leg_bars','vectors') order by 1`.execute(database.db)).rows.map((r) => [r.n, r.k]);
    const digest = async (table: string) => (await sql<{ d: string }>`select md5(coalesce(string_agg(t::text, '|' order by t::text), '')) as d from ${sql.table(`features.${table}`)} t`.execute(database.db)).rows[0]!.d;

    it('converts populated tables to month partitions and back without losing a row', async () => {
      const hash = 'd'.repeat(64);
      // Three months of legs and vectors, written into the plain tables of the initial migration.
      const times = [Date.UTC(2024, 10, 30, 23), Date.UTC(2024, 11, 1), Date.UTC(2024, 11, 15, 7), Date.UTC(2025, 0, 31, 23)];
      for (const t of times) {
        const ts = new Date(t).toISOString();
        await sql`insert into features.leg_bars (symbol, timeframe, ts_utc, open, high, low, close, volume, quality_flag, source_id, checksum, received_at, closed_at)
                  values ('AAA', '1h', ${ts}::timestamptz, 1.5, 2, 1, ${t / 1e12}, null, 'ok', 'src', 'sum', ${ts}::timestamptz, ${ts}::timestamptz)`.execute(database.db);
        await sql`insert into features.vectors (pair_id, timeframe, schema_hash, ts_utc, feature_values, complete, quality_flag, quality_reasons, bars_seen, stored_at)
                  values ('AAA_BBB', '1h', ${hash}, ${ts}::timestamptz, ${`{${t / 1e12},NULL,-0}`}::float8[], false, 'ok', '{a_stale}', 1, ${ts}::timestamptz)`.execute(database.db);
      }
      const before = { legs: await digest('leg_bars'), vectors: await digest('vectors') };
      expect(await kinds()).toEqual([['leg_bars', 'r'], ['vectors', 'r']]);

      const opts = { db: database.db as Kysely<unknown>, schema: FEATURES_SCHEMA, migrations: { '20250901000000-initial': initial, '20250915000000-monthly-partitions': monthly } };
      await migrateToLatest(opts);
      expect(await kinds()).toEqual([['leg_bars', 'p'], ['vectors', 'p']]);
      expect({ legs: await digest('leg_bars'), vectors: await digest('vectors') }).toEqual(before);
      // Every row sits in its month partition, none in the default.
      const placed = await sql<{ p: string; n: number }>`select (select relname from pg_class where oid = l.tableoid)::text as p, count(*)::int as n from features.leg_bars l group by 1 order by 1`.execute(database.db);
      expect(placed.rows).toEqual([
        { p: 'leg_bars_p202411', n: 1 },
        { p: 'leg_bars_p202412', n: 2 },
        { p: 'leg_bars_p202501', n: 1 },
      ]);
      // The primary key still refuses a duplicate.
      await expect(sql`insert into features.vectors select * from features.vectors limit 1`.execute(database.db)).rejects.toThrow(/duplicate key/);

      expect(await migrateDown(opts)).toBe('20250915000000-monthly-partitions');
      expect(await kinds()).toEqual([['leg_bars', 'r'], ['vectors', 'r']]);
      expect({ legs: await digest('leg_bars'), vectors: await digest('vectors') }).toEqual(before);
      await expect(sql`insert into features.leg_bars select * from features.leg_bars limit 1`.execute(database.db)).rejects.toThrow(/duplicate key/);
    });
  });

  it('the service options carry features_cache_months / deletion_grace_days and the jump window for the in-process run', () => {
    const yaml = readFileSync('configs/data_retention.yaml', 'utf8');
    const months = Number(/features_cache_months:\s*\n\s*value:\s*(\d+)/.exec(yaml)![1]);
    const grace = Number(/deletion_grace_days:\s*\n\s*value:\s*(\d+)/.exec(yaml)![1]);
    const env = loadEnv(featuresEnvSchema, { exit: false, env: { NOCTRIA_CONFIG_DIR: 'configs', FEATURES_BETA_JUMP_WINDOW: '240', FEATURES_RETENTION_INTERVAL_MS: '0' } });
    expect(buildFeaturesOptions(env as Parameters<typeof buildFeaturesOptions>[0]).retention).toEqual({ settings: { cacheMonths: months, graceDays: grace, betaJumpWindow: 240 }, intervalMs: 0 });
    const dflt = loadEnv(featuresEnvSchema, { exit: false, env: { NOCTRIA_CONFIG_DIR: 'configs' } });
    expect(buildFeaturesOptions(dflt as Parameters<typeof buildFeaturesOptions>[0]).retention?.intervalMs).toBe(86_400_000);
  });

  describe('CronJob entry (services/features/src/retention.ts)', () => {
    let test: TestDatabase;
    let configDir: string;

    beforeAll(async () => {
      test = await createTestDatabase({ schema: FEATURES_SCHEMA, migrations: featuresMigrations });
      configDir = mkdtempSync(join(tmpdir(), 'noctria-features-retention-'));
      cpSync('configs', configDir, { recursive: true });
    });
    afterAll(async () => {
      await test?.drop();
      rmSync(configDir, { recursive: true, force: true });
    });

    it('applies features_cache_months + deletion_grace_days from data_retention.yaml; --dry-run changes nothing', async () => {
      const yaml = readFileSync(join(configDir, 'data_retention.yaml'), 'utf8');
      const months = Number(/features_cache_months:\s*\n\s*value:\s*(\d+)/.exec(yaml)![1]);
      const grace = Number(/deletion_grace_days:\s*\n\s*value:\s*(\d+)/.exec(yaml)![1]);
      const now = Date.UTC(2026, 10, 15);
      const expectedCutoff = Date.UTC(2026, 10 - months, 15) - grace * 86_400_000;
      const env = { DATABASE_URL: test.connectionString, NOCTRIA_CONFIG_DIR: configDir };
      // An old month partition with a row, with no series needing it.
      const old = Date.UTC(2026, 10 - months - 2, 1);
      const database = createDatabase<DB>({ connectionString: test.connectionString, schema: FEATURES_SCHEMA, poolMax: 2 });
      try {
        await sql`select features.ensure_month_partitions('leg_bars', ${new Date(old).toISOString()}::timestamptz, ${new Date(old + 1).toISOString()}::timestamptz)`.execute(database.db);
        await sql`insert into features.leg_bars (symbol, timeframe, ts_utc, open, high, low, close, quality_flag, source_id, checksum, received_at)
                  values ('AAA', '1h', ${new Date(old).toISOString()}::timestamptz, 1, 1, 1, 1, 'ok', 's', 'c', now())`.execute(database.db);
        const results: RetentionResult[] = [];
        expect(await runFeaturesRetention(env, { logger: silent, nowMs: now, argv: ['--dry-run'], onResult: (r) => results.push(r) })).toBe(0);
        expect(results[0]).toMatchObject({ dryRun: true, policyCutoffMs: expectedCutoff, droppedPartitions: [monthName('leg_bars', old)], deletedRows: { leg_bars: 1, vectors: 0 } });
        expect(await relations(database.db)).toContain(monthName('leg_bars', old));
        expect(await runFeaturesRetention(env, { logger: silent, nowMs: now, argv: [], onResult: (r) => results.push(r) })).toBe(0);
        expect(results[1]).toMatchObject({ dryRun: false, droppedPartitions: [monthName('leg_bars', old)] });
        expect(await relations(database.db)).not.toContain(monthName('leg_bars', old));
        expect(await relations(database.db)).toContain(monthName('vectors', monthStart(now)));
      } finally {
        await database.close();
      }
    });

    it('exits 78 on a bad environment or policy and 1 when the database is unreachable', async () => {
      expect(await runFeaturesRetention({ NOCTRIA_CONFIG_DIR: configDir }, { logger: silent })).toBe(ENV_EXIT_CODE);
      const file = join(configDir, 'data_retention.yaml');
      const original = readFileSync(file, 'utf8');
      writeFileSync(file, original.replace(/(features_cache_months:\s*\n\s*value:\s*)\d+/, '$10'));
      try {
        expect(await runFeaturesRetention({ DATABASE_URL: test.connectionString, NOCTRIA_CONFIG_DIR: configDir }, { logger: silent })).toBe(ENV_EXIT_CODE);
      } finally {
        writeFileSync(file, original);
      }
      const missing = new URL(test.connectionString);
      missing.pathname = '/noctria_database_that_does_not_exist';
      expect(await runFeaturesRetention({ DATABASE_URL: missing.toString(), NOCTRIA_CONFIG_DIR: configDir }, { logger: silent, argv: [] })).toBe(1);
    });
  });
});
