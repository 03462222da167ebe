import { Module, type DynamicModule } from '@nestjs/common';
import { FeaturesController } from './http/features.controller.js';
import { FEATURES_OPTIONS } from './features.tokens.js';
import { FeaturesRuntime, type FeaturesModuleOptions } from './features.runtime.js';
import { DatasetService } from './datasets/dataset.service.js';
import { DatasetsController } from './datasets/datasets.controller.js';

/**
 * The features service module. It expects the global PlatformModule (added by `bootstrapService`) for KYSELY
 * (schema `features`), BUS, LOGGER, METRICS_REGISTRY and the ShutdownCoordinator.
 */
@Module({})
export class FeaturesModule {
  static forRoot(options: FeaturesModuleOptions): DynamicModule {
    return {
      module: FeaturesModule,
      controllers: [FeaturesController, DatasetsController],
      providers: [{ provide: FEATURES_OPTIONS, useValue: options }, FeaturesRuntime, DatasetService],
      exports: [FeaturesRuntime, DatasetService],
    };
  }
}

/** Factory used by the launcher and main.ts: the features module for the given options. */
export function createFeaturesModule(options: FeaturesModuleOptions): DynamicModule {
  return FeaturesModule.forRoot(options);
}
