/**
 * The ingest service booted the way main.ts boots it (loadEnv → bootstrapService → buildIngestOptions, cluster
 * profile, policy files) with real provider chains: the seeded SyntheticProvider behind ResilientProvider /
 * FailoverRouter, and TwelveData (pointed at the loopback fake) failing over to the synthetic secondary and back.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { loadPolicy } from '@noctria/policy';
import { runDq, type CanonicalBar } from '@noctria/canonical-bar';
import { bootstrapService, loadEnv, type RunningService } from '@noctria/platform';
import { createTestDatabase, natsUrl, redisUrl, uniquePrefix, type TestDatabase } from '@noctria/testing';
import { ingestEnvSchema } from '../src/config.js';
import { ingestMigrations, INGEST_SCHEMA } from '../src/db/migrations/index.js';
import { createIngestModule } from '../src/ingest.module.js';
import { IngestRuntime } from '../src/ingest.runtime.js';
import { buildIngestOptions, INGEST_SERVICE } from '../src/main.options.js';
import { SyntheticProvider } from '../src/providers/synthetic/synthetic.provider.js';
import { FakeTwelveData } from './support/fake-twelvedata.js';
import { testLogger } from './helpers/harness.js';
import { storedBars } from './helpers/pipeline.js';

const H = 3_600_000;

async function boot(db: TestDatabase, extraEnv: Record<string, string>): Promise<RunningService> {
  const env = loadEnv(ingestEnvSchema, {
    exit: false,
    env: {
      DATABASE_URL: db.connectionString,
      NATS_URL: await natsUrl(),
      REDIS_URL: await redisUrl(),
      NOCTRIA_PROFILE: 'cluster',
      NOCTRIA_BUS_PREFIX: uniquePrefix(''),
      LOG_LEVEL: 'silent',
      INGEST_ARTIFACT_DIR: mkdtempSync(join(tmpdir(), 'ingest-real-')),
      ...extraEnv,
    },
  });
  return bootstrapService({
    service: INGEST_SERVICE,
    env,
    schema: INGEST_SCHEMA,
    migrations: ingestMigrations,
    port: 0,
    host: '127.0.0.1',
    handleSignals: false,
    logger: testLogger(),
    module: (ctx) => createIngestModule(buildIngestOptions(env, ctx)),
  });
}

const project = (rows: { ts_utc: string; open: number; high: number; low: number; close: number; quality_flag: string; source_id: string }[]) =>
  rows.map((r) => ({ ts_utc: new Date(r.ts_utc).toISOString(), open: r.open, high: r.high, low: r.low, close: r.close, quality_flag: r.quality_flag, source_id: r.source_id }));

describe('ingest booted like main.ts with the synthetic provider chain', () => {
  let db: TestDatabase;
  let svc: RunningService;
  beforeAll(async () => {
    db = await createTestDatabase({ schema: INGEST_SCHEMA, migrations: ingestMigrations });
    svc = await boot(db, { INGEST_SOURCES: 'synthetic', INGEST_CHUNK_BARS: '50' });
  });
  afterAll(async () => {
    await svc?.close();
    await db?.drop();
  });

  it('stores what SyntheticProvider.fetchTimeSeries returns for the range after runDq', async () => {
    const rt = svc.app.get(IngestRuntime);
    const from = Date.UTC(2024, 2, 4);
    const to = Date.UTC(2024, 2, 16);
    const symbols = ['XAGUSD', 'XAUUSD'];
    const summary = await rt.backfill.run({ symbols, timeframes: ['1h'], fromMs: from, toMs: to });
    expect(summary.status).toBe('succeeded');
    expect(summary.series.every((s) => s.chunks > 1)).toBe(true);

    // The expectation through the library: the provider as sources.yaml configures it (seed, source id), then DQ.
    const sources = YAML.parse(readFileSync('configs/sources.yaml', 'utf8')) as { providers: { value: { synthetic: { seed: number } } } };
    const provider = new SyntheticProvider({ seed: sources.providers.value.synthetic.seed, sourceId: 'synthetic' });
    const s = rt.options.settings;
    for (const symbol of symbols) {
      const fetched = await provider.fetchTimeSeries({ symbol, timeframe: '1h', startMs: from, endMs: to, ingestRunId: 'expected' });
      const dq = runDq(fetched.bars, { calendar: s.calendar, missing_fill_max_run: s.missingFillMaxRun, outlier_sigma: s.outlierSigma, dq_spike_k: s.spikeK });
      expect(dq.bars.length).toBeGreaterThan(100);
      expect(project(await storedBars(rt.db, symbol))).toEqual(project(dq.bars as (CanonicalBar & { ts_utc: string })[]));
    }

    // Exports made by the service (rpc/HTTP) record the pipeline_policy windows in every month's __meta.json.
    const exported = await rt.exports.export({ symbol: 'XAUUSD', timeframe: '1h', fromMs: from, toMs: to, format: 'csv' });
    const manifest = JSON.parse(readFileSync(join(rt.options.artifactDir, exported.manifestRef), 'utf8')) as { meta: { ref: string }[] };
    const pipelinePolicy = loadPolicy('pipeline_policy').values;
    expect(manifest.meta.length).toBeGreaterThan(0);
    for (const m of manifest.meta) {
      const meta = JSON.parse(readFileSync(join(rt.options.artifactDir, m.ref), 'utf8')) as { window_params: Record<string, unknown> };
      expect(meta.window_params).toEqual({ timeframe: '1h', beta_window_bars: pipelinePolicy.beta_window_bars, beta_ema_half_life_bars: pipelinePolicy.beta_ema_half_life_bars, z_window_bars: pipelinePolicy.z_window_bars, z_ema_half_life_bars: pipelinePolicy.z_ema_half_life_bars, z_clip_sigma: pipelinePolicy.z_clip_sigma, atr_period: pipelinePolicy.atr_period });
    }
  });
});

describe('failover: TwelveData primary (fake server) → synthetic secondary → back', () => {
  let db: TestDatabase;
  let svc: RunningService;
  let fake: FakeTwelveData;
  beforeAll(async () => {
    fake = await FakeTwelveData.start({ seed: 3 });
    // The policy files as shipped, with TwelveData first (at the fake) and no retries (failover at once).
    const configDir = mkdtempSync(join(tmpdir(), 'ingest-configs-'));
    cpSync('configs', configDir, { recursive: true });
    const sourcesPath = join(configDir, 'sources.yaml');
    const sources = YAML.parse(readFileSync(sourcesPath, 'utf8'));
    sources.providers.value.twelvedata = { ...sources.providers.value.twelvedata, base_url: fake.baseUrl, ws_url: fake.wsUrl, priority: 1 };
    sources.providers.value.synthetic.priority = 2;
    writeFileSync(sourcesPath, YAML.stringify(sources));
    const pipelinePath = join(configDir, 'pipeline_policy.yaml');
    const pipeline = YAML.parse(readFileSync(pipelinePath, 'utf8'));
    pipeline.retry_max.value = 0;
    writeFileSync(pipelinePath, YAML.stringify(pipeline));
    db = await createTestDatabase({ schema: INGEST_SCHEMA, migrations: ingestMigrations });
    svc = await boot(db, { INGEST_SOURCES: 'twelvedata,synthetic', TWELVEDATA_API_KEY: fake.apiKey, NOCTRIA_CONFIG_DIR: configDir, INGEST_CHUNK_BARS: '24' });
  });
  afterAll(async () => {
    await svc?.close();
    await db?.drop();
    await fake?.close();
  });

  it('serves failed chunks from the secondary, later chunks from the recovered primary, and flags conflicts', async () => {
    const rt = svc.app.get(IngestRuntime);
    const from = Date.UTC(2024, 0, 8);
    const to = Date.UTC(2024, 0, 13); // 5 trading days = 5 chunks of 24 bars
    fake.scriptPath('/time_series', { type: 'http-status', status: 503 }, { type: 'http-status', status: 502 });
    const summary = await rt.backfill.run({ symbols: ['XAUUSD'], timeframes: ['1h'], fromMs: from, toMs: to });
    expect(summary.status).toBe('succeeded');
    const stored = await storedBars(rt.db, 'XAUUSD');
    expect(stored).toHaveLength(5 * 24);
    const recovery = from + 2 * 24 * H; // the first two chunks met the scripted 5xx
    const early = stored.filter((r) => Date.parse(r.ts_utc) < recovery);
    const late = stored.filter((r) => Date.parse(r.ts_utc) >= recovery);
    expect(early.length).toBe(48);
    expect(early.every((r) => r.source_id === 'synthetic')).toBe(true);
    expect(late.every((r) => r.source_id === 'twelvedata')).toBe(true);
    // The primary's bars are the fake's series.
    const served = fake.series('XAU/USD', '1h', recovery, to - H);
    expect(late.map((r) => [new Date(r.ts_utc).getTime(), r.close])).toEqual(served.map((b) => [b.tsMs, b.close]));
    // 5 primary attempts: 2 failed (5xx) + 3 served.
    expect(fake.timeSeriesRequests()).toHaveLength(5);

    // Re-fetch of the early range: now served by the primary. Closes differing by more than diff_thresh (0.003)
    // from the secondary's stored close are flagged conflict (previous kept in metadata); others are not.
    const again = await rt.backfill.run({ symbols: ['XAUUSD'], timeframes: ['1h'], fromMs: from, toMs: recovery });
    expect(again.status).toBe('succeeded');
    const after = (await storedBars(rt.db, 'XAUUSD')).filter((r) => Date.parse(r.ts_utc) < recovery);
    const diffThresh = rt.options.settings.diffThresh;
    let conflicts = 0;
    for (const [i, r] of after.entries()) {
      const prev = early[i]!;
      expect(r.ts_utc).toBe(prev.ts_utc);
      expect(r.source_id).toBe('twelvedata');
      const isConflict = Math.abs(r.close - prev.close) > diffThresh * Math.abs(prev.close);
      if (isConflict) conflicts += 1;
      expect(r.quality_flag === 'conflict').toBe(isConflict);
      expect(r.metadata['previous']).toMatchObject({ source_id: 'synthetic', close: prev.close });
    }
    expect(conflicts).toBeGreaterThan(0);
    expect(again.totals['conflicts']).toBe(conflicts);
  });
});
