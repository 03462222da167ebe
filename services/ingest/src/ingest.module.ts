import { Module, type DynamicModule } from '@nestjs/common';
import { IngestController } from './http/ingest.controller.js';
import { INGEST_OPTIONS } from './ingest.tokens.js';
import { IngestRuntime, type IngestModuleOptions } from './ingest.runtime.js';

/**
 * The ingest service module. It expects the global PlatformModule (added by `bootstrapService`) for
 * KYSELY (schema `ingest`), BUS, LOGGER, METRICS_REGISTRY and the ShutdownCoordinator.
 */
@Module({})
export class IngestModule {
  static forRoot(options: IngestModuleOptions): DynamicModule {
    return {
      module: IngestModule,
      controllers: [IngestController],
      providers: [{ provide: INGEST_OPTIONS, useValue: options }, IngestRuntime],
      exports: [IngestRuntime],
    };
  }
}

/** Factory used by the launcher and main.ts: the ingest module for the given options. */
export function createIngestModule(options: IngestModuleOptions): DynamicModule {
  return IngestModule.forRoot(options);
}
