import { afterAll, describe, expect, it } from '@jest/globals';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { createLogger } from '../../src/logging/index.js';
import { pingCache } from '../../src/cache/index.js';
import { resolveInfra, type InfraEnv } from '../../src/runtime/index.js';
import { baseEnvSchema, loadEnv } from '../../src/config/index.js';
import { bootstrapService } from '../../src/nest/index.js';
import { shutdownTelemetry } from '../../src/telemetry/index.js';
import { Module } from '@nestjs/common';

const logger = createLogger({ service: 'embedded-test', level: 'warn' });
const dataDir = mkdtempSync(path.join(tmpdir(), 'noctria-embedded-'));
const env: InfraEnv = { NOCTRIA_PROFILE: 'embedded', NOCTRIA_DATA_DIR: dataDir };

const fleetDir = mkdtempSync(path.join(tmpdir(), 'noctria-embedded-fleet-'));

afterAll(async () => {
  await shutdownTelemetry();
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(fleetDir, { recursive: true, force: true });
});

@Module({})
class EmptyModule {}

async function query<T extends pg.QueryResultRow>(url: string, text: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(text)).rows;
  } finally {
    await client.end();
  }
}

async function refused(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.end();
    return false;
  } catch {
    return true;
  }
}

describe('resolveInfra (embedded profile)', () => {
  it('starts a real PostgreSQL under NOCTRIA_DATA_DIR/pg, shares it per process, stops it, and reuses the data on restart', async () => {
    const first = await resolveInfra(env, { service: 'svc-a', logger });
    expect(first.profile).toBe('embedded');
    expect(first.bus.kind).toBe('inprocess');
    expect(first.embeddedPostgres?.initialised).toBe(true);
    expect(existsSync(path.join(dataDir, 'pg', 'PG_VERSION'))).toBe(true);
    const state = JSON.parse(readFileSync(path.join(dataDir, 'pg.json'), 'utf8')) as { port: number };
    expect(first.databaseUrl).toContain(`127.0.0.1:${state.port}/noctria`);

    const [row] = await query<{ db: string; tz: string }>(first.databaseUrl, "select current_database() as db, current_setting('TimeZone') as tz");
    expect(row).toEqual({ db: 'noctria', tz: 'UTC' });
    await query(first.databaseUrl, 'create table kept (v text); insert into kept values (\'survives restart\')');
    expect(await first.bus.ping()).toBe(true);
    expect(await pingCache(first.redis)).toBe(true);

    // A second service of the same process shares the same resources.
    const second = await resolveInfra(env, { service: 'svc-b', logger });
    expect(second).not.toBe(first);
    expect(second.databaseUrl).toBe(first.databaseUrl);
    expect(second.bus).toBe(first.bus);
    expect(second.redis).toBe(first.redis);
    await first.close();
    await first.close();
    expect((await query<{ n: number }>(second.databaseUrl, 'select 1 as n'))[0]?.n).toBe(1);
    await second.close();
    expect(await refused(first.databaseUrl)).toBe(true);

    // Restart: no initdb, same data.
    const third = await resolveInfra(env, { service: 'svc-a', logger });
    try {
      expect(third.embeddedPostgres?.initialised).toBe(false);
      expect(third.bus).not.toBe(first.bus);
      const kept = await query<{ v: string }>(third.databaseUrl, 'select v from kept');
      expect(kept).toEqual([{ v: 'survives restart' }]);
    } finally {
      await third.close();
    }
    expect(await refused(third.databaseUrl)).toBe(true);
  }, 120_000);

  it('bootstrapService with the embedded profile: two services share one infra; /readyz is up; the last close stops PostgreSQL', async () => {
    const env = loadEnv(baseEnvSchema, { env: { NOCTRIA_DATA_DIR: fleetDir, HTTP_HOST: '127.0.0.1', LOG_LEVEL: 'error' }, exit: false });
    expect(env.NOCTRIA_PROFILE).toBe('embedded');
    const a = await bootstrapService({ service: 'svc-a', module: EmptyModule, env, schema: 'svc_a', port: 0, handleSignals: false });
    const b = await bootstrapService({ service: 'svc-b', module: EmptyModule, env, schema: 'svc_b', port: 0, handleSignals: false });
    try {
      expect(b.infra.databaseUrl).toBe(a.infra.databaseUrl);
      expect(b.infra.bus).toBe(a.infra.bus);
      for (const svc of [a, b]) {
        const res = await fetch(`${svc.url}/readyz`);
        expect(res.status).toBe(200);
        expect(((await res.json()) as { info: unknown }).info).toEqual({ database: { status: 'up' }, bus: { status: 'up' }, cache: { status: 'up' } });
      }
      await a.close();
      expect((await fetch(`${b.url}/readyz`)).status).toBe(200);
    } finally {
      await a.close();
      await b.close();
    }
    expect(await refused(a.infra.databaseUrl)).toBe(true);
  }, 120_000);
});
