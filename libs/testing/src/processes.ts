import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chown, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { canConnect, freePort } from './net.js';
import { waitFor } from './wait.js';

const run = promisify(execFile);

/** True while `pid` exists and is not a zombie (an exited daemon is not reaped when PID 1 does not reap). */
export function isProcessAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  }
}

async function waitForExit(pid: number, what: string, timeoutMs = 30_000): Promise<void> {
  await waitFor(() => !isProcessAlive(pid), { timeoutMs, intervalMs: 20, message: `${what} (pid ${pid}) to exit` });
}

async function postgresBinDir(): Promise<string> {
  if (process.env['PG_BIN_DIR']) return process.env['PG_BIN_DIR'];
  try {
    const { stdout } = await run('pg_config', ['--bindir']);
    const dir = stdout.trim();
    if (existsSync(join(dir, 'initdb'))) return dir;
  } catch {
    // fall through to the Debian layout
  }
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    const versions = (await readdir(root)).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
    for (const v of versions) if (existsSync(join(root, v, 'bin', 'initdb'))) return join(root, v, 'bin');
  }
  throw new Error('PostgreSQL server binaries (initdb, pg_ctl) not found: install postgresql or set PG_BIN_DIR');
}

const isRoot = (): boolean => process.getuid?.() === 0;

/** Runs a Postgres binary, as user `postgres` when we are root (initdb and postgres refuse to run as root). */
async function runPg(bin: string, args: string[]): Promise<string> {
  const [cmd, argv] = isRoot() ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, args];
  const { stdout } = await run(cmd as string, argv as string[], { timeout: 60_000 });
  return stdout;
}

export interface PrivatePostgres {
  /** `postgres://postgres@127.0.0.1:<port>/postgres` (trust auth). */
  readonly url: string;
  readonly port: number;
  /** The postmaster's pid (changes after `restart()`). */
  readonly pid: number;
  readonly dataDir: string;
  /** Fast shutdown (SIGINT to the postmaster) and removal of the data directory. */
  stop(): Promise<void>;
  /** Immediate shutdown (SIGQUIT): no checkpoint, crash recovery at the next start. Keeps the data. */
  crash(): Promise<void>;
  /** Starts the server again on the same data directory and port (after `crash()`, or while running: stop first). */
  restart(): Promise<void>;
}

export interface PrivatePostgresOptions {
  /** Extra `-c name=value` server settings. */
  settings?: Record<string, string>;
}

/**
 * A throwaway PostgreSQL server for fault tests (kill it, restart it) that must not disturb the shared one:
 * `initdb` in a temp directory (as user postgres when running as root), `pg_ctl start` on a free port.
 */
export async function startPrivatePostgres(options: PrivatePostgresOptions = {}): Promise<PrivatePostgres> {
  const bin = await postgresBinDir();
  const dataDir = await mkdtemp(join(tmpdir(), 'noctria-pg-'));
  if (isRoot()) {
    const { stdout } = await run('id', ['-u', 'postgres']);
    const { stdout: gid } = await run('id', ['-g', 'postgres']);
    await chown(dataDir, Number(stdout.trim()), Number(gid.trim()));
  }
  const port = await freePort();
  const settings: Record<string, string> = {
    listen_addresses: '127.0.0.1',
    unix_socket_directories: "''",
    fsync: 'off',
    full_page_writes: 'off',
    max_connections: '50',
    ...options.settings,
  };
  const serverArgs = [`-p ${port}`, ...Object.entries(settings).map(([k, v]) => `-c ${k}=${v}`)].join(' ');
  try {
    await runPg(join(bin, 'initdb'), ['-D', dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync', '--locale=C']);
  } catch (e) {
    await rm(dataDir, { recursive: true, force: true });
    throw e;
  }
  let pid = 0;
  const start = async (): Promise<void> => {
    await runPg(join(bin, 'pg_ctl'), ['-D', dataDir, '-l', join(dataDir, 'server.log'), '-w', '-t', '60', '-o', serverArgs, 'start']);
    pid = Number((await readFile(join(dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
    await waitFor(() => canConnect('127.0.0.1', port, 200), { timeoutMs: 30_000, message: `private postgres on port ${port}` });
  };
  const signal = async (sig: NodeJS.Signals): Promise<void> => {
    if (pid && isProcessAlive(pid)) {
      process.kill(pid, sig);
      await waitForExit(pid, 'private postgres');
    }
  };
  try {
    await start();
  } catch (e) {
    await rm(dataDir, { recursive: true, force: true });
    throw e;
  }
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    get pid() {
      return pid;
    },
    dataDir,
    async stop() {
      await signal('SIGINT');
      await rm(dataDir, { recursive: true, force: true });
    },
    crash: () => signal('SIGQUIT'),
    async restart() {
      await signal('SIGINT');
      await start();
    },
  };
}

export async function stopPrivatePostgres(server: PrivatePostgres): Promise<void> {
  await server.stop();
}

export interface PrivateNats {
  /** `nats://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  /** The server's pid (changes after `restart()`). */
  readonly pid: number;
  readonly storeDir: string;
  /** SIGTERM (lame-duck/graceful), wait for exit, start again on the same port and JetStream store. */
  restart(): Promise<void>;
  /** SIGKILL, wait for exit; the store is kept (call `restart()` to bring it back). */
  kill(): Promise<void>;
  /** SIGTERM, wait for exit, remove the store directory. */
  stop(): Promise<void>;
}

/** A private `nats-server -js` on a free port with its own store directory (NATS_SERVER_BIN overrides the binary). */
export async function startPrivateNats(): Promise<PrivateNats> {
  const bin = process.env['NATS_SERVER_BIN'] ?? 'nats-server';
  const storeDir = await mkdtemp(join(tmpdir(), 'noctria-nats-'));
  const port = await freePort();
  let child: ChildProcess | undefined;
  const start = async (): Promise<void> => {
    const c = spawn(bin, ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', storeDir, '-l', join(storeDir, 'nats.log')], {
      stdio: 'ignore',
    });
    const failed = new Promise<never>((_, reject) => {
      c.once('error', (e) => reject(new Error(`cannot start ${bin}: ${e.message} (install nats-server or set NATS_SERVER_BIN)`)));
      c.once('exit', (code) => reject(new Error(`${bin} exited with code ${code} during start; see ${join(storeDir, 'nats.log')}`)));
    });
    failed.catch(() => undefined);
    c.unref();
    child = c;
    await Promise.race([waitFor(() => canConnect('127.0.0.1', port, 200), { timeoutMs: 30_000, message: `private nats on port ${port}` }), failed]);
    c.removeAllListeners('exit');
  };
  const signal = async (sig: NodeJS.Signals): Promise<void> => {
    const pid = child?.pid;
    if (pid && isProcessAlive(pid)) {
      process.kill(pid, sig);
      await waitForExit(pid, 'private nats');
    }
  };
  try {
    await start();
  } catch (e) {
    await signal('SIGKILL');
    await rm(storeDir, { recursive: true, force: true });
    throw e;
  }
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    get pid() {
      return child?.pid ?? 0;
    },
    storeDir,
    async restart() {
      await signal('SIGTERM');
      await start();
    },
    kill: () => signal('SIGKILL'),
    async stop() {
      await signal('SIGTERM');
      await rm(storeDir, { recursive: true, force: true });
    },
  };
}

