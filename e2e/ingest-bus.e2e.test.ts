/**
 * Fleet-level check of the ingest service as a downstream service sees it: the real `main.ts` in its own
 * process (cluster profile: real PostgreSQL, NATS JetStream, Redis), a backfill started through the HTTP
 * API, and a durable JetStream consumer — like the features service will run — that decodes every
 * `md.bar.<tf>.<symbol>` BarClosedEvent. The consumer must see exactly the stored bars (same keys and
 * checksums, each once), and SIGTERM must stop the service with exit code 0.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { barIdempotencyKey } from '@noctria/canonical-bar';
import { consumerFor, decodeBarClosed, streams, subjects } from '@noctria/contracts';
import { JetStreamBus, type Subscription } from '@noctria/platform';
import { ingestMigrations, INGEST_SCHEMA } from '@noctria/ingest';
import {
  compileForChild,
  createTestDatabase,
  freePort,
  natsUrl,
  redisUrl,
  uniquePrefix,
  waitFor,
  type CompiledSources,
  type TestDatabase,
} from '@noctria/testing';

const SYMBOLS = ['XAUUSD', 'XAGUSD'];
const FROM = '2024-03-04T00:00:00.000Z';
const TO = '2024-03-16T00:00:00.000Z';

interface ApiEnvelope<T> {
  status: 'ok' | 'error';
  data: T;
  error: { id: string; message: string } | null;
}

async function api<T>(base: string, path: string, init?: RequestInit): Promise<ApiEnvelope<T>> {
  const res = await fetch(base + path, { ...init, headers: { 'content-type': 'application/json', ...(init?.headers ?? {}) } });
  return (await res.json()) as ApiEnvelope<T>;
}

describe('ingest service → JetStream → downstream consumer (e2e)', () => {
  let compiled: CompiledSources;
  let db: TestDatabase;
  let bus: JetStreamBus;
  let child: ChildProcess;
  let exited: Promise<number | null>;
  let base: string;
  let prefix: string;
  let artifactDir: string;
  let stderr = '';

  beforeAll(async () => {
    [compiled, db] = await Promise.all([
      compileForChild(['libs/canonical-bar/src', 'libs/contracts/src', 'libs/platform/src', 'libs/policy/src', 'services/ingest/src']),
      createTestDatabase({ schema: INGEST_SCHEMA, migrations: ingestMigrations }),
    ]);
    prefix = uniquePrefix('');
    bus = await JetStreamBus.connect({ servers: await natsUrl(), name: 'e2e-consumer' });
    await bus.ensureStreams(streams(`${prefix}.`));
    artifactDir = mkdtempSync(join(tmpdir(), 'noctria-e2e-'));
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    child = spawn(process.execPath, [compiled.file('services/ingest/src/main.ts')], {
      cwd: process.cwd(),
      stdio: ['ignore', 'ignore', 'pipe'],
      env: {
        PATH: process.env['PATH'] ?? '',
        NOCTRIA_PROFILE: 'cluster',
        DATABASE_URL: db.connectionString,
        NATS_URL: await natsUrl(),
        REDIS_URL: await redisUrl(),
        NOCTRIA_BUS_PREFIX: prefix,
        INGEST_HTTP_PORT: String(port),
        HTTP_HOST: '127.0.0.1',
        INGEST_ARTIFACT_DIR: artifactDir,
        LOG_LEVEL: 'warn',
      },
    });
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
    await waitFor(
      async () => {
        try {
          return (await fetch(`${base}/readyz`)).status === 200;
        } catch {
          return false;
        }
      },
      { timeoutMs: 60_000, intervalMs: 250, message: () => `ingest did not become ready; stderr:\n${stderr}` },
    );
  }, 120_000);

  afterAll(async () => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await bus?.close();
    await db?.drop();
    await compiled?.remove();
    rmSync(artifactDir, { recursive: true, force: true });
  });

  it('publishes every stored closed bar exactly once, decodable by a durable consumer', async () => {
    const received = new Map<string, { checksum: string; count: number }>();
    const p = `${prefix}.`;
    const sub: Subscription = await bus.consume(
      consumerFor({ prefix: p, stream: 'MD', durable: 'e2e_features', filterSubjects: [subjects(p).barClosedFilter()] }),
      async (msg) => {
        const event = decodeBarClosed(msg.data);
        expect(msg.subject).toBe(subjects(p).barClosed(event.bar.timeframe, event.bar.symbol));
        const key = barIdempotencyKey(event.bar);
        const seen = received.get(key);
        received.set(key, { checksum: event.checksum, count: (seen?.count ?? 0) + 1 });
      },
    );

    const started = await api<{ run_id: string }>(base, '/ingest/backfill', {
      method: 'POST',
      body: JSON.stringify({ symbols: SYMBOLS, timeframes: ['1h'], from: FROM, to: TO }),
    });
    expect(started.status).toBe('ok');
    await waitFor(
      async () => (await api<{ status: string }>(base, `/ingest/runs/${started.data.run_id}`)).data.status === 'succeeded',
      { timeoutMs: 60_000, intervalMs: 250, message: 'backfill run did not succeed' },
    );

    const stored = new Map<string, string>();
    for (const symbol of SYMBOLS) {
      let cursor: string | null = null;
      do {
        const page: ApiEnvelope<{ bars: (Parameters<typeof barIdempotencyKey>[0] & { checksum: string })[]; next_cursor: string | null }> =
          await api(base, `/bars?symbol=${symbol}&timeframe=1h&from=${FROM}&to=${TO}&limit=500${cursor ? `&cursor=${cursor}` : ''}`);
        for (const bar of page.data.bars) stored.set(barIdempotencyKey(bar), bar.checksum);
        cursor = page.data.next_cursor;
      } while (cursor);
    }
    // 2 weeks of a 24/5 calendar: 10 trading days × 24 bars per symbol, stored and published.
    expect(stored.size).toBe(SYMBOLS.length * 10 * 24);
    await waitFor(() => received.size >= stored.size, { timeoutMs: 30_000, message: () => `consumer saw ${received.size}/${stored.size} bars` });
    await sub.stop();

    expect([...received.keys()].sort()).toEqual([...stored.keys()].sort());
    for (const [key, { checksum, count }] of received) {
      expect(count).toBe(1);
      expect(checksum).toBe(stored.get(key));
    }
  }, 120_000);

  it('stops gracefully on SIGTERM with exit code 0', async () => {
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  }, 60_000);
});
