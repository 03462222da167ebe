import type { Kysely } from 'kysely';
import type { DB } from '../../src/db/schema.js';
import { BackfillService } from '../../src/pipeline/backfill.service.js';
import { IngestPipeline } from '../../src/pipeline/ingest-pipeline.js';
import { QuarantineService } from '../../src/pipeline/quarantine.service.js';
import type { IngestSettings } from '../../src/pipeline/settings.js';
import { countExpectedBars, timeframeMs, type Timeframe } from '@noctria/canonical-bar';
import type { MarketDataProvider } from '../../src/providers/market-data-provider.port.js';
import { testLogger, testMetrics, testSettings } from './harness.js';

export function buildPipeline(db: Kysely<DB>, opts: { provider: MarketDataProvider; nowMs: number; now?: () => number; settings?: IngestSettings; busPrefix?: string; chunkBars?: number; onCommitted?: () => void }) {
  const settings = opts.settings ?? testSettings();
  const logger = testLogger();
  const { registry, metrics } = testMetrics();
  const pipeline = new IngestPipeline({
    db,
    logger,
    metrics,
    registry,
    settings,
    busPrefix: opts.busPrefix ?? '',
    now: opts.now ?? (() => opts.nowMs),
    ...(opts.onCommitted ? { onCommitted: opts.onCommitted } : {}),
  });
  const quarantine = new QuarantineService({
    db,
    logger,
    metrics,
    thresholds: settings.dqThresholds,
    expectedBars: (tf, from, to) => countExpectedBars(from, to, tf as Timeframe, settings.calendar),
    timeframeMs: (tf) => timeframeMs(tf as Timeframe),
  });
  const backfill = new BackfillService({ pipeline, provider: opts.provider, quarantine, logger, registry, chunkBars: opts.chunkBars ?? 50 });
  return { pipeline, quarantine, backfill, registry, metrics, settings };
}

export async function storedBars(db: Kysely<DB>, symbol?: string) {
  let q = db.selectFrom('ingest.canonical_bars').select(['symbol', 'timeframe', 'ts_utc', 'open', 'high', 'low', 'close', 'volume', 'quality_flag', 'source_id', 'checksum', 'revision', 'metadata']);
  if (symbol) q = q.where('symbol', '=', symbol);
  const rows = await q.orderBy('symbol').orderBy('timeframe').orderBy('ts_utc').execute();
  return rows.map((r) => ({ ...r, ts_utc: r.ts_utc.toISOString() }));
}
