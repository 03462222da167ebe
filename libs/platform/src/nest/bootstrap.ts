import 'reflect-metadata';
import { Module, type DynamicModule, type INestApplicationContext, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import type { FastifyInstance } from 'fastify';
import type { Migration } from 'kysely';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { ArtifactStore } from '../artifacts/artifact.port.js';
import { createArtifactStore } from '../artifacts/factory.js';
import type { BaseEnv } from '../config/env-schemas.js';
import { reportError } from '../errors/report-error.js';
import { createLogger } from '../logging/logger.js';
import { PinoNestLogger } from '../logging/nest-logger.js';
import { createMetricsRegistry } from '../metrics/registry.js';
import { resolveInfra, type Infra } from '../runtime/infra.js';
import { SHUTDOWN_PHASE, installSignalHandlers, onProcessShutdown } from '../runtime/process-shutdown.js';
import { flushTelemetry, initTelemetry, shutdownTelemetry } from '../telemetry/telemetry.js';
import { installHttpMetrics } from './http-metrics.js';
import { PlatformModule } from './platform.module.js';

/** What a service module may need to build itself (when `module` is a factory). */
export interface PlatformContext<E extends BaseEnv = BaseEnv> {
  service: string;
  env: E;
  infra: Infra;
  /** Also injectable as ARTIFACT_STORE. */
  artifacts: ArtifactStore;
  logger: Logger;
  registry: Registry;
}

export type ServiceModule<E extends BaseEnv = BaseEnv> =
  | Type<unknown>
  | DynamicModule
  | ((ctx: PlatformContext<E>) => Type<unknown> | DynamicModule);

export interface ServiceContextOptions<E extends BaseEnv = BaseEnv> {
  service: string;
  /** The service's root module (it must not import PlatformModule itself: bootstrap adds it). */
  module: ServiceModule<E>;
  env: E;
  /** Shared infrastructure (the embedded fleet passes one); otherwise resolved from `env` and closed at shutdown. */
  infra?: Infra;
  /** The service's Postgres schema (KYSELY + migrations); omit for services without a database. */
  schema?: string;
  migrations?: Record<string, Migration>;
  runMigrations?: boolean;
  poolMax?: number;
  version?: string;
  logger?: Logger;
  registry?: Registry;
  /** Install the process SIGTERM/SIGINT handling (default true). */
  handleSignals?: boolean;
  /** Graceful-shutdown limit before exit(1) (default 25 s). */
  shutdownTimeoutMs?: number;
}

export interface BootstrapOptions<E extends BaseEnv = BaseEnv> extends ServiceContextOptions<E> {
  /** Defaults to env.HTTP_PORT; 0 picks a free port. */
  port?: number;
  /** Defaults to env.HTTP_HOST. */
  host?: string;
  /** OpenAPI document metadata (served at /openapi.json). */
  openapi?: { title?: string; description?: string };
}

export interface RunningService {
  app: NestFastifyApplication;
  /** Bound base URL, e.g. `http://127.0.0.1:41234`. */
  url: string;
  logger: Logger;
  registry: Registry;
  infra: Infra;
  artifacts: ArtifactStore;
  openapi: OpenAPIObject;
  /** Graceful stop without exiting: consumers, in-flight work, HTTP, DB pool, then infra it created. Idempotent. */
  close(): Promise<void>;
}

export interface ServiceContext {
  app: INestApplicationContext;
  logger: Logger;
  registry: Registry;
  infra: Infra;
  artifacts: ArtifactStore;
  close(): Promise<void>;
}

@Module({})
class NoctriaServiceRootModule {}

interface Prepared<E extends BaseEnv> {
  ctx: PlatformContext<E>;
  ownsInfra: boolean;
  /** Set when the infra came without a store and this service built its own (closed with the service). */
  ownedArtifacts: ArtifactStore | undefined;
  root: DynamicModule;
}

async function prepare<E extends BaseEnv>(options: ServiceContextOptions<E>): Promise<Prepared<E>> {
  const logger = options.logger ?? createLogger({ service: options.service, level: options.env.LOG_LEVEL });
  initTelemetry({
    service: options.service,
    ...(options.version ? { version: options.version } : {}),
    ...(options.env.OTEL_EXPORTER_OTLP_ENDPOINT ? { otlpEndpoint: options.env.OTEL_EXPORTER_OTLP_ENDPOINT } : {}),
  });
  const registry = options.registry ?? createMetricsRegistry({ service: options.service });
  const ownsInfra = options.infra === undefined;
  const infra = options.infra ?? (await resolveInfra(options.env, { service: options.service, logger, registry }));
  let ownedArtifacts: ArtifactStore | undefined;
  try {
    if (!infra.artifacts) ownedArtifacts = await createArtifactStore(options.env, infra.bus);
    const artifacts = (infra.artifacts ?? ownedArtifacts) as ArtifactStore;
    const ctx: PlatformContext<E> = { service: options.service, env: options.env, infra, artifacts, logger, registry };
    const serviceModule = typeof options.module === 'function' && !isModuleClass(options.module)
      ? (options.module as (c: PlatformContext<E>) => Type<unknown> | DynamicModule)(ctx)
      : (options.module as Type<unknown> | DynamicModule);
    const platform = PlatformModule.forService<E>({
      service: options.service,
      env: options.env,
      infra,
      artifacts,
      logger,
      registry,
      ...(options.schema !== undefined ? { schema: options.schema } : {}),
      ...(options.migrations ? { migrations: options.migrations } : {}),
      ...(options.runMigrations !== undefined ? { runMigrations: options.runMigrations } : {}),
      ...(options.poolMax !== undefined ? { poolMax: options.poolMax } : {}),
    });
    return { ctx, ownsInfra, ownedArtifacts, root: { module: NoctriaServiceRootModule, imports: [platform, serviceModule] } };
  } catch (err) {
    await ownedArtifacts?.close().catch(() => undefined);
    if (ownsInfra) await infra.close().catch(() => undefined);
    throw err;
  }
}

/** Classes (modules) are functions too: tell them apart from module factories. */
function isModuleClass(fn: unknown): boolean {
  return typeof fn === 'function' && /^class[\s{]/.test(Function.prototype.toString.call(fn));
}

function closer(steps: {
  name: string;
  logger: Logger;
  closeApp: () => Promise<void>;
  infra: Infra;
  ownsInfra: boolean;
  ownedArtifacts: ArtifactStore | undefined;
  handleSignals: boolean;
  shutdownTimeoutMs?: number;
}): () => Promise<void> {
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      steps.logger.info('shutting down');
      try {
        await steps.closeApp();
      } finally {
        await steps.ownedArtifacts?.close().catch((err: unknown) => steps.logger.warn({ err }, 'closing the artefact store failed'));
        if (steps.ownsInfra) await steps.infra.close();
        await flushTelemetry().catch(() => undefined);
        steps.logger.info('shut down');
        steps.logger.flush();
      }
    })();
    return closing;
  };
  const unregister = onProcessShutdown({ name: steps.name, phase: SHUTDOWN_PHASE.SERVICES, run: close });
  if (steps.handleSignals) {
    registerTelemetryShutdownOnce(steps.logger);
    installSignalHandlers({
      logger: steps.logger,
      ...(steps.shutdownTimeoutMs !== undefined ? { timeoutMs: steps.shutdownTimeoutMs } : {}),
    });
  }
  return async () => {
    try {
      await close();
    } finally {
      unregister();
    }
  };
}

let telemetryHookRegistered = false;
function registerTelemetryShutdownOnce(logger: Logger): void {
  if (telemetryHookRegistered) return;
  telemetryHookRegistered = true;
  onProcessShutdown({
    name: 'telemetry',
    phase: SHUTDOWN_PHASE.TELEMETRY,
    run: async () => {
      telemetryHookRegistered = false;
      await shutdownTelemetry();
      logger.flush();
    },
  });
}

/**
 * The one bootstrap of every service: validated env in, a listening Nest app on Fastify out.
 * pino for Nest's logs, OpenTelemetry, the service's PlatformModule (KYSELY/BUS/CACHE/... and
 * /healthz, /readyz, /metrics), HTTP duration metrics, OpenAPI at /openapi.json, and SIGTERM/SIGINT →
 * graceful shutdown (stop consumers, finish in-flight work, close HTTP, DB pool, bus/cache it created,
 * flush telemetry) → exit 0.
 */
export async function bootstrapService<E extends BaseEnv>(options: BootstrapOptions<E>): Promise<RunningService> {
  const { ctx, ownsInfra, ownedArtifacts, root } = await prepare(options);
  const { logger, registry, infra, artifacts } = ctx;
  let app: NestFastifyApplication;
  try {
    const adapter = new FastifyAdapter({ logger: false, return503OnClosing: true });
    app = await NestFactory.create<NestFastifyApplication>(root, adapter, {
      logger: new PinoNestLogger(logger),
      abortOnError: false,
    });
    const fastify = app.getHttpAdapter().getInstance() as unknown as FastifyInstance;
    installHttpMetrics(fastify, registry);

    const document = SwaggerModule.createDocument(
      app,
      new DocumentBuilder()
        .setTitle(options.openapi?.title ?? `noctria ${options.service}`)
        .setDescription(options.openapi?.description ?? `${options.service} service API`)
        .setVersion(options.version ?? '0.1.0')
        .build(),
    );
    fastify.get('/openapi.json', async () => document);

    await app.listen({ port: options.port ?? options.env.HTTP_PORT, host: options.host ?? options.env.HTTP_HOST });
    const url = boundUrl(app.getHttpServer().address() as AddressInfo);
    logger.info({ url, profile: infra.profile }, `${options.service} listening`);

    const close = closer({
      name: options.service,
      logger,
      closeApp: () => app.close(),
      infra,
      ownsInfra,
      ownedArtifacts,
      handleSignals: options.handleSignals ?? true,
      ...(options.shutdownTimeoutMs !== undefined ? { shutdownTimeoutMs: options.shutdownTimeoutMs } : {}),
    });
    return { app, url, logger, registry, infra, artifacts, openapi: document, close };
  } catch (err) {
    reportError(err, { logger, registry, fallbackId: 'OPS_RUNTIME_BOOT' });
    await ownedArtifacts?.close().catch(() => undefined);
    if (ownsInfra) await infra.close().catch(() => undefined);
    throw err;
  }
}

/** Same wiring without HTTP, for CLI commands and one-shot jobs. */
export async function createServiceContext<E extends BaseEnv>(options: ServiceContextOptions<E>): Promise<ServiceContext> {
  const { ctx, ownsInfra, ownedArtifacts, root } = await prepare(options);
  const { logger, registry, infra, artifacts } = ctx;
  try {
    const app = await NestFactory.createApplicationContext(root, { logger: new PinoNestLogger(logger), abortOnError: false });
    await app.init();
    const close = closer({
      name: options.service,
      logger,
      closeApp: () => app.close(),
      infra,
      ownsInfra,
      ownedArtifacts,
      handleSignals: options.handleSignals ?? false,
      ...(options.shutdownTimeoutMs !== undefined ? { shutdownTimeoutMs: options.shutdownTimeoutMs } : {}),
    });
    return { app, logger, registry, infra, artifacts, close };
  } catch (err) {
    reportError(err, { logger, registry, fallbackId: 'OPS_RUNTIME_BOOT' });
    await ownedArtifacts?.close().catch(() => undefined);
    if (ownsInfra) await infra.close().catch(() => undefined);
    throw err;
  }
}

function boundUrl(address: AddressInfo): string {
  let host = address.address;
  if (host === '0.0.0.0') host = '127.0.0.1';
  else if (host === '::') host = '::1';
  return address.family === 'IPv6' || host.includes(':') ? `http://[${host}]:${address.port}` : `http://${host}:${address.port}`;
}
