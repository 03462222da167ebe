/** Token bucket for a source's REST budget: `ratePerSec` refill (rest_qps), capacity `burst`. */
export class TokenBucket {
  private tokens: number;
  private last: number;
  private readonly now: () => number;

  constructor(
    readonly ratePerSec: number,
    readonly burst: number,
    options: { now?: () => number } = {},
  ) {
    if (!(ratePerSec > 0) || !(burst >= 1)) throw new RangeError('TokenBucket needs ratePerSec > 0 and burst ≥ 1');
    this.now = options.now ?? Date.now;
    this.tokens = burst;
    this.last = this.now();
  }

  private refill(): void {
    const t = this.now();
    if (t > this.last) {
      this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) / 1000) * this.ratePerSec);
      this.last = t;
    }
  }

  available(): number {
    this.refill();
    return this.tokens;
  }

  tryTake(n = 1): boolean {
    this.refill();
    if (this.tokens >= n) {
      this.tokens -= n;
      return true;
    }
    return false;
  }

  /** Milliseconds until `n` tokens are available (0 when they are now). */
  waitMs(n = 1): number {
    this.refill();
    return this.tokens >= n ? 0 : Math.ceil(((n - this.tokens) / this.ratePerSec) * 1000);
  }

  async take(n = 1, signal?: AbortSignal): Promise<void> {
    while (!this.tryTake(n)) {
      if (signal?.aborted) throw signal.reason ?? new Error('aborted');
      const ms = Math.max(1, this.waitMs(n));
      await new Promise<void>((resolve, reject) => {
        const onAbort = () => {
          clearTimeout(timer);
          reject(signal?.reason ?? new Error('aborted'));
        };
        const timer = setTimeout(() => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        }, ms);
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    }
  }
}
