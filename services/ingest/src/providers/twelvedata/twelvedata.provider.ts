/**
 * TwelveData adapter: REST time series (chunked by outputsize), symbol lists, API usage health check, and the
 * WebSocket price stream. Everything returned is canonical; provider specifics go into `metadata`.
 */
import { z } from 'zod';
import type { CanonicalBar, Timeframe } from '@noctria/canonical-bar';
import { ProviderError, PROVIDER_ERROR_IDS, isProviderError } from '../errors.js';
import type {
  FetchResult,
  FetchTimeSeriesRequest,
  MarketDataProvider,
  ProviderCapabilities,
  ProviderHealth,
  QuoteStreamHandle,
  RateLimitInfo,
  RejectedRow,
  StreamQuotesOptions,
  SymbolMeta,
} from '../market-data-provider.port.js';
import { capabilitiesFromConfig, rateLimitFromConfig, type KeyResolver, type SourceConfig } from '../source-config.js';
import { alignUp, timeframeMs, toTsUtc } from '../internal/timeframe.js';
import { ohlcProblem, parseDecimal } from '../internal/validate.js';
import { callTwelveData, NO_DATA_MESSAGE } from './http.js';
import { TwelveDataSymbolMap } from './symbol-map.js';
import { openTwelveDataQuoteStream, type QuoteStreamOptions } from './quote-stream.js';

export const TWELVEDATA_PROVIDER_VERSION = 'twelvedata-adapter/1.0.0';
export const TWELVEDATA_MAX_OUTPUTSIZE = 5000;
export const TWELVEDATA_DEFAULT_BASE_URL = 'https://api.twelvedata.com';
export const TWELVEDATA_DEFAULT_WS_URL = 'wss://ws.twelvedata.com/v1/quotes/price';

export const TWELVEDATA_INTERVALS: Readonly<Record<Timeframe, string>> = {
  '1m': '1min',
  '5m': '5min',
  '15m': '15min',
  '1h': '1h',
  '4h': '4h',
  '1d': '1day',
};

export interface TwelveDataProviderOptions {
  /** The sources.yaml entry (base_url, ws_url, timeframes, assets, rate_limits, symbols, symbol_map). */
  config: SourceConfig;
  /** Where the key comes from: `envKeyResolver('TWELVEDATA_API_KEY')` (env var or `_FILE` secret mount). */
  resolveKey: KeyResolver;
  /** Per-request timeout (AbortSignal.timeout). Default 15 s. */
  timeoutMs?: number;
  /** Bars per request; ≤ 5000. Default 5000. */
  maxOutputSize?: number;
  fetchImpl?: typeof fetch;
  /** WebSocket behaviour (heartbeat, reconnect backoff, counters). */
  stream?: Omit<QuoteStreamOptions, 'url' | 'apiKey' | 'symbolMap' | 'sourceId' | 'providerVersion' | 'symbols' | 'signal'>;
  now?: () => number;
}

const valueRowSchema = z.record(z.string(), z.unknown());
const timeSeriesSchema = z.object({
  meta: z.record(z.string(), z.unknown()).optional(),
  values: z.array(valueRowSchema),
  status: z.literal('ok').optional(),
});

const DATETIME = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2}))?)?$/;

/** TwelveData `datetime` (UTC when `timezone=UTC` was requested) → epoch ms, or null when malformed. */
export function parseTwelveDataDatetime(s: unknown): number | null {
  if (typeof s !== 'string') return null;
  const m = DATETIME.exec(s.trim());
  if (!m) return null;
  const [y, mo, d, h, mi, se] = [m[1], m[2], m[3], m[4] ?? '0', m[5] ?? '0', m[6] ?? '0'].map(Number) as [number, number, number, number, number, number];
  const ms = Date.UTC(y, mo - 1, d, h, mi, se);
  const back = new Date(ms);
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d || h > 23 || mi > 59 || se > 59) return null;
  return ms;
}

/** `YYYY-MM-DD HH:mm:ss` in UTC, the form TwelveData accepts for start_date/end_date. */
export function formatTwelveDataDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
}

export class TwelveDataProvider implements MarketDataProvider {
  readonly sourceId: string;
  readonly providerVersion = TWELVEDATA_PROVIDER_VERSION;
  readonly symbols: TwelveDataSymbolMap;
  private readonly baseUrl: string;
  private readonly wsUrl: string;
  private readonly timeoutMs: number;
  private readonly maxOutputSize: number;
  private keyPromise: Promise<string> | undefined;

  constructor(private readonly options: TwelveDataProviderOptions) {
    this.sourceId = options.config.id;
    this.baseUrl = options.config.base_url ?? TWELVEDATA_DEFAULT_BASE_URL;
    this.wsUrl = options.config.ws_url ?? TWELVEDATA_DEFAULT_WS_URL;
    this.timeoutMs = options.timeoutMs ?? 15_000;
    this.maxOutputSize = Math.min(options.maxOutputSize ?? TWELVEDATA_MAX_OUTPUTSIZE, options.config.max_bars_per_request ?? TWELVEDATA_MAX_OUTPUTSIZE, TWELVEDATA_MAX_OUTPUTSIZE);
    this.symbols = new TwelveDataSymbolMap(options.config.symbol_map ?? {});
  }

  private apiKey(): Promise<string> {
    if (!this.keyPromise) {
      this.keyPromise = this.options.resolveKey();
      this.keyPromise.catch(() => (this.keyPromise = undefined));
    }
    return this.keyPromise;
  }

  private async call(path: string, params: Record<string, string | number | undefined>, signal?: AbortSignal) {
    return callTwelveData({
      baseUrl: this.baseUrl,
      path,
      params,
      apiKey: await this.apiKey(),
      timeoutMs: this.timeoutMs,
      sourceId: this.sourceId,
      ...(signal ? { signal } : {}),
      ...(this.options.fetchImpl ? { fetchImpl: this.options.fetchImpl } : {}),
    });
  }

  /** The [start, end) windows requested for a range: each holds at most `maxOutputSize` bar slots. */
  planChunks(timeframe: Timeframe, startMs: number, endMs: number): Array<{ startMs: number; endMs: number }> {
    const tf = timeframeMs(timeframe);
    const first = alignUp(startMs, timeframe);
    const span = this.maxOutputSize * tf;
    const chunks: Array<{ startMs: number; endMs: number }> = [];
    for (let s = first; s < endMs; s += span) chunks.push({ startMs: s, endMs: Math.min(s + span, endMs) });
    return chunks;
  }

  async fetchTimeSeries(req: FetchTimeSeriesRequest): Promise<FetchResult> {
    const interval = TWELVEDATA_INTERVALS[req.timeframe];
    if (!interval || !this.options.config.timeframes.includes(req.timeframe)) {
      throw new ProviderError(PROVIDER_ERROR_IDS.unsupported, `${this.sourceId} does not serve timeframe ${req.timeframe}`, {
        retryable: false,
        sourceId: this.sourceId,
      });
    }
    const providerSymbol = this.symbols.provider(req.symbol);
    const canonical = this.symbols.canonical(providerSymbol);
    const started = performance.now();
    const bars: CanonicalBar[] = [];
    const rejected: RejectedRow[] = [];
    const rawLines: string[] = [];
    const tf = timeframeMs(req.timeframe);
    const chunks = this.planChunks(req.timeframe, req.startMs, req.endMs);

    for (const [chunkIndex, chunk] of chunks.entries()) {
      if (req.limit !== undefined && bars.length >= req.limit) break;
      const slots = Math.ceil((chunk.endMs - chunk.startMs) / tf);
      let result;
      try {
        result = await this.call(
          '/time_series',
          {
            symbol: providerSymbol,
            interval,
            start_date: formatTwelveDataDate(chunk.startMs),
            // end_date one second before the exclusive bound: correct whether the API treats it as inclusive or not.
            end_date: formatTwelveDataDate(chunk.endMs - 1000),
            outputsize: Math.min(slots, this.maxOutputSize),
            timezone: 'UTC',
            order: 'ASC',
          },
          req.signal,
        );
      } catch (err) {
        if (isProviderError(err) && err.id === PROVIDER_ERROR_IDS.apiStatus && err.status === 400 && NO_DATA_MESSAGE.test(err.message)) continue;
        throw err;
      }
      const parsed = timeSeriesSchema.safeParse(result.json);
      if (!parsed.success) {
        throw new ProviderError(PROVIDER_ERROR_IDS.apiParse, `time_series payload has no values array (chunk ${chunkIndex})`, {
          retryable: false,
          sourceId: this.sourceId,
        });
      }
      rawLines.push(JSON.stringify(result.json));
      const latency = Math.round(result.latencyMs);
      const chunkBars: CanonicalBar[] = [];
      parsed.data.values.forEach((row, index) => {
        const outcome = this.toBar(row, canonical, providerSymbol, req, latency);
        if (typeof outcome === 'string') {
          rejected.push({ errorId: PROVIDER_ERROR_IDS.barInvalid, reason: outcome, line: index, chunk: chunkIndex, raw: JSON.stringify(row) });
          return;
        }
        const t = Date.parse(outcome.ts_utc);
        if (t >= req.startMs && t < req.endMs) chunkBars.push(outcome);
      });
      chunkBars.sort((a, b) => (a.ts_utc < b.ts_utc ? -1 : a.ts_utc > b.ts_utc ? 1 : 0));
      bars.push(...chunkBars);
    }
    return {
      bars: req.limit !== undefined ? bars.slice(0, req.limit) : bars,
      rejected,
      raw: { contentType: 'application/x-ndjson', body: rawLines.join('\n') },
      latencyMs: performance.now() - started,
    };
  }

  private toBar(
    row: Record<string, unknown>,
    symbol: string,
    providerSymbol: string,
    req: FetchTimeSeriesRequest,
    latencyMs: number,
  ): CanonicalBar | string {
    const t = parseTwelveDataDatetime(row['datetime']);
    if (t === null) return `invalid datetime ${JSON.stringify(row['datetime'])}`;
    const px: Record<'open' | 'high' | 'low' | 'close', number> = { open: 0, high: 0, low: 0, close: 0 };
    for (const k of ['open', 'high', 'low', 'close'] as const) {
      const v = parseDecimal(row[k]);
      if (v === null) return `${k} ${JSON.stringify(row[k])} is not a number`;
      px[k] = v;
    }
    let volume: number | null = null;
    if (row['volume'] !== undefined && row['volume'] !== null && row['volume'] !== '') {
      volume = parseDecimal(row['volume']);
      if (volume === null) return `volume ${JSON.stringify(row['volume'])} is not a number`;
    }
    const problem = ohlcProblem({ ...px, volume });
    if (problem) return problem;
    return {
      ts_utc: toTsUtc(t),
      symbol,
      timeframe: req.timeframe,
      ...px,
      volume,
      quality_flag: 'ok',
      source_id: this.sourceId,
      ingest_run_id: req.ingestRunId,
      metadata: { symbol_source: providerSymbol, provider_version: this.providerVersion, source_latency_ms: latencyMs },
    };
  }

  async streamQuotes(symbols: string[], options: StreamQuotesOptions = {}): Promise<QuoteStreamHandle> {
    const configured = this.options.stream?.onReconnect;
    const perStream = options.onReconnect;
    return openTwelveDataQuoteStream({
      ...this.options.stream,
      ...(configured || perStream
        ? {
            onReconnect: (sourceId: string, attempt: number) => {
              configured?.(sourceId, attempt);
              perStream?.(sourceId, attempt);
            },
          }
        : {}),
      url: this.wsUrl,
      apiKey: await this.apiKey(),
      symbolMap: this.symbols,
      sourceId: this.sourceId,
      providerVersion: this.providerVersion,
      symbols,
      ...(options.signal ? { signal: options.signal } : {}),
    });
  }

  async listSymbols(filters: { assetClass?: string; search?: string } = {}): Promise<SymbolMeta[]> {
    let all: SymbolMeta[];
    if (this.options.config.symbols && this.options.config.symbols.length > 0) {
      all = this.options.config.symbols.map((s) => {
        const symbolSource = this.symbols.provider(s);
        return { symbol: this.symbols.canonical(symbolSource), symbolSource, assetClass: guessAssetClass(symbolSource) };
      });
    } else {
      const [fx, commodities] = await Promise.all([this.call('/forex_pairs', {}), this.call('/commodities', {})]);
      all = [...listData(fx.json, 'FX', this.symbols), ...listData(commodities.json, 'COMMODITY', this.symbols)];
    }
    const search = filters.search?.toUpperCase();
    return all.filter(
      (s) =>
        (!filters.assetClass || s.assetClass === filters.assetClass) &&
        (!search || s.symbol.includes(search) || s.symbolSource.toUpperCase().includes(search) || (s.description ?? '').toUpperCase().includes(search)),
    );
  }

  getCapabilities(): ProviderCapabilities {
    return capabilitiesFromConfig(this.options.config, { maxBarsPerRequest: this.maxOutputSize, latencyProfile: 'realtime' });
  }

  getRateLimit(): RateLimitInfo {
    return rateLimitFromConfig(this.options.config, { restQps: 8, wsChannels: 8, policy: 'per-minute API credits; 429 honours Retry-After' });
  }

  /** Cheap probe: `/api_usage` costs no credits. Degraded when ≥ 90 % of the minute's credits are used. */
  async healthCheck(): Promise<ProviderHealth> {
    try {
      const res = await this.call('/api_usage', {});
      const used = Number(res.json['current_usage']);
      const limit = Number(res.json['plan_limit']);
      const ratio = Number.isFinite(used) && Number.isFinite(limit) && limit > 0 ? used / limit : null;
      return {
        status: ratio !== null && ratio >= 0.9 ? 'degraded' : 'up',
        details: { latencyMs: Math.round(res.latencyMs), currentUsage: used, planLimit: limit, planCategory: res.json['plan_category'] },
      };
    } catch (err) {
      if (isProviderError(err)) {
        return { status: err.id === PROVIDER_ERROR_IDS.apiRateLimit ? 'degraded' : 'down', details: { errorId: err.id, message: err.message, retryable: err.retryable } };
      }
      throw err;
    }
  }
}

function guessAssetClass(providerSymbol: string): string {
  return /^(XAU|XAG|XPT|XPD)\//.test(providerSymbol) ? 'COMMODITY' : /^[A-Z]{3}\/[A-Z]{3}$/.test(providerSymbol) ? 'FX' : 'OTHER';
}

function listData(json: Record<string, unknown>, assetClass: string, map: TwelveDataSymbolMap): SymbolMeta[] {
  const data = Array.isArray(json['data']) ? (json['data'] as Array<Record<string, unknown>>) : [];
  const out: SymbolMeta[] = [];
  for (const d of data) {
    if (typeof d['symbol'] !== 'string') continue;
    const description = [d['name'], d['currency_base'], d['currency_quote'], d['description']].filter((x) => typeof x === 'string').join(' / ');
    out.push({ symbol: map.canonical(d['symbol']), symbolSource: d['symbol'], assetClass, ...(description ? { description } : {}) });
  }
  return out;
}
