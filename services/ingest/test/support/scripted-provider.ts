/**
 * An in-memory MarketDataProvider whose fetch outcomes are scripted call by call — for resilience, failover and
 * pipeline tests that need precise failure sequences without sockets.
 */
import type { CanonicalBar, Timeframe } from '@noctria/canonical-bar';
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

export class ScriptedProvider implements MarketDataProvider {
  readonly providerVersion = 'scripted/1';
  readonly calls: FetchTimeSeriesRequest[] = [];
  private readonly script: ScriptedOutcome[] = [];

  constructor(
    readonly sourceId: string,
    private readonly opts: { timeframes?: Timeframe[]; rateLimit?: RateLimitInfo; otherwise?: ScriptedOutcome } = {},
  ) {}

  /** Outcomes of the next calls, in order; afterwards calls use `otherwise` (default 'ok'). */
  then(...outcomes: ScriptedOutcome[]): this {
    this.script.push(...outcomes);
    return this;
  }

  async fetchTimeSeries(req: FetchTimeSeriesRequest): Promise<FetchResult> {
    this.calls.push(req);
    const outcome = this.script.shift() ?? this.opts.otherwise ?? 'ok';
    if (outcome !== 'ok') throw outcome;
    const bar: CanonicalBar = {
      ts_utc: new Date(req.startMs).toISOString(),
      symbol: req.symbol,
      timeframe: req.timeframe,
      open: 1,
      high: 1,
      low: 1,
      close: 1,
      volume: null,
      quality_flag: 'ok',
      source_id: this.sourceId,
      ingest_run_id: req.ingestRunId,
      metadata: {},
    };
    return { bars: [bar], rejected: [], latencyMs: 0 };
  }

  async streamQuotes(): Promise<QuoteStreamHandle> {
    throw new ProviderError('DATA_SRC_UNSUPPORTED', 'scripted provider has no stream', { retryable: false });
  }

  async listSymbols(): Promise<SymbolMeta[]> {
    return [];
  }

  getCapabilities(): ProviderCapabilities {
    return { timeframes: this.opts.timeframes ?? ['15m', '1h', '4h'], assets: ['FX'], limits: { maxBarsPerRequest: 5000 }, latencyProfile: 'realtime' };
  }

  getRateLimit(): RateLimitInfo {
    return this.opts.rateLimit ?? { restQps: Number.POSITIVE_INFINITY, wsChannels: 0, burst: 1, policy: 'none' };
  }

  async healthCheck(): Promise<ProviderHealth> {
    return { status: 'up', details: {} };
  }
}
