/**
 * Retry of a chunk's store step after a transient database failure (connection lost, server restarting,
 * serialization failure, deadlock, pool exhausted): the transaction rolled back as a whole, so re-running the
 * step is safe — and a chunk must never be dropped because one connection died. Backoff is exponential with
 * jitter; an abort signal stops the wait at once.
 */
export interface StoreRetryOptions {
  /** Attempts in total (first try included). Default 6. */
  attempts?: number;
  /** First backoff delay. Default 200 ms. */
  initialDelayMs?: number;
  /** Backoff ceiling. Default 5 000 ms. */
  maxDelayMs?: number;
  random?: () => number;
}

/** SQLSTATEs a client is expected to retry (whole transaction): class 08, admin/crash shutdown, 40001, 40P01, 53300. */
const RETRYABLE_SQLSTATE = /^(08...|57P0[123]|40001|40P01|53300)$/;
const RETRYABLE_NODE_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH']);
const RETRYABLE_MESSAGES = [
  'Connection terminated',
  'connection error and is not queryable',
  'timeout exceeded when trying to connect',
  'Client was closed and is not queryable',
  'terminating connection',
];

/** True for failures a re-run of the same transaction can cure (the cause chain is inspected too). */
export function isTransientDbError(err: unknown, depth = 0): boolean {
  if (err === null || typeof err !== 'object' || depth > 5) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && (RETRYABLE_SQLSTATE.test(code) || RETRYABLE_NODE_CODES.has(code))) return true;
  const message = (err as { message?: unknown }).message;
  if (typeof message === 'string' && RETRYABLE_MESSAGES.some((m) => message.includes(m))) return true;
  return isTransientDbError((err as { cause?: unknown }).cause, depth + 1);
}

export function storeRetryDelayMs(attempt: number, o: Required<Pick<StoreRetryOptions, 'initialDelayMs' | 'maxDelayMs' | 'random'>>): number {
  const base = Math.min(o.maxDelayMs, o.initialDelayMs * 2 ** (attempt - 1));
  return Math.round(base * (0.8 + 0.4 * o.random()));
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Runs `fn`, re-running it after transient database errors with backoff; other errors (and the last one) propagate. */
export async function withStoreRetry<T>(
  fn: () => Promise<T>,
  options: StoreRetryOptions & { signal?: AbortSignal; onRetry?: (err: unknown, attempt: number, delayMs: number) => void } = {},
): Promise<T> {
  const o = {
    attempts: options.attempts ?? 6,
    initialDelayMs: options.initialDelayMs ?? 200,
    maxDelayMs: options.maxDelayMs ?? 5_000,
    random: options.random ?? Math.random,
  };
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= o.attempts || !isTransientDbError(err) || options.signal?.aborted) throw err;
      const delayMs = storeRetryDelayMs(attempt, o);
      options.onRetry?.(err, attempt, delayMs);
      await sleep(delayMs, options.signal);
    }
  }
}
