/**
 * @noctria/features-service — the features service as a composable unit: the Nest module factory, its migrations
 * and schema name (the embedded fleet composes several services in one process), the options builder and the
 * framework-free pipeline pieces.
 */
export { FeaturesModule, createFeaturesModule } from './features.module.js';
export { FeaturesRuntime, type FeaturesModuleOptions } from './features.runtime.js';
export { featuresMigrations, FEATURES_SCHEMA } from './db/migrations/index.js';
export type { DB as FeaturesDB } from './db/schema.js';
export { featuresEnvSchema, type FeaturesEnv } from './config.js';
export { buildFeaturesOptions, FEATURES_SERVICE } from './main.options.js';
export { runFeaturesMigrations, featuresMigrateEnvSchema } from './migrate.js';
export { FeaturePipeline, FEATURES_PRODUCER, type IncomingBar, type ApplyResult, type SeriesStatus, type VectorEffect } from './pipeline/feature-pipeline.js';
export { BarConsumer } from './pipeline/bar-consumer.js';
export { OutboxRelay } from './pipeline/outbox-relay.js';
export { featuresSettingsFromPolicies, paramsFromPolicy, type FeaturesSettings, type PairSeriesSpec } from './pipeline/settings.js';
export { BetaJumpDetector, vectorQuality, type LegObservation, type VectorQuality, type QualityReason } from './pipeline/quality.js';
export { float8ArrayLiteral, float8ArrayFromDb } from './pipeline/float8-array.js';
export { createFeaturesMetrics, type FeaturesMetrics } from './telemetry.js';
export { FEATURES_ERROR } from './errors.js';
export {
  FeaturesRetentionService,
  createFeaturesRetentionMetrics,
  featuresRetentionSettingsFromPolicies,
  type FeaturesRetentionSettings,
  type RetentionResult as FeaturesRetentionResult,
} from './retention.service.js';
export { runFeaturesRetention, featuresRetentionEnvSchema } from './retention.js';
export {
  buildSnapshot,
  computePair,
  canonicalJson,
  combinedDataHash,
  sha256Hex,
  snapshotIdOf,
  SNAPSHOT_FORMAT,
  SNAPSHOT_COLUMNS,
  type BuiltSnapshot,
  type SnapshotFile,
  type SnapshotManifest,
  type SnapshotPairInput,
  type SnapshotSpec,
} from './datasets/snapshot.js';
export { DatasetService, snapshotRequestSchema, type DatasetOptions, type SnapshotView, type SnapshotRequest, type PairIntegrity } from './datasets/dataset.service.js';
export { DATASET_ERROR } from './datasets/errors.js';
export { codeVersion } from './datasets/code-version.js';
