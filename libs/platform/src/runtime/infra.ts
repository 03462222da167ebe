import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { ArtifactStore } from '../artifacts/artifact.port.js';
import { createArtifactStore } from '../artifacts/factory.js';
import { InProcessBus, JetStreamBus } from '../bus/index.js';
import type { Bus } from '../bus/bus.port.js';
import { closeCache, createRedis, createRedisMock, type Cache } from '../cache/cache.js';
import type { Profile } from '../config/env-schemas.js';
import { NoctriaError } from '../errors/noctria-error.js';
import { startEmbeddedPostgres, type EmbeddedPostgres } from './embedded-postgres.js';

/** The environment keys infrastructure is resolved from (a subset of the loaded base env). */
export interface InfraEnv {
  NOCTRIA_PROFILE: Profile;
  DATABASE_URL?: string | undefined;
  NATS_URL?: string | undefined;
  REDIS_URL?: string | undefined;
  NOCTRIA_DATA_DIR: string;
  /** Artefact store: JetStream bucket prefix (cluster). */
  NOCTRIA_BUS_PREFIX?: string | undefined;
  /** Artefact store: root directory (embedded; default `<NOCTRIA_DATA_DIR>/artifacts/store`). */
  NOCTRIA_ARTIFACT_DIR?: string | undefined;
  /** Artefact store: replicas of new JetStream buckets (cluster). */
  NOCTRIA_ARTIFACT_REPLICAS?: number | undefined;
}

/** Shared infrastructure of a process: where the database is, the bus and the cache. */
export interface Infra {
  readonly profile: Profile;
  /** The database every service of this process uses (each in its own schema). */
  readonly databaseUrl: string;
  readonly bus: Bus;
  readonly redis: Cache;
  /**
   * The artefact store of this handle (cluster: JetStream object store on the bus connection; embedded: local
   * directory). Always set by `resolveInfra`; optional so that hand-made Infra objects (tests, the CLI's
   * attached mode) stay valid — the bootstrap then builds one from the environment.
   */
  readonly artifacts?: ArtifactStore;
  /** Embedded profile: the started PostgreSQL. */
  readonly embeddedPostgres?: EmbeddedPostgres;
  /**
   * Releases this handle. Resources close (cache, bus, then PostgreSQL in embedded) when the last handle
   * of the process is released. Idempotent.
   */
  close(): Promise<void>;
}

export interface ResolveInfraOptions {
  service: string;
  logger: Logger;
  /** Given to the JetStream adapter for its metrics. */
  registry?: Registry;
  /** false: never share with other callers of this process (default true). */
  shared?: boolean;
}

interface Resources {
  profile: Profile;
  databaseUrl: string;
  bus: Bus;
  redis: Cache;
  embeddedPostgres?: EmbeddedPostgres;
  close(): Promise<void>;
}

interface Entry {
  resources: Promise<Resources>;
  refs: number;
}

const shared = new Map<string, Entry>();

/**
 * Resolves (and, the first time in a process, starts) the infrastructure of the active profile.
 * - cluster: JetStream at NATS_URL, ioredis at REDIS_URL, DATABASE_URL as given.
 * - embedded: PostgreSQL from `embedded-postgres` under `<NOCTRIA_DATA_DIR>/pg`, the in-process bus,
 *   ioredis-mock.
 * Calls with the same settings share one set of resources (the embedded fleet runs every service in one
 * process); each call returns its own handle (with its own artefact store over the shared connection), and the
 * resources close with the last handle.
 */
export async function resolveInfra(env: InfraEnv, options: ResolveInfraOptions): Promise<Infra> {
  const key = infraKey(env);
  let entry = options.shared === false ? undefined : shared.get(key);
  if (!entry) {
    const created: Entry = { resources: createResources(env, options), refs: 0 };
    entry = created;
    if (options.shared !== false) {
      shared.set(key, created);
      created.resources.catch(() => {
        if (shared.get(key) === created) shared.delete(key);
      });
    }
  }
  const current = entry;
  current.refs += 1;
  let resources: Resources;
  try {
    resources = await current.resources;
  } catch (err) {
    current.refs -= 1;
    throw err;
  }
  // One store per handle (each may carry its own bucket prefix); it shares the handle's bus connection.
  let artifacts: ArtifactStore;
  try {
    artifacts = await createArtifactStore(env, resources.bus);
  } catch (err) {
    current.refs -= 1;
    if (current.refs === 0) {
      if (shared.get(key) === current) shared.delete(key);
      await resources.close().catch(() => undefined);
    }
    throw err;
  }
  let released: Promise<void> | undefined;
  const handle: Infra = {
    profile: resources.profile,
    databaseUrl: resources.databaseUrl,
    bus: resources.bus,
    redis: resources.redis,
    artifacts,
    ...(resources.embeddedPostgres ? { embeddedPostgres: resources.embeddedPostgres } : {}),
    close() {
      released ??= (async () => {
        // In-flight artefact writes finish before the connection under them can close.
        await artifacts.close().catch((err: unknown) => options.logger.warn({ err }, 'closing the artefact store failed'));
        current.refs -= 1;
        if (current.refs > 0) return;
        if (shared.get(key) === current) shared.delete(key);
        await resources.close();
      })();
      return released;
    },
  };
  return handle;
}

function infraKey(env: InfraEnv): string {
  return env.NOCTRIA_PROFILE === 'cluster'
    ? JSON.stringify(['cluster', env.DATABASE_URL, env.NATS_URL, env.REDIS_URL])
    : JSON.stringify(['embedded', env.NOCTRIA_DATA_DIR]);
}

async function createResources(env: InfraEnv, options: ResolveInfraOptions): Promise<Resources> {
  return env.NOCTRIA_PROFILE === 'cluster' ? createCluster(env, options) : createEmbedded(env, options);
}

async function createCluster(env: InfraEnv, options: ResolveInfraOptions): Promise<Resources> {
  const missing = (['DATABASE_URL', 'NATS_URL', 'REDIS_URL'] as const).filter((k) => !env[k]);
  if (missing.length > 0) {
    throw new NoctriaError('OPS_CONFIG_ENV', `cluster profile needs ${missing.join(', ')}`, {
      severity: 'CRITICAL',
      details: { missing },
    });
  }
  const log = options.logger.child({ component: 'infra', profile: 'cluster' });
  const redis = createRedis({ url: env.REDIS_URL as string, name: options.service, logger: log });
  let bus: Bus;
  try {
    bus = await JetStreamBus.connect({
      servers: (env.NATS_URL as string).split(',').map((s) => s.trim()),
      name: options.service,
      logger: log,
      ...(options.registry ? { registry: options.registry } : {}),
    });
  } catch (err) {
    await closeCache(redis);
    throw new NoctriaError('OPS_RUNTIME_BUSCONN', `cannot connect to NATS at ${env.NATS_URL}`, {
      severity: 'CRITICAL',
      cause: err,
      details: { nats_url: env.NATS_URL },
    });
  }
  log.info({ nats_url: env.NATS_URL }, 'cluster infrastructure ready');
  return {
    profile: 'cluster',
    databaseUrl: env.DATABASE_URL as string,
    bus,
    redis,
    close: () => closeInOrder(log, [
      ['cache', () => closeCache(redis)],
      ['bus', () => bus.close()],
    ]),
  };
}

async function createEmbedded(env: InfraEnv, options: ResolveInfraOptions): Promise<Resources> {
  const log = options.logger.child({ component: 'infra', profile: 'embedded' });
  const postgres = await startEmbeddedPostgres({ dataDir: env.NOCTRIA_DATA_DIR, logger: options.logger });
  const bus: Bus = new InProcessBus({ logger: log, ...(options.registry ? { registry: options.registry } : {}) });
  const redis = createRedisMock({ namespace: env.NOCTRIA_DATA_DIR });
  log.info({ data_dir: env.NOCTRIA_DATA_DIR, pg_port: postgres.port }, 'embedded infrastructure ready');
  return {
    profile: 'embedded',
    databaseUrl: postgres.url,
    bus,
    redis,
    embeddedPostgres: postgres,
    close: () => closeInOrder(log, [
      ['cache', () => closeCache(redis)],
      ['bus', () => bus.close()],
      ['postgres', () => postgres.stop()],
    ]),
  };
}

/** Runs every step even when one fails; rethrows the first failure at the end. */
async function closeInOrder(log: Logger, steps: Array<[string, () => Promise<void>]>): Promise<void> {
  let first: unknown;
  for (const [name, step] of steps) {
    try {
      await step();
    } catch (err) {
      log.warn({ err, resource: name }, 'closing infrastructure failed');
      first ??= err;
    }
  }
  if (first !== undefined) throw first;
}
