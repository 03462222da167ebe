import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { resolve } from 'node:path';
import { sql } from 'kysely';
import { decodeBarClosed } from '@noctria/contracts';
import { loadPolicySet } from '@noctria/policy';
import { StreamingLiveService } from '../src/pipeline/stream-live.service.js';
import { buildProviderChain } from '../src/providers.factory.js';
import { IngestPipeline } from '../src/pipeline/ingest-pipeline.js';
import { openTestDb, testLogger, testMetrics, testSettings, type TestDb } from './helpers/harness.js';
import { storedBars } from './helpers/pipeline.js';
import { FakeTwelveData, type FakePriceEvent } from './support/fake-twelvedata.js';
import { waitFor } from './support/wait-for.js';

const M15 = 15 * 60_000;
const STEP_S = 30; // one price event per symbol every 30 market seconds: 30 ticks per 15m bar
const EPOCH_S = Date.UTC(2024, 0, 10, 12) / 1000; // Wednesday 12:00 UTC

/** OHLC of the ticks in each 15m bucket, by bucket open (ms) — the expectation, from the ticks the fake sent. */
function aggregate(prices: FakePriceEvent[]): Map<number, { open: number; high: number; low: number; close: number; count: number }> {
  const out = new Map<number, { open: number; high: number; low: number; close: number; count: number }>();
  for (const p of [...prices].sort((a, b) => a.timestamp - b.timestamp)) {
    const open = Math.floor((p.timestamp * 1000) / M15) * M15;
    const b = out.get(open);
    if (!b) out.set(open, { open: p.price, high: p.price, low: p.price, close: p.price, count: 1 });
    else {
      b.high = Math.max(b.high, p.price);
      b.low = Math.min(b.low, p.price);
      b.close = p.price;
      b.count += 1;
    }
  }
  return out;
}

function expectOhlc(row: { open: unknown; high: unknown; low: unknown; close: unknown }, want: { open: number; high: number; low: number; close: number }): void {
  expect(Number(row.open)).toBeCloseTo(want.open, 8);
  expect(Number(row.high)).toBeCloseTo(want.high, 8);
  expect(Number(row.low)).toBeCloseTo(want.low, 8);
  expect(Number(row.close)).toBeCloseTo(want.close, 8);
}

describe('live mode over the TwelveData WebSocket', () => {
  let t: TestDb;
  let fake: FakeTwelveData;
  let service: StreamingLiveService | undefined;
  /** Market time = the newest price event the fake published (sent or missed) + one step, plus a test offset. */
  let offsetMs = 0;
  const now = () => (Math.max(EPOCH_S - STEP_S, ...fake.prices.map((p) => p.timestamp)) + STEP_S) * 1000 + offsetMs;

  beforeEach(async () => {
    t = await openTestDb();
    fake = await FakeTwelveData.start({ tickEpochS: EPOCH_S, tickStepS: STEP_S, priceIntervalMs: 5 });
    offsetMs = 0;
  });
  afterEach(async () => {
    await service?.stop();
    service = undefined;
    await fake.close();
    await t.close();
  });

  function setUp() {
    const set = loadPolicySet(resolve('configs'));
    const settings = testSettings({ timeframes: ['15m'], universeSymbols: ['XAUUSD'] });
    const { registry, metrics } = testMetrics();
    const pipeline = new IngestPipeline({ db: t.db, logger: testLogger(), metrics, registry, settings, busPrefix: '', now });
    // The production chain (ResilientProvider → FailoverRouter) with the production reconnect counter wiring.
    const provider = buildProviderChain({
      sources: { ...set.sources.values, providers: { twelvedata: { ...set.sources.values.providers['twelvedata']!, base_url: fake.baseUrl, ws_url: fake.wsUrl } } },
      pipeline: set.pipeline_policy.values,
      enabled: ['twelvedata'],
      metrics,
      env: { TWELVEDATA_API_KEY: fake.apiKey },
    });
    // A clock flush only closes a quiet series' bar a whole bar after its close (ticks close bars before that).
    service = new StreamingLiveService({ pipeline, provider, logger: testLogger(), metrics, flushMs: 20, flushGraceMs: M15 });
    return { pipeline, metrics, service };
  }

  const outboxBars = async () =>
    (await sql<{ subject: string; payload: Buffer }>`select subject, payload from ingest.outbox order by id`.execute(t.db)).rows
      .filter((m) => m.subject === 'md.bar.15m.XAUUSD')
      .map((m) => decodeBarClosed(m.payload).bar);

  it('aggregates the price events into 15m bars, stores them and publishes them through the outbox', async () => {
    const { service } = setUp();
    await service.start();
    await waitFor(async () => (await storedBars(t.db, 'XAUUSD')).length >= 3, 'three tick-built bars stored');
    fake.pausePrices();
    const sent = () => fake.prices.filter((p) => p.connection !== null).length;
    await waitFor(() => service.stats.ticks === sent(), 'every sent price event received');
    // The series is quiet now: the forming bar is closed by the clock once it is a whole bar past its close.
    const expected = aggregate(fake.prices);
    offsetMs = 2 * M15;
    await waitFor(async () => (await storedBars(t.db, 'XAUUSD')).length === expected.size, 'the forming bar flushed by the clock');

    const stored = await storedBars(t.db, 'XAUUSD');
    expect(stored.map((b) => Date.parse(b.ts_utc))).toEqual([...expected.keys()]);
    for (const row of stored) {
      const want = expected.get(Date.parse(row.ts_utc))!;
      expectOhlc(row, want);
      expect(row).toMatchObject({ timeframe: '15m', source_id: 'twelvedata', volume: null });
      expect(row.metadata).toMatchObject({ tick_count: want.count, symbol_source: 'XAU/USD' });
    }
    const published = await outboxBars();
    expect(published.map((b) => b.ts_utc)).toEqual(stored.map((b) => b.ts_utc));
    for (const bar of published) expectOhlc(bar, expected.get(Date.parse(bar.ts_utc))!);
    expect(service.stats).toMatchObject({ barsStored: expected.size, superseded: 0, reconnects: 0 });
  });

  it('counts a WebSocket drop as a reconnect and re-fetches the bars it affected over REST', async () => {
    // The first connection dies mid second bar; 75 price events (to the end of the fourth bar) are published meanwhile.
    fake.dropNextConnectionAfter(45);
    fake.missPricesAfterDrop(75);
    const { service, metrics } = setUp();
    await service.start();
    const firstResumed = EPOCH_S * 1000 + 4 * M15; // tick 120, the first one after the gap
    // Wait for the first bar built wholly after the reconnect (it closes when the sixth bar's first tick arrives).
    await waitFor(async () => (await storedBars(t.db, 'XAUUSD')).some((b) => Date.parse(b.ts_utc) === firstResumed), 'a bar built after the reconnect stored');

    expect(fake.connections.length).toBeGreaterThanOrEqual(2);
    const reconnects = (await metrics.wsReconnects.get()).values.find((v) => v.labels['source'] === 'twelvedata')?.value;
    expect(reconnects).toBe(fake.connections.length - 1);
    expect(service.stats.reconnects).toBe(reconnects);

    const stored = new Map((await storedBars(t.db, 'XAUUSD')).map((b) => [Date.parse(b.ts_utc), b]));
    const delivered = aggregate(fake.prices.filter((p) => p.connection !== null));
    // Bar 0 was wholly received before the drop: built from its ticks.
    const first = EPOCH_S * 1000;
    expectOhlc(stored.get(first)!, delivered.get(first)!);
    // Bars 1–3 (the one forming at the drop and the two the socket missed) come from the REST catch-up.
    const rest = fake.series('XAU/USD', '15min', first + M15, first + 3 * M15);
    expect(rest).toHaveLength(3);
    for (const r of rest) {
      const row = stored.get(r.tsMs);
      expect(row).toBeDefined();
      expectOhlc(row!, r);
      expect(row!.source_id).toBe('twelvedata');
    }
    const catchUp = fake.timeSeriesRequests();
    expect(catchUp.length).toBeGreaterThanOrEqual(1);
    expect(catchUp[0]!.params).toMatchObject({ symbol: 'XAU/USD', interval: '15min', start_date: '2024-01-10 12:15:00' });
    // The bar after the gap is built from the ticks of the new connection.
    const resumed = aggregate(fake.prices.filter((p) => p.connection !== null && p.connection > 0));
    expectOhlc(stored.get(firstResumed)!, resumed.get(firstResumed)!);
    // Everything stored was queued for publication, the REST bars included.
    const published = await outboxBars();
    for (const r of rest) expect(published.some((b) => Date.parse(b.ts_utc) === r.tsMs && Math.abs(b.close - r.close) < 1e-9)).toBe(true);
    expect(published.some((b) => Date.parse(b.ts_utc) === firstResumed)).toBe(true);
  });
});
