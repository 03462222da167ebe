/**
 * The embedded fleet behind `npm start`: every service of {@link FLEET_SERVICES} in one process over one shared
 * infrastructure (embedded profile: embedded PostgreSQL under NOCTRIA_DATA_DIR/pg, in-process bus, in-memory
 * Redis; cluster profile: DATABASE_URL/NATS_URL/REDIS_URL). One process-wide SIGINT/SIGTERM handler stops the
 * services (phase SERVICES), then the shared infrastructure (phase INFRA: embedded PostgreSQL stopped), and
 * exits 0.
 */
import 'reflect-metadata';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { mkdirSync } from 'node:fs';
import { pino } from 'pino';
import pg from 'pg';
import {
  baseEnvSchema,
  bootstrapService,
  createLogger,
  EMBEDDED_DATABASE,
  installSignalHandlers,
  loadEnv,
  NoctriaError,
  onProcessShutdown,
  resolveInfra,
  runProcessShutdown,
  SHUTDOWN_PHASE,
  type Infra,
  type Logger,
  type RunningService,
} from '@noctria/platform';
import type { Timeframe } from '@noctria/canonical-bar';
import { loadPolicySet, PolicyError, type PolicySet } from '@noctria/policy';
import { fleetEnvSchema, type FleetEnv } from './config.js';
import { FleetMarketClock } from './market-clock.js';
import { StartupProgress, type ProgressStream } from './progress.js';
import { FLEET_SERVICES, type FleetContext, type FleetOutput } from './services.js';

export const FLEET_ERROR = {
  PORT: 'OPS_RUNTIME_PORTBUSY',
  PG_BUSY: 'OPS_RUNTIME_PGBUSY',
  CONFIG: 'OPS_CONFIG_POLICY',
  START: 'OPS_RUNTIME_FLEETSTART',
} as const;

export interface FleetIo {
  stdout: ProgressStream;
  stderr: ProgressStream;
  env: Record<string, string | undefined>;
}

class FleetStartError extends NoctriaError {}

function isPortFree(port: number, host: string): Promise<boolean> {
  return new Promise((resolvePort) => {
    const srv = createServer();
    srv.once('error', () => resolvePort(false));
    srv.listen(port, host, () => srv.close(() => resolvePort(true)));
  });
}

/** True when the embedded PostgreSQL of `dataDir` is already running (another `npm start` or a `noctria` command). */
async function embeddedPostgresInUse(dataDir: string): Promise<number | undefined> {
  let state: { port?: unknown; user?: unknown; password?: unknown };
  try {
    state = JSON.parse(await readFile(join(dataDir, 'pg.json'), 'utf8')) as typeof state;
  } catch {
    return undefined;
  }
  if (typeof state.port !== 'number' || typeof state.user !== 'string' || typeof state.password !== 'string') return undefined;
  const client = new pg.Client({
    connectionString: `postgres://${encodeURIComponent(state.user)}:${encodeURIComponent(state.password)}@127.0.0.1:${state.port}/${EMBEDDED_DATABASE}`,
    connectionTimeoutMillis: 2000,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return state.port;
  } catch {
    return undefined;
  } finally {
    await client.end().catch(() => undefined);
  }
}

function fleetLogger(env: { NOCTRIA_DATA_DIR: string; LOG_LEVEL: string }, fleet: FleetEnv): { destination: ReturnType<typeof pino.destination>; file: string } {
  const target = fleet.NOCTRIA_LOG_FILE ?? join(env.NOCTRIA_DATA_DIR, 'logs', 'fleet.log');
  if (target === '-') return { destination: pino.destination({ fd: 2, sync: true }), file: 'stderr' };
  const file = resolve(target);
  mkdirSync(join(file, '..'), { recursive: true });
  return { destination: pino.destination({ dest: file, sync: true, mkdir: true }), file };
}

function output(io: FleetIo, json: boolean): FleetOutput {
  return {
    record(event, data, human) {
      if (json) io.stdout.write(`${JSON.stringify({ event, ...data })}\n`);
      else for (const l of human) io.stdout.write(`${l}\n`);
    },
    progress: (task) => new StartupProgress(io.stderr, task),
  };
}

function banner(profile: string, dataDir: string, logFile: string, services: { name: string; url: string; apiPaths: string[] }[]): string[] {
  const lines = ['', `Noctria fleet — ${profile} profile`];
  for (const s of services) {
    lines.push(
      `  ${s.name}`,
      `    health   ${s.url}/healthz`,
      `    ready    ${s.url}/readyz`,
      `    metrics  ${s.url}/metrics`,
      `    openapi  ${s.url}/openapi.json`,
      `    api      ${s.apiPaths.map((p) => (p.startsWith('POST ') ? `POST ${s.url}${p.slice(5)}` : `${s.url}${p}`)).join('\n             ')}`,
    );
  }
  lines.push(`  data dir ${dataDir}`, `  logs     ${logFile}`, '', 'Ctrl-C to stop', '');
  return lines;
}

/**
 * Starts the fleet; resolves once every service listens and its start-up jobs are done (the live loops keep
 * running). Shutdown is driven by the process signal handler (or `runProcessShutdown`).
 */
export async function startFleet(io: FleetIo): Promise<{ services: RunningService[]; infra: Infra }> {
  // Validates the base keys first (ENV_INVALID lines, exit 78), then every service's own schema.
  const base = loadEnv(baseEnvSchema, { env: io.env });
  const fleet = loadEnv(fleetEnvSchema, { env: io.env });
  const envs = FLEET_SERVICES.map((s) => s.loadEnv(io.env));
  const json = fleet.NOCTRIA_OUTPUT === 'json';
  const out = output(io, json);
  const dataDir = resolve(base.NOCTRIA_DATA_DIR);

  let policies: PolicySet;
  try {
    policies = loadPolicySet(base.NOCTRIA_CONFIG_DIR);
  } catch (err) {
    if (err instanceof PolicyError) throw new FleetStartError(FLEET_ERROR.CONFIG, err.message, { severity: 'CRITICAL' });
    throw err;
  }

  const allowed = policies.pipeline_policy.values.timeframe_allowed as string[];
  const timeframes = (fleet.NOCTRIA_TIMEFRAMES ?? [policies.pipeline_policy.values.timeframe_default]) as Timeframe[];
  const unknown = timeframes.filter((tf) => !allowed.includes(tf));
  if (unknown.length > 0) {
    throw new FleetStartError(FLEET_ERROR.CONFIG, `NOCTRIA_TIMEFRAMES: ${unknown.join(', ')} not in timeframe_allowed of pipeline_policy (${allowed.join(', ')})`, {
      severity: 'CRITICAL',
      details: { variable: 'NOCTRIA_TIMEFRAMES', unknown, allowed },
    });
  }

  const log = fleetLogger(base, fleet);
  const logger: Logger = createLogger({ service: 'fleet', level: base.LOG_LEVEL, destination: log.destination });
  const controller = new AbortController();
  let stopping = false;
  installSignalHandlers({ logger });
  // First step of the shutdown: stop start-up work and say so.
  onProcessShutdown({
    name: 'fleet.stop',
    phase: SHUTDOWN_PHASE.SERVICES - 50,
    run: async (reason) => {
      stopping = true;
      controller.abort();
      out.record('stopping', { reason }, [`\nstopping (${reason})…`]);
    },
  });

  // Ports first (cheap, and before an embedded PostgreSQL is started for nothing).
  for (const [i, s] of FLEET_SERVICES.entries()) {
    const port = s.port(envs[i]!);
    if (port !== 0 && !(await isPortFree(port, base.HTTP_HOST))) {
      throw new FleetStartError(FLEET_ERROR.PORT, `port ${port} of the ${s.name} service is already in use (${s.portVariable}=${port}); stop the other process or set ${s.portVariable} to a free port (0 = any free port)`, {
        severity: 'CRITICAL',
        details: { variable: s.portVariable, port },
      });
    }
  }
  if (base.NOCTRIA_PROFILE === 'embedded') {
    const port = await embeddedPostgresInUse(dataDir);
    if (port !== undefined) {
      throw new FleetStartError(
        FLEET_ERROR.PG_BUSY,
        `the embedded PostgreSQL of ${dataDir} is already running on port ${port} (another npm start, or a noctria command); stop it first, or use another NOCTRIA_DATA_DIR`,
        { severity: 'CRITICAL', details: { data_dir: dataDir, port } },
      );
    }
  }

  const infraPromise = resolveInfra(base, { service: 'fleet', logger });
  onProcessShutdown({
    name: 'fleet.infra',
    phase: SHUTDOWN_PHASE.INFRA,
    run: async () => {
      const infra = await infraPromise.catch(() => undefined);
      await infra?.close();
      log.destination.flushSync();
    },
  });
  const infra = await infraPromise;

  const clock = new FleetMarketClock(fleet.NOCTRIA_LIVE_SPEED);
  const ctx: FleetContext = { fleet, policies, timeframes, clock, out, logger, stopping: () => stopping, signal: controller.signal };
  const services: RunningService[] = [];
  for (const [i, s] of FLEET_SERVICES.entries()) {
    if (stopping) break;
    const env = envs[i]!;
    const port = s.port(env);
    try {
      services.push(
        await bootstrapService({
          service: s.name,
          env,
          infra,
          logger: createLogger({ service: s.name, level: base.LOG_LEVEL, destination: log.destination }),
          port,
          ...(s.schema ? { schema: s.schema } : {}),
          ...(s.migrations ? { migrations: s.migrations } : {}),
          module: (platform) => s.module(env, platform, ctx),
        }),
      );
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
        throw new FleetStartError(FLEET_ERROR.PORT, `port ${port} of the ${s.name} service is already in use (${s.portVariable}); set ${s.portVariable} to a free port (0 = any free port)`, {
          severity: 'CRITICAL',
          details: { variable: s.portVariable, port },
        });
      }
      throw err;
    }
  }
  if (stopping) return { services, infra };

  const shown = services.map((r, i) => ({ name: FLEET_SERVICES[i]!.name, url: r.url, apiPaths: FLEET_SERVICES[i]!.apiPaths }));
  out.record(
    'ready',
    {
      profile: infra.profile,
      data_dir: dataDir,
      log_file: log.file,
      services: shown.map((s) => ({ name: s.name, url: s.url, healthz: `${s.url}/healthz`, readyz: `${s.url}/readyz`, metrics: `${s.url}/metrics`, openapi: `${s.url}/openapi.json` })),
    },
    banner(infra.profile, dataDir, log.file, shown),
  );

  for (const [i, s] of FLEET_SERVICES.entries()) {
    if (stopping) break;
    await s.afterStart?.(services[i]!, envs[i]!, ctx);
  }
  return { services, infra };
}

/** Process entry: start, or print the error id and message (no stack trace), shut down what started, exit 1. */
export async function main(io: FleetIo = { stdout: process.stdout, stderr: process.stderr, env: process.env }): Promise<void> {
  try {
    await startFleet(io);
  } catch (err) {
    const e = err instanceof NoctriaError ? err : new NoctriaError(FLEET_ERROR.START, (err as Error)?.message ?? String(err), { severity: 'CRITICAL' });
    io.stderr.write(`noctria fleet: error ${e.id}: ${e.message}\n`);
    await runProcessShutdown('start-failed').catch(() => 1);
    process.exit(1);
  }
}
