import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import type { Kysely } from 'kysely';
import type { Registry } from 'prom-client';
import { countExpectedBars, timeframeMs, type Timeframe } from '@noctria/canonical-bar';
import { streamFor } from '@noctria/contracts';
import { BUS, KYSELY, LOGGER, METRICS_REGISTRY, ShutdownCoordinator, reportError, type Bus, type Logger } from '@noctria/platform';
import type { DB } from './db/schema.js';
import { INGEST_OPTIONS } from './ingest.tokens.js';
import { BackfillService } from './pipeline/backfill.service.js';
import { ExportService, type WindowParams } from './pipeline/export.service.js';
import { ImportService } from './pipeline/import.service.js';
import { IngestPipeline } from './pipeline/ingest-pipeline.js';
import { LiveService, type LiveOptions } from './pipeline/live.service.js';
import { OutboxRelay } from './pipeline/outbox-relay.js';
import { StreamingLiveService, type StreamLiveOptions } from './pipeline/stream-live.service.js';
import { QuarantineService } from './pipeline/quarantine.service.js';
import { RetentionService } from './pipeline/retention.service.js';
import type { IngestSettings } from './pipeline/settings.js';
import type { MarketDataProvider } from './providers/market-data-provider.port.js';
import { createIngestMetrics, type IngestMetrics } from './telemetry.js';
import { registerRpcHandlers } from './rpc/rpc.handlers.js';

export interface IngestModuleOptions {
  settings: IngestSettings;
  /** The provider chain (FailoverRouter over ResilientProviders, or a single provider). */
  provider: MarketDataProvider;
  /** Bus subject prefix ('' in production; a unique one per test). */
  busPrefix?: string;
  /** Bars per backfill chunk (default 2000). */
  chunkBars?: number;
  /** Where exports are written (ArtifactStore local directory). */
  artifactDir: string;
  /** Outbox poll interval (default 1000 ms). */
  relayPollMs?: number;
  /** Wall/market clock (default Date.now). */
  now?: () => number;
  /**
   * Live mode: `poll` (default) polls the provider for newly closed bars; `stream` aggregates the provider's quote
   * stream (TwelveData WebSocket) into bars, with REST catch-ups after reconnects.
   */
  live?: LiveOptions & StreamLiveOptions & { enabled: boolean; mode?: 'poll' | 'stream' };
  /** Runs `running` with a heartbeat older than this at start are marked interrupted (default 60 s). */
  staleRunAfterMs?: number;
  /** Register the rpc.ingest.* request handlers (default true). */
  rpc?: boolean;
  /** Periodic retention (data_retention.yaml settings are in `settings.retention`); omitted: not scheduled. */
  retention?: { intervalMs: number };
  /** pipeline_policy window parameters recorded in every export's `__meta.json`. */
  windowParams?: (timeframe: string) => WindowParams;
}

/** Everything the ingest service runs, built once from the platform tokens; started and stopped with the app. */
@Injectable()
export class IngestRuntime implements OnApplicationBootstrap, OnModuleDestroy {
  readonly metrics: IngestMetrics;
  readonly pipeline: IngestPipeline;
  readonly relay: OutboxRelay;
  readonly quarantine: QuarantineService;
  readonly backfill: BackfillService;
  readonly retention: RetentionService;
  readonly imports: ImportService;
  readonly exports: ExportService;
  readonly live: LiveService;
  /** The WebSocket live path (started next to the polling `live` guard when `options.live.mode` is `stream`). */
  readonly streamLive: StreamingLiveService;

  constructor(
    @Inject(INGEST_OPTIONS) readonly options: IngestModuleOptions,
    @Inject(KYSELY) readonly db: Kysely<DB>,
    @Inject(BUS) readonly bus: Bus,
    @Inject(LOGGER) readonly logger: Logger,
    @Inject(METRICS_REGISTRY) readonly registry: Registry,
    @Inject(ShutdownCoordinator) private readonly shutdown: ShutdownCoordinator,
  ) {
    const settings = options.settings;
    this.metrics = createIngestMetrics(registry);
    this.relay = new OutboxRelay({ db, bus, logger, metrics: this.metrics, registry, pollMs: options.relayPollMs ?? 1000, ...(options.now ? { now: options.now } : {}) });
    this.pipeline = new IngestPipeline({
      db,
      logger,
      metrics: this.metrics,
      registry,
      settings,
      busPrefix: options.busPrefix ?? '',
      onCommitted: () => this.relay.kick(),
      ...(options.now ? { now: options.now } : {}),
    });
    this.quarantine = new QuarantineService({
      db,
      logger,
      metrics: this.metrics,
      thresholds: settings.dqThresholds,
      expectedBars: (tf, from, to) => countExpectedBars(from, to, tf as Timeframe, settings.calendar),
      timeframeMs: (tf) => timeframeMs(tf as Timeframe),
    });
    this.backfill = new BackfillService({ pipeline: this.pipeline, provider: options.provider, quarantine: this.quarantine, logger, registry, chunkBars: options.chunkBars ?? 2000 });
    this.retention = new RetentionService(db, logger);
    this.imports = new ImportService({ pipeline: this.pipeline, quarantine: this.quarantine, logger, registry });
    this.exports = new ExportService({ db, artifactDir: options.artifactDir, logger, ...(options.windowParams ? { windowParams: options.windowParams } : {}) });
    this.live = new LiveService({
      pipeline: this.pipeline,
      provider: options.provider,
      db,
      logger,
      registry,
      metrics: this.metrics,
      busPrefix: options.busPrefix ?? '',
      onCommitted: () => this.relay.kick(),
      ...(options.live ?? {}),
    });
    const { enabled: _enabled, mode: _mode, pollMs: _pollMs, ...streamOptions } = options.live ?? { enabled: false };
    this.streamLive = new StreamingLiveService({ pipeline: this.pipeline, provider: options.provider, logger, registry, metrics: this.metrics, ...streamOptions });
  }

  /** The live path of `options.live.mode`. */
  get liveMode(): 'poll' | 'stream' {
    return this.options.live?.mode ?? 'poll';
  }

  async onApplicationBootstrap(): Promise<void> {
    const prefix = this.options.busPrefix ?? '';
    await this.bus.ensureStreams([streamFor(prefix, 'MD')]);
    const interrupted = await this.pipeline.runs.markInterrupted(this.options.staleRunAfterMs ?? 60_000);
    if (interrupted.length > 0) this.logger.warn({ event: 'runs_interrupted', details: { runs: interrupted } }, 'runs_interrupted');
    this.relay.start();
    this.shutdown.register('ingest.outbox-relay', { stop: () => this.relay.stop() });
    this.shutdown.register('ingest.backfills', { stop: () => this.backfill.stopAll() });
    this.shutdown.register('ingest.live', { stop: () => this.live.stop() });
    this.shutdown.register('ingest.live-stream', { stop: () => this.streamLive.stop() });
    if (this.options.rpc ?? true) await registerRpcHandlers(this, this.shutdown, prefix);
    const retention = this.options.retention;
    if (retention) {
      const runRetention = () =>
        this.shutdown.track(
          this.retention.run(this.options.settings.retention, (this.options.now ?? Date.now)()).catch((err) =>
            reportError(err, { logger: this.logger, registry: this.registry, fallbackId: 'DATA_STORAGE_RETENTION', context: { event: 'retention_failed' } }),
          ),
        );
      const timer = setInterval(runRetention, retention.intervalMs);
      timer.unref();
      this.shutdown.register('ingest.retention', { stop: async () => clearInterval(timer) });
      void runRetention();
    }
    if (this.options.live?.enabled) {
      const failed = (err: unknown) => reportError(err, { logger: this.logger, registry: this.registry, fallbackId: 'DATA_API_FETCH', context: { event: 'live_failed' } });
      // The poll loop runs in both modes: it is the freshness guard (md.stale after the budget) and the REST safety
      // net; in stream mode the WebSocket normally stores each bar first and the poll finds nothing to fetch.
      this.live.start().catch(failed);
      if (this.liveMode === 'stream') this.streamLive.start().catch(failed);
    }
  }

  async onModuleDestroy(): Promise<void> {
    await this.shutdown.stopAll();
  }
}
