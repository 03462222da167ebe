import { Global, Inject, Injectable, Module, Optional, type DynamicModule, type OnApplicationShutdown, type Provider } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import type { Migration } from 'kysely';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { ArtifactStore } from '../artifacts/artifact.port.js';
import type { BaseEnv } from '../config/env-schemas.js';
import { createDatabase, type Database } from '../db/database.js';
import { migrateToLatest } from '../db/migrations.js';
import { createLogger } from '../logging/logger.js';
import { createMetricsRegistry } from '../metrics/registry.js';
import type { Infra } from '../runtime/infra.js';
import { HealthController } from './health.controller.js';
import { ShutdownCoordinator } from './shutdown-coordinator.js';
import {
  ARTIFACT_STORE,
  BUS,
  CACHE,
  DATABASE,
  INFRA,
  KYSELY,
  LOGGER,
  METRICS_REGISTRY,
  PLATFORM_OPTIONS,
  SERVICE_ENV,
  SERVICE_NAME,
} from './tokens.js';

export interface PlatformModuleOptions<E extends BaseEnv = BaseEnv> {
  service: string;
  /** The service's validated environment (provided as SERVICE_ENV). */
  env: E;
  infra: Infra;
  /** Provided as ARTIFACT_STORE; defaults to `infra.artifacts` (the bootstrap always passes one). */
  artifacts?: ArtifactStore;
  /** The service's own Postgres schema. Omit for services without a database (no KYSELY, no DB check). */
  schema?: string;
  migrations?: Record<string, Migration>;
  /** Run `migrateToLatest` when the module starts (default true; the cluster may run them from a Job). */
  runMigrations?: boolean;
  poolMax?: number;
  logger?: Logger;
  registry?: Registry;
}

/** Closes the service's pool after HTTP has stopped (Nest `onApplicationShutdown`). */
@Injectable()
export class DatabaseLifecycle implements OnApplicationShutdown {
  constructor(
    @Inject(LOGGER) private readonly logger: Logger,
    @Optional() @Inject(DATABASE) private readonly database?: Database<unknown>,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    if (!this.database) return;
    await this.database.close();
    this.logger.info({ schema: this.database.schema }, 'database pool closed');
  }
}

@Global()
@Module({})
export class PlatformModule {
  /**
   * The global platform module of one service: KYSELY (its schema, migrated at start), BUS, CACHE,
   * ARTIFACT_STORE, LOGGER, METRICS_REGISTRY, INFRA, SERVICE_ENV, the ShutdownCoordinator, and /healthz,
   * /readyz, /metrics.
   */
  static forService<E extends BaseEnv>(options: PlatformModuleOptions<E>): DynamicModule {
    const artifacts = options.artifacts ?? options.infra.artifacts;
    if (!artifacts) {
      throw new TypeError('PlatformModule.forService needs an artefact store (options.artifacts or infra.artifacts)');
    }
    const logger = options.logger ?? createLogger({ service: options.service, level: options.env.LOG_LEVEL });
    const registry = options.registry ?? createMetricsRegistry({ service: options.service });
    const providers: Provider[] = [
      { provide: PLATFORM_OPTIONS, useValue: options },
      { provide: SERVICE_NAME, useValue: options.service },
      { provide: SERVICE_ENV, useValue: options.env },
      { provide: INFRA, useValue: options.infra },
      { provide: BUS, useValue: options.infra.bus },
      { provide: CACHE, useValue: options.infra.redis },
      { provide: ARTIFACT_STORE, useValue: artifacts },
      { provide: LOGGER, useValue: logger },
      { provide: METRICS_REGISTRY, useValue: registry },
      ShutdownCoordinator,
      DatabaseLifecycle,
    ];
    const exported: Array<string | typeof ShutdownCoordinator> = [
      SERVICE_NAME,
      SERVICE_ENV,
      INFRA,
      BUS,
      CACHE,
      ARTIFACT_STORE,
      LOGGER,
      METRICS_REGISTRY,
      ShutdownCoordinator,
    ];
    const schema = options.schema;
    if (schema !== undefined) {
      providers.push(
        {
          provide: DATABASE,
          useFactory: async (): Promise<Database<unknown>> => {
            const database = createDatabase<unknown>({
              connectionString: options.infra.databaseUrl,
              schema,
              poolMax: options.poolMax ?? 10,
              applicationName: options.service,
            });
            if ((options.runMigrations ?? true) && options.migrations && Object.keys(options.migrations).length > 0) {
              try {
                const applied = await migrateToLatest({ db: database.db, schema, migrations: options.migrations });
                logger.info({ schema, applied }, applied.length > 0 ? 'migrations applied' : 'schema up to date');
              } catch (err) {
                await database.close();
                throw err;
              }
            }
            return database;
          },
        },
        { provide: KYSELY, useFactory: (database: Database<unknown>) => database.db, inject: [DATABASE] },
      );
      exported.push(DATABASE, KYSELY);
    }
    return {
      module: PlatformModule,
      global: true,
      imports: [TerminusModule.forRoot({ logger: false })],
      controllers: [HealthController],
      providers,
      exports: exported,
    };
  }
}
