import { afterAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { closeCache, createRedis, createRedisMock, pingCache, type Cache } from '../../src/cache/index.js';

const REDIS_URL = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379/0';
const opened: Cache[] = [];
const track = (c: Cache) => (opened.push(c), c);

afterAll(async () => {
  await Promise.all(opened.map((c) => closeCache(c)));
});

async function deadPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as { port: number }).port;
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

describe('createRedis (real Redis)', () => {
  it('connects lazily, applies the key prefix and answers ping', async () => {
    const prefix = `noctria-test:${randomUUID()}:`;
    const cache = track(createRedis({ url: REDIS_URL, keyPrefix: prefix, name: 'cache-test' }));
    expect(cache.status).toBe('wait');
    expect(await pingCache(cache)).toBe(true);
    await cache.set('k', 'v', 'EX', 60);
    const raw = track(createRedis({ url: REDIS_URL }));
    expect(await raw.get(`${prefix}k`)).toBe('v');
    expect(await raw.get('k')).not.toBe('v');
    await raw.del(`${prefix}k`);
    await closeCache(cache);
    expect(cache.status).toBe('end');
  });

  it('ping reports false (without throwing) when the server is unreachable', async () => {
    const port = await deadPort();
    const cache = track(createRedis({ url: `redis://127.0.0.1:${port}/0` }));
    expect(await pingCache(cache, 500)).toBe(false);
    await closeCache(cache);
    expect(cache.status).not.toBe('ready');
  });
});

describe('createRedisMock', () => {
  it('behaves like the Cache type in memory', async () => {
    const cache = track(createRedisMock({ keyPrefix: 'p:', namespace: randomUUID() }));
    expect(await pingCache(cache)).toBe(true);
    await cache.set('a', '1');
    expect(await cache.get('a')).toBe('1');
    expect(await cache.keys('*')).toEqual(['p:a']);
    expect(await cache.incrby('n', 5)).toBe(5);
  });

  it('instances of one namespace share data, other namespaces do not', async () => {
    const ns = randomUUID();
    const a = track(createRedisMock({ namespace: ns }));
    const b = track(createRedisMock({ namespace: ns }));
    const c = track(createRedisMock({ namespace: randomUUID() }));
    await a.set('shared', 'yes');
    expect(await b.get('shared')).toBe('yes');
    expect(await c.get('shared')).toBeNull();
  });
});
