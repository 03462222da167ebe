/**
 * Training dataset snapshots on real PostgreSQL, NATS JetStream (bus and object store) and Redis: two features
 * services, each on its own database, consume the same fixture bars; snapshots are requested over
 * rpc.features.snapshot and read back through the ArtifactStore.
 *
 * - the Parquet columns equal computeFeatureMatrix / computeAi1Events / plainZRuleDrawdown + computeAi2Risk over the
 *   aligned bars (the reference path, without the quality step: the fixture's bars pass it unchanged, asserted);
 * - build → `building` → `ready` (service A replies at once), sha256 of every artefact, row counts;
 * - the same request returns the existing snapshot; the two databases give byte-identical artefacts and data hash;
 * - a stored vector altered in the database fails the build with DATA_FEATURES_INTEGRITY;
 * - bad requests answer with their error id; the retention pass deletes an expired snapshot (artefacts and row)
 *   and keeps a younger one.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import { parquetReadObjects } from 'hyparquet';
import { subjects } from '@noctria/contracts';
import {
  computeAi1Events,
  computeAi2Risk,
  computeFeatureMatrix,
  FEATURE_NAMES,
  fullVectorWarmupBars,
  labelParamsFromPolicy,
  pairSeriesFromBars,
  plainZRuleDrawdown,
  preTrainingQuality,
  resolveFeatureParams,
  type PairBar,
} from '@noctria/features';
import { bootstrapService, createDatabase, JetStreamBus, loadEnv, type ArtifactRef, type Database, type RunningService } from '@noctria/platform';
import { loadPolicySet } from '@noctria/policy';
import { createTestDatabase, natsUrl, redisUrl, uniquePrefix, waitFor, type TestDatabase } from '@noctria/testing';
import { featuresEnvSchema } from '../src/config.js';
import { featuresMigrations, FEATURES_SCHEMA } from '../src/db/migrations/index.js';
import type { DB } from '../src/db/schema.js';
import { DatasetService } from '../src/datasets/dataset.service.js';
import { createFeaturesModule } from '../src/features.module.js';
import { alignBars, fixtureLegs, interleave, PAIR_ID, publishBar, testSettings } from './support/bars.js';

type Json = { status: string; data: any; error: { id: string; message: string } | null; request_id: string }; // eslint-disable-line @typescript-eslint/no-explicit-any

const HOUR = 3_600_000;
const N = 700;
const policies = loadPolicySet('configs');
// The fixture's bars are Monday–Friday UTC, the 24/5 grid: the quality step finds no gap.
const CALENDAR = '24/5';

interface Instance {
  test: TestDatabase;
  database: Database<DB>;
  svc: RunningService;
  prefix: string;
  bucket: string;
  datasets: DatasetService;
}

describe('dataset snapshots on real PostgreSQL, NATS and Redis', () => {
  const clock = { ms: Date.UTC(2023, 5, 1) };
  const legs = fixtureLegs();
  const a = legs.a.slice(0, N);
  const b = legs.b.slice(0, N);
  const aligned: PairBar[] = alignBars(a, b);
  const from = new Date(aligned[450]!.tsMs).toISOString();
  const to = new Date(aligned[680]!.tsMs).toISOString();
  let bus: JetStreamBus;
  const inst: Instance[] = [];

  async function start(replyWaitMs: number | undefined, reuse?: Instance): Promise<Instance> {
    const test = reuse?.test ?? (await createTestDatabase({ schema: FEATURES_SCHEMA, migrations: featuresMigrations }));
    const database = reuse?.database ?? createDatabase<DB>({ connectionString: test.connectionString, schema: FEATURES_SCHEMA, poolMax: 2 });
    const prefix = reuse?.prefix ?? uniquePrefix('.');
    const bucket = reuse?.bucket ?? `ds-${prefix.replace(/[^a-z0-9]/gi, '').toLowerCase()}`;
    const env = loadEnv(featuresEnvSchema, { exit: false, env: { DATABASE_URL: test.connectionString, NATS_URL: await natsUrl(), REDIS_URL: await redisUrl(), LOG_LEVEL: 'silent', TZ: 'UTC' } });
    const svc = await bootstrapService({
      service: 'features',
      env,
      schema: FEATURES_SCHEMA,
      migrations: featuresMigrations,
      port: 0,
      host: '127.0.0.1',
      handleSignals: false,
      module: createFeaturesModule({
        settings: testSettings(),
        busPrefix: prefix,
        relayPollMs: 100,
        now: () => clock.ms,
        datasets: {
          calendar: CALENDAR,
          labelPolicy: policies.core_policy.values,
          retentionMonths: policies.data_retention.values.features_snapshot_months,
          pruneEveryMs: 0,
          bucket,
          ...(replyWaitMs !== undefined ? { replyWaitMs } : {}),
        },
      }),
    });
    return { test, database, svc, prefix, bucket, datasets: svc.app.get(DatasetService) };
  }

  beforeAll(async () => {
    bus = await JetStreamBus.connect({ servers: await natsUrl(), name: 'datasets-test' });
    // A replies before its build ends (status building); B waits for builds (default) so errors come back directly.
    inst.push(await start(0), await start(undefined));
    for (const x of interleave(a, b)) for (const i of inst) await publishBar(bus, i.prefix, x);
    for (const i of inst) {
      await waitFor(async () => (await sql<{ n: number }>`select count(*)::int as n from features.vectors`.execute(i.database.db)).rows[0]!.n === aligned.length, {
        timeoutMs: 180_000,
        intervalMs: 100,
        message: () => `${aligned.length} vectors stored`,
      });
    }
  }, 300_000);

  afterAll(async () => {
    await bus?.close();
    for (const i of inst) {
      await i.svc.close();
      await i.database.close();
      await i.test.drop();
    }
  });

  const rpc = async (i: Instance, body: unknown): Promise<Json> => {
    const r = await bus.request(subjects(i.prefix).rpc('features', 'snapshot'), new TextEncoder().encode(JSON.stringify(body)), { timeoutMs: 30_000 });
    return JSON.parse(new TextDecoder().decode(r.data)) as Json;
  };
  const ready = async (i: Instance, id: string): Promise<Json> =>
    waitFor(
      async () => {
        const r = await rpc(i, { snapshot_id: id });
        return r.data?.status === 'ready' || r.data?.status === 'failed' ? r : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 100, message: () => `snapshot ${id} built` },
    );
  const sha = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
  const request = { pairs: [PAIR_ID], timeframe: '1h', from, to, seed: 7 };
  const files = new Map<number, Map<string, Uint8Array>>();

  it('builds over the bus (building → ready) Parquet files whose columns equal the library reference bit for bit', async () => {
    const A = inst[0]!;
    const first = await rpc(A, request);
    expect(first.error).toBeNull();
    expect(first.data.status).toBe('building');
    const done = await ready(A, first.data.snapshot_id);
    expect(done.error).toBeNull();
    const view = done.data;
    expect(view.error).toBeNull();
    expect(view.status).toBe('ready');
    expect(view.pairs).toEqual([PAIR_ID]);
    expect(view.manifest.sha256).toBe(view.manifest_sha256);

    // Every artefact read back through the ArtifactStore and hashed here.
    const got = new Map<string, Uint8Array>();
    for (const ref of view.artifacts as ArtifactRef[]) {
      const bytes = await A.svc.artifacts.get(ref);
      expect(sha(bytes)).toBe(ref.sha256);
      got.set(ref.name.split('/').pop()!, bytes);
    }
    files.set(0, got);
    const manifest = JSON.parse(new TextDecoder().decode(got.get('manifest.json')!));
    expect(sha(got.get('manifest.json')!)).toBe(view.manifest_sha256);
    expect(manifest.snapshot_id).toBe(view.snapshot_id);
    expect(manifest.period).toEqual({ from, to });
    expect(manifest.label_params).toEqual(labelParamsFromPolicy(policies.core_policy.values, '1h', CALENDAR));

    // Reference: the training-data quality step over the legs before `to` — on this fixture it excludes 7 outlying A
    // bars and fills them (no longer gap, one segment) — then the batch features and the labels of the library.
    const toMs = Date.parse(to);
    const fromMs = Date.parse(from);
    const live = aligned.filter((x) => x.tsMs < toMs);
    const q = preTrainingQuality(
      a.filter((x) => Date.parse(x.ts_utc) < toMs),
      b.filter((x) => Date.parse(x.ts_utc) < toMs),
      { calendar: CALENDAR, ...(manifest.dq as object) },
    );
    const pair = manifest.pairs[0];
    expect(q.segments).toEqual([{ start: 0, end: live.length }]);
    expect(pair.quality).toEqual(q.counts);
    expect(pair.input_bars).toBe(live.length);
    const series = pairSeriesFromBars(q.bars);
    const ref = computeFeatureMatrix(series, resolveFeatureParams());
    const liveRef = computeFeatureMatrix(pairSeriesFromBars(live), resolveFeatureParams());
    expect(manifest.feature_schema_hash).toBe(ref.schemaHash);
    const lp = manifest.label_params;
    const events = computeAi1Events({ tsMs: ref.tsMs, z: ref.columns.z, absDeltaZ: ref.columns.abs_delta_z }, lp);
    const dd = plainZRuleDrawdown({ z: ref.columns.z, beta: ref.columns.beta, closeA: series.aClose, closeB: series.bClose }, lp);
    const risk = computeAi2Risk({ corrStability: ref.columns.corr_stability, volRatioSpread: ref.columns.vol_ratio_spread, absDeltaZ: ref.columns.abs_delta_z, ddRecent: dd.ddRecent }, lp);
    const idx = [...ref.tsMs.keys()].filter((k) => ref.tsMs[k]! >= fromMs);
    expect(idx.length).toBe(230);
    expect(idx.filter((k) => q.synthetic[k] === 1).length).toBeGreaterThan(0);

    const rows = await parquetReadObjects({ file: got.get(`${PAIR_ID}.parquet`)!.slice().buffer });
    expect(rows.length).toBe(idx.length);
    expect(pair.rows).toBe(idx.length);
    expect(view.rows).toBe(idx.length);
    const diffs: string[] = [];
    const byStart = new Map(events.map((e) => [e.startIndex, e]));
    rows.forEach((r, j) => {
      const k = idx[j]!;
      if (new Date(r['ts_utc'] as Date).getTime() !== ref.tsMs[k]) diffs.push(`row ${j}: ts`);
      for (const name of FEATURE_NAMES) if (!Object.is(r[name], ref.columns[name][k])) diffs.push(`row ${j} ${name}: ${r[name]} != ${ref.columns[name][k]}`);
      const e = byStart.get(k);
      if (r['ai1_is_event'] !== (e !== undefined)) diffs.push(`row ${j}: is_event`);
      if (e) {
        if (r['ai1_direction'] !== e.direction || r['ai1_outcome'] !== e.outcome || r['ai1_end_reason'] !== e.endReason) diffs.push(`row ${j}: event ${JSON.stringify(e)}`);
        if (new Date(r['ai1_end_ts_utc'] as Date).getTime() !== ref.tsMs[e.endIndex]) diffs.push(`row ${j}: event end`);
      } else if (r['ai1_outcome'] !== null || r['ai1_direction'] !== 0) diffs.push(`row ${j}: non-event carries a label`);
      if (r['ai2_risk'] !== (risk.risk[k] === 1) || r['ai2_defined'] !== (risk.defined[k] === 1)) diffs.push(`row ${j}: ai2`);
      if (r['close_a'] !== series.aClose[k] || r['close_b'] !== series.bClose[k]) diffs.push(`row ${j}: closes`);
      if (r['synthetic'] !== (q.synthetic[k] === 1)) diffs.push(`row ${j}: synthetic`);
    });
    expect(diffs).toEqual([]);
    expect(rows.filter((r) => r['ai1_is_event']).length).toBe(events.filter((e) => e.startIndex >= idx[0]!).length);
    // Every stored vector of the period was recomputed from its bars; the snapshot rows equal to them are those the
    // quality step left untouched (counted here from the two reference matrices).
    const equalLive = idx.filter((k) => FEATURE_NAMES.every((name) => Object.is(ref.columns[name][k], liveRef.columns[name][k]))).length;
    expect(equalLive).toBeLessThan(idx.length);
    expect(view.integrity).toEqual({ [PAIR_ID]: { stored_vectors: idx.length, verified_vectors: idx.length, verified_from: 'series_start', unverified_reason: null, snapshot_rows_equal_live: equalLive } });
    expect(idx[0]!).toBeGreaterThan(fullVectorWarmupBars());
  }, 180_000);

  it('returns the existing snapshot for the same request and gives byte-identical artefacts from another database', async () => {
    const [A, B] = inst as [Instance, Instance];
    const again = await rpc(A, request);
    const first = await rpc(A, { snapshot_id: again.data.snapshot_id });
    expect(again.data.status).toBe('ready');
    expect(again.data.created_at).toBe(first.data.created_at);
    expect((await sql<{ n: number }>`select count(*)::int as n from features.dataset_snapshots`.execute(A.database.db)).rows[0]!.n).toBe(1);

    const other = await rpc(B, request);
    expect(other.error).toBeNull();
    expect(other.data.status).toBe('ready');
    expect(other.data.snapshot_id).toBe(again.data.snapshot_id);
    expect(other.data.data_hash).toBe(again.data.data_hash);
    expect(other.data.manifest_sha256).toBe(again.data.manifest_sha256);
    const mine = files.get(0)!;
    for (const ref of other.data.artifacts as ArtifactRef[]) {
      const bytes = await B.svc.artifacts.get(ref);
      expect(Buffer.from(bytes).equals(Buffer.from(mine.get(ref.name.split('/').pop()!)!))).toBe(true);
    }
    // The data hash is the sha256 of the input bars as documented (independent re-implementation).
    const input = aligned.filter((x) => x.tsMs < Date.parse(to));
    const buf = Buffer.alloc(4 + input.length * 72);
    buf.writeUInt32LE(input.length, 0);
    let off = 4;
    for (const x of input) for (const v of [x.tsMs, x.a.open, x.a.high, x.a.low, x.a.close, x.b.open, x.b.high, x.b.low, x.b.close]) off = buf.writeDoubleLE(v, off);
    const pairHash = createHash('sha256').update('noctria.features.pair-bars.v1\n').update(buf).digest('hex');
    expect(other.data.data_hash).toBe(createHash('sha256').update(`${PAIR_ID}:${pairHash}\n`).digest('hex'));

    const http = await fetch(`${A.svc.url}/features/snapshots/${again.data.snapshot_id}`);
    expect(http.status).toBe(200);
    expect(((await http.json()) as Json).data.manifest_sha256).toBe(again.data.manifest_sha256);
  }, 120_000);

  it('answers bad requests with their error id', async () => {
    const B = inst[1]!;
    expect((await rpc(B, { ...request, pairs: ['NOPE_PAIR'] })).error?.id).toBe('DATA_FEATURES_NOTFOUND');
    expect((await rpc(B, { ...request, from: to, to: from })).error?.id).toBe('DATA_FEATURES_BADREQ');
    expect((await rpc(B, { ...request, timeframe: '2h' })).error?.id).toBe('DATA_FEATURES_BADREQ');
    expect((await rpc(B, { ...request, label_params: { zExit: 9 } })).error?.id).toBe('DATA_FEATURES_BADREQ');
    expect((await rpc(B, { snapshot_id: `ds-${'0'.repeat(32)}` })).error?.id).toBe('DATA_FEATURES_NOTFOUND');
    const empty = await rpc(B, { ...request, from: '2030-01-01T00:00:00Z', to: '2030-02-01T00:00:00Z' });
    expect(empty.error?.id).toBe('DATA_FEATURES_NODATA');
    const res = await fetch(`${B.svc.url}/features/snapshots`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...request, from: to, to: from }) });
    expect(res.status).toBe(400);
  }, 60_000);

  it('fails the build with DATA_FEATURES_INTEGRITY when a stored vector differs from the recomputed features', async () => {
    const B = inst[1]!;
    const victim = new Date(aligned[500]!.tsMs).toISOString();
    const original = (await sql<{ z: number }>`select feature_values[3] as z from features.vectors where pair_id = ${PAIR_ID} and ts_utc = ${victim}::timestamptz`.execute(B.database.db)).rows[0]!.z;
    // z is the 3rd feature (float8[] subscripts are 1-based).
    await sql`update features.vectors set feature_values[3] = feature_values[3] + 1e-9 where pair_id = ${PAIR_ID} and ts_utc = ${victim}::timestamptz`.execute(B.database.db);
    const r = await rpc(B, { ...request, seed: 8 });
    expect(r.error?.id).toBe('DATA_FEATURES_INTEGRITY');
    expect(r.error?.message).toContain(victim);
    const row = (await sql<{ status: string; error_id: string }>`select status, error_id from features.dataset_snapshots where request->>'seed' = '8'`.execute(B.database.db)).rows;
    expect(row).toEqual([{ status: 'failed', error_id: 'DATA_FEATURES_INTEGRITY' }]);
    await sql`update features.vectors set feature_values[3] = ${original} where pair_id = ${PAIR_ID} and ts_utc = ${victim}::timestamptz`.execute(B.database.db);
  }, 60_000);

  it('resumes a build a stopped process left `building` when the service starts again', async () => {
    const B = inst[1]!;
    // As a process killed mid-build leaves it (the stored vector repaired above, so the build can succeed).
    const id = (await sql<{ id: string }>`update features.dataset_snapshots set status = 'building' where request->>'seed' = '8' returning id`.execute(B.database.db)).rows[0]!.id;
    await B.svc.close();
    inst[1] = await start(undefined, B);
    const done = await ready(inst[1], id);
    expect(done.data.status).toBe('ready');
    expect(done.data.error).toBeNull();
    expect(done.data.rows).toBe(230);
  }, 120_000);

  it('the retention pass deletes an expired snapshot with its artefacts and keeps a younger one', async () => {
    const A = inst[0]!;
    const old = (await rpc(A, request)).data;
    clock.ms += 365 * 24 * HOUR;
    const younger = (await ready(A, (await rpc(A, { ...request, seed: 9 })).data.snapshot_id)).data;
    expect(younger.status).toBe('ready');
    const months = policies.data_retention.values.features_snapshot_months;
    const created = new Date(old.created_at);
    const expires = Date.UTC(created.getUTCFullYear(), created.getUTCMonth() + months, created.getUTCDate(), created.getUTCHours());
    expect(Date.parse(old.expires_at)).toBe(expires);

    expect(await A.datasets.pruneExpiredSnapshots(expires - 1)).toEqual([]);
    expect(await A.datasets.pruneExpiredSnapshots(expires)).toEqual([old.snapshot_id]);
    for (const ref of old.artifacts as ArtifactRef[]) expect(await A.svc.artifacts.stat(ref.bucket, ref.name)).toBeNull();
    for (const ref of younger.artifacts as ArtifactRef[]) expect(await A.svc.artifacts.stat(ref.bucket, ref.name)).not.toBeNull();
    expect((await rpc(A, { snapshot_id: old.snapshot_id })).error?.id).toBe('DATA_FEATURES_NOTFOUND');
    expect((await rpc(A, { snapshot_id: younger.snapshot_id })).data.status).toBe('ready');
  }, 120_000);

  it('verifies a series whose beginning retention removed from a retained checkpoint, and catches a corrupt vector after it', async () => {
    const A = inst[0]!;
    const cutoff = new Date(aligned[200]!.tsMs).toISOString();
    // What the features retention leaves after dropping old months: no bar, vector or checkpoint before the cutoff.
    for (const table of ['vectors', 'leg_bars', 'checkpoints']) await sql`delete from ${sql.table(`features.${table}`)} where ts_utc < ${cutoff}::timestamptz`.execute(A.database.db);
    // The service keeps the newest two checkpoints of a series (both after `from` here): the rule then restores the
    // oldest retained checkpoint inside the period and verifies every vector after it.
    const cps = (await sql<{ ts_utc: Date }>`select ts_utc from features.checkpoints where pair_id = ${PAIR_ID} order by ts_utc`.execute(A.database.db)).rows.map((x) => x.ts_utc.getTime());
    const cp = cps.find((t) => t < Date.parse(to))!;
    expect(cp).toBeGreaterThan(Date.parse(from));
    const expected = aligned.filter((x) => x.tsMs > cp && x.tsMs < Date.parse(to)).length;
    expect(expected).toBeGreaterThan(0);
    const built = (await ready(A, (await rpc(A, { ...request, seed: 10 })).data.snapshot_id)).data;
    expect(built.status).toBe('ready');
    expect(built.integrity[PAIR_ID]).toMatchObject({ stored_vectors: 230, verified_vectors: expected, verified_from: new Date(cp).toISOString(), unverified_reason: null });

    const victim = new Date(aligned.find((x) => x.tsMs > cp)!.tsMs).toISOString();
    await sql`update features.vectors set feature_values[21] = feature_values[21] * (1 + 1e-12) where pair_id = ${PAIR_ID} and ts_utc = ${victim}::timestamptz`.execute(A.database.db);
    const bad = await ready(A, (await rpc(A, { ...request, seed: 11 })).data.snapshot_id);
    expect(bad.data.status).toBe('failed');
    expect(bad.data.error.id).toBe('DATA_FEATURES_INTEGRITY');
    expect(bad.data.error.message).toContain(victim);
  }, 120_000);
});
