/** Shared set-up of the ingest integration tests: a cloned test database, logger, metrics, settings, bars. */
import { barChecksum, formatTsUtc, type CanonicalBar, type Timeframe } from '@noctria/canonical-bar';
import { createDatabase, createLogger, createMetricsRegistry, type Database } from '@noctria/platform';
import { createTestDatabase, type TestDatabase } from '@noctria/testing';
import type { Kysely } from 'kysely';
import { ingestMigrations, INGEST_SCHEMA } from '../../src/db/migrations/index.js';
import type { DB } from '../../src/db/schema.js';
import type { IngestSettings } from '../../src/pipeline/settings.js';
import { createIngestMetrics } from '../../src/telemetry.js';

export interface TestDb {
  test: TestDatabase;
  database: Database<DB>;
  db: Kysely<DB>;
  close(): Promise<void>;
}

export async function openTestDb(): Promise<TestDb> {
  const test = await createTestDatabase({ schema: INGEST_SCHEMA, migrations: ingestMigrations });
  const database = createDatabase<DB>({ connectionString: test.connectionString, schema: INGEST_SCHEMA, poolMax: 8 });
  return {
    test,
    database,
    db: database.db,
    async close() {
      await database.close();
      await test.drop();
    },
  };
}

export function testLogger() {
  return createLogger({ service: 'ingest-test', level: process.env['TEST_LOG_LEVEL'] ?? 'silent' });
}

export function testMetrics() {
  const registry = createMetricsRegistry({ service: 'ingest', defaultMetrics: false });
  return { registry, metrics: createIngestMetrics(registry) };
}

export function testSettings(overrides: Partial<IngestSettings> = {}): IngestSettings {
  return {
    timeframeAllowed: ['15m', '1h', '4h'],
    timeframes: ['1h'],
    historyLookbackMonths: 24,
    diffThresh: 0.003,
    outlierSigma: 8,
    spikeK: 12,
    missingFillMaxRun: 2,
    dqThresholds: { missing_rate: 0.05, outlier_rate: 0.08 },
    freshnessBudgetSeconds: { '15m': 60, '1h': 120, '4h': 180 },
    calendar: '24/5',
    universeSymbols: ['XAGUSD', 'XAUUSD'],
    retention: { canonicalMonths: 36, rawDays: 60, graceDays: 3 },
    dqContextBars: 400,
    ...overrides,
  };
}

/** A valid bar; close drives the other prices. */
export function bar(symbol: string, timeframe: Timeframe, tsMs: number, close: number, extra: Partial<CanonicalBar> = {}): CanonicalBar {
  const open = extra.open ?? close;
  return {
    ts_utc: formatTsUtc(tsMs),
    symbol,
    timeframe,
    open,
    high: Math.max(open, close) + 0.5,
    low: Math.min(open, close) - 0.5,
    close,
    volume: null,
    quality_flag: 'ok',
    source_id: 'test',
    ingest_run_id: 'run-test',
    metadata: {},
    ...extra,
  };
}

export function toStore(b: CanonicalBar) {
  return { bar: b, tsMs: Date.parse(b.ts_utc), checksum: barChecksum(b) };
}
