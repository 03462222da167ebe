export interface WaitForOptions {
  /** Deadline (default 10 s). */
  timeoutMs?: number;
  /** Pause between polls (default 25 ms). */
  intervalMs?: number;
  /** What is being waited for, used in the timeout error; a function is evaluated only on timeout (late diagnostics). */
  message?: string | (() => string);
}

/**
 * Polls `predicate` until it returns a truthy value (returned) or the deadline passes (throws an error naming
 * `message`, the number of attempts, the last value and the last error the predicate threw).
 */
export async function waitFor<T>(predicate: () => T | Promise<T>, options: WaitForOptions = {}): Promise<NonNullable<T>> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const intervalMs = options.intervalMs ?? 25;
  const deadline = Date.now() + timeoutMs;
  let attempts = 0;
  let lastError: unknown;
  let lastValue: unknown;
  for (;;) {
    attempts++;
    try {
      const v = await predicate();
      if (v) return v as NonNullable<T>;
      lastValue = v;
      lastError = undefined;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, Math.min(intervalMs, Math.max(0, deadline - Date.now()))));
  }
  const what = (typeof options.message === 'function' ? options.message() : options.message) ?? 'condition';
  const detail =
    lastError !== undefined
      ? `last error: ${lastError instanceof Error ? lastError.message : String(lastError)}`
      : `last value: ${JSON.stringify(lastValue)}`;
  throw new Error(`waitFor timed out after ${timeoutMs} ms (${attempts} attempts) waiting for ${what}; ${detail}`, {
    cause: lastError,
  });
}
