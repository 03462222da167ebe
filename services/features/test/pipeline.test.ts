/**
 * FeaturePipeline on a real PostgreSQL, driven directly (no bus): the database is the truth and engines are its cache.
 * - a transaction that fails after the engine moved (fault injected by a trigger) leaves no trace: the redelivered
 *   bar restores the engine and the series continues bit-identical to computeFeatureMatrix;
 * - two pipelines writing the same series (two replicas) stay consistent: each restores when the other advanced;
 * - a new parameter set (new schema hash) computes its own series from the stored leg bars at start, next to the old;
 * - ingest revisions replace a leg no series has consumed yet and are ignored (counted) afterwards.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sql } from 'kysely';
import { barChecksum, type CanonicalBar } from '@noctria/canonical-bar';
import { computeFeatureMatrix, fullVectorWarmupBars, pairSeriesFromBars, resolveFeatureParams } from '@noctria/features';
import { createDatabase, createLogger, createMetricsRegistry, type Database } from '@noctria/platform';
import { createTestDatabase, type TestDatabase } from '@noctria/testing';
import { featuresMigrations, FEATURES_SCHEMA } from '../src/db/migrations/index.js';
import type { DB } from '../src/db/schema.js';
import { FeaturePipeline, type IncomingBar } from '../src/pipeline/feature-pipeline.js';
import { float8ArrayFromDb } from '../src/pipeline/float8-array.js';
import type { FeaturesSettings } from '../src/pipeline/settings.js';
import { createFeaturesMetrics } from '../src/telemetry.js';
import { alignBars, bitDiff, fixtureLegs, interleave, matrixRow, PAIR_ID, referenceMatrix, testSettings } from './support/bars.js';

function incoming(bar: CanonicalBar, receivedMs = Date.parse(bar.ts_utc) + 3_600_000): IncomingBar {
  return {
    symbol: bar.symbol,
    timeframe: '1h',
    tsMs: Date.parse(bar.ts_utc),
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
    receivedMs,
  };
}

describe('FeaturePipeline (database is the truth, engines its cache)', () => {
  let test: TestDatabase;
  let database: Database<DB>;
  const legs = fixtureLegs();

  beforeAll(async () => {
    test = await createTestDatabase({ schema: FEATURES_SCHEMA, migrations: featuresMigrations });
    database = createDatabase<DB>({ connectionString: test.connectionString, schema: FEATURES_SCHEMA, poolMax: 4 });
  });
  afterAll(async () => {
    await database?.close();
    await test?.drop();
  });

  function pipeline(settings: FeaturesSettings = testSettings({ checkpointEvery: 37 })) {
    const registry = createMetricsRegistry({ service: 'features', defaultMetrics: false });
    const metrics = createFeaturesMetrics(registry);
    const p = new FeaturePipeline({ db: database.db, logger: createLogger({ service: 'features-test', level: 'silent' }), registry, metrics, settings, busPrefix: '', storeRetryMs: 0 });
    return { p, metrics };
  }
  const vectors = async (schemaHash?: string) =>
    (
      await sql<{ ts_utc: Date; feature_values: (number | null)[]; bars_seen: number; schema_hash: string }>`
        select ts_utc, feature_values, bars_seen, schema_hash from features.vectors
        where pair_id = ${PAIR_ID} ${schemaHash ? sql`and schema_hash = ${schemaHash}` : sql``} order by ts_utc`.execute(database.db)
    ).rows;
  async function expectEqualTo(ref: ReturnType<typeof referenceMatrix>, rows: Awaited<ReturnType<typeof vectors>>) {
    expect(rows.map((r) => r.ts_utc.getTime())).toEqual(Array.from(ref.tsMs));
    const diffs = rows.flatMap((r, i) => [...bitDiff(float8ArrayFromDb(r.feature_values), matrixRow(ref, i)), ...(r.bars_seen === i + 1 ? [] : [`bars_seen ${r.bars_seen} at ${i}`])]);
    expect(diffs).toEqual([]);
  }

  it('rolls back a failed transaction completely and continues bit-identically after restoring the engine', async () => {
    const { p, metrics } = pipeline();
    await p.start();
    const a = legs.a.slice(0, 450);
    const b = legs.b.slice(0, 450);
    const feed = interleave(a, b);
    const failTs = b[400]!.ts_utc;
    // Fault injection: the vector of bar 400 cannot be inserted (after the engine already consumed the bar).
    await sql.raw(`
      create function features.fail_once() returns trigger language plpgsql as $$
      begin
        if new.ts_utc = '${failTs}'::timestamptz and not exists (select 1 from features.checkpoints where bars_seen = -1) then
          raise exception 'injected failure';
        end if;
        return new;
      end $$;
      create trigger fail_once before insert on features.vectors for each row execute function features.fail_once();`).execute(database.db);
    let failures = 0;
    for (const bar of feed) {
      try {
        await p.apply(incoming(bar));
      } catch (err) {
        expect((err as Error).message).toContain('injected failure');
        failures++;
        // The bus would redeliver it; the second time the trigger lets it through.
        await sql`insert into features.checkpoints (pair_id, timeframe, schema_hash, bars_seen, ts_utc, state) values ('x', 'x', 'x', -1, now(), '')`.execute(database.db);
        expect((await p.apply(incoming(bar))).outcome).toBe('stored');
      }
    }
    expect(failures).toBe(1);
    await sql`drop trigger fail_once on features.vectors; drop function features.fail_once(); delete from features.checkpoints where bars_seen = -1`.execute(database.db);
    // The engine had consumed bar 400 in the failed transaction; the retry found it ahead of the series row and
    // restored it from the newest checkpoint (bar 370) before applying bar 400 again.
    const restores = (await metrics.restores.get()).values.map((v) => [v.labels['source'], v.value]);
    expect(restores).toEqual([['checkpoint', 1]]);
    await expectEqualTo(referenceMatrix(alignBars(a, b)), await vectors());
  });

  it('keeps two writers of the same series consistent (each restores when the other advanced)', async () => {
    const one = pipeline();
    const two = pipeline();
    await one.p.start();
    await two.p.start();
    const a = legs.a.slice(450, 700);
    const b = legs.b.slice(450, 700);
    let i = 0;
    for (const bar of interleave(a, b)) {
      // Blocks of 3 messages alternate between the writers, as a shared durable would split them.
      await (Math.floor(i++ / 3) % 2 === 0 ? one : two).p.apply(incoming(bar));
    }
    await expectEqualTo(referenceMatrix(alignBars(legs.a.slice(0, 700), legs.b.slice(0, 700))), await vectors());
    const restored = async (m: typeof one.metrics) => (await m.restores.get()).values.reduce((s, v) => s + v.value, 0);
    expect(await restored(one.metrics)).toBeGreaterThan(10);
    expect(await restored(two.metrics)).toBeGreaterThan(10);
  });

  it('computes a new parameter set from the stored leg bars at start, next to the old series', async () => {
    const params = resolveFeatureParams({ zClip: 3, betaEmaHalfLife: 48 });
    const { p } = pipeline(testSettings({ params, checkpointEvery: 100 }));
    expect(p.schemaHash).not.toBe(pipeline().p.schemaHash);
    await p.start();
    const aligned = alignBars(legs.a.slice(0, 700), legs.b.slice(0, 700));
    const ref = computeFeatureMatrix(pairSeriesFromBars(aligned), params);
    await expectEqualTo(ref, await vectors(p.schemaHash));
    // The old series is untouched, and both published their complete vectors.
    expect((await vectors(pipeline().p.schemaHash)).length).toBe(aligned.length);
    const outbox = await sql<{ n: number }>`select count(*)::int as n from features.outbox`.execute(database.db);
    expect(outbox.rows[0]!.n).toBe(2 * (aligned.length - fullVectorWarmupBars()));
  });

  it('applies a revision of a leg no series has consumed and ignores one of a consumed leg', async () => {
    const { p, metrics } = pipeline();
    await p.start();
    const [a1, a2] = [legs.a[700]!, legs.a[701]!];
    const [b1, b2] = [legs.b[700]!, legs.b[701]!];
    await p.apply(incoming(a1));
    // Ingest revised A's bar before B's arrived: the stored leg is replaced (latest wins).
    const a1r = { ...a1, close: a1.close * 1.001, high: Math.max(a1.high, a1.close * 1.001), quality_flag: 'revised' as const };
    expect((await p.apply(incoming(a1r))).outcome).toBe('revised');
    expect((await p.apply(incoming(b1))).vectors).toHaveLength(1);
    await p.apply(incoming(a2));
    await p.apply(incoming(b2));
    // Now the pair has consumed a1r: a further revision is refused (the stored vectors stay reproducible).
    const a1rr = { ...a1r, close: a1.close * 0.999, low: Math.min(a1.low, a1.close * 0.999) };
    expect((await p.apply(incoming(a1rr))).outcome).toBe('revision_ignored');
    expect((await metrics.barsReceived.get()).values.filter((v) => v.value > 0).map((v) => [v.labels['outcome'], v.value]).sort()).toEqual([
      ['revised', 1],
      ['revision_ignored', 1],
      ['stored', 4],
    ]);
    const aligned = alignBars([...legs.a.slice(0, 700), a1r, a2], legs.b.slice(0, 702));
    await expectEqualTo(referenceMatrix(aligned), await vectors(p.schemaHash));
  });
});
