import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { Inject, Injectable, Module } from '@nestjs/common';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import {
  ARTIFACT_STORE,
  ArtifactErrorIds,
  baseEnvSchema,
  createLogger,
  createRedisMock,
  createServiceContext,
  InProcessBus,
  loadEnv,
  shutdownTelemetry,
  type ArtifactStore,
  type Infra,
  type PlatformContext,
} from '../../src/index.js';
import { enc, randomPrefix } from '../bus/helpers.js';
import { expectArtifactError, sha256Hex } from './artifact.contract.js';

const NATS_URL = process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222';
const DATABASE_URL = process.env['DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379/0';
const logger = createLogger({ service: 'artifacts-wiring', level: 'warn' });
const dirs: string[] = [];
const tempDir = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'noctria-artifacts-wiring-'));
  dirs.push(d);
  return d;
};

afterAll(async () => {
  await shutdownTelemetry();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

@Injectable()
class ReportWriter {
  constructor(@Inject(ARTIFACT_STORE) readonly artifacts: ArtifactStore) {}
}

@Module({ providers: [ReportWriter] })
class ReportModule {}

/** A module factory that records the PlatformContext it was given. */
function capturing(): { seen: PlatformContext[]; module: (ctx: PlatformContext) => typeof ReportModule } {
  const seen: PlatformContext[] = [];
  return {
    seen,
    module: (ctx) => {
      seen.push(ctx);
      return ReportModule;
    },
  };
}

describe('ArtifactStore wiring', () => {
  it('cluster: the service context, the module factory and ARTIFACT_STORE share one JetStream store with the bus prefix; shutdown closes it', async () => {
    const prefix = randomPrefix('aw');
    const env = loadEnv(baseEnvSchema, { env: { DATABASE_URL, NATS_URL, REDIS_URL, NOCTRIA_BUS_PREFIX: prefix, LOG_LEVEL: 'error' }, exit: false });
    expect(env.NOCTRIA_PROFILE).toBe('cluster');
    const cap = capturing();
    const ctx = await createServiceContext({ service: 'artifacts-wiring', module: cap.module, env, logger });
    const admin = await connect({ servers: NATS_URL });
    try {
      expect(ctx.artifacts.kind).toBe('jetstream');
      expect(ctx.app.get(ReportWriter).artifacts).toBe(ctx.artifacts);
      expect(cap.seen[0]?.artifacts).toBe(ctx.artifacts);
      expect(ctx.infra.artifacts).toBe(ctx.artifacts);
      const ref = await ctx.artifacts.put('reports', 'kpi/2024-06.json', enc('{"sharpe":1.2}'), { contentType: 'application/json' });
      expect(ref).toMatchObject({ store: 'jetstream', sha256: sha256Hex('{"sharpe":1.2}') });
      const jsm = await jetstreamManager(admin);
      expect((await jsm.streams.info(`OBJ_${prefix}_reports`)).config.name).toBe(`OBJ_${prefix}_reports`);
      await ctx.close();
      await expectArtifactError(ctx.artifacts.put('reports', 'after-close', enc('x')), ArtifactErrorIds.Closed);
      await jsm.streams.delete(`OBJ_${prefix}_reports`);
    } finally {
      await ctx.close();
      await admin.close();
    }
  }, 60_000);

  it('embedded: a local directory under NOCTRIA_DATA_DIR/artifacts/store, shared by the services of the process', async () => {
    const dataDir = tempDir();
    const env = loadEnv(baseEnvSchema, { env: { NOCTRIA_DATA_DIR: dataDir, LOG_LEVEL: 'error' }, exit: false });
    expect(env.NOCTRIA_PROFILE).toBe('embedded');
    const a = await createServiceContext({ service: 'svc-a', module: ReportModule, env, logger });
    try {
      const b = await createServiceContext({ service: 'svc-b', module: ReportModule, env, logger });
      try {
        expect(a.artifacts.kind).toBe('local');
        expect(a.app.get(ReportWriter).artifacts).toBe(a.artifacts);
        const ref = await a.artifacts.put('datasets', 'pairs/eurusd-gbpusd.parquet', enc('columns'));
        expect(existsSync(join(dataDir, 'artifacts', 'store', 'datasets', 'meta', 'pairs%eurusd-gbpusd.parquet.json'))).toBe(true);
        // What one service wrote, another reads by reference.
        expect(Buffer.from(await b.artifacts.get(ref)).toString()).toBe('columns');
      } finally {
        await b.close();
      }
      // svc-b's shutdown closed only its own handle's store.
      expect((await a.artifacts.stat('datasets', 'pairs/eurusd-gbpusd.parquet'))?.sha256).toBe(sha256Hex('columns'));
    } finally {
      await a.close();
    }
    await expectArtifactError(a.artifacts.list('datasets'), ArtifactErrorIds.Closed);
  }, 120_000);

  it('an Infra without a store (hand-made, like the CLI attached mode) gets one from the environment, closed with the service only', async () => {
    const artifactDir = tempDir();
    const env = loadEnv(baseEnvSchema, { env: { NOCTRIA_DATA_DIR: tempDir(), NOCTRIA_ARTIFACT_DIR: artifactDir, LOG_LEVEL: 'error' }, exit: false });
    const bus = new InProcessBus();
    let infraClosed = false;
    const infra: Infra = {
      profile: 'embedded',
      databaseUrl: 'postgres://unused@127.0.0.1:1/none',
      bus,
      redis: createRedisMock({ namespace: artifactDir }),
      async close() {
        infraClosed = true;
        await bus.close();
      },
    };
    const cap = capturing();
    const ctx = await createServiceContext({ service: 'attached', module: cap.module, env, infra, logger });
    expect(ctx.artifacts.kind).toBe('local');
    expect(cap.seen[0]?.artifacts).toBe(ctx.artifacts);
    expect(ctx.app.get(ReportWriter).artifacts).toBe(ctx.artifacts);
    await ctx.artifacts.put('models', 'm', enc('weights'));
    expect(existsSync(join(artifactDir, 'models', 'meta', 'm.json'))).toBe(true);
    await ctx.close();
    await expectArtifactError(ctx.artifacts.put('models', 'n', enc('x')), ArtifactErrorIds.Closed);
    expect(infraClosed).toBe(false);
    await infra.close();
  }, 60_000);
});
