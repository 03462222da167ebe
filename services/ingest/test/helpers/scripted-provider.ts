/**
 * A deterministic in-memory MarketDataProvider for pipeline tests: a seeded random walk on the calendar grid,
 * with bars that can be removed (gaps), distorted (outliers), failed on a given call, or replaced (clean
 * re-fetch). It implements the provider port only; it is not a stand-in for any ingest code under test.
 */
import { expectedBarOpens, formatTsUtc, timeframeMs, type Calendar, type CanonicalBar, type Timeframe } from '@noctria/canonical-bar';
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

export interface ScriptedProviderOptions {
  sourceId?: string;
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
  readonly sourceId: string;
  readonly providerVersion = 'scripted-1';
  calls = 0;
  readonly requests: FetchTimeSeriesRequest[] = [];

  constructor(public options: ScriptedProviderOptions = {}) {
    this.sourceId = options.sourceId ?? 'scripted';
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
    this.calls += 1;
    this.requests.push(req);
    if (this.options.failOnCall === this.calls) throw new Error(`scripted failure on call ${this.calls}`);
    const bars: CanonicalBar[] = [];
    for (const t of expectedBarOpens(req.startMs, req.endMs, req.timeframe, this.options.calendar ?? '24/5')) {
      const o = this.options;
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
    const rejected = Array.from({ length: this.options.rejectedPerCall ?? 0 }, (_, i) => ({
      errorId: 'DATA_DQ_FIELD',
      reason: `row ${i}: close is not a number`,
      line: i + 1,
      raw: `{"close":"abc"}`,
    }));
    return { bars, rejected, raw: { contentType: 'application/json', body: JSON.stringify({ n: bars.length }) }, latencyMs: 1 };
  }

  async streamQuotes(): Promise<QuoteStreamHandle> {
    throw new Error('ScriptedProvider has no quote stream');
  }
  async listSymbols(): Promise<SymbolMeta[]> {
    return [];
  }
  getCapabilities(): ProviderCapabilities {
    return { timeframes: ['15m', '1h', '4h'], assets: ['FX'], limits: { maxBarsPerRequest: 5000 }, latencyProfile: 'batch' };
  }
  getRateLimit(): RateLimitInfo {
    return { restQps: 1000, wsChannels: 0, burst: 1000, policy: 'none' };
  }
  async healthCheck(): Promise<ProviderHealth> {
    return { status: 'up', details: {} };
  }
}

export function hourGrid(fromMs: number, toMs: number, tf: Timeframe = '1h', calendar: Calendar = '24/5'): number[] {
  void timeframeMs(tf);
  return [...expectedBarOpens(fromMs, toMs, tf, calendar)];
}
