import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { canConnect } from './net.js';

export type InfraKind = 'postgres' | 'nats' | 'redis';

interface InfraSpec {
  env: string;
  port: number;
  url(host: string, port: number): string;
  image: string;
  command?: string[];
  ready: RegExp;
  readyTimes: number;
  howTo: string[];
}

const SPECS: Record<InfraKind, InfraSpec> = {
  postgres: {
    env: 'DATABASE_URL',
    port: 5432,
    url: (h, p) => `postgres://postgres@${h}:${p}/postgres`,
    image: 'postgres:15-alpine',
    ready: /database system is ready to accept connections/,
    readyTimes: 2,
    howTo: [
      'export DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres   (a superuser: tests create databases)',
      'or start a local server with trust auth for user postgres on 127.0.0.1:5432, e.g.',
      '  sudo apt-get install -y postgresql && sudo service postgresql start',
      "  (pg_hba.conf: 'host all postgres 127.0.0.1/32 trust')",
      '  or: docker run -d --name noctria-pg -p 5432:5432 -e POSTGRES_HOST_AUTH_METHOD=trust postgres:15-alpine',
    ],
  },
  nats: {
    env: 'NATS_URL',
    port: 4222,
    url: (h, p) => `nats://${h}:${p}`,
    image: 'nats:2.10-alpine',
    command: ['-js'],
    ready: /Server is ready/,
    readyTimes: 1,
    howTo: [
      'export NATS_URL=nats://127.0.0.1:4222   (JetStream enabled)',
      'or start a local server: nats-server -js -a 127.0.0.1 -p 4222 -sd /tmp/nats-js &',
      '  or: docker run -d --name noctria-nats -p 4222:4222 nats:2.10-alpine -js',
    ],
  },
  redis: {
    env: 'REDIS_URL',
    port: 6379,
    url: (h, p) => `redis://${h}:${p}`,
    image: 'redis:7-alpine',
    ready: /Ready to accept connections/,
    readyTimes: 1,
    howTo: [
      'export REDIS_URL=redis://127.0.0.1:6379',
      'or start a local server: redis-server --port 6379 --daemonize yes',
      '  or: docker run -d --name noctria-redis -p 6379:6379 redis:7-alpine',
    ],
  },
};

export interface DiscoverOptions {
  /** Environment to read the URL variable from (default `process.env`). */
  env?: Record<string, string | undefined>;
  /** Local default host and port to probe (default 127.0.0.1 and the service's standard port). */
  host?: string;
  port?: number;
  probeTimeoutMs?: number;
  /** Docker socket whose presence allows testcontainers (default /var/run/docker.sock; DOCKER_HOST also counts). */
  dockerSocket?: string;
}

export interface DiscoveredInfra {
  url: string;
  source: 'env' | 'local' | 'container';
}

export class InfraUnavailableError extends Error {
  constructor(
    readonly kind: InfraKind,
    message: string,
  ) {
    super(message);
    this.name = 'InfraUnavailableError';
  }
}

/** True when a Docker engine answers: the socket exists (or DOCKER_HOST is set) and `docker info` succeeds. */
export async function dockerAvailable(options: Pick<DiscoverOptions, 'env' | 'dockerSocket'> = {}): Promise<boolean> {
  const env = options.env ?? process.env;
  const socket = options.dockerSocket ?? '/var/run/docker.sock';
  if (!env['DOCKER_HOST'] && !existsSync(socket)) return false;
  return new Promise((resolve) => {
    execFile('docker', ['info', '--format', '{{.ServerVersion}}'], { timeout: 5_000 }, (err, stdout) => resolve(!err && stdout.trim().length > 0));
  });
}

// Containers started by this process (testcontainers' reaper removes them when the process exits).
const started: { stop(): Promise<unknown> }[] = [];

async function startContainer(kind: InfraKind): Promise<string> {
  const spec = SPECS[kind];
  const tc = await import('testcontainers');
  let container = new tc.GenericContainer(spec.image)
    .withExposedPorts(spec.port)
    .withWaitStrategy(tc.Wait.forLogMessage(spec.ready, spec.readyTimes));
  if (kind === 'postgres') container = container.withEnvironment({ POSTGRES_HOST_AUTH_METHOD: 'trust' });
  if (spec.command) container = container.withCommand(spec.command);
  const running = await container.start();
  started.push(running);
  return spec.url(running.getHost(), running.getMappedPort(spec.port));
}

/**
 * Finds a server for integration tests: the `DATABASE_URL`/`NATS_URL`/`REDIS_URL` variable, else the local
 * default port if a TCP connect succeeds quickly, else a testcontainers container when a Docker engine
 * answers, else an `InfraUnavailableError` saying how to provide one.
 */
export async function discoverInfra(kind: InfraKind, options: DiscoverOptions = {}): Promise<DiscoveredInfra> {
  const spec = SPECS[kind];
  const env = options.env ?? process.env;
  const fromEnv = env[spec.env];
  if (fromEnv) return { url: fromEnv, source: 'env' };
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? spec.port;
  if (await canConnect(host, port, options.probeTimeoutMs ?? 500)) return { url: spec.url(host, port), source: 'local' };
  if (await dockerAvailable(options)) return { url: await startContainer(kind), source: 'container' };
  throw new InfraUnavailableError(
    kind,
    [
      `No ${kind} server for tests: ${spec.env} is not set, nothing answers on ${host}:${port}, and no Docker engine is available for testcontainers.`,
      'Provide one of:',
      ...spec.howTo.map((l) => `  ${l}`),
      '  or start a Docker engine (testcontainers then starts ' + spec.image + ').',
    ].join('\n'),
  );
}

const memo = new Map<InfraKind, Promise<string>>();

function memoized(kind: InfraKind): Promise<string> {
  let p = memo.get(kind);
  if (!p) {
    p = discoverInfra(kind).then((d) => d.url);
    p.catch(() => memo.delete(kind));
    memo.set(kind, p);
  }
  return p;
}

/** PostgreSQL URL (superuser; database `postgres` unless DATABASE_URL says otherwise), discovered once per process. */
export function postgresUrl(): Promise<string> {
  return memoized('postgres');
}

/** NATS (JetStream) URL, discovered once per process. */
export function natsUrl(): Promise<string> {
  return memoized('nats');
}

/** Redis URL, discovered once per process. */
export function redisUrl(): Promise<string> {
  return memoized('redis');
}

/** Stops containers this process started (for a Jest globalTeardown; the reaper would remove them anyway). */
export async function stopInfraContainers(): Promise<void> {
  const all = started.splice(0);
  await Promise.all(all.map((c) => c.stop()));
  memo.clear();
}
