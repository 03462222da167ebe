/** Process entry of the ingest service: validate the environment, then bootstrap (HTTP, bus handlers, relay). */
import 'reflect-metadata';
import { bootstrapService, loadEnv } from '@noctria/platform';
import { ingestEnvSchema } from './config.js';
import { ingestMigrations, INGEST_SCHEMA } from './db/migrations/index.js';
import { createIngestModule } from './ingest.module.js';
import { buildIngestOptions, INGEST_SERVICE } from './main.options.js';

const env = loadEnv(ingestEnvSchema);
await bootstrapService({
  service: INGEST_SERVICE,
  env,
  schema: INGEST_SCHEMA,
  migrations: ingestMigrations,
  port: env.INGEST_HTTP_PORT,
  module: (ctx) => createIngestModule(buildIngestOptions(env, ctx)),
});
