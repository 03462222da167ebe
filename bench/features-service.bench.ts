/**
 * Features service latency: a closed bar of both legs published on md.bar.1h.<symbol> (as ingest publishes it,
 * JetStream acknowledged) → the pair's feature vector received from feat.1h.<pair_id> by a durable consumer — over
 * real NATS JetStream and PostgreSQL, one bar time at a time (the live shape: each vector waits for its bar), after
 * the engine is past its warm-up. The path measured: bus delivery, group commit (leg bar + vector + outbox row in one
 * transaction), the outbox relay's publish and the FEAT delivery.
 *
 * Reference, same run and same bus: a JetStream publish on the MD stream → received by a durable pull consumer
 * (`bus publish→consume`), twice per sample (the subject path has two hops: bars in, vector out).
 *
 * Throwaway database (created and dropped) on `DATABASE_URL` (superuser) or 127.0.0.1:5432; NATS_URL, REDIS_URL or
 * the local defaults. `BENCH_FEATURES_N` samples (default 300). Also the backfill throughput: a history of
 * `BENCH_FEATURES_HISTORY` bars per leg (default 2000) is in the stream before the service starts; leg bars per
 * second from the service start to the history's last vector. Figures are printed, never asserted.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { barChecksum, formatTsUtc, type CanonicalBar } from '@noctria/canonical-bar';
import { consumerFor, decodeFeatureVector, encodeBarClosed, featureVectorsConsumer, newEnvelope, streamFor, subjects } from '@noctria/contracts';
import { fullVectorWarmupBars, resolveFeatureParams } from '@noctria/features';
import { createFeaturesModule, featuresEnvSchema, featuresMigrations, FEATURES_SCHEMA, FeaturesRuntime } from '@noctria/features-service';
import { createServiceContext, JetStreamBus, loadEnv, migrateToLatest, createDatabase, type BusMessage } from '@noctria/platform';

const HOUR = 3_600_000;
const T0 = Date.UTC(2024, 0, 1);

interface LatencyStats {
  n: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  meanMs: number;
}

function stats(samplesMs: number[]): LatencyStats {
  const ms = [...samplesMs].sort((a, b) => a - b);
  const pick = (q: number): number => ms[Math.min(ms.length - 1, Math.ceil(q * ms.length) - 1)] ?? 0;
  const round = (v: number): number => Math.round(v * 1000) / 1000;
  return { n: ms.length, p50Ms: round(pick(0.5)), p99Ms: round(pick(0.99)), maxMs: round(ms[ms.length - 1] ?? 0), meanMs: round(ms.reduce((a, b) => a + b, 0) / Math.max(1, ms.length)) };
}

/** Deterministic correlated random walks of two legs (A ≈ 2000, B ≈ 25), OHLC around the close. */
function legs(n: number): { a: CanonicalBar[]; b: CanonicalBar[] } {
  let seed = 12345;
  const rnd = () => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed / 2 ** 32;
  };
  let pa = 2000;
  let pb = 25;
  const a: CanonicalBar[] = [];
  const b: CanonicalBar[] = [];
  const bar = (symbol: string, i: number, open: number, close: number): CanonicalBar => ({
    ts_utc: formatTsUtc(T0 + i * HOUR),
    symbol,
    timeframe: '1h',
    open,
    high: Math.max(open, close) * (1 + rnd() * 0.001),
    low: Math.min(open, close) * (1 - rnd() * 0.001),
    close,
    volume: null,
    quality_flag: 'ok',
    source_id: 'bench',
    ingest_run_id: 'bench',
    metadata: {},
  });
  for (let i = 0; i < n; i++) {
    const common = (rnd() - 0.5) * 0.004;
    const na = pa * Math.exp(common + (rnd() - 0.5) * 0.002);
    const nb = pb * Math.exp(common + (rnd() - 0.5) * 0.002);
    a.push(bar('XAUUSD', i, pa, na));
    b.push(bar('XAGUSD', i, pb, nb));
    pa = na;
    pb = nb;
  }
  return { a, b };
}

export async function run(): Promise<Record<string, unknown>> {
  const n = Number(process.env['BENCH_FEATURES_N'] ?? 300);
  const serverUrl = process.env['DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const natsUrl = process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222';
  const redisUrl = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
  const tag = randomBytes(4).toString('hex');
  const prefix = `bench${tag}.`;
  const dbName = `noctria_bench_features_${tag}`;
  const adminUrl = new URL(serverUrl);
  adminUrl.pathname = '/postgres';
  const admin = new pg.Client({ connectionString: adminUrl.toString() });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  const dbUrl = new URL(serverUrl);
  dbUrl.pathname = `/${dbName}`;
  const bus = await JetStreamBus.connect({ servers: natsUrl, name: 'bench-features' });
  let ctx: Awaited<ReturnType<typeof createServiceContext>> | undefined;
  try {
    const migrate = createDatabase({ connectionString: dbUrl.toString(), schema: FEATURES_SCHEMA, poolMax: 2 });
    await migrateToLatest({ db: migrate.db, schema: FEATURES_SCHEMA, migrations: featuresMigrations });
    await migrate.close();
    await bus.ensureStreams([streamFor(prefix, 'MD'), streamFor(prefix, 'FEAT')]);
    const s = subjects(prefix);
    const publish = async (bar: CanonicalBar) => {
      const checksum = barChecksum(bar);
      const msgId = `${bar.source_id}|${bar.symbol}|1h|${bar.ts_utc}|${checksum}|ok`;
      const payload = encodeBarClosed({ envelope: newEnvelope({ messageId: msgId, producer: 'bench' }), bar, checksum, stale: false, closedAtMs: Date.parse(bar.ts_utc) + HOUR });
      await bus.publish(s.barClosed('1h', bar.symbol), payload, { msgId, headers: { 'Noctria-Live': '1' } });
    };
    // History first (A's then B's, the shape of an ingest backfill), past the feature warm-up so every measured bar
    // yields a published vector; the service then starts on a full stream, which gives the backfill throughput.
    const warm = Math.max(fullVectorWarmupBars(resolveFeatureParams()) + 20, Number(process.env['BENCH_FEATURES_HISTORY'] ?? 2000));
    const { a, b } = legs(warm + n);
    for (let i = 0; i < warm; i++) await publish(a[i]!);
    for (let i = 0; i < warm; i++) await publish(b[i]!);

    // Vectors out: resolve the waiter of each bar time.
    const waiting = new Map<number, (t: bigint) => void>();
    const featSub = await bus.consume(featureVectorsConsumer({ prefix, durable: `bench${tag}_feat` }), async (m: BusMessage) => {
      const t = process.hrtime.bigint();
      waiting.get(decodeFeatureVector(m.data).tsMs)?.(t);
    });
    const warmedUp = new Promise<void>((resolve) => waiting.set(Date.parse(a[warm - 1]!.ts_utc), () => resolve()));
    const tBackfill = process.hrtime.bigint();
    const env = loadEnv(featuresEnvSchema, { exit: false, env: { DATABASE_URL: dbUrl.toString(), NATS_URL: natsUrl, REDIS_URL: redisUrl, LOG_LEVEL: 'silent', NOCTRIA_PROFILE: 'cluster' } });
    ctx = await createServiceContext({
      service: 'features',
      env,
      schema: FEATURES_SCHEMA,
      migrations: featuresMigrations,
      handleSignals: false,
      module: createFeaturesModule({
        settings: {
          timeframes: ['1h'],
          series: [{ pairId: 'XAUUSD_XAGUSD', timeframe: '1h', symbolA: 'XAUUSD', symbolB: 'XAGUSD' }],
          freshnessBudgetMs: { '1h': 120_000 },
          betaJumpFactor: 3,
          betaJumpWindow: 180,
          checkpointEvery: 100,
          params: resolveFeatureParams(),
        },
        busPrefix: prefix,
        rpc: false,
      }),
    });
    const rt = ctx.app.get(FeaturesRuntime);
    await warmedUp;
    const backfillSeconds = Number(process.hrtime.bigint() - tBackfill) / 1e9;

    const vectorMs: number[] = [];
    for (let i = warm; i < warm + n; i++) {
      const ts = Date.parse(a[i]!.ts_utc);
      const arrived = new Promise<bigint>((resolve) => waiting.set(ts, resolve));
      const t0 = process.hrtime.bigint();
      await publish(a[i]!);
      await publish(b[i]!);
      vectorMs.push(Number((await arrived) - t0) / 1e6);
      waiting.delete(ts);
    }
    await featSub.stop();

    // Reference: publish → durable consumer receipt on the same bus and stream.
    let got: ((t: bigint) => void) | undefined;
    const refSub = await bus.consume(consumerFor({ prefix, stream: 'MD', durable: `bench${tag}_ref`, filterSubjects: [`${prefix}md.ref.>`] }), async () => {
      got?.(process.hrtime.bigint());
    });
    const payload = new Uint8Array(randomBytes(220));
    const busMs: number[] = [];
    for (let i = 0; i < n + 20; i++) {
      const arrived = new Promise<bigint>((resolve) => (got = resolve));
      const t0 = process.hrtime.bigint();
      await bus.publish(`${prefix}md.ref.x`, payload, { msgId: `ref:${i}` });
      const ms = Number((await arrived) - t0) / 1e6;
      if (i >= 20) busMs.push(ms);
    }
    await refSub.stop();

    const vec = stats(vectorMs);
    const ref = stats(busMs);
    const engine = (await rt.metrics.engineUpdateSeconds.get()).values.find((v) => (v as { metricName?: string }).metricName === 'features_engine_update_seconds_sum');
    const updates = (await rt.metrics.engineUpdateSeconds.get()).values.find((v) => (v as { metricName?: string }).metricName === 'features_engine_update_seconds_count');
    return {
      samples: n,
      barsInToVectorPublished: vec,
      reference_busPublishToConsume: ref,
      ratio_p50_vs_two_bus_hops: Math.round((vec.p50Ms / (2 * Math.max(ref.p50Ms, 1e-6))) * 100) / 100,
      backfill: { legBars: 2 * warm, seconds: Math.round(backfillSeconds * 100) / 100, legBarsPerSecond: Math.round((2 * warm) / backfillSeconds) },
      engineUpdateMeanUs: engine && updates && updates.value > 0 ? Math.round((engine.value / updates.value) * 1e6 * 10) / 10 : null,
    };
  } finally {
    await ctx?.close();
    await bus.close();
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch(() => undefined);
    await admin.end();
  }
}
