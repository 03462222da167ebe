/**
 * @noctria/ingest — the ingest service as a composable unit: the Nest module factory, its migrations and schema
 * name (a launcher composes several services in one process), and the framework-free pipeline pieces.
 */
export { IngestModule, createIngestModule } from './ingest.module.js';
export { IngestRuntime, type IngestModuleOptions } from './ingest.runtime.js';
export { ingestMigrations, INGEST_SCHEMA } from './db/migrations/index.js';
export type { DB as IngestDB } from './db/schema.js';
export { ingestEnvSchema, type IngestEnv } from './config.js';
export { buildIngestOptions, INGEST_SERVICE } from './main.options.js';
export { IngestPipeline, type ChunkRequest, type ChunkResult } from './pipeline/ingest-pipeline.js';
export { BackfillService, type BackfillRequest, type BackfillProgress, type BackfillSummary } from './pipeline/backfill.service.js';
export { OutboxRelay } from './pipeline/outbox-relay.js';
export { QuarantineService } from './pipeline/quarantine.service.js';
export { RetentionService, retentionSettingsFromPolicies, type RetentionSettings, type RetentionResult } from './pipeline/retention.service.js';
export { LiveService, lastClosedTradingBar, type LiveSeriesStatus, type LiveOptions } from './pipeline/live.service.js';
export {
  ExportService,
  windowParamsFromPolicy,
  partitionDir,
  dayFileName,
  EXPORT_COLUMNS,
  type ExportFormat,
  type ExportRequest,
  type ExportResult,
  type ExportManifest,
  type ExportedFile,
  type MetaFileEntry,
  type MonthMeta,
  type MonthReport,
  type WindowParams,
} from './pipeline/export.service.js';
export {
  ImportService,
  columnsFromHeader,
  parseTimeZoneSpec,
  IMPORT_CHUNK_BARS,
  type ImportFormat,
  type ImportRequest,
  type ImportSummary,
  type ImportRejectedRow,
} from './pipeline/import.service.js';
export { settingsFromPolicies, universeSymbols, type IngestSettings } from './pipeline/settings.js';
export { createIngestMetrics, type IngestMetrics } from './telemetry.js';
export { INGEST_ERROR } from './errors.js';
// Provider adapters used by the `noctria` CLI (demo data, file imports) and the embedded fleet (appended by the cli/fleet work).
export {
  SyntheticProvider,
  DEFAULT_SYNTHETIC_SYMBOLS,
  DEFAULT_SYNTHETIC_PAIRS,
  AcceleratedClock,
  FileProvider,
  classifyBarFileName,
  parseBarFile,
  type MarketClock,
  type MarketDataProvider,
  type BarFileFormat,
  type CsvColumnMapping,
  type BrokerTimeZone,
  type SyntheticSymbolSpec,
} from './providers/index.js';
// Storage path (benchmarks measure the pipeline's real upsert).
export { BarsRepository, type BarToStore, type UpsertResult } from './repositories/bars.repository.js';
