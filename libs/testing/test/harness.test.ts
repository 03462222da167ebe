import { describe, expect, it } from '@jest/globals';
import { createServer } from 'node:net';
import { canConnect, discoverInfra, freePort, InfraUnavailableError, uniquePrefix, waitFor } from '../src/index.js';

describe('waitFor', () => {
  it('returns the first truthy value once the condition holds', async () => {
    let calls = 0;
    const v = await waitFor(() => (++calls >= 3 ? { calls } : undefined), { intervalMs: 1 });
    expect(v).toEqual({ calls: 3 });
  });

  it('throws a helpful error at the deadline, including the last predicate error', async () => {
    await expect(waitFor(() => false, { timeoutMs: 30, intervalMs: 5, message: 'the moon to turn blue' })).rejects.toThrow(
      /waitFor timed out after 30 ms \(\d+ attempts\) waiting for the moon to turn blue; last value: false/,
    );
    await expect(
      waitFor(
        () => {
          throw new Error('not yet: 0 of 3');
        },
        { timeoutMs: 20, intervalMs: 5 },
      ),
    ).rejects.toThrow(/last error: not yet: 0 of 3/);
  });
});

describe('ports and prefixes', () => {
  it('freePort gives a bindable port; canConnect tells listening from closed', async () => {
    const port = await freePort();
    expect(await canConnect('127.0.0.1', port, 200)).toBe(false);
    const srv = createServer((s) => s.end());
    await new Promise<void>((r) => srv.listen(port, '127.0.0.1', r));
    try {
      expect(await canConnect('127.0.0.1', port, 500)).toBe(true);
    } finally {
      await new Promise((r) => srv.close(r));
    }
  });

  it('uniquePrefix is unique and valid for subjects, stream names and keys', () => {
    const many = new Set(Array.from({ length: 1000 }, () => uniquePrefix()));
    expect(many.size).toBe(1000);
    for (const p of many) expect(p).toMatch(/^t[0-9a-f]{8}\.$/);
    expect(uniquePrefix('_')).toMatch(/^t[0-9a-f]{8}_$/);
  });
});

describe('infrastructure discovery', () => {
  it('prefers the environment variable', async () => {
    const d = await discoverInfra('nats', { env: { NATS_URL: 'nats://elsewhere:4333' } });
    expect(d).toEqual({ url: 'nats://elsewhere:4333', source: 'env' });
  });

  it('falls back to the local default port when something answers there', async () => {
    const srv = createServer((s) => s.end());
    const port = await freePort();
    await new Promise<void>((r) => srv.listen(port, '127.0.0.1', r));
    try {
      expect(await discoverInfra('redis', { env: {}, port })).toEqual({ url: `redis://127.0.0.1:${port}`, source: 'local' });
      expect(await discoverInfra('postgres', { env: {}, port })).toEqual({ url: `postgres://postgres@127.0.0.1:${port}/postgres`, source: 'local' });
    } finally {
      await new Promise((r) => srv.close(r));
    }
  });

  it('without env, local server or Docker it says how to provide one', async () => {
    const port = await freePort();
    const err = await discoverInfra('postgres', { env: {}, port, dockerSocket: '/nonexistent/docker.sock' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(InfraUnavailableError);
    const msg = (err as Error).message;
    expect(msg).toContain(`nothing answers on 127.0.0.1:${port}`);
    expect(msg).toContain('export DATABASE_URL=');
    expect(msg).toContain('docker run');
    const nats = await discoverInfra('nats', { env: {}, port, dockerSocket: '/nonexistent/docker.sock' }).then(
      () => undefined,
      (e: unknown) => (e as Error).message,
    );
    expect(nats).toContain('nats-server -js');
  });
});
