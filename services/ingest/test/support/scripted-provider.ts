/**
 * A deterministic in-memory MarketDataProvider for pipeline, resilience and failover tests: a seeded random walk
 * on the calendar grid with bars that can be removed (gaps), distorted (outliers) or rejected, and fetch outcomes
 * scripted call by call (`then(transientError(), 'ok', …)`, `otherwise`, `failOnCall`) for precise failure
 * sequences without sockets. It implements the provider port only; it is not a stand-in for ingest code under test.
 */
import { expectedBarOpens, formatTsUtc, type Calendar, type CanonicalBar, type Timeframe } from '@noctria/canonical-bar';
import { ProviderError } from '../../src/providers/errors.js';
import type {
  FetchResult,
  FetchTimeSeriesRequest,
  MarketDataProvider,
  ProviderCapabilities,
  ProviderHealth,
  QuoteStreamHandle,
  RateLimitInfo,
  SymbolMeta,
} from '../../src/providers/market-data-provider.port.js';

export type ScriptedOutcome = 'ok' | ProviderError | Error;

export function transientError(id = 'DATA_API_HTTP5XX', extra: { retryAfterMs?: number; status?: number } = {}): ProviderError {
  return new ProviderError(id, `scripted ${id}`, { retryable: true, ...extra });
}

export function permanentError(id = 'DATA_API_STATUS', status = 400): ProviderError {
  return new ProviderError(id, `scripted ${id}`, { retryable: false, status });
}

export interface ScriptedProviderOptions {
  seed?: number;
  calendar?: Calendar;
  /** Open times (ms) never returned (for `gapSymbols`, default every symbol). */
  gaps?: Set<number>;
  gapSymbols?: string[];
  /** Open time → close multiplier (distorted bars) (for `distortSymbols`, default every symbol). */
  distort?: Map<number, number>;
  distortSymbols?: string[];
  /** Throw on this 1-based call number. */
  failOnCall?: number;
  /** Extra raw rows appended to results as rejected by the adapter. */
  rejectedPerCall?: number;
  /** Outcome of calls once the `then(...)` script is used up (default 'ok'). */
  otherwise?: ScriptedOutcome;
  timeframes?: Timeframe[];
  rateLimit?: RateLimitInfo;
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

export class ScriptedProvider implements MarketDataProvider {
  readonly providerVersion = 'scripted/1';
  /** Every fetch request, in order. */
  readonly calls: FetchTimeSeriesRequest[] = [];
  private readonly script: ScriptedOutcome[] = [];

  constructor(
    readonly sourceId = 'scripted',
    public options: ScriptedProviderOptions = {},
  ) {}

  /** Outcomes of the next calls, in order; afterwards calls use `otherwise` (default 'ok'). */
  then(...outcomes: ScriptedOutcome[]): this {
    this.script.push(...outcomes);
    return this;
  }

  /** The undistorted bar at `openMs` (pure function of seed, symbol, timeframe, time). */
  truth(symbol: string, timeframe: Timeframe, openMs: number): CanonicalBar {
    const rnd = mulberry32((this.options.seed ?? 7) ^ hash(`${symbol}|${timeframe}|${openMs}`));
    const base = symbol.startsWith('XAU') ? 2000 : symbol.startsWith('XAG') ? 25 : 100;
    // A smooth deterministic level plus small noise: a log-price random-walk proxy that needs no state.
    const level = base * (1 + 0.02 * Math.sin(openMs / (86_400_000 * 9)) + 0.01 * Math.sin(openMs / (86_400_000 * 2.3)));
    const close = Number((level * (1 + (rnd() - 0.5) * 0.002)).toFixed(6));
    const open = Number((level * (1 + (rnd() - 0.5) * 0.002)).toFixed(6));
    const high = Number((Math.max(open, close) * (1 + rnd() * 0.001)).toFixed(6));
    const low = Number((Math.min(open, close) * (1 - rnd() * 0.001)).toFixed(6));
    return {
      ts_utc: formatTsUtc(openMs),
      symbol,
      timeframe,
      open,
      high,
      low,
      close,
      volume: null,
      quality_flag: 'ok',
      source_id: this.sourceId,
      ingest_run_id: '',
      metadata: { symbol_source: symbol, provider_version: this.providerVersion },
    };
  }

  async fetchTimeSeries(req: FetchTimeSeriesRequest): Promise<FetchResult> {
    this.calls.push(req);
    const o = this.options;
    if (o.failOnCall === this.calls.length) throw new Error(`scripted failure on call ${this.calls.length}`);
    const outcome = this.script.shift() ?? o.otherwise ?? 'ok';
    if (outcome !== 'ok') throw outcome;
    const bars: CanonicalBar[] = [];
    for (const t of expectedBarOpens(req.startMs, req.endMs, req.timeframe, o.calendar ?? '24/5')) {
      if (o.gaps?.has(t) && (!o.gapSymbols || o.gapSymbols.includes(req.symbol))) continue;
      const b = { ...this.truth(req.symbol, req.timeframe, t), ingest_run_id: req.ingestRunId };
      const k = !o.distortSymbols || o.distortSymbols.includes(req.symbol) ? o.distort?.get(t) : undefined;
      if (k !== undefined) {
        b.close = Number((b.close * k).toFixed(6));
        b.high = Math.max(b.high, b.close, b.open);
        b.low = Math.min(b.low, b.close, b.open);
      }
      bars.push(b);
    }
    const rejected = Array.from({ length: o.rejectedPerCall ?? 0 }, (_, i) => ({
      errorId: 'DATA_DQ_FIELD',
      reason: `row ${i}: close is not a number`,
      line: i + 1,
      raw: `{"close":"abc"}`,
    }));
    return { bars, rejected, raw: { contentType: 'application/json', body: JSON.stringify({ n: bars.length }) }, latencyMs: 1 };
  }

  async streamQuotes(): Promise<QuoteStreamHandle> {
    throw new ProviderError('DATA_SRC_UNSUPPORTED', 'scripted provider has no stream', { retryable: false });
  }

  async listSymbols(): Promise<SymbolMeta[]> {
    return [];
  }

  getCapabilities(): ProviderCapabilities {
    return { timeframes: this.options.timeframes ?? ['15m', '1h', '4h'], assets: ['FX'], limits: { maxBarsPerRequest: 5000 }, latencyProfile: 'batch' };
  }

  getRateLimit(): RateLimitInfo {
    return this.options.rateLimit ?? { restQps: Number.POSITIVE_INFINITY, wsChannels: 0, burst: 1, policy: 'none' };
  }

  async healthCheck(): Promise<ProviderHealth> {
    return { status: 'up', details: {} };
  }
}

/** Expected bar opens of the calendar grid in [fromMs, toMs). */
export function hourGrid(fromMs: number, toMs: number, tf: Timeframe = '1h', calendar: Calendar = '24/5'): number[] {
  return [...expectedBarOpens(fromMs, toMs, tf, calendar)];
}
