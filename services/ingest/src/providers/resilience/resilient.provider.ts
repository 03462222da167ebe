/**
 * Retry + circuit breaker + rate budget around any MarketDataProvider (seed 003 監視・運用 v1):
 * exponential backoff with jitter (1 s, 2 s, 4 s … ≤ 60 s), at most `retry_max` retries of retryable errors,
 * Retry-After honoured, one breaker per source × timeframe (Open → Half-Open after `half_open_after_seconds` →
 * Closed), and a token bucket from `rest_qps`/`burst`. Built on cockatiel 3: retry wraps the breaker, so every
 * failed attempt counts toward opening it and an open breaker stops the retries at once.
 */
import {
  BrokenCircuitError,
  CircuitState,
  ConsecutiveBreaker,
  DelegateBackoff,
  IsolatedCircuitError,
  circuitBreaker,
  handleWhen,
  retry,
  type CircuitBreakerPolicy,
  type IRetryBackoffContext,
} from 'cockatiel';
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
import { TokenBucket } from './token-bucket.js';

export type BreakerState = 'closed' | 'open' | 'half-open' | 'isolated';

export interface ResilienceOptions {
  /** Retries after the first attempt (pipeline_policy.yaml `retry_max`). Default 5. */
  retryMax?: number;
  /** `circuit_breaker.open_threshold_errors`. Default 5. */
  openThresholdErrors?: number;
  /** `circuit_breaker.half_open_after_seconds`. Default 120. */
  halfOpenAfterSeconds?: number;
  initialDelayMs?: number;
  /** `retry_backoff_max_seconds` × 1000. Default 60 000. */
  maxDelayMs?: number;
  /** ± fraction of each backoff delay randomised. Default 0.2. */
  jitter?: number;
  /** Upper bound for an honoured Retry-After. Default 300 000. */
  maxRetryAfterMs?: number;
  /** Multiplies every delay and the half-open wait (tests use e.g. 0.001). Default 1. */
  backoffScale?: number;
  random?: () => number;
  /** REST budget; default from the provider's getRateLimit(); `false` disables it. */
  rateLimit?: { restQps: number; burst: number } | false;
  now?: () => number;
  onRetry?: (sourceId: string, errorId: string, info: { attempt: number; delayMs: number; key: string }) => void;
  onBreakerStateChange?: (sourceId: string, key: string, state: BreakerState) => void;
}

export function errorIdOf(err: unknown): string {
  return isProviderError(err) ? err.id : err instanceof Error ? err.name : 'UNKNOWN';
}

const STATE_NAMES: Record<CircuitState, BreakerState> = {
  [CircuitState.Closed]: 'closed',
  [CircuitState.Open]: 'open',
  [CircuitState.HalfOpen]: 'half-open',
  [CircuitState.Isolated]: 'isolated',
};

/** Delay before retry `attempt` (1-based): Retry-After when given, else exponential with jitter, scaled. */
export function backoffDelayMs(attempt: number, err: unknown, o: Required<Pick<ResilienceOptions, 'initialDelayMs' | 'maxDelayMs' | 'jitter' | 'maxRetryAfterMs' | 'backoffScale' | 'random'>>): number {
  const base = Math.min(o.maxDelayMs, o.initialDelayMs * 2 ** (attempt - 1));
  const jittered = Math.min(o.maxDelayMs, base * (1 + o.jitter * (2 * o.random() - 1)));
  const retryAfter = isProviderError(err) && err.retryAfterMs !== undefined ? Math.min(err.retryAfterMs, o.maxRetryAfterMs) : 0;
  return Math.max(jittered, retryAfter) * o.backoffScale;
}

export class ResilientProvider implements MarketDataProvider {
  readonly sourceId: string;
  readonly providerVersion: string;
  private readonly breakers = new Map<string, { policy: CircuitBreakerPolicy; openedAt: number }>();
  private readonly bucket: TokenBucket | undefined;
  private readonly o: Required<Omit<ResilienceOptions, 'rateLimit' | 'onRetry' | 'onBreakerStateChange'>> & Pick<ResilienceOptions, 'onRetry' | 'onBreakerStateChange'>;

  constructor(
    readonly inner: MarketDataProvider,
    options: ResilienceOptions = {},
  ) {
    this.sourceId = inner.sourceId;
    this.providerVersion = inner.providerVersion;
    this.o = {
      retryMax: options.retryMax ?? 5,
      openThresholdErrors: options.openThresholdErrors ?? 5,
      halfOpenAfterSeconds: options.halfOpenAfterSeconds ?? 120,
      initialDelayMs: options.initialDelayMs ?? 1000,
      maxDelayMs: options.maxDelayMs ?? 60_000,
      jitter: options.jitter ?? 0.2,
      maxRetryAfterMs: options.maxRetryAfterMs ?? 300_000,
      backoffScale: options.backoffScale ?? 1,
      random: options.random ?? Math.random,
      now: options.now ?? Date.now,
      onRetry: options.onRetry,
      onBreakerStateChange: options.onBreakerStateChange,
    };
    const rl = options.rateLimit === undefined ? inner.getRateLimit() : options.rateLimit;
    if (rl && Number.isFinite(rl.restQps) && rl.restQps > 0) this.bucket = new TokenBucket(rl.restQps, Math.max(1, rl.burst), { now: this.o.now });
  }

  private breaker(key: string): { policy: CircuitBreakerPolicy; openedAt: number } {
    let b = this.breakers.get(key);
    if (!b) {
      const policy = circuitBreaker(
        handleWhen((err) => isProviderError(err) && err.retryable),
        { halfOpenAfter: this.o.halfOpenAfterSeconds * 1000 * this.o.backoffScale, breaker: new ConsecutiveBreaker(this.o.openThresholdErrors) },
      );
      const entry = { policy, openedAt: 0 };
      policy.onStateChange((s) => {
        if (s === CircuitState.Open) entry.openedAt = Date.now();
        this.o.onBreakerStateChange?.(this.sourceId, key, STATE_NAMES[s]);
      });
      this.breakers.set(key, entry);
      b = entry;
    }
    return b;
  }

  /** Breaker state for a timeframe (or 'ws' / 'meta'). */
  breakerState(key: string): BreakerState {
    const b = this.breakers.get(key);
    return b ? STATE_NAMES[b.policy.state] : 'closed';
  }

  /** True while the breaker is open and its half-open wait has not yet elapsed (calls would be refused). */
  isCircuitOpen(key: string): boolean {
    const b = this.breakers.get(key);
    if (!b || b.policy.state !== CircuitState.Open) return b?.policy.state === CircuitState.Isolated;
    return Date.now() - b.openedAt < this.o.halfOpenAfterSeconds * 1000 * this.o.backoffScale;
  }

  private async run<T>(key: string, fn: (signal: AbortSignal) => Promise<T>, signal?: AbortSignal, useBudget = true): Promise<T> {
    const breaker = this.breaker(key).policy;
    const policy = retry(
      handleWhen((err) => isProviderError(err) && err.retryable),
      {
        maxAttempts: this.o.retryMax,
        backoff: new DelegateBackoff<IRetryBackoffContext<unknown>>((ctx) =>
          backoffDelayMs(ctx.attempt, 'error' in ctx.result ? ctx.result.error : undefined, this.o),
        ),
      },
    );
    policy.onRetry((e) => {
      if ('error' in e) this.o.onRetry?.(this.sourceId, errorIdOf(e.error), { attempt: e.attempt, delayMs: e.delay, key });
    });
    return policy.execute(async ({ signal: s }) => {
      if (useBudget && this.bucket) await this.bucket.take(1, s);
      try {
        return await breaker.execute(({ signal: inner }) => fn(inner), s);
      } catch (err) {
        if (err instanceof BrokenCircuitError || err instanceof IsolatedCircuitError) {
          throw new ProviderError(PROVIDER_ERROR_IDS.circuitOpen, `${this.sourceId}/${key}: circuit open`, { retryable: false, sourceId: this.sourceId, cause: err });
        }
        throw err;
      }
    }, signal);
  }

  fetchTimeSeries(req: FetchTimeSeriesRequest): Promise<FetchResult> {
    return this.run(req.timeframe, (signal) => this.inner.fetchTimeSeries({ ...req, signal: req.signal ? AbortSignal.any([req.signal, signal]) : signal }), req.signal);
  }

  streamQuotes(symbols: string[], options: StreamQuotesOptions = {}): Promise<QuoteStreamHandle> {
    return this.run('ws', () => this.inner.streamQuotes(symbols, options), options.signal, false);
  }

  listSymbols(filters?: { assetClass?: string; search?: string }): Promise<SymbolMeta[]> {
    return this.run('meta', () => this.inner.listSymbols(filters));
  }

  getCapabilities(): ProviderCapabilities {
    return this.inner.getCapabilities();
  }

  getRateLimit(): RateLimitInfo {
    return this.inner.getRateLimit();
  }

  async healthCheck(): Promise<ProviderHealth> {
    const h = await this.inner.healthCheck();
    const open = [...this.breakers.entries()].filter(([, b]) => b.policy.state === CircuitState.Open).map(([k]) => k);
    return { status: h.status === 'up' && open.length > 0 ? 'degraded' : h.status, details: { ...h.details, openCircuits: open } };
  }
}
