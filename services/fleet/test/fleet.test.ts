/**
 * The embedded fleet's process entry (`npm start` = dist/services/fleet/src/main.js), run as a child process:
 * - cluster profile against a fresh test database (real NATS/Redis): /readyz 200, the start-up backfill, live
 *   bars on md.bar.1h.<symbol>, SIGTERM → exit 0; a second start resumes from the watermarks (the backfill
 *   summary says every series resumed right after its last stored bar, nothing stored is fetched again);
 * - the features service of the fleet consumes those bars: feature vectors of every pair on feat.1h.<pair_id>, a
 *   features status line, and after each stop the stored vectors equal computeFeatureMatrix over ingest's stored
 *   bars bit for bit (the second run continues the first after its restart);
 * - a busy port fails fast with a message naming INGEST_HTTP_PORT;
 * - the embedded profile's real path once: embedded PostgreSQL, banner, Ctrl-C → exit 0, PostgreSQL stopped.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { sql } from 'kysely';
import { consumerFor, decodeBarClosed, decodeFeatureVector, featureVectorsConsumer, streamFor, subjects } from '@noctria/contracts';
import { computeFeatureMatrix, FEATURE_NAMES, pairSeriesFromBars, type PairBar } from '@noctria/features';
import { INGEST_SCHEMA, ingestMigrations, type IngestDB } from '@noctria/ingest';
import { createDatabase, JetStreamBus, type BusMessage, type Database, type Subscription } from '@noctria/platform';
import { createTestDatabase, isProcessAlive, natsUrl, redisUrl, uniquePrefix, waitFor, type TestDatabase } from '@noctria/testing';
import { compileFleet, startFleetChild, type CompiledFleet, type FleetChild } from './support/child.js';

const HOUR = 3_600_000;

describe('fleet main (cluster profile)', () => {
  let compiled: CompiledFleet;
  let test: TestDatabase;
  let database: Database<IngestDB>;
  let bus: JetStreamBus;
  let sub: Subscription | undefined;
  let featSub: Subscription | undefined;
  const prefix = uniquePrefix('');
  const received: BusMessage[] = [];
  const vectors: BusMessage[] = [];
  const children: FleetChild[] = [];
  let env: Record<string, string>;

  beforeAll(async () => {
    [compiled, test] = await Promise.all([compileFleet(), createTestDatabase({ schema: INGEST_SCHEMA, migrations: ingestMigrations })]);
    database = createDatabase<IngestDB>({ connectionString: test.connectionString, schema: INGEST_SCHEMA, poolMax: 2 });
    const nats = await natsUrl();
    bus = await JetStreamBus.connect({ servers: nats, name: 'fleet-test' });
    const p = `${prefix}.`;
    await bus.ensureStreams([streamFor(p, 'MD'), streamFor(p, 'FEAT')]);
    featSub = await bus.consume(featureVectorsConsumer({ prefix: p, durable: `${prefix}_fleet_feat`, timeframes: ['1h'] }), async (m) => {
      vectors.push(m);
    }, { concurrency: 8 });
    sub = await bus.consume(consumerFor({ prefix: p, stream: 'MD', durable: `${prefix}_fleet`, filterSubjects: [subjects(p).barClosedFilter('1h')] }), async (m) => {
      received.push(m);
    }, { concurrency: 8 });
    env = {
      PATH: process.env['PATH'] ?? '',
      DATABASE_URL: test.connectionString,
      NATS_URL: nats,
      REDIS_URL: await redisUrl(),
      NOCTRIA_BUS_PREFIX: prefix,
      NOCTRIA_DATA_DIR: mkdtempSync(join(tmpdir(), 'noctria-fleet-test-')),
      NOCTRIA_CONFIG_DIR: resolve('configs'),
      INGEST_HTTP_PORT: '0',
      FEATURES_HTTP_PORT: '0',
      // A restart waits one ack wait when bars handed back at the stop are still pending: keep it short here.
      FEATURES_ACK_WAIT_MS: '3000',
      NOCTRIA_BACKFILL_MONTHS: '1',
      NOCTRIA_OUTPUT: 'json',
      NOCTRIA_LIVE_SPEED: '36000', // a 1h bar every 100 ms
      NOCTRIA_LIVE_POLL_MS: '100',
      NOCTRIA_STATUS_INTERVAL_MS: '300',
    };
  }, 120_000);

  afterAll(async () => {
    for (const c of children) if (c.child.pid && isProcessAlive(c.child.pid)) c.child.kill('SIGKILL');
    await sub?.stop();
    await featSub?.stop();
    await bus?.close();
    await database?.close();
    await test?.drop();
    await compiled?.remove();
    if (env) rmSync(env['NOCTRIA_DATA_DIR']!, { recursive: true, force: true });
  });

  const watermarks = async () =>
    new Map((await database.db.selectFrom('ingest.watermarks').select(['symbol', 'last_ts']).where('timeframe', '=', '1h').execute()).map((w) => [w.symbol, w.last_ts.getTime()]));
  /**
   * Every pair's stored vectors vs computeFeatureMatrix over ingest's stored bars of both legs (inner join), up to the
   * newest vector: returns the number of vectors compared per pair.
   */
  const featuresMatchIngest = async () => {
    const out: Record<string, number> = {};
    for (const [pair, a, b] of [['XAUUSD_XAGUSD', 'XAUUSD', 'XAGUSD'], ['EURUSD_GBPUSD', 'EURUSD', 'GBPUSD'], ['AUDUSD_NZDUSD', 'AUDUSD', 'NZDUSD']] as const) {
      const rows = (
        await sql<{ ts_utc: Date; feature_values: (number | null)[] }>`
          select ts_utc, feature_values from features.vectors where pair_id = ${pair} and timeframe = '1h' order by ts_utc`.execute(database.db)
      ).rows;
      const last = rows.at(-1)!.ts_utc.toISOString();
      const bars = (
        await sql<{ ts_utc: Date; ao: number; ah: number; al: number; ac: number; bo: number; bh: number; bl: number; bc: number }>`
          select x.ts_utc, x.open as ao, x.high as ah, x.low as al, x.close as ac, y.open as bo, y.high as bh, y.low as bl, y.close as bc
          from ingest.canonical_bars x join ingest.canonical_bars y on y.symbol = ${b} and y.timeframe = '1h' and y.ts_utc = x.ts_utc
          where x.symbol = ${a} and x.timeframe = '1h' and x.ts_utc <= ${last}::timestamptz order by x.ts_utc`.execute(database.db)
      ).rows;
      const aligned: PairBar[] = bars.map((r) => ({ tsMs: r.ts_utc.getTime(), a: { open: r.ao, high: r.ah, low: r.al, close: r.ac }, b: { open: r.bo, high: r.bh, low: r.bl, close: r.bc } }));
      const ref = computeFeatureMatrix(pairSeriesFromBars(aligned));
      expect(rows.map((r) => r.ts_utc.getTime())).toEqual(aligned.map((x) => x.tsMs));
      const diffs = rows.flatMap((r, i) => FEATURE_NAMES.filter((n, j) => !Object.is(r.feature_values[j] ?? Number.NaN, ref.columns[n][i])).map((n) => `${pair} ${r.ts_utc.toISOString()} ${n}`));
      expect(diffs).toEqual([]);
      out[pair] = rows.length;
    }
    return out;
  };
  const storedCount = async (symbol: string) =>
    (await sql<{ n: number }>`select count(*)::int as n from ingest.canonical_bars where symbol = ${symbol} and timeframe = '1h'`.execute(database.db)).rows[0]!.n;

  /** Starts the fleet with `extra` env and waits for it to refuse: exit code and stderr (never a stack trace). */
  async function refusal(extra: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
    const c = startFleetChild(compiled.main, { ...env, ...extra });
    children.push(c);
    const { code } = await c.exited;
    expect(c.stderr()).not.toMatch(/\n\s+at /);
    return { code, stderr: c.stderr() };
  }

  async function stop(c: FleetChild, signal: NodeJS.Signals): Promise<void> {
    c.child.kill(signal);
    const { code, signal: by } = await c.exited;
    expect({ code, by }).toEqual({ code: 0, by: null });
    expect(c.stderr()).not.toMatch(/\n\s+at /);
    expect(c.events().some((e) => e['event'] === 'stopping')).toBe(true);
  }

  it('starts, backfills, publishes live bars, stops on SIGTERM with exit 0, and resumes from the watermarks', async () => {
    const first = startFleetChild(compiled.main, env);
    children.push(first);
    const ready = await first.waitForEvent('ready', 60_000);
    const url = (ready['services'] as { name: string; url: string }[])[0]!.url;
    await waitFor(async () => (await fetch(`${url}/readyz`)).status === 200, { timeoutMs: 30_000, message: '/readyz 200' });
    expect((await fetch(`${url}/openapi.json`)).status).toBe(200);

    const b1 = await first.waitForEvent('backfill', 120_000);
    const universe = ['AUDUSD', 'EURUSD', 'GBPUSD', 'NZDUSD', 'XAGUSD', 'XAUUSD'];
    expect(b1).toMatchObject({ status: 'succeeded', timeframe: '1h', skipped_bars: 0 });
    expect((b1['series'] as { symbol: string; resumed: boolean }[]).map((s) => [s.symbol, s.resumed])).toEqual(universe.map((s) => [s, false]));
    expect(b1['fetched_bars'] as number).toBeGreaterThan(universe.length * 300);
    await first.waitForEvent('live', 10_000);

    // Live bars (Noctria-Live: 1) of the universe reach md.bar.1h.<symbol> on the test prefix.
    const live = await waitFor(
      () => {
        const l = received.filter((m) => m.headers['Noctria-Live'] === '1');
        return new Set(l.map((m) => decodeBarClosed(m.data).bar.symbol)).size === universe.length ? l : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 100, message: 'live bars of every symbol on the bus' },
    );
    for (const m of live.slice(0, 6)) expect(m.subject).toBe(`${prefix}.md.bar.1h.${decodeBarClosed(m.data).bar.symbol}`);
    // The periodic live status line: bars published per series, the newest bar and its lag.
    const status = await waitFor(
      () => first.events().find((e) => e['event'] === 'live_status' && (e['series'] as { bars: number }[]).every((s) => s.bars > 0)),
      { timeoutMs: 30_000, intervalMs: 100, message: 'a live_status line with bars for every series' },
    );
    const statusSeries = status['series'] as { symbol: string; timeframe: string; bars: number; last_bar: string; lag_seconds: number }[];
    expect(statusSeries.map((x) => [x.symbol, x.timeframe])).toEqual(universe.map((x) => [x, '1h']));
    expect(status['bars_published']).toBe(statusSeries.reduce((a, x) => a + x.bars, 0));
    for (const x of statusSeries) expect(Date.parse(x.last_bar) % HOUR).toBe(0);
    // Features: the status line shows every pair past warm-up with a z, and complete vectors of every pair arrive.
    const pairs = ['AUDUSD_NZDUSD', 'EURUSD_GBPUSD', 'XAUUSD_XAGUSD'];
    expect(((await first.waitForEvent('features', 10_000))['series'] as { pair_id: string }[]).map((x) => x.pair_id).sort()).toEqual(pairs);
    const fstatus = await waitFor(
      () => first.events().find((e) => e['event'] === 'features_status' && (e['series'] as { warmup_remaining: number; last_z: number | null }[]).every((x) => x.warmup_remaining === 0 && typeof x.last_z === 'number')),
      { timeoutMs: 60_000, intervalMs: 100, message: 'a features_status line with every pair past warm-up' },
    );
    expect((fstatus['series'] as { pair_id: string }[]).map((x) => x.pair_id).sort()).toEqual(pairs);
    await waitFor(() => new Set(vectors.map((m) => decodeFeatureVector(m.data).pairId)).size === 3, { timeoutMs: 60_000, intervalMs: 100, message: 'feature vectors of every pair' });
    for (const m of vectors.slice(0, 10)) expect(m.subject).toBe(`${prefix}.feat.1h.${decodeFeatureVector(m.data).pairId}`);
    await stop(first, 'SIGTERM');
    const compared1 = await featuresMatchIngest();

    const wm1 = await watermarks();
    const stored1 = new Map<string, number>();
    for (const s of universe) stored1.set(s, await storedCount(s));

    const second = startFleetChild(compiled.main, env);
    children.push(second);
    const clock = await second.waitForEvent('market_clock', 60_000);
    const newest = Math.max(...wm1.values()) + HOUR;
    // Market time continues after the newest stored bar (it ran ahead of the wall clock at 36000×).
    expect(clock['resumed_from_watermark']).toBe(true);
    expect(Date.parse(clock['market_time'] as string)).toBe(newest);
    const b2 = await second.waitForEvent('backfill', 60_000);
    const series = b2['series'] as { symbol: string; from: string; resumed: boolean; stored_before: number }[];
    expect(series.map((s) => [s.symbol, s.resumed, s.stored_before, s.from])).toEqual(
      universe.map((s) => [s, true, stored1.get(s), new Date(wm1.get(s)! + HOUR).toISOString()]),
    );
    expect(b2['skipped_bars']).toBe([...stored1.values()].reduce((a, n) => a + n, 0));
    expect(b2['fetched_bars'] as number).toBeLessThan(b1['fetched_bars'] as number);
    await second.waitForEvent('live', 10_000);
    const seen1 = Math.max(...Object.values(compared1));
    await waitFor(
      () => second.events().find((e) => e['event'] === 'features_status' && (e['series'] as { bars_seen: number }[]).every((x) => x.bars_seen > seen1)),
      { timeoutMs: 60_000, intervalMs: 100, message: 'features continuing after the restart' },
    );
    await stop(second, 'SIGTERM');
    // The restarted features service continued the first run's series exactly (checkpoint at the graceful stop).
    const compared2 = await featuresMatchIngest();
    for (const [pair, n] of Object.entries(compared2)) expect(n).toBeGreaterThan(compared1[pair]!);
    const dup = await sql<{ n: number }>`select count(*)::int as n from (select 1 from ingest.canonical_bars group by symbol, timeframe, ts_utc having count(*) > 1) d`.execute(database.db);
    expect(dup.rows[0]!.n).toBe(0);
  }, 300_000);

  it('fails fast, naming INGEST_HTTP_PORT, when the port is taken', async () => {
    const server: Server = createServer();
    await new Promise<void>((r) => server.listen(0, '0.0.0.0', () => r()));
    const port = (server.address() as { port: number }).port;
    try {
      const { code, stderr } = await refusal({ INGEST_HTTP_PORT: String(port) });
      expect(code).toBe(1);
      expect(stderr).toContain('OPS_RUNTIME_PORTBUSY');
      expect(stderr).toContain(`INGEST_HTTP_PORT=${port}`);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  }, 60_000);

  it('refuses NOCTRIA_TIMEFRAMES outside timeframe_allowed, naming the variable', async () => {
    const { code, stderr } = await refusal({ NOCTRIA_TIMEFRAMES: '1h,2h' });
    expect(code).toBe(1);
    expect(stderr).toContain('OPS_CONFIG_POLICY');
    expect(stderr).toMatch(/NOCTRIA_TIMEFRAMES: 2h not in timeframe_allowed/);
  }, 60_000);

  it('refuses an invalid knob with the variable name and exit 78', async () => {
    const { code, stderr } = await refusal({ NOCTRIA_LIVE_SPEED: 'fast' });
    expect(code).toBe(78);
    expect(stderr).toContain('ENV_INVALID NOCTRIA_LIVE_SPEED');
  }, 60_000);
});

describe('npm start (embedded profile)', () => {
  let compiled: CompiledFleet;
  let child: FleetChild | undefined;
  const dataDir = mkdtempSync(join(tmpdir(), 'noctria-fleet-embedded-'));

  beforeAll(async () => {
    compiled = await compileFleet();
  }, 120_000);
  afterAll(async () => {
    if (child?.child.pid && isProcessAlive(child.child.pid)) child.child.kill('SIGKILL');
    await compiled?.remove();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('starts the embedded PostgreSQL, prints the banner, and Ctrl-C stops everything with exit 0', async () => {
    child = startFleetChild(compiled.main, {
      PATH: process.env['PATH'] ?? '',
      HOME: process.env['HOME'] ?? '/tmp',
      NOCTRIA_DATA_DIR: dataDir,
      NOCTRIA_CONFIG_DIR: resolve('configs'),
      INGEST_HTTP_PORT: '0',
      FEATURES_HTTP_PORT: '0',
      NOCTRIA_BACKFILL_MONTHS: '1',
    });
    await child.waitForText('Ctrl-C to stop', 120_000);
    const out = child.stdout();
    expect(out).toContain('embedded profile');
    for (const path of ['/healthz', '/readyz', '/metrics', '/openapi.json', '/ingest/watermarks', '/features/status']) expect(out).toMatch(new RegExp(`http://127\\.0\\.0\\.1:\\d+${path.replace(/\//g, '\\/')}`));
    expect(out).toContain(`data dir ${dataDir}`);
    const readyz = /ready\s+(http:\/\/\S+)/.exec(out)![1]!;
    await waitFor(async () => (await fetch(readyz)).status === 200, { timeoutMs: 30_000, message: '/readyz 200' });
    const postmaster = Number(readFileSync(join(dataDir, 'pg', 'postmaster.pid'), 'utf8').split('\n')[0]);
    expect(isProcessAlive(postmaster)).toBe(true);

    child.child.kill('SIGINT');
    const { code, signal } = await child.exited;
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    expect(child.stderr()).not.toMatch(/\n\s+at /);
    await waitFor(() => !isProcessAlive(postmaster), { timeoutMs: 10_000, message: 'embedded postgres stopped' });
    expect(existsSync(join(dataDir, 'pg', 'postmaster.pid'))).toBe(false);
  }, 240_000);
});
