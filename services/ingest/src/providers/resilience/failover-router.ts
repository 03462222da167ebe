/**
 * Priority failover across sources (seed 003 マージ/フェイルオーバ戦略): try providers in ascending `priority`,
 * skip one whose circuit is open, fall back to the next, and return to the primary as soon as its breaker lets a
 * half-open probe through and it succeeds. Results say which source served them.
 */
import type { Timeframe } from '@noctria/canonical-bar';
import { ProviderError, PROVIDER_ERROR_IDS, isProviderError } from '../errors.js';
import type {
  FetchResult,
  FetchTimeSeriesRequest,
  MarketDataProvider,
  ProviderCapabilities,
  ProviderHealth,
  QuoteStreamHandle,
  StreamQuotesOptions,
  RateLimitInfo,
  SymbolMeta,
} from '../market-data-provider.port.js';
import { KNOWN_TIMEFRAMES_LIST } from '../internal/known-timeframes.js';
import { errorIdOf } from './resilient.provider.js';

export interface RoutedProvider {
  provider: MarketDataProvider & { isCircuitOpen?(key: string): boolean };
  priority: number;
}

export interface RouteAttempt {
  sourceId: string;
  outcome: 'skipped-open' | 'skipped-unsupported' | 'failed';
  errorId?: string;
}

export interface RoutedFetchResult extends FetchResult {
  servedBy: string;
  attempts: RouteAttempt[];
}

export class FailoverRouter implements MarketDataProvider {
  readonly sourceId = 'failover';
  readonly providerVersion: string;
  private readonly ordered: RoutedProvider[];

  constructor(
    providers: RoutedProvider[],
    private readonly options: { onFailover?: (from: string, to: string, errorId: string) => void } = {},
  ) {
    if (providers.length === 0) throw new RangeError('FailoverRouter needs at least one provider');
    this.ordered = [...providers].sort((a, b) => a.priority - b.priority);
    this.providerVersion = this.ordered.map((p) => `${p.provider.sourceId}@${p.provider.providerVersion}`).join(',');
  }

  private async route<T>(key: string, timeframe: Timeframe | undefined, call: (p: MarketDataProvider) => Promise<T>, signal?: AbortSignal): Promise<{ value: T; servedBy: string; attempts: RouteAttempt[] }> {
    const attempts: RouteAttempt[] = [];
    const errors: unknown[] = [];
    for (const { provider } of this.ordered) {
      if (timeframe && !provider.getCapabilities().timeframes.includes(timeframe)) {
        attempts.push({ sourceId: provider.sourceId, outcome: 'skipped-unsupported' });
        continue;
      }
      if (provider.isCircuitOpen?.(key)) {
        attempts.push({ sourceId: provider.sourceId, outcome: 'skipped-open', errorId: PROVIDER_ERROR_IDS.circuitOpen });
        continue;
      }
      try {
        const value = await call(provider);
        const failed = attempts.filter((a) => a.outcome !== 'skipped-unsupported');
        const last = failed.at(-1);
        if (last) this.options.onFailover?.(last.sourceId, provider.sourceId, last.errorId ?? 'unknown');
        return { value, servedBy: provider.sourceId, attempts };
      } catch (err) {
        if (signal?.aborted) throw err;
        errors.push(err);
        attempts.push({ sourceId: provider.sourceId, outcome: 'failed', errorId: errorIdOf(err) });
      }
    }
    const summary = attempts.map((a) => `${a.sourceId}:${a.outcome}${a.errorId ? `(${a.errorId})` : ''}`).join(', ');
    throw new ProviderError(PROVIDER_ERROR_IDS.allSourcesFailed, `no source could serve ${key}: ${summary}`, {
      retryable: errors.length === 0 || errors.some((e) => !isProviderError(e) || e.retryable || e.id === PROVIDER_ERROR_IDS.circuitOpen),
      cause: errors,
    });
  }

  async fetchTimeSeries(req: FetchTimeSeriesRequest): Promise<RoutedFetchResult> {
    const r = await this.route(req.timeframe, req.timeframe, (p) => p.fetchTimeSeries(req), req.signal);
    return { ...r.value, servedBy: r.servedBy, attempts: r.attempts };
  }

  async streamQuotes(symbols: string[], options: StreamQuotesOptions = {}): Promise<QuoteStreamHandle & { servedBy: string }> {
    const r = await this.route('ws', undefined, (p) => p.streamQuotes(symbols, options), options.signal);
    return { ...r.value, servedBy: r.servedBy };
  }

  async listSymbols(filters?: { assetClass?: string; search?: string }): Promise<SymbolMeta[]> {
    return (await this.route('meta', undefined, (p) => p.listSymbols(filters))).value;
  }

  getCapabilities(): ProviderCapabilities {
    const caps = this.ordered.map((p) => p.provider.getCapabilities());
    const tfs = new Set(caps.flatMap((c) => c.timeframes));
    return {
      timeframes: KNOWN_TIMEFRAMES_LIST.filter((t) => tfs.has(t)),
      assets: [...new Set(caps.flatMap((c) => c.assets))],
      limits: { maxBarsPerRequest: Math.min(...caps.map((c) => c.limits.maxBarsPerRequest)) },
      latencyProfile: (caps[0] as ProviderCapabilities).latencyProfile,
    };
  }

  getRateLimit(): RateLimitInfo {
    return this.ordered[0]?.provider.getRateLimit() as RateLimitInfo;
  }

  async healthCheck(): Promise<ProviderHealth> {
    const results = await Promise.all(this.ordered.map(async (p) => [p.provider.sourceId, await p.provider.healthCheck()] as const));
    const primaryUp = results[0]?.[1].status === 'up';
    const anyUp = results.some(([, h]) => h.status !== 'down');
    return { status: primaryUp ? 'up' : anyUp ? 'degraded' : 'down', details: Object.fromEntries(results) };
  }
}
