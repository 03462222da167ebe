import { Redis, type RedisOptions } from 'ioredis';
import RedisMock from 'ioredis-mock';
import type { Logger } from 'pino';

/** The cache every service gets: a real ioredis client (cluster) or ioredis-mock (embedded). */
export type Cache = Redis;

export interface CreateRedisOptions {
  url: string;
  keyPrefix?: string;
  /** Connection name shown by CLIENT LIST. */
  name?: string;
  logger?: Logger;
  /** Retries of a queued command across reconnects before it fails (default 2: fail fast). */
  maxRetriesPerRequest?: number;
  connectTimeoutMs?: number;
}

/** ioredis client with lazyConnect (connects on the first command). Connection errors are logged, not thrown. */
export function createRedis(options: CreateRedisOptions): Cache {
  const redisOptions: RedisOptions = {
    lazyConnect: true,
    keyPrefix: options.keyPrefix ?? '',
    maxRetriesPerRequest: options.maxRetriesPerRequest ?? 2,
    connectTimeout: options.connectTimeoutMs ?? 2_000,
    disconnectTimeout: 500,
    retryStrategy: (times) => Math.min(times * 200, 2_000),
  };
  if (options.name) redisOptions.connectionName = options.name;
  const client = new Redis(options.url, redisOptions);
  let lastLogged = 0;
  client.on('error', (err: Error) => {
    // Reconnect loops emit an error per attempt; one log line per 10 s is enough.
    const now = Date.now();
    if (now - lastLogged < 10_000) return;
    lastLogged = now;
    options.logger?.warn({ err, redis_url: redactUrl(options.url) }, 'redis connection error');
  });
  return client;
}

export interface CreateRedisMockOptions {
  keyPrefix?: string;
  /** Instances with the same `namespace` share data (ioredis-mock shares by host:port). */
  namespace?: string;
}

/** In-memory Redis (ioredis-mock) for the embedded profile and unit tests. */
export function createRedisMock(options: CreateRedisMockOptions = {}): Cache {
  const mockOptions: RedisOptions & { data?: Record<string, unknown> } = { keyPrefix: options.keyPrefix ?? '' };
  if (options.namespace) mockOptions.host = `noctria-${options.namespace}`;
  return new RedisMock(mockOptions);
}

/** Readiness probe: true when PING answers PONG within `timeoutMs`. Never throws. */
export async function pingCache(cache: Cache, timeoutMs = 1_000): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const answer = await Promise.race([cache.ping().then((r) => r === 'PONG'), timeout]);
    return answer;
  } catch {
    return false;
  } finally {
    if (timer) clearTimeout(timer);
  }
}

/**
 * QUIT when connected (resolves once the connection has ended), otherwise stop reconnecting and drop the
 * connection. Idempotent; never throws.
 */
const closed = new WeakSet<Cache>();

export async function closeCache(cache: Cache): Promise<void> {
  if (cache.status === 'end' || closed.has(cache)) return;
  closed.add(cache);
  if (cache.status === 'ready') {
    const ended = new Promise<void>((resolve) => cache.once('end', () => resolve()));
    try {
      await cache.quit();
      await ended;
      return;
    } catch {
      // fall through to disconnect
    }
  }
  cache.disconnect(false);
}

function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(invalid url)';
  }
}
