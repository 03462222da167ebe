import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { countExpectedBars } from '@noctria/canonical-bar';
import { bootstrapService, loadEnv, type RunningService } from '@noctria/platform';
import { createTestDatabase, natsUrl, redisUrl, uniquePrefix, waitFor, type TestDatabase } from '@noctria/testing';
import { ingestEnvSchema } from '../src/config.js';
import { ingestMigrations, INGEST_SCHEMA } from '../src/db/migrations/index.js';
import { createIngestModule } from '../src/ingest.module.js';
import { testLogger, testSettings } from './helpers/harness.js';
import { ScriptedProvider, hourGrid } from './support/scripted-provider.js';

const FROM = Date.UTC(2024, 0, 8);
const TO = Date.UTC(2024, 0, 20);
const NOW = Date.UTC(2024, 1, 1);

describe('ingest HTTP API and rpc.ingest.* (bootstrapService, port 0)', () => {
  let db: TestDatabase;
  let svc: RunningService;
  const prefix = uniquePrefix('.');
  const artifactDir = mkdtempSync(join(tmpdir(), 'ingest-artifacts-'));

  beforeAll(async () => {
    db = await createTestDatabase({ schema: INGEST_SCHEMA, migrations: ingestMigrations });
    const env = loadEnv(ingestEnvSchema, {
      exit: false,
      env: { DATABASE_URL: db.connectionString, NATS_URL: await natsUrl(), REDIS_URL: await redisUrl(), LOG_LEVEL: 'silent', TZ: 'UTC' },
    });
    svc = await bootstrapService({
      service: 'ingest',
      env,
      schema: INGEST_SCHEMA,
      migrations: ingestMigrations,
      port: 0,
      host: '127.0.0.1',
      handleSignals: false,
      logger: testLogger(),
      module: createIngestModule({
        settings: testSettings(),
        provider: new ScriptedProvider('scripted', { seed: 9 }),
        busPrefix: prefix,
        artifactDir,
        chunkBars: 60,
        relayPollMs: 100,
        now: () => NOW,
      }),
    });
  });
  afterAll(async () => {
    await svc?.close();
    await db?.drop();
  });

  const get = async (path: string) => {
    const r = await fetch(`${svc.url}${path}`);
    return { status: r.status, body: (await r.json()) as { status: string; data: any; error: { id: string; message: string } | null; request_id: string } }; // eslint-disable-line @typescript-eslint/no-explicit-any
  };
  const post = async (path: string, body: unknown) => {
    const r = await fetch(`${svc.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': 'req-42' }, body: JSON.stringify(body) });
    return { status: r.status, body: (await r.json()) as { status: string; data: any; error: { id: string; message: string } | null; request_id: string } }; // eslint-disable-line @typescript-eslint/no-explicit-any
  };

  it('starts a backfill, reports its run, watermarks, DQ counters, quarantine and paginated bars', async () => {
    const started = await post('/ingest/backfill', { symbols: ['XAUUSD', 'XAGUSD'], timeframes: ['1h'], from: new Date(FROM).toISOString(), to: new Date(TO).toISOString() });
    expect(started.status).toBe(202);
    expect(started.body).toMatchObject({ status: 'ok', error: null, request_id: 'req-42' });
    const runId: string = started.body.data.run_id;
    const run = await waitFor(async () => {
      const r = await get(`/ingest/runs/${runId}`);
      return r.body.data?.status === 'succeeded' ? r.body.data : undefined;
    }, { timeoutMs: 30_000, message: 'backfill run succeeded' });
    const perSymbol = countExpectedBars(FROM, TO, '1h', '24/5');
    expect(run.counts).toMatchObject({ inserted: 2 * perSymbol });

    const wm = await get('/ingest/watermarks?symbol=XAUUSD');
    expect(wm.body.data).toHaveLength(1);
    expect(wm.body.data[0]).toMatchObject({ symbol: 'XAUUSD', timeframe: '1h' });

    const dq = await get(`/ingest/dq?run_id=${runId}`);
    expect(dq.body.data.reduce((a: number, r: { received: number }) => a + r.received, 0)).toBe(2 * perSymbol);
    expect((await get('/ingest/quarantine')).body.data).toEqual([]);

    // Page through the bars 50 at a time with the cursor.
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await get(`/bars?symbol=XAUUSD&timeframe=1h&limit=50${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      expect(page.status).toBe(200);
      seen.push(...page.body.data.bars.map((b: { ts_utc: string }) => b.ts_utc));
      cursor = page.body.data.next_cursor;
    } while (cursor);
    expect(seen.length).toBe(perSymbol);
    expect(new Set(seen).size).toBe(perSymbol);
    expect([...seen].sort()).toEqual(seen);
  });

  it('answers bad requests in the ApiResponse wrapper without crashing', async () => {
    const bad = await post('/ingest/backfill', { symbols: ['xau/usd'] });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ status: 'error', data: null, error: { id: 'DATA_API_BADREQ' } });
    const missing = await get('/ingest/runs/does-not-exist');
    expect(missing.status).toBe(404);
    expect(missing.body.error?.id).toBe('DATA_API_NOTFOUND');
    const badBars = await get('/bars?symbol=XAUUSD&timeframe=2h');
    expect(badBars.status).toBe(400);
    const imp = await post('/ingest/import', { path: '/nonexistent/XAUUSD_H1.csv' });
    expect(imp.status).toBe(422);
    expect(imp.body.error?.id).toBe('DATA_IMPORT_FILE');
    expect((await fetch(`${svc.url}/healthz`)).status).toBe(200);
  });

  it('documents its endpoints in /openapi.json and exposes the data_* metrics', async () => {
    const doc = (await (await fetch(`${svc.url}/openapi.json`)).json()) as { paths: Record<string, unknown> };
    for (const p of ['/ingest/backfill', '/ingest/runs/{id}', '/ingest/watermarks', '/ingest/dq', '/ingest/quarantine', '/ingest/import', '/ingest/export', '/bars']) {
      expect(Object.keys(doc.paths)).toContain(p);
    }
    const metrics = await (await fetch(`${svc.url}/metrics`)).text();
    for (const m of ['data_ingest_success_rate', 'data_api_latency_ms', 'data_dedupe_drops_total', 'data_pipeline_lag_seconds', 'dq_fail_total', 'data_watermark_lag_bars']) {
      expect(metrics).toContain(m);
    }
  });

  it('serves rpc.ingest.status, rpc.ingest.export and POST /ingest/export (manifest reference + sha256s)', async () => {
    const enc = new TextEncoder();
    const dec = new TextDecoder();
    const bus = svc.infra.bus;
    const exp = await bus.request(`${prefix}rpc.ingest.export`, enc.encode(JSON.stringify({ symbol: 'XAUUSD', timeframe: '1h', from: new Date(FROM).toISOString(), to: new Date(TO).toISOString() })), { timeoutMs: 10_000 });
    const reply = JSON.parse(dec.decode(exp.data));
    expect(reply.status).toBe('ok');
    // One reference: the manifest, relative to the artefact root, with its sha256; it lists every file with its sha256.
    const manifestBytes = readFileSync(join(artifactDir, reply.data.manifest_ref));
    expect(createHash('sha256').update(manifestBytes).digest('hex')).toBe(reply.data.manifest_sha256);
    const manifest = JSON.parse(manifestBytes.toString('utf8'));
    const days = new Set(hourGrid(FROM, TO).map((ms) => new Date(ms).toISOString().slice(0, 10)));
    expect(manifest.files.map((f: { ref: string }) => f.ref)).toEqual([...days].sort().map((d) => join('1h', 'XAUUSD', '2024', '2024-01', `XAUUSD_${d}.parquet`)));
    for (const f of [...manifest.files, ...manifest.meta] as { ref: string; sha256: string }[]) {
      const bytes = readFileSync(join(artifactDir, f.ref));
      expect(createHash('sha256').update(bytes).digest('hex')).toBe(f.sha256);
      if (f.ref.endsWith('.parquet')) expect(bytes.subarray(0, 4).toString()).toBe('PAR1');
    }
    expect(reply.data.bars).toBe(countExpectedBars(FROM, TO, '1h', '24/5'));
    expect(manifest.files.reduce((a: number, f: { rows: number }) => a + f.rows, 0)).toBe(reply.data.bars);
    expect(manifest.quarantine).toEqual([]);
    expect(reply.data.excluded_months).toEqual([]);

    // The HTTP API runs the same exporter: CSV this time, same day partition.
    const http = await post('/ingest/export', { symbol: 'XAUUSD', timeframe: '1h', from: new Date(FROM).toISOString(), to: new Date(TO).toISOString(), format: 'csv' });
    expect(http.status).toBe(200);
    expect(http.body.data).toMatchObject({ format: 'csv', bars: reply.data.bars, files: days.size });
    const csvManifest = JSON.parse(readFileSync(join(artifactDir, http.body.data.manifest_ref), 'utf8'));
    const csvRows = csvManifest.files.flatMap((f: { ref: string }) => readFileSync(join(artifactDir, f.ref), 'utf8').trim().split('\n').slice(1));
    expect(csvRows).toHaveLength(reply.data.bars);
    expect((await post('/ingest/export', { symbol: 'XAUUSD', timeframe: '1h', format: 'xls' })).status).toBe(400);
    const bad = await bus.request(`${prefix}rpc.ingest.status`, enc.encode('{"run_id": 5}'), { timeoutMs: 10_000 });
    expect(JSON.parse(dec.decode(bad.data))).toMatchObject({ status: 'error', error: { id: 'DATA_API_BADREQ' } });
  });
});
