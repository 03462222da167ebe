/**
 * One-shot jobs compose the ingest service module in-process (`createServiceContext`, no HTTP): same
 * environment, same policies, same pipeline as the running service.
 */
import 'reflect-metadata';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pino } from 'pino';
import {
  createLogger,
  createMetricsRegistry,
  createServiceContext,
  loadEnv,
  NoctriaError,
  resolveInfra,
  type Infra,
  type Logger,
  type ServiceContext,
} from '@noctria/platform';
import { loadPolicySet, PolicyError, type PolicySet } from '@noctria/policy';
import {
  buildIngestOptions,
  createIngestModule,
  ingestEnvSchema,
  ingestMigrations,
  INGEST_SCHEMA,
  IngestRuntime,
  type IngestModuleOptions,
} from '@noctria/ingest';
import { attachedInfra, runningEmbeddedPostgres, withDeferredBus } from './embedded.js';
import { CliError, CLI_ERROR, EXIT } from './io.js';

export interface GlobalOptions {
  json?: boolean;
  configDir?: string;
  dataDir?: string;
}

export type CliEnv = ReturnType<typeof loadCliEnv>;

/** The ingest environment (platform base keys included) with --config-dir/--data-dir applied. */
export function loadCliEnv(globals: GlobalOptions, source: Record<string, string | undefined>, extra: Record<string, string> = {}) {
  const input: Record<string, string | undefined> = { ...source, ...extra };
  if (globals.configDir) input['NOCTRIA_CONFIG_DIR'] = globals.configDir;
  if (globals.dataDir) input['NOCTRIA_DATA_DIR'] = globals.dataDir;
  try {
    return loadEnv(ingestEnvSchema, { env: input, exit: false });
  } catch (err) {
    if (err instanceof NoctriaError) throw new CliError(err.id, err.message, EXIT.CONFIG, err.details);
    throw err;
  }
}

/** configs/*.yaml, validated; a broken policy directory is a clear error, not a stack trace. */
export function loadPolicies(configDir: string): PolicySet {
  try {
    return loadPolicySet(configDir);
  } catch (err) {
    if (err instanceof PolicyError) throw new CliError(err.id, err.message, EXIT.CONFIG);
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new CliError(CLI_ERROR.ARGS, `config directory ${configDir} not found or incomplete (--config-dir)`, EXIT.ARGS);
    throw err;
  }
}

/**
 * pino JSON logs go to `<data dir>/logs/<name>.log` (stdout belongs to the command's output);
 * NOCTRIA_LOG_FILE overrides the path, `-` sends them to stderr.
 */
export function commandLogger(env: { NOCTRIA_DATA_DIR: string; LOG_LEVEL: string }, source: Record<string, string | undefined>, name: string): { logger: Logger; file: string; close(): void } {
  const target = source['NOCTRIA_LOG_FILE'] ?? join(env.NOCTRIA_DATA_DIR, 'logs', `${name}.log`);
  if (target === '-') {
    const destination = pino.destination({ fd: 2, sync: true });
    return { logger: createLogger({ service: name, level: env.LOG_LEVEL, destination }), file: 'stderr', close: () => undefined };
  }
  const file = resolve(target);
  mkdirSync(join(file, '..'), { recursive: true });
  const destination = pino.destination({ dest: file, sync: true, mkdir: true });
  return {
    logger: createLogger({ service: name, level: env.LOG_LEVEL, destination }),
    file,
    close: () => {
      try {
        destination.flushSync();
      } catch {
        // nothing buffered
      }
      destination.end();
    },
  };
}

export interface IngestContext {
  env: CliEnv;
  policies: PolicySet;
  runtime: IngestRuntime;
  logger: Logger;
  /** 'cluster', 'embedded' (this process started PostgreSQL) or 'embedded-attached' (npm start's PostgreSQL). */
  mode: 'cluster' | 'embedded' | 'embedded-attached';
  logFile: string;
  close(): Promise<void>;
}

/**
 * Builds the ingest runtime for a command. Live polling, rpc handlers and retention are off (a CLI job must not
 * delete data as a side effect). In `cluster` the outbox relay publishes to JetStream and is flushed before the
 * context closes; in `embedded` messages stay in the outbox for the fleet (see embedded.ts).
 */
export async function openIngestContext(
  globals: GlobalOptions,
  source: Record<string, string | undefined>,
  extraEnv: Record<string, string> = {},
  adjust?: (options: IngestModuleOptions) => void,
): Promise<IngestContext> {
  const env = loadCliEnv(globals, source, extraEnv);
  const policies = loadPolicies(env.NOCTRIA_CONFIG_DIR);
  const log = commandLogger(env, source, 'noctria-cli');
  const logger = log.logger;
  const registry = createMetricsRegistry({ service: 'noctria-cli', defaultMetrics: false });
  let infra: Infra;
  let mode: IngestContext['mode'];
  try {
    if (env.NOCTRIA_PROFILE === 'embedded') {
      const running = await runningEmbeddedPostgres(env.NOCTRIA_DATA_DIR);
      if (running) {
        infra = attachedInfra(running.url, env.NOCTRIA_DATA_DIR, logger);
        mode = 'embedded-attached';
        logger.info({ port: running.port }, 'attached to the running embedded PostgreSQL');
      } else {
        infra = withDeferredBus(await resolveInfra(env, { service: 'noctria-cli', logger, registry, shared: false }), logger);
        mode = 'embedded';
      }
    } else {
      infra = await resolveInfra(env, { service: 'noctria-cli', logger, registry, shared: false });
      mode = 'cluster';
    }
  } catch (err) {
    log.close();
    if (err instanceof NoctriaError) throw new CliError(err.id, err.message, EXIT.FAILED, err.details);
    throw err;
  }
  let ctx: ServiceContext;
  try {
    ctx = await createServiceContext({
      service: 'ingest',
      env,
      infra,
      logger,
      registry,
      schema: INGEST_SCHEMA,
      migrations: ingestMigrations,
      handleSignals: false,
      poolMax: 4,
      module: (pctx) => {
        const options = buildIngestOptions(env, pctx);
        options.live = { enabled: false };
        options.rpc = false;
        delete options.retention;
        if (mode !== 'cluster') options.relayPollMs = 3_600_000;
        adjust?.(options);
        return createIngestModule(options);
      },
    });
  } catch (err) {
    await infra.close().catch(() => undefined);
    log.close();
    if (err instanceof NoctriaError) throw new CliError(err.id, err.message, EXIT.FAILED, err.details);
    throw err;
  }
  const runtime = ctx.app.get(IngestRuntime, { strict: false });
  // Embedded: the bus belongs to the fleet process; stop this relay so rows stay pending for it.
  if (mode !== 'cluster') await runtime.relay.stop();
  let closing: Promise<void> | undefined;
  return {
    env,
    policies,
    runtime,
    logger,
    mode,
    logFile: log.file,
    close() {
      closing ??= (async () => {
        try {
          if (mode === 'cluster') await runtime.relay.flush();
          await ctx.close();
        } finally {
          await infra.close().catch((err) => logger.warn({ err }, 'closing infrastructure failed'));
          log.close();
        }
      })();
      return closing;
    },
  };
}
