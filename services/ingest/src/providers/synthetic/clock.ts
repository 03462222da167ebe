/** Market-time clocks for live/replay emission. `now()` is market time (epoch ms UTC). */
export interface MarketClock {
  now(): number;
  /** Resolves once market time has reached `marketMs`; rejects with the signal's reason when aborted. */
  waitUntil(marketMs: number, signal?: AbortSignal): Promise<void>;
}

function abortError(signal: AbortSignal): unknown {
  return signal.reason ?? new Error('aborted');
}

/** Market time running `speed` times faster than real time (e.g. speed 3600: one market hour per second). */
export class AcceleratedClock implements MarketClock {
  private readonly realStart: number;
  private readonly startMarketMs: number;
  private readonly speed: number;
  private readonly realNow: () => number;

  constructor(options: { startMarketMs?: number; speed?: number; realNow?: () => number } = {}) {
    this.realNow = options.realNow ?? Date.now;
    this.realStart = this.realNow();
    this.startMarketMs = options.startMarketMs ?? this.realStart;
    this.speed = options.speed ?? 1;
    if (!(this.speed > 0)) throw new RangeError('speed must be > 0');
  }

  now(): number {
    return this.startMarketMs + (this.realNow() - this.realStart) * this.speed;
  }

  async waitUntil(marketMs: number, signal?: AbortSignal): Promise<void> {
    while (this.now() < marketMs) {
      if (signal?.aborted) throw abortError(signal);
      const realMs = Math.max(1, Math.ceil((marketMs - this.now()) / this.speed));
      await new Promise<void>((resolve, reject) => {
        const onAbort = () => {
          clearTimeout(timer);
          reject(abortError(signal as AbortSignal));
        };
        const timer = setTimeout(() => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        }, realMs);
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    }
  }
}

/** A clock moved by hand (tests): waiters resolve as soon as `set`/`advance` passes their time. */
export class ManualClock implements MarketClock {
  private waiters: Array<{ at: number; resolve: () => void }> = [];

  constructor(private current: number) {}

  now(): number {
    return this.current;
  }

  set(ms: number): void {
    this.current = ms;
    const due = this.waiters.filter((w) => w.at <= ms);
    this.waiters = this.waiters.filter((w) => w.at > ms);
    for (const w of due) w.resolve();
  }

  advance(ms: number): void {
    this.set(this.current + ms);
  }

  /** Number of pending waiters (lets tests wait until a consumer is parked). */
  get pending(): number {
    return this.waiters.length;
  }

  waitUntil(marketMs: number, signal?: AbortSignal): Promise<void> {
    if (this.current >= marketMs) return Promise.resolve();
    if (signal?.aborted) return Promise.reject(abortError(signal));
    return new Promise<void>((resolve, reject) => {
      const waiter = {
        at: marketMs,
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = () => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(abortError(signal as AbortSignal));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }
}
