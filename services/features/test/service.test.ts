/**
 * The features service end to end on real PostgreSQL, NATS JetStream and Redis (bootstrapService, port 0): leg bars
 * published as ingest publishes them → stored vectors and feat.<tf>.<pair_id> messages.
 *
 * - the stored vectors equal computeFeatureMatrix over the same aligned bars bit for bit (Object.is);
 * - every complete vector is published once, keyed by the feature key; warm-up vectors are stored, not published;
 * - replaying every bar changes nothing; a leg for a bar time already passed is counted and dropped;
 * - ingest flags propagate, a late live leg makes the vector stale, a beta_stability jump is flagged;
 * - an undecodable message and an invalid bar are dead-lettered with their error id and the service keeps going;
 * - rpc.features.status / export and the HTTP read API.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sql } from 'kysely';
import type { CanonicalBar } from '@noctria/canonical-bar';
import { decodeFeatureVector, featureKey, featureVectorsConsumer, consumerFor, subjects } from '@noctria/contracts';
import { FEATURE_NAMES, fullVectorWarmupBars } from '@noctria/features';
import { bootstrapService, createDatabase, JetStreamBus, loadEnv, type BusMessage, type Database, type RunningService, type Subscription } from '@noctria/platform';
import { createTestDatabase, natsUrl, redisUrl, uniquePrefix, waitFor, type TestDatabase } from '@noctria/testing';
import { featuresEnvSchema } from '../src/config.js';
import { featuresMigrations, FEATURES_SCHEMA } from '../src/db/migrations/index.js';
import type { DB } from '../src/db/schema.js';
import { createFeaturesModule } from '../src/features.module.js';
import { float8ArrayFromDb } from '../src/pipeline/float8-array.js';
import { alignBars, bitDiff, fixtureLegs, interleave, matrixRow, PAIR_ID, publishBar, referenceMatrix, SYMBOL_A, SYMBOL_B, testSettings } from './support/bars.js';

const HOUR = 3_600_000;
const N = 520;
// β-stability jump rule tuned so that this fixture trips it (checked against a naive median below).
const JUMP_FACTOR = 1.1;
const JUMP_WINDOW = 24;

type Json = { status: string; data: any; error: { id: string; message: string } | null; request_id: string }; // eslint-disable-line @typescript-eslint/no-explicit-any

describe('features service on real PostgreSQL, NATS and Redis', () => {
  let test: TestDatabase;
  let database: Database<DB>;
  let svc: RunningService;
  let bus: JetStreamBus;
  const subs: Subscription[] = [];
  const prefix = uniquePrefix('.');
  const feat: BusMessage[] = [];
  const dlq: BusMessage[] = [];
  const clock = { ms: Date.UTC(2023, 0, 1) };
  const legs = fixtureLegs();
  // A gap in each leg (inner join skips those times); A's gap bar arrives much later (out of order).
  const lateA = legs.a[100]!;
  const a = legs.a.slice(0, N).filter((x) => x !== lateA);
  const b = legs.b.slice(0, N).filter((_, i) => i !== 200);
  /** Every bar the pair consumed, in order (grows as the test publishes more). */
  let aligned = alignBars(a, b);

  beforeAll(async () => {
    test = await createTestDatabase({ schema: FEATURES_SCHEMA, migrations: featuresMigrations });
    database = createDatabase<DB>({ connectionString: test.connectionString, schema: FEATURES_SCHEMA, poolMax: 2 });
    const nats = await natsUrl();
    const env = loadEnv(featuresEnvSchema, { exit: false, env: { DATABASE_URL: test.connectionString, NATS_URL: nats, REDIS_URL: await redisUrl(), LOG_LEVEL: 'silent', TZ: 'UTC' } });
    svc = await bootstrapService({
      service: 'features',
      env,
      schema: FEATURES_SCHEMA,
      migrations: featuresMigrations,
      port: 0,
      host: '127.0.0.1',
      handleSignals: false,
      module: createFeaturesModule({
        settings: testSettings({ betaJumpFactor: JUMP_FACTOR, betaJumpWindow: JUMP_WINDOW }),
        busPrefix: prefix,
        relayPollMs: 100,
        now: () => clock.ms,
      }),
    });
    bus = await JetStreamBus.connect({ servers: nats, name: 'features-test' });
    const tok = prefix.replace(/\./g, '');
    subs.push(await bus.consume(featureVectorsConsumer({ prefix, durable: `${tok}_vectors` }), async (m) => void feat.push(m), { concurrency: 4 }));
    subs.push(
      await bus.consume(consumerFor({ prefix, stream: 'DLQ', durable: `${tok}_dlq`, filterSubjects: [subjects(prefix).deadLetterFilter()] }), async (m) => void dlq.push(m)),
    );
  }, 120_000);

  afterAll(async () => {
    for (const s of subs) await s.stop();
    await bus?.close();
    await svc?.close();
    await database?.close();
    await test?.drop();
  });

  const metric = async (name: string, labels: Record<string, string> = {}) => {
    const m = svc.registry.getSingleMetric(name);
    if (!m) return 0;
    const values = (await m.get()).values.filter((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val));
    return values.reduce((s, v) => s + v.value, 0);
  };
  const stored = async () =>
    (
      await sql<{ ts_utc: Date; feature_values: (number | null)[]; complete: boolean; quality_flag: string; quality_reasons: string[]; bars_seen: number }>`
        select ts_utc, feature_values, complete, quality_flag, quality_reasons, bars_seen from features.vectors where pair_id = ${PAIR_ID} order by ts_utc`.execute(database.db)
    ).rows;
  const count = async (table: string) => (await sql<{ n: number }>`select count(*)::int as n from ${sql.table(`features.${table}`)}`.execute(database.db)).rows[0]!.n;
  const http = async (path: string): Promise<{ status: number; body: Json }> => {
    const r = await fetch(`${svc.url}${path}`);
    return { status: r.status, body: (await r.json()) as Json };
  };
  const rpc = async (verb: string, body: unknown): Promise<Json> => {
    const r = await bus.request(subjects(prefix).rpc('features', verb), new TextEncoder().encode(JSON.stringify(body)), { timeoutMs: 10_000 });
    return JSON.parse(new TextDecoder().decode(r.data)) as Json;
  };
  async function publishAll(bars: readonly CanonicalBar[], opts: Parameters<typeof publishBar>[3] = {}) {
    for (const x of bars) await publishBar(bus, prefix, x, opts);
  }
  /** Stored vectors vs the reference matrix of `aligned`, bit for bit, plus bars_seen and completeness. */
  async function expectReference() {
    const rows = await stored();
    const ref = referenceMatrix(aligned);
    expect(rows.map((r) => r.ts_utc.getTime())).toEqual(aligned.map((x) => x.tsMs));
    const diffs: string[] = [];
    rows.forEach((r, i) => {
      const d = bitDiff(float8ArrayFromDb(r.feature_values), matrixRow(ref, i));
      if (d.length > 0) diffs.push(`${r.ts_utc.toISOString()}: ${d.join('; ')}`);
      if (r.bars_seen !== i + 1) diffs.push(`${r.ts_utc.toISOString()}: bars_seen ${r.bars_seen} != ${i + 1}`);
      if (r.complete !== i >= fullVectorWarmupBars()) diffs.push(`${r.ts_utc.toISOString()}: complete ${r.complete} at row ${i}`);
    });
    expect(diffs).toEqual([]);
    return { rows, ref };
  }

  it('turns the bars of both legs into vectors bit-identical to computeFeatureMatrix and publishes the complete ones once', async () => {
    // Half interleaved like a live feed, then the rest of A and the rest of B like two backfills.
    const firstHalf = interleave(a.slice(0, 260), b.slice(0, 260));
    await publishAll(firstHalf);
    await publishAll(a.slice(260));
    await publishAll(b.slice(260));
    await waitFor(async () => (await count('vectors')) === aligned.length, { timeoutMs: 120_000, intervalMs: 100, message: () => `${aligned.length} vectors stored` });
    const { rows } = await expectReference();

    const complete = rows.filter((r) => r.complete);
    expect(complete.length).toBe(aligned.length - fullVectorWarmupBars());
    await waitFor(() => feat.length >= complete.length, { timeoutMs: 30_000, message: () => `${complete.length} feat messages (got ${feat.length})` });
    const hash = (await sql<{ h: string }>`select distinct schema_hash as h from features.vectors`.execute(database.db)).rows.map((r) => r.h);
    expect(hash).toHaveLength(1);
    const events = feat.map((m) => ({ m, v: decodeFeatureVector(m.data) }));
    expect(events.map((e) => e.v.tsMs)).toEqual(complete.map((r) => r.ts_utc.getTime()));
    for (const [i, { m, v }] of events.entries()) {
      const row = complete[i]!;
      expect(m.subject).toBe(subjects(prefix).features('1h', PAIR_ID));
      expect(m.headers['Nats-Msg-Id']).toBe(featureKey(PAIR_ID, '1h', v.tsMs, hash[0]!));
      expect(v.envelope.messageId).toBe(m.headers['Nats-Msg-Id']);
      expect(bitDiff(v.values, float8ArrayFromDb(row.feature_values))).toEqual([]);
      expect([v.pairId, v.timeframe, v.schemaHash, v.qualityFlag, v.barsSeen, v.barCloseMs]).toEqual([PAIR_ID, '1h', hash[0], row.quality_flag, row.bars_seen, v.tsMs + HOUR]);
    }
    expect(await metric('features_vectors_stored_total', { complete: 'false' })).toBe(fullVectorWarmupBars());
    expect(await metric('features_vectors_published_total', { outcome: 'published' })).toBe(complete.length);
  }, 240_000);

  it('flags a beta_stability jump exactly where a naive median over the reference says, counting each start once', async () => {
    const { rows, ref } = await expectReference();
    const bs = ref.columns.beta_stability;
    const window: number[] = [];
    let on = false;
    let starts = 0;
    const expected: boolean[] = [];
    for (let i = 0; i < bs.length; i++) {
      const v = bs[i]!;
      if (Number.isNaN(v)) {
        expected.push(false);
        continue;
      }
      const sorted = [...window].sort((x, y) => x - y);
      const med = sorted.length === JUMP_WINDOW ? (sorted[JUMP_WINDOW / 2 - 1]! + sorted[JUMP_WINDOW / 2]!) / 2 : Number.NaN;
      const jump = med > 0 && v > JUMP_FACTOR * med;
      if (jump && !on) starts++;
      on = jump;
      expected.push(jump);
      window.push(v);
      if (window.length > JUMP_WINDOW) window.shift();
    }
    expect(starts).toBeGreaterThan(0);
    expect(rows.map((r) => r.quality_reasons.includes('beta_jump'))).toEqual(expected);
    expect(rows.filter((r) => r.quality_reasons.length === 0).every((r) => r.quality_flag === 'ok')).toBe(true);
    expect(rows.filter((r) => r.quality_reasons.includes('beta_jump')).every((r) => r.quality_flag === 'beta_jump')).toBe(true);
    expect(await metric('features_beta_stability_jumps_total', { pair_id: PAIR_ID })).toBe(starts);
    expect(await metric('noctria_errors_total', { error_id: 'DATA_DQ_BETAJUMP' })).toBe(starts);
    expect(await metric('features_beta_stability_std', { pair_id: PAIR_ID, timeframe: '1h' })).toBe(bs[bs.length - 1]);
  });

  it('changes nothing when every bar is delivered again, and drops a leg for a bar time the pair has passed', async () => {
    const before = { vectors: await count('vectors'), outbox: await count('outbox'), legs: await count('leg_bars'), stored: (await stored()).map((r) => JSON.stringify(r)) };
    const published = a.length + b.length;
    await publishAll([...a, ...b], { msgIdSuffix: '|replay' });
    await waitFor(async () => (await metric('features_bars_received_total', { outcome: 'duplicate' })) === published, { timeoutMs: 120_000, intervalMs: 100, message: 'every replayed bar seen as a duplicate' });
    expect(await count('vectors')).toBe(before.vectors);
    expect(await count('outbox')).toBe(before.outbox);
    expect(await count('leg_bars')).toBe(before.legs);
    expect((await stored()).map((r) => JSON.stringify(r))).toEqual(before.stored);

    // A's missing bar 100 finally arrives: B's bar of that time is stored, but the pair is far past it.
    await publishBar(bus, prefix, lateA);
    await waitFor(async () => (await metric('features_bars_dropped_total', { pair_id: PAIR_ID, reason: 'out_of_order' })) === 1, { timeoutMs: 30_000, message: 'out-of-order drop counted' });
    expect(await count('leg_bars')).toBe(before.legs + 1);
    expect(await count('vectors')).toBe(before.vectors);
    await expectReference();
  }, 240_000);

  it('propagates ingest flags and marks a live leg later than the freshness budget stale', async () => {
    const [t1, t2] = [legs.a[N]!, legs.a[N + 1]!];
    const [u1, u2] = [legs.b[N]!, legs.b[N + 1]!];
    // t1: leg A flagged outlier by ingest DQ.
    await publishBar(bus, prefix, t1, { qualityFlag: 'outlier' });
    await publishBar(bus, prefix, u1);
    // t2: live legs; A one second after the close, B 200 s after it (budget 120 s).
    const close = Date.parse(t2.ts_utc) + HOUR;
    clock.ms = close + 1_000;
    await publishBar(bus, prefix, t2, { live: true });
    await waitFor(async () => (await count('leg_bars')) === a.length + b.length + 1 + 3, { timeoutMs: 30_000, message: 'leg A of t2 stored' });
    clock.ms = close + 200_000;
    await publishBar(bus, prefix, u2, { live: true });
    aligned = alignBars([...a, lateA, t1, t2], [...b, u1, u2]).filter((x) => x.tsMs !== Date.parse(lateA.ts_utc));
    await waitFor(async () => (await count('vectors')) === aligned.length, { timeoutMs: 30_000, message: 'vectors of t1 and t2' });
    const rows = await stored();
    const [r1, r2] = rows.slice(-2);
    expect([r1!.quality_flag, r1!.quality_reasons.filter((r) => r !== 'beta_jump')]).toEqual(['outlier', ['a_outlier']]);
    expect([r2!.quality_flag, r2!.quality_reasons.filter((r) => r !== 'beta_jump')]).toEqual(['stale', ['late_after_close', 'late_after_leg']]);
    expect(await metric('features_stale_vectors_total', { reason: 'late_after_close' })).toBe(1);
    expect(await metric('features_stale_vectors_total', { reason: 'late_after_leg' })).toBe(1);
    // Lag bar close → stored for the live vector: 200 s on the service clock.
    const lag = svc.registry.getSingleMetric('features_lag_seconds')!;
    const sum = (await lag.get()).values.find((v) => v.labels['stage'] === 'stored' && (v as { metricName?: string }).metricName === 'features_lag_seconds_sum');
    expect(sum?.value).toBe(200);
    // The published t2 vector carries the flag.
    await waitFor(() => feat.some((m) => decodeFeatureVector(m.data).tsMs === Date.parse(t2.ts_utc)), { timeoutMs: 30_000, message: 't2 published' });
    expect(decodeFeatureVector(feat.find((m) => decodeFeatureVector(m.data).tsMs === Date.parse(t2.ts_utc))!.data).qualityFlag).toBe('stale');
    await expectReference();
  }, 120_000);

  it('dead-letters an undecodable message and an invalid bar with their error ids and keeps going', async () => {
    await bus.publish(subjects(prefix).barClosed('1h', SYMBOL_B), new Uint8Array([0xde, 0xad, 0xbe, 0xef]), { msgId: 'garbage-1' });
    const t3 = legs.a[N + 2]!;
    const u3 = legs.b[N + 2]!;
    await publishBar(bus, prefix, { ...t3, high: t3.low / 2 }, { msgIdSuffix: '|bad' });
    await waitFor(() => dlq.length >= 2, { timeoutMs: 30_000, message: 'two dead letters' });
    expect(dlq.map((m) => [m.subject, m.headers['Noctria-Dlq-Error-Id'], m.headers['Noctria-Dlq-Subject']])).toEqual([
      [subjects(prefix).deadLetter('features_bars'), 'DATA_CONTRACT_DECODE', subjects(prefix).barClosed('1h', SYMBOL_B)],
      [subjects(prefix).deadLetter('features_bars'), 'DATA_DQ_OHLC', subjects(prefix).barClosed('1h', SYMBOL_A)],
    ]);
    expect(Array.from(dlq[0]!.data)).toEqual([0xde, 0xad, 0xbe, 0xef]);
    expect(await metric('noctria_errors_total', { error_id: 'DATA_CONTRACT_DECODE' })).toBe(1);
    expect(await metric('noctria_errors_total', { error_id: 'DATA_DQ_OHLC' })).toBe(1);
    expect(await metric('features_bars_received_total', { outcome: 'undecodable' })).toBe(1);
    expect(await metric('features_bars_received_total', { outcome: 'invalid' })).toBe(1);
    // The consumer is still there: the valid bars of t3 make a vector.
    await publishBar(bus, prefix, t3);
    await publishBar(bus, prefix, u3);
    aligned = [...aligned, ...alignBars([t3], [u3])];
    await waitFor(async () => (await count('vectors')) === aligned.length, { timeoutMs: 30_000, message: 'vector of t3' });
    await expectReference();
  }, 120_000);

  it('answers rpc.features.status / export and the HTTP read API', async () => {
    const last = aligned[aligned.length - 1]!;
    const status = await rpc('status', {});
    expect(status.status).toBe('ok');
    expect(status.data.series).toHaveLength(1);
    expect(status.data.series[0]).toMatchObject({
      pair_id: PAIR_ID,
      timeframe: '1h',
      legs: [SYMBOL_A, SYMBOL_B],
      bars_seen: aligned.length,
      last_ts: new Date(last.tsMs).toISOString(),
      warmup: { complete: true, remaining_bars: 0 },
      lag_seconds: Math.max(0, (clock.ms - (last.tsMs + HOUR)) / 1000),
    });
    const ref = referenceMatrix(aligned);
    expect(status.data.series[0].last_z).toBe(ref.columns.z[aligned.length - 1]);

    const from = new Date(aligned[370]!.tsMs).toISOString();
    const to = new Date(aligned[390]!.tsMs).toISOString();
    const exp = await rpc('export', { pair_id: PAIR_ID, timeframe: '1h', from, to, limit: 15 });
    expect(exp.status).toBe('ok');
    expect(exp.data.feature_names).toEqual([...FEATURE_NAMES]);
    expect(exp.data.rows).toHaveLength(15);
    expect(exp.data.next_cursor).toBe(new Date(aligned[384]!.tsMs).toISOString());
    for (const [k, row] of (exp.data.rows as Array<{ ts_utc: string; values: Record<string, number | null> }>).entries()) {
      expect(row.ts_utc).toBe(new Date(aligned[370 + k]!.tsMs).toISOString());
      for (const n of FEATURE_NAMES) {
        const want = ref.columns[n][370 + k]!;
        expect(row.values[n]).toBe(Number.isNaN(want) ? null : want);
      }
    }
    const page2 = await http(`/features/vectors?pair_id=${PAIR_ID}&timeframe=1h&from=${from}&to=${to}&limit=15&cursor=${exp.data.next_cursor}`);
    expect(page2.status).toBe(200);
    expect(page2.body.data.rows.map((r: { ts_utc: string }) => r.ts_utc)).toEqual(aligned.slice(385, 390).map((x) => new Date(x.tsMs).toISOString()));
    expect(page2.body.data.next_cursor).toBeNull();
    const warm = await http(`/features/vectors?pair_id=${PAIR_ID}&timeframe=1h&limit=10000&complete_only=true`);
    expect(warm.body.data.rows).toHaveLength(aligned.length - fullVectorWarmupBars());
    expect(warm.body.data.rows[0].values.slope_z).toBe(ref.columns.slope_z[fullVectorWarmupBars()]);

    const bad = await rpc('export', { pair_id: PAIR_ID, timeframe: '2h' });
    expect(bad).toMatchObject({ status: 'error', error: { id: 'DATA_FEATURES_BADREQ' } });
    const unknown = await http('/features/vectors?pair_id=NOPE_PAIR&timeframe=1h');
    expect([unknown.status, unknown.body.error?.id]).toEqual([404, 'DATA_FEATURES_NOTFOUND']);
    const st = await http('/features/status');
    expect(st.body.data.series[0].bars_seen).toBe(aligned.length);
    const openapi = (await (await fetch(`${svc.url}/openapi.json`)).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(openapi.paths)).toEqual(expect.arrayContaining(['/features/status', '/features/vectors', '/healthz', '/readyz']));
    expect((await fetch(`${svc.url}/readyz`)).status).toBe(200);
    const text = await (await fetch(`${svc.url}/metrics`)).text();
    expect(text).toMatch(new RegExp(`features_beta_stability_std\\{[^}]*pair_id="${PAIR_ID}"`));
    expect(text).toContain('features_engine_update_seconds_bucket');
  });
});
