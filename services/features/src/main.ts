/** Process entry of the features service: validate the environment, then bootstrap (HTTP, bar consumer, relay, rpc). */
import 'reflect-metadata';
import { bootstrapService, loadEnv } from '@noctria/platform';
import { featuresEnvSchema } from './config.js';
import { featuresMigrations, FEATURES_SCHEMA } from './db/migrations/index.js';
import { createFeaturesModule } from './features.module.js';
import { buildFeaturesOptions, FEATURES_SERVICE } from './main.options.js';

const env = loadEnv(featuresEnvSchema);
await bootstrapService({
  service: FEATURES_SERVICE,
  env,
  schema: FEATURES_SCHEMA,
  migrations: featuresMigrations,
  port: env.FEATURES_HTTP_PORT,
  module: () => createFeaturesModule(buildFeaturesOptions(env)),
});
