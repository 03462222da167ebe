import type { Logger } from 'pino';

/** Hooks run by ascending phase; hooks of one phase run concurrently. */
export const SHUTDOWN_PHASE = {
  /** Nest apps: stop consuming, finish in-flight work, close HTTP, close DB pools. */
  SERVICES: 100,
  /** Shared bus / cache / embedded PostgreSQL. */
  INFRA: 200,
  /** Flush spans, flush logs. */
  TELEMETRY: 300,
} as const;

export interface ProcessShutdownHook {
  name: string;
  phase: number;
  run(reason: string): Promise<void>;
}

export interface SignalHandlingOptions {
  logger?: Logger;
  /** Force exit(1) when shutdown takes longer (default 25 s, inside Kubernetes' 30 s grace period). */
  timeoutMs?: number;
  signals?: NodeJS.Signals[];
  /** Replaced in tests. */
  exit?: (code: number) => void;
}

const hooks = new Set<ProcessShutdownHook>();
let installed: { signals: NodeJS.Signals[]; listener: (signal: NodeJS.Signals) => void } | undefined;
let running: Promise<number> | undefined;

/** Registers a hook for the process shutdown; returns its unregister function. */
export function onProcessShutdown(hook: ProcessShutdownHook): () => void {
  hooks.add(hook);
  return () => hooks.delete(hook);
}

/**
 * One SIGTERM/SIGINT listener per process (several Nest apps may share it): the first signal runs every
 * hook ({@link runProcessShutdown}), then exits 0 (1 when a hook failed or the timeout fired). Further
 * signals while shutting down are ignored. Idempotent.
 */
export function installSignalHandlers(options: SignalHandlingOptions = {}): void {
  if (installed) return;
  const signals = options.signals ?? ['SIGTERM', 'SIGINT'];
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const listener = (signal: NodeJS.Signals) => {
    if (running) {
      options.logger?.warn({ signal }, 'shutdown already in progress');
      return;
    }
    options.logger?.info({ signal }, 'shutdown requested');
    const timeoutMs = options.timeoutMs ?? 25_000;
    const timer = setTimeout(() => {
      options.logger?.error({ signal, timeout_ms: timeoutMs }, 'graceful shutdown timed out');
      exit(1);
    }, timeoutMs);
    timer.unref();
    void runProcessShutdown(signal, options.logger).then((code) => {
      clearTimeout(timer);
      exit(code);
    });
  };
  for (const signal of signals) process.on(signal, listener);
  installed = { signals, listener };
}

/** Removes the listeners installed by {@link installSignalHandlers}. */
export function uninstallSignalHandlers(): void {
  if (!installed) return;
  for (const signal of installed.signals) process.removeListener(signal, installed.listener);
  installed = undefined;
}

/** Runs the registered hooks once (by phase); resolves with the exit code to use. */
export function runProcessShutdown(reason: string, logger?: Logger): Promise<number> {
  running ??= (async () => {
    let code = 0;
    const phases = [...new Set([...hooks].map((h) => h.phase))].sort((a, b) => a - b);
    for (const phase of phases) {
      const batch = [...hooks].filter((h) => h.phase === phase);
      const results = await Promise.allSettled(batch.map((h) => h.run(reason)));
      results.forEach((result, i) => {
        if (result.status === 'rejected') {
          code = 1;
          logger?.error({ err: result.reason, hook: batch[i]?.name }, 'shutdown step failed');
        }
      });
      for (const h of batch) hooks.delete(h);
    }
    logger?.info({ reason, exit_code: code }, 'shutdown complete');
    return code;
  })();
  return running;
}
