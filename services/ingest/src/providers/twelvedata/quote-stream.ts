/**
 * TwelveData WebSocket price stream: subscribe, client heartbeats every 10 s, liveness watchdog, reconnect with
 * exponential backoff + jitter, re-subscribe after every reconnect. Ticks are delivered canonical.
 */
import WebSocket from 'ws';
import type { CanonicalTick } from '@noctria/canonical-bar';
import { ProviderError, PROVIDER_ERROR_IDS, redact } from '../errors.js';
import type { QuoteStreamHandle } from '../market-data-provider.port.js';
import { AsyncQueue } from '../internal/async-queue.js';
import { toTsUtc } from '../internal/timeframe.js';
import type { TwelveDataSymbolMap } from './symbol-map.js';

/** TwelveData closes idle sockets; the client must send `{"action":"heartbeat"}` every 10 seconds. */
export const TWELVEDATA_HEARTBEAT_INTERVAL_MS = 10_000;

export interface SubscribeStatus {
  success: string[];
  fails: string[];
}

export interface QuoteStreamOptions {
  url: string;
  apiKey: string;
  symbolMap: TwelveDataSymbolMap;
  sourceId: string;
  providerVersion: string;
  symbols: string[];
  signal?: AbortSignal;
  heartbeatIntervalMs?: number;
  /** No message at all (price, status, heartbeat reply) for this long → the socket is treated as dead. Default 30 s. */
  staleAfterMs?: number;
  connectTimeoutMs?: number;
  reconnectInitialDelayMs?: number;
  reconnectMaxDelayMs?: number;
  /** Consecutive failed reconnects before the tick iterator fails with DATA_WS_CONNFAIL. Default unlimited. */
  maxReconnectAttempts?: number;
  random?: () => number;
  now?: () => number;
  /** Called at each reconnect attempt (feeds `data_ws_reconnects_total`). */
  onReconnect?: (sourceId: string, attempt: number) => void;
  onSubscribeStatus?: (status: SubscribeStatus) => void;
  onInvalidMessage?: (reason: string) => void;
}

export async function openTwelveDataQuoteStream(options: QuoteStreamOptions): Promise<QuoteStreamHandle> {
  const stream = new TwelveDataQuoteStream(options);
  await stream.start();
  return { ticks: stream.queue, close: () => stream.close() };
}

class TwelveDataQuoteStream {
  readonly queue: AsyncQueue<CanonicalTick>;
  private ws: WebSocket | undefined;
  private closed = false;
  private heartbeat: NodeJS.Timeout | undefined;
  private staleTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private failedAttempts = 0;
  private readonly providerSymbols: string[];
  private readonly abortListener = () => void this.close();

  constructor(private readonly o: QuoteStreamOptions) {
    this.queue = new AsyncQueue<CanonicalTick>(() => void this.close());
    this.providerSymbols = [...new Set(o.symbols.map((s) => o.symbolMap.provider(s)))];
  }

  async start(): Promise<void> {
    if (this.o.signal?.aborted) throw this.err('stream aborted before connecting', false);
    await this.connect();
    this.o.signal?.addEventListener('abort', this.abortListener, { once: true });
  }

  private err(message: string, retryable: boolean, cause?: unknown): ProviderError {
    return new ProviderError(PROVIDER_ERROR_IDS.wsConnFail, redact(message, [this.o.apiKey]), {
      retryable,
      sourceId: this.o.sourceId,
      ...(cause !== undefined ? { cause: redact(String((cause as Error)?.message ?? cause), [this.o.apiKey]) } : {}),
    });
  }

  private connect(): Promise<void> {
    const url = new URL(this.o.url);
    url.searchParams.set('apikey', this.o.apiKey);
    const ws = new WebSocket(url, { handshakeTimeout: this.o.connectTimeoutMs ?? 10_000 });
    this.ws = ws;
    return new Promise<void>((resolve, reject) => {
      let opened = false;
      ws.on('unexpected-response', (_req, res) => {
        ws.terminate();
        if (!opened) reject(this.err(`WebSocket handshake refused: HTTP ${res.statusCode}`, res.statusCode === undefined || res.statusCode >= 500 || res.statusCode === 429));
      });
      ws.on('error', (e) => {
        if (!opened) reject(this.err(`WebSocket connect failed: ${e.message}`, true, e));
      });
      ws.on('open', () => {
        opened = true;
        ws.send(JSON.stringify({ action: 'subscribe', params: { symbols: this.providerSymbols.join(',') } }));
        const every = this.o.heartbeatIntervalMs ?? TWELVEDATA_HEARTBEAT_INTERVAL_MS;
        this.heartbeat = setInterval(() => {
          if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ action: 'heartbeat' }));
        }, every);
        this.touch(ws);
        resolve();
      });
      ws.on('message', (data) => {
        this.touch(ws);
        this.onMessage(data.toString());
      });
      ws.on('close', () => {
        if (this.ws === ws) this.clearTimers();
        if (!opened) {
          reject(this.err('WebSocket closed before opening', true));
          return;
        }
        if (!this.closed && this.ws === ws) this.scheduleReconnect();
      });
    });
  }

  private touch(ws: WebSocket): void {
    if (this.staleTimer) clearTimeout(this.staleTimer);
    this.staleTimer = setTimeout(() => ws.terminate(), this.o.staleAfterMs ?? 30_000);
  }

  private clearTimers(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    if (this.staleTimer) clearTimeout(this.staleTimer);
    this.heartbeat = undefined;
    this.staleTimer = undefined;
  }

  private scheduleReconnect(): void {
    if (this.closed) return;
    this.failedAttempts += 1;
    const max = this.o.maxReconnectAttempts ?? Number.POSITIVE_INFINITY;
    if (this.failedAttempts > max) {
      this.queue.fail(this.err(`WebSocket reconnect gave up after ${max} attempts`, true));
      void this.close();
      return;
    }
    const base = Math.min(this.o.reconnectMaxDelayMs ?? 60_000, (this.o.reconnectInitialDelayMs ?? 1000) * 2 ** (this.failedAttempts - 1));
    const delay = base * (0.5 + 0.5 * (this.o.random ?? Math.random)());
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (this.closed) return;
      this.o.onReconnect?.(this.o.sourceId, this.failedAttempts);
      this.connect().catch(() => this.scheduleReconnect());
    }, delay);
  }

  private onMessage(text: string): void {
    let msg: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(text);
      if (!parsed || typeof parsed !== 'object') throw new Error('not an object');
      msg = parsed as Record<string, unknown>;
    } catch {
      this.o.onInvalidMessage?.(`unparseable message (${text.length} bytes)`);
      return;
    }
    switch (msg['event']) {
      case 'price': {
        const tick = this.toTick(msg);
        if (typeof tick === 'string') this.o.onInvalidMessage?.(tick);
        else {
          this.failedAttempts = 0;
          this.queue.push(tick);
        }
        return;
      }
      case 'subscribe-status': {
        this.failedAttempts = 0;
        const names = (v: unknown) => (Array.isArray(v) ? v.map((x) => String((x as { symbol?: unknown })?.symbol ?? x)) : []);
        this.o.onSubscribeStatus?.({ success: names(msg['success']), fails: names(msg['fails']) });
        return;
      }
      case 'heartbeat':
        return;
      default:
        this.o.onInvalidMessage?.(`unexpected event ${JSON.stringify(msg['event'])}`);
    }
  }

  private toTick(msg: Record<string, unknown>): CanonicalTick | string {
    const ts = msg['timestamp'];
    const price = msg['price'];
    if (typeof msg['symbol'] !== 'string') return 'price event without symbol';
    if (typeof ts !== 'number' || !Number.isFinite(ts)) return `price event with invalid timestamp ${JSON.stringify(ts)}`;
    const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : null);
    const bid = num(msg['bid']);
    const ask = num(msg['ask']);
    const mid = num(price) ?? (bid !== null && ask !== null ? (bid + ask) / 2 : null);
    if (mid === null && bid === null && ask === null) return `price event without price for ${msg['symbol']}`;
    const tsMs = Math.round(ts * 1000);
    const now = (this.o.now ?? Date.now)();
    const metadata: Record<string, unknown> = {
      symbol_source: msg['symbol'],
      provider_version: this.o.providerVersion,
      source_id: this.o.sourceId,
      source_latency_ms: Math.max(0, now - tsMs),
    };
    for (const k of ['exchange', 'type', 'currency_base', 'currency_quote', 'day_volume']) if (msg[k] !== undefined) metadata[k] = msg[k];
    return { ts_utc: toTsUtc(tsMs), symbol: this.o.symbolMap.canonical(msg['symbol']), bid, ask, mid, size: null, metadata };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.o.signal?.removeEventListener('abort', this.abortListener);
    this.clearTimers();
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    const ws = this.ws;
    this.queue.end();
    if (!ws || ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => {
        ws.terminate();
        resolve();
      }, 1000);
      ws.once('close', () => {
        clearTimeout(force);
        resolve();
      });
      if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
      else ws.close(1000, 'client closing');
    });
  }
}
