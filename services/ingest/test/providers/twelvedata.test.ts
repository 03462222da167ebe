import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CanonicalTick } from '@noctria/canonical-bar';
import { ProviderError } from '../../src/providers/errors.js';
import { envKeyResolver, sourceConfig } from '../../src/providers/source-config.js';
import { TwelveDataProvider, parseTwelveDataDatetime } from '../../src/providers/twelvedata/twelvedata.provider.js';
import { TWELVEDATA_HEARTBEAT_INTERVAL_MS } from '../../src/providers/twelvedata/quote-stream.js';
import { FakeTwelveData } from '../support/fake-twelvedata.js';
import { take, waitFor } from '../support/wait-for.js';

let fake: FakeTwelveData;

function provider(extra: Partial<ConstructorParameters<typeof TwelveDataProvider>[0]> = {}, key?: string) {
  return new TwelveDataProvider({
    config: sourceConfig('twelvedata', {
      type: 'TwelveData',
      base_url: fake.baseUrl,
      ws_url: fake.wsUrl,
      timeframes: ['15m', '1h', '4h', '1d'],
      assets: ['CFD', 'FX'],
      priority: 1,
      rate_limits: { rest_qps: 10, ws_channels: 500 },
    }),
    resolveKey: envKeyResolver('TWELVEDATA_API_KEY', { TWELVEDATA_API_KEY: key ?? fake.apiKey }),
    timeoutMs: 2000,
    ...extra,
  });
}

async function rejection(p: Promise<unknown>): Promise<ProviderError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(ProviderError);
    return err as ProviderError;
  }
  throw new Error('expected the promise to reject');
}

const req = (over: Partial<{ startMs: number; endMs: number; symbol: string; limit: number }> = {}) => ({
  symbol: 'XAUUSD',
  timeframe: '1h' as const,
  startMs: Date.UTC(2024, 0, 2, 0),
  endMs: Date.UTC(2024, 0, 3, 0),
  ingestRunId: 'run-1',
  ...over,
});

beforeAll(async () => {
  fake = await FakeTwelveData.start({ seed: 7 });
});
afterAll(async () => {
  await fake.close();
});
afterEach(() => {
  fake.requests.length = 0;
});

describe('TwelveData REST time series', () => {
  it('sends the documented parameters and canonicalises every row', async () => {
    const p = provider();
    const res = await p.fetchTimeSeries(req());
    const [r] = fake.timeSeriesRequests();
    expect(fake.timeSeriesRequests()).toHaveLength(1);
    expect(r?.params).toEqual({
      symbol: 'XAU/USD',
      interval: '1h',
      start_date: '2024-01-02 00:00:00',
      end_date: '2024-01-02 23:59:59',
      outputsize: '24',
      timezone: 'UTC',
      order: 'ASC',
    });
    expect(r?.apiKeyPresent && r.apiKeyValid).toBe(true);
    const expected = fake.series('XAU/USD', '1h', Date.UTC(2024, 0, 2), Date.UTC(2024, 0, 2, 23));
    expect(res.rejected).toEqual([]);
    expect(res.bars.map((b) => [b.ts_utc, b.open, b.high, b.low, b.close, b.volume])).toEqual(
      expected.map((b) => [new Date(b.tsMs).toISOString(), b.open, b.high, b.low, b.close, null]),
    );
    const bar = res.bars[0];
    expect(bar).toMatchObject({ symbol: 'XAUUSD', timeframe: '1h', quality_flag: 'ok', source_id: 'twelvedata', ingest_run_id: 'run-1' });
    expect(bar?.metadata.symbol_source).toBe('XAU/USD');
    expect(bar?.metadata.provider_version).toBe(p.providerVersion);
    expect(typeof bar?.metadata.source_latency_ms).toBe('number');
    expect(res.raw?.body).toContain('"XAU/USD"');
  });

  it('parses string prices exactly and keeps volume when present', async () => {
    const res = await provider().fetchTimeSeries(req({ symbol: 'SPX' }));
    const exp = fake.series('SPX', '1h', Date.UTC(2024, 0, 2), Date.UTC(2024, 0, 2, 23));
    expect(res.bars.map((b) => b.volume)).toEqual(exp.map((b) => b.volume));
    expect(res.bars.every((b) => b.volume !== null)).toBe(true);
    expect(parseTwelveDataDatetime('2024-01-02 13:00:00')).toBe(Date.UTC(2024, 0, 2, 13));
    expect(parseTwelveDataDatetime('2024-01-02')).toBe(Date.UTC(2024, 0, 2));
    expect(parseTwelveDataDatetime('2024-02-30 00:00:00')).toBeNull();
  });

  it('splits a long range into ≤ outputsize chunks and returns one gap-free weekday series', async () => {
    const p = provider({ maxOutputSize: 100 });
    const start = Date.UTC(2024, 0, 1);
    const end = Date.UTC(2024, 0, 22); // 21 days = 504 hourly slots
    const res = await p.fetchTimeSeries(req({ startMs: start, endMs: end }));
    const calls = fake.timeSeriesRequests();
    expect(calls).toHaveLength(Math.ceil(504 / 100));
    for (const c of calls) expect(Number(c.params['outputsize'])).toBeLessThanOrEqual(100);
    expect(calls[1]?.params['start_date']).toBe('2024-01-05 04:00:00');
    const expected = fake.series('XAU/USD', '1h', start, end - 1);
    expect(res.bars.map((b) => Date.parse(b.ts_utc))).toEqual(expected.map((b) => b.tsMs));
    expect(res.bars.some((b) => [0, 6].includes(new Date(b.ts_utc).getUTCDay()))).toBe(false);
  });

  it('treats "No data is available" as an empty range, not a failure', async () => {
    const res = await provider().fetchTimeSeries(req({ startMs: Date.UTC(2024, 0, 6), endMs: Date.UTC(2024, 0, 7) }));
    expect(res.bars).toEqual([]);
    expect(fake.timeSeriesRequests()).toHaveLength(1);
  });

  it('honours limit', async () => {
    const res = await provider().fetchTimeSeries(req({ limit: 5 }));
    expect(res.bars).toHaveLength(5);
    expect(res.bars[0]?.ts_utc).toBe('2024-01-02T00:00:00.000Z');
  });

  it('reports invalid rows with their index and keeps the good ones', async () => {
    fake.script({
      type: 'ok',
      corruptRows: [
        { index: 2, field: 'high', value: 'abc' },
        { index: 5, field: 'low', value: '99999' },
        { index: 7, field: 'datetime', value: '2024-13-01 00:00:00' },
      ],
    });
    const res = await provider().fetchTimeSeries(req());
    expect(res.bars).toHaveLength(24 - 3);
    expect(res.rejected.map((r) => [r.line, r.chunk, r.errorId])).toEqual([
      [2, 0, 'DATA_BAR_INVALID'],
      [5, 0, 'DATA_BAR_INVALID'],
      [7, 0, 'DATA_BAR_INVALID'],
    ]);
    expect(res.rejected[0]?.reason).toMatch(/high/);
    expect(res.rejected[1]?.reason).toMatch(/low/);
    expect(res.rejected[2]?.reason).toMatch(/datetime/);
  });
});

describe('TwelveData failure classification', () => {
  it('status:error body with HTTP 200: 429 retryable, 400 not', async () => {
    fake.script({ type: 'error-body', code: 429, message: 'You have run out of API credits for the current minute.' });
    const e1 = await rejection(provider().fetchTimeSeries(req()));
    expect([e1.id, e1.retryable, e1.status]).toEqual(['DATA_API_RATELIM', true, 429]);
    fake.script({ type: 'error-body', code: 400, message: '**symbol** not found' });
    const e2 = await rejection(provider().fetchTimeSeries(req()));
    expect([e2.id, e2.retryable, e2.status]).toEqual(['DATA_API_STATUS', false, 400]);
    fake.script({ type: 'error-body', code: 404, message: 'not found', httpStatus: 404 });
    const e3 = await rejection(provider().fetchTimeSeries(req()));
    expect([e3.id, e3.retryable, e3.status]).toEqual(['DATA_API_STATUS', false, 404]);
    fake.script({ type: 'error-body', code: 500, message: 'internal' });
    const e4 = await rejection(provider().fetchTimeSeries(req()));
    expect([e4.id, e4.retryable]).toEqual(['DATA_API_HTTP5XX', true]);
  });

  it('HTTP 429 carries Retry-After; 5xx is retryable and the next call succeeds', async () => {
    const p = provider();
    fake.script({ type: 'http-status', status: 429, retryAfter: '7' });
    const e = await rejection(p.fetchTimeSeries(req()));
    expect([e.id, e.retryable, e.retryAfterMs]).toEqual(['DATA_API_RATELIM', true, 7000]);
    fake.script({ type: 'http-status', status: 503 });
    const e5 = await rejection(p.fetchTimeSeries(req()));
    expect([e5.id, e5.retryable, e5.status]).toEqual(['DATA_API_HTTP5XX', true, 503]);
    expect((await p.fetchTimeSeries(req())).bars).toHaveLength(24);
  });

  it('slow response → DATA_API_TIMEOUT; truncated JSON → DATA_API_PARSE; reset → DATA_API_CONNFAIL (all retryable)', async () => {
    const p = provider({ timeoutMs: 100 });
    fake.script({ type: 'delay', ms: 5000 });
    const t = await rejection(p.fetchTimeSeries(req()));
    expect([t.id, t.retryable]).toEqual(['DATA_API_TIMEOUT', true]);
    fake.script({ type: 'truncate' });
    const j = await rejection(p.fetchTimeSeries(req()));
    expect([j.id, j.retryable]).toEqual(['DATA_API_PARSE', true]);
    fake.script({ type: 'reset' });
    const c = await rejection(p.fetchTimeSeries(req()));
    expect([c.id, c.retryable]).toEqual(['DATA_API_CONNFAIL', true]);
  });

  it('a caller abort is not retryable', async () => {
    fake.script({ type: 'delay', ms: 5000 });
    const ac = new AbortController();
    const pending = provider().fetchTimeSeries({ ...req(), signal: ac.signal });
    await waitFor(() => fake.timeSeriesRequests().length === 1, 'request reached the server');
    ac.abort();
    const e = await rejection(pending);
    expect([e.id, e.retryable]).toEqual(['DATA_API_ABORTED', false]);
  });

  it('never puts the API key into errors', async () => {
    const p = provider({ timeoutMs: 100 }, 'wrong-key-SECRET-123');
    const auth = await rejection(p.fetchTimeSeries(req()));
    expect([auth.id, auth.status, auth.retryable]).toEqual(['DATA_API_STATUS', 401, false]);
    fake.script({ type: 'delay', ms: 5000 });
    const good = provider({ timeoutMs: 100 });
    const timeout = await rejection(good.fetchTimeSeries(req()));
    for (const [err, key] of [
      [auth, 'wrong-key-SECRET-123'],
      [timeout, fake.apiKey],
    ] as const) {
      const text = `${err.message} ${err.stack} ${JSON.stringify(err)} ${String(err.cause ?? '')}`;
      expect(text).not.toContain(key);
      expect(text).toContain('symbol=XAU/USD');
    }
    expect(JSON.stringify(fake.requests)).not.toContain(fake.apiKey);
  });

  it('reads the key from TWELVEDATA_API_KEY_FILE and fails clearly without one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'td-key-'));
    writeFileSync(join(dir, 'key'), `${fake.apiKey}\n`);
    const p = provider({ resolveKey: envKeyResolver('TWELVEDATA_API_KEY', { TWELVEDATA_API_KEY_FILE: join(dir, 'key') }) });
    expect((await p.fetchTimeSeries(req())).bars).toHaveLength(24);
    const none = provider({ resolveKey: envKeyResolver('TWELVEDATA_API_KEY', {}) });
    const e = await rejection(none.fetchTimeSeries(req()));
    expect([e.id, e.retryable]).toEqual(['DATA_CFG_APIKEY', false]);
  });
});

describe('TwelveData metadata endpoints', () => {
  it('lists symbols, reports capabilities, rate limits and health', async () => {
    const p = provider();
    const symbols = await p.listSymbols();
    expect(symbols.map((s) => s.symbol).sort()).toEqual(['EURUSD', 'GBPUSD', 'XAGUSD', 'XAUUSD']);
    expect(symbols.find((s) => s.symbol === 'XAUUSD')).toMatchObject({ symbolSource: 'XAU/USD', assetClass: 'COMMODITY' });
    expect((await p.listSymbols({ assetClass: 'FX' })).map((s) => s.symbol).sort()).toEqual(['EURUSD', 'GBPUSD']);
    expect(p.getCapabilities()).toEqual({ timeframes: ['15m', '1h', '4h', '1d'], assets: ['CFD', 'FX'], limits: { maxBarsPerRequest: 5000 }, latencyProfile: 'realtime' });
    expect(p.getRateLimit()).toMatchObject({ restQps: 10, wsChannels: 500, burst: 10 });
    const health = await p.healthCheck();
    expect(health.status).toBe('up');
    expect(fake.requests.at(-1)?.path).toBe('/api_usage');
    fake.scriptPath('/api_usage', { type: 'http-status', status: 502 });
    expect((await p.healthCheck()).status).toBe('down');
  });
});

describe('TwelveData WebSocket quotes', () => {
  it('subscribes, yields canonical ticks, sends heartbeats, reconnects after a drop and re-subscribes', async () => {
    const reconnects: number[] = [];
    const before = fake.connections.length;
    fake.dropNextConnectionAfter(4);
    const p = provider({
      stream: { heartbeatIntervalMs: 20, reconnectInitialDelayMs: 10, reconnectMaxDelayMs: 50, onReconnect: (_s, attempt) => reconnects.push(attempt) },
    });
    const handle = await p.streamQuotes(['XAUUSD', 'EURUSD'], {});
    const it = handle.ticks[Symbol.asyncIterator]();
    const ticks: CanonicalTick[] = await take(it, 12);
    const conns = fake.connections.slice(before);
    expect(conns.length).toBeGreaterThanOrEqual(2);
    expect(reconnects.length).toBe(conns.length - 1);
    for (const c of conns) expect(c.received[0]).toEqual({ action: 'subscribe', params: { symbols: 'XAU/USD,EUR/USD' } });
    // The symbol's price sequence continues across the reconnect without gaps or repeats.
    const gold = ticks.filter((t) => t.symbol === 'XAUUSD');
    expect(gold.map((t) => t.mid)).toEqual(gold.map((_, n) => fake.tickPrice('XAU/USD', n).price));
    expect(gold.map((t) => t.ts_utc)).toEqual(gold.map((_, n) => new Date(fake.tickPrice('XAU/USD', n).timestamp * 1000).toISOString()));
    expect(gold[0]).toMatchObject({ bid: null, ask: null, size: null, metadata: { symbol_source: 'XAU/USD' } });
    await waitFor(() => fake.heartbeatsReceived() >= 2, 'client heartbeats');
    await handle.close();
    await waitFor(() => fake.connections.slice(before).every((c) => c.closed), 'server saw the close');
    expect(TWELVEDATA_HEARTBEAT_INTERVAL_MS).toBe(10_000);
  });

  it('reconnects when the socket goes silent (stale watchdog)', async () => {
    const before = fake.connections.length;
    const p = provider({ stream: { staleAfterMs: 60, heartbeatIntervalMs: 60_000, reconnectInitialDelayMs: 5 } });
    fake.pausePrices();
    const handle = await p.streamQuotes(['GBPUSD'], {});
    await waitFor(() => fake.connections.length - before >= 2, 'a second connection after silence');
    fake.resumePrices();
    const [tick] = await take(handle.ticks[Symbol.asyncIterator](), 1);
    expect(tick?.symbol).toBe('GBPUSD');
    await handle.close();
  });

  it('a refused handshake surfaces as DATA_WS_CONNFAIL without the key', async () => {
    const e = await rejection(provider({}, 'bad-ws-KEY-999').streamQuotes(['XAUUSD'], {}));
    expect([e.id, e.retryable]).toEqual(['DATA_WS_CONNFAIL', false]);
    expect(`${e.message} ${JSON.stringify(e)}`).not.toContain('bad-ws-KEY-999');
  });
});
