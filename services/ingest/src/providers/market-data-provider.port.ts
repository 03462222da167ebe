/**
 * The data-source port of seed 003 ("データソース抽象化レイヤ v1"). Every adapter returns canonical data
 * only; whatever is provider-specific travels in `metadata`.
 */
import type { CanonicalBar, CanonicalTick, Timeframe } from '@noctria/canonical-bar';

export interface FetchTimeSeriesRequest {
  symbol: string;
  timeframe: Timeframe;
  /** Inclusive bar-open bound, epoch ms UTC. */
  startMs: number;
  /** Exclusive bar-open bound, epoch ms UTC. */
  endMs: number;
  limit?: number;
  ingestRunId: string;
  signal?: AbortSignal;
}

/** A row the adapter could not turn into a canonical bar; kept and reported, never silently dropped. */
export interface RejectedRow {
  errorId: string;
  reason: string;
  /** 1-based line number for files, index for API payloads. */
  line?: number;
  /** For chunked API fetches: which request (0-based) the row came from; `line` is then the index inside it. */
  chunk?: number;
  raw?: string;
}

export interface FetchResult {
  bars: CanonicalBar[];
  rejected: RejectedRow[];
  /** Raw provider response kept for the short-retention raw store (may be omitted by file adapters). */
  raw?: { contentType: string; body: string };
  latencyMs: number;
}

export interface SymbolMeta {
  symbol: string;
  symbolSource: string;
  assetClass: string;
  description?: string;
}

export interface ProviderCapabilities {
  timeframes: Timeframe[];
  assets: string[];
  limits: { maxBarsPerRequest: number };
  latencyProfile: 'realtime' | 'delayed' | 'batch';
}

export interface RateLimitInfo {
  restQps: number;
  wsChannels: number;
  burst: number;
  policy: string;
}

export interface ProviderHealth {
  status: 'up' | 'degraded' | 'down';
  details: Record<string, unknown>;
}

export interface QuoteStreamHandle {
  /** Canonical ticks as they arrive. */
  ticks: AsyncIterable<CanonicalTick>;
  close(): Promise<void>;
}

export interface StreamQuotesOptions {
  signal?: AbortSignal;
  /**
   * Called at each reconnect attempt of the stream (a dropped socket), in addition to any handler the adapter was
   * configured with: the live stream re-syncs the affected bars over REST.
   */
  onReconnect?: (sourceId: string, attempt: number) => void;
}

export interface MarketDataProvider {
  readonly sourceId: string;
  readonly providerVersion: string;
  fetchTimeSeries(request: FetchTimeSeriesRequest): Promise<FetchResult>;
  streamQuotes(symbols: string[], options: StreamQuotesOptions): Promise<QuoteStreamHandle>;
  listSymbols(filters?: { assetClass?: string; search?: string }): Promise<SymbolMeta[]>;
  getCapabilities(): ProviderCapabilities;
  getRateLimit(): RateLimitInfo;
  healthCheck(): Promise<ProviderHealth>;
}
