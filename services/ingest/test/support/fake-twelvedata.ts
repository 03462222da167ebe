/**
 * A loopback TwelveData look-alike (REST + WebSocket) for tests, pipeline e2e runs and benchmarks.
 *
 * - REST `/time_series`, `/api_usage`, `/forex_pairs`, `/commodities` in TwelveData's JSON shapes, from deterministic
 *   series (a pure function of seed, symbol, interval and bar time; 24/5 calendar — no Saturday/Sunday bars).
 * - Scriptable per request: normal answer, `status:"error"` bodies (HTTP 200 or 4xx), HTTP 429 + Retry-After, 5xx,
 *   delays, truncated JSON, connection reset, corrupted rows.
 * - WebSocket `/v1/quotes/price`: subscribe-status, price events on a timer, heartbeat replies, scripted drops.
 * - Every request is recorded without the API key (only whether it was present and valid).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

export type FakeAction =
  | { type: 'ok'; corruptRows?: Array<{ index: number; field: string; value: unknown }> }
  | { type: 'error-body'; code: number; message?: string; httpStatus?: number }
  | { type: 'http-status'; status: number; retryAfter?: string; body?: string }
  | { type: 'delay'; ms: number; then?: FakeAction }
  | { type: 'truncate'; keepBytes?: number }
  | { type: 'reset' };

export interface FakeSymbolSpec {
  base: number;
  decimals: number;
  type: string;
  currencyBase: string;
  currencyQuote: string;
  hasVolume?: boolean;
}

export interface RecordedRequest {
  path: string;
  /** Query parameters with `apikey` removed. */
  params: Record<string, string>;
  apiKeyPresent: boolean;
  apiKeyValid: boolean;
  action: FakeAction['type'];
}

export interface FakeWsConnection {
  id: number;
  apiKeyValid: boolean;
  /** Client → server messages, parsed. */
  received: Array<Record<string, unknown>>;
  pricesSent: number;
  closed: boolean;
}

export interface FakeTwelveDataOptions {
  apiKey?: string;
  seed?: number;
  symbols?: Record<string, FakeSymbolSpec>;
  /** Interval between price events per connection. Default 5 ms. */
  priceIntervalMs?: number;
  /** Epoch seconds of the first price event (each further event of a symbol adds `tickStepS`). */
  tickEpochS?: number;
  /** Seconds between consecutive price events of a symbol. Default 1. */
  tickStepS?: number;
}

/** One price event of a symbol: sent on a connection, or published while no client was connected (`connection: null`). */
export interface FakePriceEvent {
  symbol: string;
  n: number;
  timestamp: number;
  price: number;
  connection: number | null;
}

export const DEFAULT_FAKE_SYMBOLS: Record<string, FakeSymbolSpec> = {
  'XAU/USD': { base: 2050, decimals: 2, type: 'Physical Currency', currencyBase: 'Gold Spot', currencyQuote: 'US Dollar' },
  'XAG/USD': { base: 24, decimals: 4, type: 'Physical Currency', currencyBase: 'Silver Spot', currencyQuote: 'US Dollar' },
  'EUR/USD': { base: 1.09, decimals: 5, type: 'Physical Currency', currencyBase: 'Euro', currencyQuote: 'US Dollar' },
  'GBP/USD': { base: 1.27, decimals: 5, type: 'Physical Currency', currencyBase: 'British Pound', currencyQuote: 'US Dollar' },
  'SPX': { base: 4700, decimals: 2, type: 'Index', currencyBase: 'S&P 500', currencyQuote: 'USD', hasVolume: true },
};

const INTERVAL_MS: Record<string, number> = {
  '1min': 60_000,
  '5min': 300_000,
  '15min': 900_000,
  '30min': 1_800_000,
  '1h': 3_600_000,
  '2h': 7_200_000,
  '4h': 14_400_000,
  '1day': 86_400_000,
};

export interface FakeBar {
  tsMs: number;
  datetime: string;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number | null;
}

function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d);
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b);
  return (x ^ (x >>> 16)) >>> 0;
}

function strHash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

const NO_DATA = 'No data is available on the specified dates. Try setting different start/end dates.';

export class FakeTwelveData {
  readonly requests: RecordedRequest[] = [];
  readonly connections: FakeWsConnection[] = [];
  /** Every price event, in order (see {@link FakePriceEvent}). */
  readonly prices: FakePriceEvent[] = [];
  readonly apiKey: string;
  private readonly seed: number;
  private readonly specs: Record<string, FakeSymbolSpec>;
  private readonly server: Server;
  private readonly wss: WebSocketServer;
  private readonly globalScript: FakeAction[] = [];
  private readonly pathScripts = new Map<string, FakeAction[]>();
  private readonly wsDrops: number[] = [];
  private readonly missedAfterDrop: number[] = [];
  private readonly sockets = new Set<Socket>();
  private readonly priceSeq = new Map<string, number>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private wsPaused = false;
  private port = 0;

  private constructor(private readonly options: FakeTwelveDataOptions) {
    this.apiKey = options.apiKey ?? 'fake-td-key-0123456789';
    this.seed = options.seed ?? 42;
    this.specs = options.symbols ?? DEFAULT_FAKE_SYMBOLS;
    this.server = createServer((req, res) => this.onRequest(req, res));
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    this.wss = new WebSocketServer({ noServer: true });
    this.server.on('upgrade', (req, socket, head) => this.onUpgrade(req, socket as Socket, head));
  }

  static async start(options: FakeTwelveDataOptions = {}): Promise<FakeTwelveData> {
    const fake = new FakeTwelveData(options);
    await new Promise<void>((resolve) => fake.server.listen(0, '127.0.0.1', resolve));
    fake.port = (fake.server.address() as AddressInfo).port;
    return fake;
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get wsUrl(): string {
    return `ws://127.0.0.1:${this.port}/v1/quotes/price`;
  }

  /** Queue actions for the next requests (any path), consumed in order; unscripted requests answer normally. */
  script(...actions: FakeAction[]): void {
    this.globalScript.push(...actions);
  }

  /** Queue actions for the next requests to one path (checked before the global queue). */
  scriptPath(path: string, ...actions: FakeAction[]): void {
    const q = this.pathScripts.get(path) ?? [];
    q.push(...actions);
    this.pathScripts.set(path, q);
  }

  /** The next WebSocket connection is terminated after it has sent `n` price events (queue several for several). */
  dropNextConnectionAfter(...n: number[]): void {
    this.wsDrops.push(...n);
  }

  /**
   * When the next scripted drop terminates a connection, each of its symbols publishes `n` price events that no
   * client receives (the market moves on while the client reconnects); queue several for several drops.
   */
  missPricesAfterDrop(...n: number[]): void {
    this.missedAfterDrop.push(...n);
  }

  pausePrices(): void {
    this.wsPaused = true;
  }

  resumePrices(): void {
    this.wsPaused = false;
  }

  timeSeriesRequests(): RecordedRequest[] {
    return this.requests.filter((r) => r.path === '/time_series');
  }

  /** Client heartbeats received over all connections. */
  heartbeatsReceived(): number {
    return this.connections.reduce((n, c) => n + c.received.filter((m) => m['action'] === 'heartbeat').length, 0);
  }

  /** The deterministic series the server serves: bars opening in [fromMs, toMs] (inclusive), weekdays only. */
  series(symbol: string, interval: string, fromMs: number, toMs: number): FakeBar[] {
    const spec = this.specs[symbol];
    const step = INTERVAL_MS[interval];
    if (!spec || !step) return [];
    const out: FakeBar[] = [];
    for (let t = Math.ceil(fromMs / step) * step; t <= toMs; t += step) {
      const dow = new Date(t).getUTCDay();
      if (dow === 0 || dow === 6) continue;
      out.push(this.bar(symbol, spec, step, t));
    }
    return out;
  }

  /** Price of the n-th (0-based) WebSocket price event of a symbol. */
  tickPrice(symbol: string, n: number): { timestamp: number; price: number } {
    const spec = this.specs[symbol] ?? { base: 100, decimals: 2 };
    const u = mix32(this.seed ^ mix32(strHash(`tick:${symbol}`) ^ n)) / 2 ** 32;
    const price = Number((spec.base * (1 + 0.001 * Math.sin(n / 7) + 0.0002 * (u - 0.5))).toFixed(spec.decimals));
    return { timestamp: (this.options.tickEpochS ?? 1_704_200_000) + n * (this.options.tickStepS ?? 1), price };
  }

  private level(symbol: string, spec: FakeSymbolSpec, step: number, i: number): number {
    const u = mix32(this.seed ^ mix32(strHash(`${symbol}|${step}`) ^ mix32(i))) / 2 ** 32;
    return spec.base * (1 + 0.03 * Math.sin(i / 97) + 0.01 * Math.sin(i / 11) + 0.004 * (u - 0.5));
  }

  private bar(symbol: string, spec: FakeSymbolSpec, step: number, t: number): FakeBar {
    const i = t / step;
    const round = (x: number) => Number(x.toFixed(spec.decimals));
    const open = round(this.level(symbol, spec, step, i - 1));
    const close = round(this.level(symbol, spec, step, i));
    const w = mix32(this.seed ^ mix32(strHash(`w|${symbol}|${step}`) ^ mix32(i))) / 2 ** 32;
    const high = round(Math.max(open, close) * (1 + 0.002 * w));
    const low = round(Math.min(open, close) * (1 - 0.002 * (1 - w)));
    const iso = new Date(t).toISOString();
    const datetime = step >= 86_400_000 ? iso.slice(0, 10) : iso.slice(0, 19).replace('T', ' ');
    return { tsMs: t, datetime, open, high, low, close, volume: spec.hasVolume ? 1000 + Math.floor(w * 5000) : null };
  }

  private nextAction(path: string): FakeAction {
    const q = this.pathScripts.get(path);
    if (q && q.length > 0) return q.shift() as FakeAction;
    return this.globalScript.shift() ?? { type: 'ok' };
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const params: Record<string, string> = {};
    for (const [k, v] of url.searchParams) if (k !== 'apikey') params[k] = v;
    const key = url.searchParams.get('apikey');
    const apiKeyValid = key === this.apiKey;
    const action = apiKeyValid ? this.nextAction(url.pathname) : ({ type: 'ok' } as FakeAction);
    this.requests.push({ path: url.pathname, params, apiKeyPresent: key !== null, apiKeyValid, action: action.type });
    if (!apiKeyValid) {
      this.send(res, 200, {
        code: 401,
        message: '**apikey** parameter is incorrect or not specified. You can get your free API key instantly following this link: https://twelvedata.com/pricing.',
        status: 'error',
      });
      return;
    }
    this.perform(action, url, params, req, res);
  }

  private perform(action: FakeAction, url: URL, params: Record<string, string>, req: IncomingMessage, res: ServerResponse): void {
    switch (action.type) {
      case 'delay': {
        const timer = setTimeout(() => {
          this.timers.delete(timer);
          if (!res.destroyed && !res.writableEnded) this.perform(action.then ?? { type: 'ok' }, url, params, req, res);
        }, action.ms);
        this.timers.add(timer);
        res.on('close', () => {
          clearTimeout(timer);
          this.timers.delete(timer);
        });
        return;
      }
      case 'reset':
        req.socket.destroy();
        return;
      case 'http-status': {
        const headers: Record<string, string> = { 'content-type': 'application/json' };
        if (action.retryAfter !== undefined) headers['retry-after'] = action.retryAfter;
        res.writeHead(action.status, headers);
        res.end(action.body ?? JSON.stringify({ code: action.status, message: `HTTP ${action.status}`, status: 'error' }));
        return;
      }
      case 'error-body':
        this.send(res, action.httpStatus ?? 200, { code: action.code, message: action.message ?? `scripted error ${action.code}`, status: 'error' });
        return;
      case 'truncate': {
        const body = JSON.stringify(this.route(url.pathname, params).body);
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(body.slice(0, action.keepBytes ?? Math.floor(body.length / 2)));
        return;
      }
      case 'ok': {
        const routed = this.route(url.pathname, params, action.corruptRows);
        this.send(res, routed.status, routed.body);
        return;
      }
    }
  }

  private send(res: ServerResponse, status: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  private route(path: string, params: Record<string, string>, corrupt?: Array<{ index: number; field: string; value: unknown }>): { status: number; body: unknown } {
    switch (path) {
      case '/time_series':
        return { status: 200, body: this.timeSeries(params, corrupt) };
      case '/api_usage':
        return {
          status: 200,
          body: { timestamp: new Date().toISOString().slice(0, 19).replace('T', ' '), current_usage: this.timeSeriesRequests().length, plan_limit: 610, plan_category: 'pro' },
        };
      case '/forex_pairs':
        return {
          status: 200,
          body: {
            data: Object.entries(this.specs)
              .filter(([s]) => /^[A-Z]{3}\/[A-Z]{3}$/.test(s) && !s.startsWith('X'))
              .map(([symbol, spec]) => ({ symbol, currency_group: 'Major', currency_base: spec.currencyBase, currency_quote: spec.currencyQuote })),
            status: 'ok',
          },
        };
      case '/commodities':
        return {
          status: 200,
          body: {
            data: Object.entries(this.specs)
              .filter(([s]) => s.startsWith('X'))
              .map(([symbol, spec]) => ({ symbol, name: spec.currencyBase, category: 'Precious Metal', description: `${spec.currencyBase} in USD` })),
            status: 'ok',
          },
        };
      default:
        return { status: 404, body: { code: 404, message: `endpoint ${path} not found`, status: 'error' } };
    }
  }

  private timeSeries(params: Record<string, string>, corrupt?: Array<{ index: number; field: string; value: unknown }>): unknown {
    const symbol = params['symbol'] ?? '';
    const interval = params['interval'] ?? '';
    const spec = this.specs[symbol];
    if (!spec) return { code: 400, message: `**symbol** not found: ${symbol}. Please specify it correctly according to API Documentation.`, status: 'error' };
    if (!INTERVAL_MS[interval]) return { code: 400, message: `**interval** is invalid: ${interval}`, status: 'error' };
    const parse = (s: string | undefined) => {
      if (!s) return undefined;
      const m = /^(\d{4})-(\d{2})-(\d{2})(?: (\d{2}):(\d{2})(?::(\d{2}))?)?$/.exec(s);
      return m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4] ?? 0), Number(m[5] ?? 0), Number(m[6] ?? 0)) : undefined;
    };
    const end = parse(params['end_date']) ?? Date.UTC(2024, 5, 28);
    const start = parse(params['start_date']) ?? end - 30 * (INTERVAL_MS[interval] as number);
    const outputsize = Math.min(Number(params['outputsize'] ?? 30), 5000);
    // Like TwelveData: the most recent `outputsize` bars of the range.
    let bars = this.series(symbol, interval, start, end).slice(-outputsize);
    if (bars.length === 0) return { code: 400, message: NO_DATA, status: 'error', meta: { symbol, interval, exchange: '' } };
    if (params['order']?.toUpperCase() !== 'ASC') bars = bars.reverse();
    const values: Array<Record<string, unknown>> = bars.map((b) => {
      const row: Record<string, unknown> = {
        datetime: b.datetime,
        open: b.open.toFixed(spec.decimals + 3),
        high: b.high.toFixed(spec.decimals + 3),
        low: b.low.toFixed(spec.decimals + 3),
        close: b.close.toFixed(spec.decimals + 3),
      };
      if (b.volume !== null) row['volume'] = String(b.volume);
      return row;
    });
    for (const c of corrupt ?? []) {
      const row = values[c.index];
      if (row) {
        if (c.value === undefined) delete row[c.field];
        else row[c.field] = c.value;
      }
    }
    const [currencyBase, currencyQuote] = symbol.includes('/') ? symbol.split('/') : [spec.currencyBase, spec.currencyQuote];
    return {
      meta: { symbol, interval, currency_base: spec.currencyBase, currency_quote: spec.currencyQuote, type: spec.type, exchange_timezone: 'UTC', base: currencyBase, quote: currencyQuote },
      values,
      status: 'ok',
    };
  }

  private onUpgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname !== '/v1/quotes/price') {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
      return;
    }
    if (url.searchParams.get('apikey') !== this.apiKey) {
      this.connections.push({ id: this.connections.length, apiKeyValid: false, received: [], pricesSent: 0, closed: true });
      socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\n\r\n');
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onWsConnection(ws));
  }

  private onWsConnection(ws: WebSocket): void {
    const conn: FakeWsConnection = { id: this.connections.length, apiKeyValid: true, received: [], pricesSent: 0, closed: false };
    this.connections.push(conn);
    const dropAfter = this.wsDrops.shift();
    const subscribed: string[] = [];
    let rr = 0;
    const timer = setInterval(() => {
      if (this.wsPaused || subscribed.length === 0 || ws.readyState !== ws.OPEN) return;
      const symbol = subscribed[rr++ % subscribed.length] as string;
      const n = this.priceSeq.get(symbol) ?? 0;
      this.priceSeq.set(symbol, n + 1);
      const spec = this.specs[symbol] as FakeSymbolSpec;
      const { timestamp, price } = this.tickPrice(symbol, n);
      ws.send(JSON.stringify({ event: 'price', symbol, currency_base: spec.currencyBase, currency_quote: spec.currencyQuote, exchange: 'PHYSICAL CURRENCY', type: spec.type, timestamp, price }));
      this.prices.push({ symbol, n, timestamp, price, connection: conn.id });
      conn.pricesSent += 1;
      if (dropAfter !== undefined && conn.pricesSent >= dropAfter) {
        const missed = this.missedAfterDrop.shift() ?? 0;
        for (const s of subscribed) {
          for (let i = 0; i < missed; i++) {
            const m = this.priceSeq.get(s) ?? 0;
            this.priceSeq.set(s, m + 1);
            this.prices.push({ symbol: s, n: m, ...this.tickPrice(s, m), connection: null });
          }
        }
        ws.terminate();
      }
    }, this.options.priceIntervalMs ?? 5);
    this.timers.add(timer);
    ws.on('close', () => {
      conn.closed = true;
      clearInterval(timer);
      this.timers.delete(timer);
    });
    ws.on('message', (data) => {
      let msg: Record<string, unknown>;
      try {
        msg = JSON.parse(data.toString()) as Record<string, unknown>;
      } catch {
        return;
      }
      conn.received.push(msg);
      if (msg['action'] === 'heartbeat') {
        ws.send(JSON.stringify({ event: 'heartbeat', status: 'ok' }));
      } else if (msg['action'] === 'subscribe') {
        const wanted = String((msg['params'] as { symbols?: unknown } | undefined)?.symbols ?? '')
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean);
        const success = wanted.filter((s) => this.specs[s]);
        const fails = wanted.filter((s) => !this.specs[s]);
        for (const s of success) if (!subscribed.includes(s)) subscribed.push(s);
        ws.send(
          JSON.stringify({
            event: 'subscribe-status',
            status: fails.length ? 'error' : 'ok',
            success: success.map((symbol) => ({ symbol, exchange: 'PHYSICAL CURRENCY', country: '', type: this.specs[symbol]?.type })),
            fails: fails.map((symbol) => ({ symbol })),
          }),
        );
      }
    });
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const client of this.wss.clients) client.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
