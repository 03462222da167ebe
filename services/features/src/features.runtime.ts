import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { jetstreamManager } from '@nats-io/jetstream';
import type { Kysely } from 'kysely';
import type { Registry } from 'prom-client';
import { featureBarsConsumer, streamFor, type ConsumerDefinition } from '@noctria/contracts';
import { BUS, JetStreamBus, KYSELY, LOGGER, METRICS_REGISTRY, ShutdownCoordinator, jetStreamDurables, reportError, type Bus, type Logger } from '@noctria/platform';
import type { DB } from './db/schema.js';
import { FEATURES_OPTIONS } from './features.tokens.js';
import { BarConsumer } from './pipeline/bar-consumer.js';
import { FeaturePipeline } from './pipeline/feature-pipeline.js';
import { OutboxRelay } from './pipeline/outbox-relay.js';
import type { FeaturesSettings } from './pipeline/settings.js';
import { VectorsRepository } from './repositories/vectors.repository.js';
import { registerRpcHandlers } from './rpc/rpc.handlers.js';
import { createFeaturesMetrics, type FeaturesMetrics } from './telemetry.js';
import { scheduleFeaturesRetention, type FeaturesRetentionSettings } from './retention.service.js';
import { FEATURES_ERROR } from './errors.js';
import type { DatasetOptions } from './datasets/dataset.service.js';

export interface FeaturesModuleOptions {
  settings: FeaturesSettings;
  /** Bus subject prefix ('' in production; a unique one per test). */
  busPrefix?: string;
  /** Outbox poll interval (default 1000 ms). */
  relayPollMs?: number;
  /** Service clock (default Date.now); the fleet passes its market clock. */
  now?: () => number;
  /** Retry budget of one batch transaction after transient database failures (default 10 s; below ackWaitMs). */
  storeRetryMs?: number;
  /** Register the rpc.features.* request handlers (default true). */
  rpc?: boolean;
  /** Consume md.bar.* at start (default true; tests drive the pipeline directly when false). */
  consume?: boolean;
  /** Durable name of the bar consumer (default `features_bars`). */
  durable?: string;
  /** Bar messages in flight / bars per group-commit transaction (default 64). */
  batchMax?: number;
  /** Ack wait of the bar consumer (default 30 s); also how long a start waits when the durable holds unacked bars. */
  ackWaitMs?: number;
  /** In-process retention of the features cache (retention.service.ts); omitted: not scheduled. */
  retention?: { settings: FeaturesRetentionSettings; intervalMs: number };
  /** Training dataset snapshots (calendar, DQ thresholds, label policy, retention); defaults when absent. */
  datasets?: DatasetOptions;
}

/**
 * Consumer redelivery policy: generous, because a bar that reaches the dead-letter stream is a hole in every series
 * using it. Transient database failures are retried inside the handler first (storeRetryMs < ackWaitMs).
 */
const CONSUMER_POLICY = { maxDeliver: 10, backoffMs: [1_000, 5_000, 15_000, 30_000, 60_000], maxAckPending: 1_000 };
export const DEFAULT_ACK_WAIT_MS = 30_000;

/** Everything the features service runs, built once from the platform tokens; started and stopped with the app. */
@Injectable()
export class FeaturesRuntime implements OnApplicationBootstrap, OnModuleDestroy {
  readonly metrics: FeaturesMetrics;
  readonly pipeline: FeaturePipeline;
  readonly relay: OutboxRelay;
  readonly consumer: BarConsumer;
  readonly consumerDefinition: ConsumerDefinition;
  readonly vectors = new VectorsRepository();
  readonly startedAtMs: number;

  constructor(
    @Inject(FEATURES_OPTIONS) readonly options: FeaturesModuleOptions,
    @Inject(KYSELY) readonly db: Kysely<DB>,
    @Inject(BUS) readonly bus: Bus,
    @Inject(LOGGER) readonly logger: Logger,
    @Inject(METRICS_REGISTRY) readonly registry: Registry,
    @Inject(ShutdownCoordinator) private readonly shutdown: ShutdownCoordinator,
  ) {
    const now = options.now ?? Date.now;
    this.startedAtMs = now();
    this.metrics = createFeaturesMetrics(registry);
    this.relay = new OutboxRelay({ db, bus, logger, metrics: this.metrics, registry, pollMs: options.relayPollMs ?? 1000, now });
    this.pipeline = new FeaturePipeline({
      db,
      logger,
      registry,
      metrics: this.metrics,
      settings: options.settings,
      busPrefix: options.busPrefix ?? '',
      now,
      onCommitted: () => this.relay.kick(),
      ...(options.storeRetryMs !== undefined ? { storeRetryMs: options.storeRetryMs } : {}),
    });
    this.consumerDefinition = featureBarsConsumer({
      prefix: options.busPrefix ?? '',
      timeframes: options.settings.timeframes.length > 0 ? options.settings.timeframes : ['1h'],
      ...(options.durable ? { durable: options.durable } : {}),
      ...CONSUMER_POLICY,
      ackWaitMs: options.ackWaitMs ?? DEFAULT_ACK_WAIT_MS,
    });
    this.consumer = new BarConsumer({
      bus,
      pipeline: this.pipeline,
      consumer: this.consumerDefinition,
      timeframes: options.settings.timeframes,
      logger,
      registry,
      metrics: this.metrics,
      now,
      ...(options.batchMax !== undefined ? { batchMax: options.batchMax } : {}),
    });
  }

  get settings(): FeaturesSettings {
    return this.options.settings;
  }

  async onApplicationBootstrap(): Promise<void> {
    const prefix = this.options.busPrefix ?? '';
    // MD is ingest's stream; ensuring it here lets the durable be created whichever service starts first.
    await this.bus.ensureStreams([streamFor(prefix, 'MD'), streamFor(prefix, 'FEAT'), streamFor(prefix, 'DLQ')]);
    await this.pipeline.start();
    this.relay.start();
    this.shutdown.register('features.outbox-relay', { stop: () => this.relay.stop() });
    if (this.options.retention && this.options.retention.intervalMs > 0) {
      const { registry, logger } = this;
      const retention = scheduleFeaturesRetention({
        db: this.db,
        logger,
        registry,
        ...this.options.retention,
        now: this.options.now ?? Date.now,
        onError: (err) => reportError(err, { logger, registry, fallbackId: FEATURES_ERROR.RETENTION, context: { event: 'retention_failed' } }),
      });
      this.shutdown.register('features.retention', { stop: retention.stop });
    }
    // One stoppable, in order: no bar in flight, then a checkpoint of every engine (a restart then replays nothing).
    this.shutdown.register('features.bars', {
      stop: async () => {
        await this.consumer.stop();
        const n = await this.pipeline.checkpointAll();
        this.logger.info({ event: 'engines_checkpointed', details: { checkpoints: n } }, 'engines checkpointed');
      },
    });
    if (this.options.rpc ?? true) await registerRpcHandlers(this, this.shutdown, prefix);
    if ((this.options.consume ?? true) && this.options.settings.timeframes.length > 0) {
      await this.awaitOrphanedDeliveries();
      if (this.shutdown.isStopping) return;
      await this.consumer.start();
    }
    this.logger.info(
      { event: 'features_started', details: { series: this.pipeline.status().map((s) => `${s.pairId} ${s.timeframe} ${s.barsSeen}`), schema_hash: this.pipeline.schemaHash } },
      'features started',
    );
  }

  /**
   * Bars the previous process received but never acked — all it held after a crash, and after a graceful stop the
   * buffered ones the bus handed back (a nak without delay is redelivered at once to the closing pull subscription,
   * which drops it) — stay pending on the durable until their ack wait expires; JetStream then hands them out
   * before any newer message. Consuming at once would apply newer bars first and drop those as out of order. So
   * when the durable has unacked deliveries at start, wait one ack wait (interrupted by shutdown), then consume: the
   * orphans come first, in stream order. A restart with nothing pending does not wait.
   */
  private async awaitOrphanedDeliveries(): Promise<void> {
    if (!(this.bus instanceof JetStreamBus)) return;
    const def = this.consumerDefinition;
    let pending = 0;
    try {
      const jsm = await jetstreamManager(this.bus.connection);
      for (const d of jetStreamDurables(def)) {
        try {
          pending += (await jsm.consumers.info(def.stream, d.name)).num_ack_pending;
        } catch {
          // No durable yet (first start): nothing can be pending.
        }
      }
    } catch (err) {
      this.logger.warn({ event: 'consumer_info_failed', err }, 'could not read the bar consumer state; waiting one ack wait to be safe');
      pending = 1;
    }
    if (pending === 0) return;
    this.logger.warn(
      { event: 'orphaned_deliveries', details: { unacked: pending, wait_ms: def.ackWaitMs, durable: def.durable } },
      'bars delivered to a previous process are unacked: waiting for their redelivery before consuming',
    );
    let timer: NodeJS.Timeout | undefined;
    let stop!: () => void;
    const stopped = new Promise<void>((resolve) => (stop = resolve));
    const unregister = this.shutdown.register('features.orphan-wait', { stop: async () => stop() });
    await Promise.race([new Promise<void>((resolve) => (timer = setTimeout(resolve, def.ackWaitMs + 500))), stopped]);
    clearTimeout(timer);
    unregister();
  }

  async onModuleDestroy(): Promise<void> {
    await this.shutdown.stopAll();
  }
}
