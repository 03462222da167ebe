import type { Kysely } from 'kysely';
import type { Bus } from '../bus/bus.port.js';
import { pingCache, type Cache } from '../cache/cache.js';
import { isDatabaseReachable } from '../db/database.js';

export type ReadinessCheckName = 'database' | 'bus' | 'cache';

export interface ReadinessTargets {
  db?: Kysely<unknown>;
  bus?: Bus;
  cache?: Cache;
}

export interface ReadinessCheck {
  name: ReadinessCheckName;
  /** Resolves true when reachable; never throws. */
  probe(): Promise<boolean>;
}

/** The probes behind /readyz: DB `select 1`, bus ping, cache PING (each bounded by `timeoutMs`). */
export function readinessChecks(targets: ReadinessTargets, timeoutMs = 2_000): ReadinessCheck[] {
  const checks: ReadinessCheck[] = [];
  const { db, bus, cache } = targets;
  if (db) checks.push({ name: 'database', probe: () => isDatabaseReachable(db, timeoutMs) });
  if (bus) checks.push({ name: 'bus', probe: () => withTimeout(bus.ping(), timeoutMs) });
  if (cache) checks.push({ name: 'cache', probe: () => pingCache(cache, timeoutMs) });
  return checks;
}

export interface ReadinessReport {
  ready: boolean;
  checks: Record<string, 'up' | 'down'>;
}

/** Runs every check concurrently (framework-free; the Nest controller uses Terminus over the same probes). */
export async function checkReadiness(checks: readonly ReadinessCheck[]): Promise<ReadinessReport> {
  const results = await Promise.all(checks.map(async (c) => [c.name, await c.probe()] as const));
  const report: ReadinessReport = { ready: results.every(([, ok]) => ok), checks: {} };
  for (const [name, ok] of results) report.checks[name] = ok ? 'up' : 'down';
  return report;
}

async function withTimeout(probe: Promise<boolean>, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    return await Promise.race([probe.catch(() => false), timeout]);
  } finally {
    if (timer) clearTimeout(timer);
  }
}
