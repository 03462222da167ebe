import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { ProviderError } from '../../src/providers/errors.js';
import { FailoverRouter } from '../../src/providers/resilience/failover-router.js';
import { ResilientProvider, backoffDelayMs } from '../../src/providers/resilience/resilient.provider.js';
import { TokenBucket } from '../../src/providers/resilience/token-bucket.js';
import { ScriptedProvider, permanentError, transientError } from '../support/scripted-provider.js';

const req = (timeframe: '1h' | '4h' = '1h') => ({ symbol: 'XAUUSD', timeframe, startMs: Date.UTC(2024, 0, 2), endMs: Date.UTC(2024, 0, 3), ingestRunId: 'r' });

/** Settles `p` while fake time advances in `stepMs` increments (no real waiting). */
async function settle<T>(p: Promise<T>, stepMs = 500, maxMs = 600_000): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  let done: { ok: true; value: T } | { ok: false; error: unknown } | undefined;
  p.then(
    (value) => (done = { ok: true, value }),
    (error: unknown) => (done = { ok: false, error }),
  );
  for (let t = 0; t <= maxMs && !done; t += stepMs) await jest.advanceTimersByTimeAsync(stepMs);
  if (!done) throw new Error('promise did not settle in fake time');
  return done;
}

beforeEach(() => {
  jest.useFakeTimers({ now: Date.UTC(2024, 0, 1) });
});
afterEach(() => {
  jest.useRealTimers();
});

describe('ResilientProvider retries', () => {
  it('retries retryable errors with 1 s, 2 s, 4 s backoff and counts each retry', async () => {
    const inner = new ScriptedProvider('td').then(transientError(), transientError('DATA_API_TIMEOUT'), transientError('DATA_API_PARSE'));
    const retries: Array<[string, string, number]> = [];
    const p = new ResilientProvider(inner, { jitter: 0, rateLimit: false, onRetry: (s, id, i) => retries.push([s, id, i.delayMs]) });
    const r = await settle(p.fetchTimeSeries(req()));
    expect(r.ok).toBe(true);
    expect(inner.calls).toHaveLength(4);
    expect(retries).toEqual([
      ['td', 'DATA_API_HTTP5XX', 1000],
      ['td', 'DATA_API_TIMEOUT', 2000],
      ['td', 'DATA_API_PARSE', 4000],
    ]);
  });

  it('gives up after retry_max retries and never retries permanent errors', async () => {
    const inner = new ScriptedProvider('td', { otherwise: transientError() });
    const p = new ResilientProvider(inner, { retryMax: 2, openThresholdErrors: 100, jitter: 0, rateLimit: false });
    const r = await settle(p.fetchTimeSeries(req()));
    expect(r.ok).toBe(false);
    expect(inner.calls).toHaveLength(3);
    const perm = new ScriptedProvider('td').then(permanentError());
    const retries: string[] = [];
    const q = new ResilientProvider(perm, { rateLimit: false, onRetry: (_s, id) => retries.push(id) });
    const r2 = await settle(q.fetchTimeSeries(req()));
    expect(r2.ok).toBe(false);
    expect((r2 as { error: ProviderError }).error.id).toBe('DATA_API_STATUS');
    expect(perm.calls).toHaveLength(1);
    expect(retries).toEqual([]);
  });

  it('honours Retry-After over a shorter backoff', async () => {
    const inner = new ScriptedProvider('td').then(transientError('DATA_API_RATELIM', { retryAfterMs: 7000, status: 429 }));
    const delays: number[] = [];
    const p = new ResilientProvider(inner, { jitter: 0, rateLimit: false, onRetry: (_s, _id, i) => delays.push(i.delayMs) });
    expect((await settle(p.fetchTimeSeries(req()))).ok).toBe(true);
    expect(delays).toEqual([7000]);
  });

  it('backoff doubles up to the 60 s cap, jitter stays within ±jitter, and scales', () => {
    const o = { initialDelayMs: 1000, maxDelayMs: 60_000, jitter: 0, maxRetryAfterMs: 300_000, backoffScale: 1, random: () => 0.5 };
    expect([1, 2, 3, 4, 5, 6, 7, 8].map((a) => backoffDelayMs(a, undefined, o))).toEqual([1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000]);
    expect(backoffDelayMs(3, undefined, { ...o, jitter: 0.2, random: () => 0 })).toBe(3200);
    expect(backoffDelayMs(3, undefined, { ...o, jitter: 0.2, random: () => 1 })).toBe(4800);
    expect(backoffDelayMs(3, undefined, { ...o, backoffScale: 0.001 })).toBeCloseTo(4, 10);
  });
});

describe('ResilientProvider circuit breaker', () => {
  it('opens after N consecutive failures per source×timeframe, refuses calls, half-opens and closes on success', async () => {
    const inner = new ScriptedProvider('td').then(transientError(), transientError(), transientError());
    const states: string[] = [];
    const p = new ResilientProvider(inner, {
      retryMax: 0,
      openThresholdErrors: 3,
      halfOpenAfterSeconds: 120,
      rateLimit: false,
      onBreakerStateChange: (_s, key, st) => states.push(`${key}:${st}`),
    });
    for (let i = 0; i < 3; i++) expect((await settle(p.fetchTimeSeries(req()))).ok).toBe(false);
    expect(p.breakerState('1h')).toBe('open');
    expect(p.isCircuitOpen('1h')).toBe(true);
    const refused = await settle(p.fetchTimeSeries(req()));
    expect((refused as { error: ProviderError }).error.id).toBe('DATA_API_CBOPEN');
    expect(inner.calls).toHaveLength(3);
    // Another timeframe has its own breaker.
    expect((await settle(p.fetchTimeSeries(req('4h')))).ok).toBe(true);
    expect(inner.calls).toHaveLength(4);
    await jest.advanceTimersByTimeAsync(120_000);
    expect(p.isCircuitOpen('1h')).toBe(false);
    expect((await settle(p.fetchTimeSeries(req()))).ok).toBe(true);
    expect(p.breakerState('1h')).toBe('closed');
    expect(states).toEqual(['1h:open', '1h:half-open', '1h:closed']);
  });

  it('a failed half-open probe re-opens the breaker', async () => {
    const inner = new ScriptedProvider('td', { otherwise: transientError() });
    const p = new ResilientProvider(inner, { retryMax: 0, openThresholdErrors: 2, halfOpenAfterSeconds: 10, rateLimit: false });
    await settle(p.fetchTimeSeries(req()));
    await settle(p.fetchTimeSeries(req()));
    expect(p.breakerState('1h')).toBe('open');
    await jest.advanceTimersByTimeAsync(10_000);
    await settle(p.fetchTimeSeries(req()));
    expect(inner.calls).toHaveLength(3);
    expect(p.breakerState('1h')).toBe('open');
    expect(p.isCircuitOpen('1h')).toBe(true);
  });
});

describe('FailoverRouter', () => {
  it('fails over to the secondary, skips the open primary, and returns to it after a successful half-open probe', async () => {
    const primaryInner = new ScriptedProvider('twelvedata').then(transientError(), transientError());
    const secondaryInner = new ScriptedProvider('secondary_x', { timeframes: ['1h'] });
    const failovers: string[] = [];
    const router = new FailoverRouter(
      [
        { provider: new ResilientProvider(secondaryInner, { rateLimit: false }), priority: 2 },
        { provider: new ResilientProvider(primaryInner, { retryMax: 0, openThresholdErrors: 2, halfOpenAfterSeconds: 120, rateLimit: false }), priority: 1 },
      ],
      { onFailover: (from, to, id) => failovers.push(`${from}->${to}:${id}`) },
    );
    const first = await router.fetchTimeSeries(req());
    expect(first.servedBy).toBe('secondary_x');
    expect(first.bars[0]?.source_id).toBe('secondary_x');
    expect(first.attempts).toEqual([{ sourceId: 'twelvedata', outcome: 'failed', errorId: 'DATA_API_HTTP5XX' }]);
    await router.fetchTimeSeries(req()); // second failure opens the primary's breaker
    expect(primaryInner.calls).toHaveLength(2);
    const third = await router.fetchTimeSeries(req());
    expect(third.servedBy).toBe('secondary_x');
    expect(third.attempts).toEqual([{ sourceId: 'twelvedata', outcome: 'skipped-open', errorId: 'DATA_API_CBOPEN' }]);
    expect(primaryInner.calls).toHaveLength(2);
    await jest.advanceTimersByTimeAsync(120_000);
    const back = await router.fetchTimeSeries(req());
    expect(back.servedBy).toBe('twelvedata');
    expect(back.attempts).toEqual([]);
    expect(primaryInner.calls).toHaveLength(3);
    expect(failovers).toEqual(['twelvedata->secondary_x:DATA_API_HTTP5XX', 'twelvedata->secondary_x:DATA_API_HTTP5XX', 'twelvedata->secondary_x:DATA_API_CBOPEN']);
  });

  it('skips sources that do not serve the timeframe and reports when every source failed', async () => {
    const a = new ScriptedProvider('a', { otherwise: permanentError('DATA_API_STATUS', 404) });
    const b = new ScriptedProvider('b', { timeframes: ['1h'] });
    const router = new FailoverRouter([
      { provider: a, priority: 1 },
      { provider: b, priority: 2 },
    ]);
    let err: unknown;
    try {
      await router.fetchTimeSeries(req('4h'));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ProviderError);
    expect((err as ProviderError).id).toBe('DATA_SRC_ALLFAILED');
    expect((err as ProviderError).message).toContain('b:skipped-unsupported');
    expect(b.calls).toHaveLength(0);
  });
});

describe('TokenBucket rate budget', () => {
  it('allows a burst, then refills at rest_qps', async () => {
    let now = 0;
    const bucket = new TokenBucket(10, 3, { now: () => now });
    expect([bucket.tryTake(), bucket.tryTake(), bucket.tryTake(), bucket.tryTake()]).toEqual([true, true, true, false]);
    expect(bucket.waitMs()).toBe(100);
    now = 100;
    expect(bucket.tryTake()).toBe(true);
    expect(bucket.tryTake()).toBe(false);
    now = 10_000;
    expect(bucket.available()).toBe(3);
  });

  it('ResilientProvider spends one token per attempt and waits when the budget is empty', async () => {
    const inner = new ScriptedProvider('td', { rateLimit: { restQps: 1, burst: 2, wsChannels: 0, policy: 'x' } });
    const p = new ResilientProvider(inner);
    await p.fetchTimeSeries(req());
    await p.fetchTimeSeries(req());
    const third = p.fetchTimeSeries(req());
    await jest.advanceTimersByTimeAsync(500);
    expect(inner.calls).toHaveLength(2);
    await jest.advanceTimersByTimeAsync(600);
    await third;
    expect(inner.calls).toHaveLength(3);
  });
});
