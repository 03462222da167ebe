import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { createInterface } from 'node:readline';
import { compileForChild } from '@noctria/testing';
import { ShutdownCoordinator } from '../../src/nest/shutdown-coordinator.js';
import { createLogger } from '../../src/logging/index.js';
import type { Bus } from '../../src/bus/index.js';

const ADMIN_URL = process.env['DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const NATS_URL = process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222';
const REDIS_URL = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379/0';

async function admin(url: string, text: string, params: unknown[] = []): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await client.query(text, params);
  } finally {
    await client.end();
  }
}

describe('graceful shutdown of a bootstrapped service (child process, SIGTERM)', () => {
  const suffix = randomUUID().replace(/-/g, '').slice(0, 10);
  const dbName = `noctria_shutdown_${suffix}`;
  const dbUrl = (() => {
    const u = new URL(ADMIN_URL);
    u.pathname = `/${dbName}`;
    return u.toString();
  })();
  let outRoot: string;

  beforeAll(async () => {
    await admin(ADMIN_URL, `create database ${dbName}`);
    outRoot = (await compileForChild(['libs/platform/src', 'libs/contracts/src', 'libs/platform/test/nest/fixtures/shutdown-service.ts'])).root;
  }, 120_000);

  afterAll(async () => {
    if (outRoot) rmSync(outRoot, { recursive: true, force: true });
    await admin(ADMIN_URL, `drop database if exists ${dbName} with (force)`);
  });

  it('finishes the in-flight handler, then closes HTTP and the pool, and exits 0', async () => {
    const messageId = `msg-${suffix}`;
    const child = spawn(process.execPath, [path.join(outRoot, 'libs/platform/test/nest/fixtures/shutdown-service.js')], {
      env: {
        PATH: process.env['PATH'] ?? '',
        DATABASE_URL: dbUrl,
        NATS_URL,
        REDIS_URL,
        HTTP_PORT: '0',
        HTTP_HOST: '127.0.0.1',
        LOG_LEVEL: 'info',
        TEST_STREAM: `SHUTDOWN_${suffix.toUpperCase()}`,
        TEST_MESSAGE_ID: messageId,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const records: Record<string, unknown>[] = [];
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
    const waiters: Array<{ test: (r: Record<string, unknown>) => boolean; resolve: () => void }> = [];
    createInterface({ input: child.stdout }).on('line', (line) => {
      let record: Record<string, unknown>;
      try {
        record = JSON.parse(line) as Record<string, unknown>;
      } catch {
        record = { raw: line };
      }
      records.push(record);
      for (const w of [...waiters]) if (w.test(record)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(); }
    });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.on('exit', (code, signal) => resolve({ code, signal })),
    );
    const waitFor = (test: (r: Record<string, unknown>) => boolean) =>
      records.some(test)
        ? Promise.resolve()
        : Promise.race([
            new Promise<void>((resolve) => waiters.push({ test, resolve })),
            exited.then((e) => { throw new Error(`child exited early (${JSON.stringify(e)}): ${stderr}\n${JSON.stringify(records)}`); }),
          ]);

    await waitFor((r) => r['marker'] === 'handler_start');
    expect(records.find((r) => r['marker'] === 'handler_start')?.['id']).toBe(messageId);
    child.kill('SIGTERM');
    const { code, signal } = await exited;
    expect({ code, signal, stderr }).toEqual({ code: 0, signal: null, stderr: '' });

    const idx = (test: (r: Record<string, unknown>) => boolean) => records.findIndex(test);
    const requested = idx((r) => r['msg'] === 'shutdown requested');
    const done = idx((r) => r['marker'] === 'handler_done');
    const consumersStopped = idx((r) => r['msg'] === 'consumers stopped, in-flight work finished');
    const poolClosed = idx((r) => r['msg'] === 'database pool closed');
    const complete = idx((r) => r['msg'] === 'shutdown complete');
    expect([requested, done, consumersStopped, poolClosed, complete].every((i) => i >= 0)).toBe(true);
    expect(requested).toBeLessThan(done);
    expect(done).toBeLessThan(consumersStopped);
    expect(consumersStopped).toBeLessThan(poolClosed);
    expect(poolClosed).toBeLessThan(complete);
    expect(records[complete]).toMatchObject({ exit_code: 0 });

    const rows = await admin(dbUrl, 'select id from shutdown_fixture.done');
    expect(rows.rows).toEqual([{ id: messageId }]);
  }, 120_000);
});

describe('ShutdownCoordinator (in process)', () => {
  it('stops every registered subscription concurrently and waits for tracked work; idempotent', async () => {
    const logger = createLogger({ service: 'coord', level: 'silent' });
    const events: string[] = [];
    const releases: Array<() => void> = [];
    const fakeBus = {
      consume: async () => ({
        stop: () => new Promise<void>((resolve) => { events.push('stop:consume'); releases.push(() => { events.push('stopped:consume'); resolve(); }); }),
      }),
      reply: async () => ({ stop: async () => { events.push('stopped:reply'); } }),
    } as unknown as Bus;
    const coordinator = new ShutdownCoordinator(fakeBus, logger);
    await coordinator.consume({ stream: 'S', durable: 'd', filterSubjects: ['s.x'], maxDeliver: 1, backoffMs: [1], ackWaitMs: 1000, maxAckPending: 1, deadLetterSubject: 'dlq.s' }, async () => undefined);
    await coordinator.reply('q.x', async () => new Uint8Array());
    let releaseWork!: () => void;
    const work = coordinator.track(new Promise<void>((resolve) => { releaseWork = () => { events.push('work done'); resolve(); }; }));

    const stopping = coordinator.stopAll();
    expect(coordinator.stopAll()).toBe(stopping);
    expect(coordinator.isStopping).toBe(true);
    expect(() => coordinator.register('late', { stop: async () => undefined })).toThrow(/shutdown in progress/);
    let settled = false;
    void stopping.then(() => { settled = true; });
    await new Promise((resolve) => setImmediate(resolve));
    expect(events).toEqual(['stop:consume', 'stopped:reply']);
    expect(settled).toBe(false);
    releases[0]?.();
    await new Promise((resolve) => setImmediate(resolve));
    expect(settled).toBe(false);
    releaseWork();
    await stopping;
    await work;
    expect(events).toEqual(['stop:consume', 'stopped:reply', 'stopped:consume', 'work done']);
  });
});
