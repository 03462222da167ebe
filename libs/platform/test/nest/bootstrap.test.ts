import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Controller, Get, Inject, Injectable, Module } from '@nestjs/common';
import { ApiOkResponse } from '@nestjs/swagger';
import { sql, type Kysely, type Migration } from 'kysely';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import pg from 'pg';
import { baseEnvSchema, loadEnv, type BaseEnv } from '../../src/config/index.js';
import { NoctriaError, reportError } from '../../src/errors/index.js';
import { createLogger } from '../../src/logging/index.js';
import { shutdownTelemetry } from '../../src/telemetry/index.js';
import {
  bootstrapService,
  createServiceContext,
  KYSELY,
  LOGGER,
  METRICS_REGISTRY,
  SERVICE_ENV,
  type RunningService,
} from '../../src/nest/index.js';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';

const ADMIN_URL = process.env['DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const NATS_URL = process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222';
const REDIS_URL = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379/0';
const dbName = `noctria_platform_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
const dbUrl = (() => {
  const u = new URL(ADMIN_URL);
  u.pathname = `/${dbName}`;
  return u.toString();
})();

async function admin(text: string): Promise<void> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

const migrations: Record<string, Migration> = {
  '20240101000000-widgets': {
    up: async (db) => {
      await db.schema.createTable('widgets').addColumn('name', 'text', (c) => c.primaryKey()).execute();
      await sql`insert into widgets (name) values ('first')`.execute(db);
    },
  },
};

@Injectable()
class WidgetRepository {
  constructor(@Inject(KYSELY) private readonly db: Kysely<{ widgets: { name: string } }>) {}
  names(): Promise<string[]> {
    return this.db.selectFrom('widgets').select('name').execute().then((rows) => rows.map((r) => r.name));
  }
}

@Controller('widgets')
class WidgetController {
  constructor(
    private readonly repo: WidgetRepository,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(METRICS_REGISTRY) private readonly registry: Registry,
    @Inject(SERVICE_ENV) private readonly env: BaseEnv,
  ) {}

  @Get()
  @ApiOkResponse({ description: 'widget names' })
  async list(): Promise<{ names: string[]; profile: string }> {
    return { names: await this.repo.names(), profile: this.env.NOCTRIA_PROFILE };
  }

  @Get('fail')
  fail(): { reported: string } {
    const err = reportError(new NoctriaError('CORE_WIDGET_BROKEN', 'widget broke', { severity: 'WARNING' }), {
      logger: this.logger,
      registry: this.registry,
    });
    return { reported: err.eventId };
  }
}

@Module({ controllers: [WidgetController], providers: [WidgetRepository] })
class WidgetModule {}

function clusterEnv(overrides: Record<string, string> = {}) {
  return loadEnv(baseEnvSchema, {
    env: { DATABASE_URL: dbUrl, NATS_URL, REDIS_URL, LOG_LEVEL: 'warn', HTTP_HOST: '127.0.0.1', ...overrides },
    exit: false,
  });
}

async function deadPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as { port: number }).port;
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

beforeAll(async () => {
  await admin(`create database ${dbName}`);
});

afterAll(async () => {
  await shutdownTelemetry();
  await admin(`drop database if exists ${dbName} with (force)`);
});

describe('bootstrapService (cluster profile, real Postgres/NATS/Redis)', () => {
  let svc: RunningService;

  beforeAll(async () => {
    svc = await bootstrapService({
      service: 'widgets',
      module: WidgetModule,
      env: clusterEnv(),
      schema: 'widgets',
      migrations,
      port: 0,
      handleSignals: false,
      logger: createLogger({ service: 'widgets', level: 'error' }),
    });
  }, 60_000);

  afterAll(async () => {
    await svc?.close();
  });

  it('listens on the bound port, runs the migrations and serves the service module through KYSELY', async () => {
    expect(svc.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(svc.url).not.toMatch(/:0$/);
    expect(svc.infra.profile).toBe('cluster');
    const res = await fetch(`${svc.url}/widgets`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ names: ['first'], profile: 'cluster' });
  });

  it('/healthz answers 200', async () => {
    const res = await fetch(`${svc.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'ok', service: 'widgets' });
  });

  it('/readyz answers 200 with database, bus and cache up', async () => {
    const res = await fetch(`${svc.url}/readyz`);
    const body = (await res.json()) as { status: string; info: Record<string, { status: string }> };
    expect(res.status).toBe(200);
    expect(body.status).toBe('ok');
    expect(body.info).toEqual({ database: { status: 'up' }, bus: { status: 'up' }, cache: { status: 'up' } });
  });

  it('/metrics exposes default metrics, noctria_errors_total and HTTP durations in Prometheus text', async () => {
    const failed = await fetch(`${svc.url}/widgets/fail`);
    expect(failed.status).toBe(200);
    await fetch(`${svc.url}/widgets`);
    const res = await fetch(`${svc.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const text = await res.text();
    expect(text).toMatch(/^process_resident_memory_bytes\{service="widgets"\} \d+/m);
    expect(text).toContain('noctria_errors_total{error_id="CORE_WIDGET_BROKEN",severity="WARNING",service="widgets"} 1');
    expect(text).toMatch(/^noctria_http_request_duration_seconds_count\{service="widgets",method="GET",route="\/widgets",status_code="200"\} [1-9]/m);
  });

  it('/openapi.json documents the service routes', async () => {
    const res = await fetch(`${svc.url}/openapi.json`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as { openapi: string; info: { title: string }; paths: Record<string, unknown> };
    expect(doc.openapi).toMatch(/^3\./);
    expect(doc.info.title).toBe('noctria widgets');
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/widgets', '/widgets/fail', '/healthz', '/readyz']));
    expect(Object.keys(doc.paths)).not.toContain('/metrics');
  });
});

describe('readiness failures', () => {
  it('/readyz answers 503 naming the cache when Redis is unreachable', async () => {
    const port = await deadPort();
    const svc = await bootstrapService({
      service: 'widgets-deadcache',
      module: WidgetModule,
      env: clusterEnv({ REDIS_URL: `redis://127.0.0.1:${port}/0` }),
      schema: 'widgets',
      migrations,
      port: 0,
      handleSignals: false,
      logger: createLogger({ service: 'widgets-deadcache', level: 'fatal' }),
    });
    try {
      const res = await fetch(`${svc.url}/readyz`);
      expect(res.status).toBe(503);
      const body = (await res.json()) as { status: string; error: Record<string, unknown>; info: Record<string, unknown> };
      expect(body.status).toBe('error');
      expect(Object.keys(body.error)).toEqual(['cache']);
      expect(body.error['cache']).toMatchObject({ status: 'down', message: 'cache unreachable' });
      expect(Object.keys(body.info).sort()).toEqual(['bus', 'database']);
      expect((await fetch(`${svc.url}/healthz`)).status).toBe(200);
    } finally {
      await svc.close();
    }
  }, 60_000);
});

describe('createServiceContext', () => {
  it('wires the platform without HTTP for one-shot jobs', async () => {
    const ctx = await createServiceContext({
      service: 'widgets-job',
      module: WidgetModule,
      env: clusterEnv(),
      schema: 'widgets',
      migrations,
      logger: createLogger({ service: 'widgets-job', level: 'warn' }),
    });
    try {
      expect(await ctx.app.get(WidgetRepository).names()).toEqual(['first']);
    } finally {
      await ctx.close();
    }
  }, 60_000);
});
