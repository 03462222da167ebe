import type { Kysely } from 'kysely';
import type { Registry } from 'prom-client';
import type { Bus, Logger } from '@noctria/platform';
import { reportError, withTransaction } from '@noctria/platform';
import type { DB } from '../db/schema.js';
import { FEATURES_ERROR } from '../errors.js';
import { OutboxRepository } from '../repositories/outbox.repository.js';
import type { FeaturesMetrics } from '../telemetry.js';

/** Outbox row headers read back by the relay for the lag metric. */
export const BAR_CLOSE_HEADER = 'Noctria-Bar-Close-Ms';
export const LIVE_HEADER = 'Noctria-Live';

export interface OutboxRelayOptions {
  db: Kysely<DB>;
  bus: Bus;
  logger: Logger;
  metrics: FeaturesMetrics;
  registry?: Registry;
  /** Rows per publishing transaction (default 500). */
  batchSize?: number;
  /** Poll interval when nothing kicks the relay (default 1000 ms; catches rows left by a crash). */
  pollMs?: number;
  /** Service clock (ms) for the lag metric. */
  now?: () => number;
}

/**
 * Publishes outbox rows in id order and marks them sent, one transaction per batch holding the rows
 * `FOR UPDATE SKIP LOCKED`. A crash after publishing but before the commit republishes the batch with the same
 * `msgId`s (feature keys), which JetStream drops inside its duplicate window: at-least-once delivery,
 * exactly-once effect. Same design as the ingest relay.
 */
export class OutboxRelay {
  private readonly repo: OutboxRepository;
  private running = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private kicked = false;
  private draining: Promise<number> | undefined;

  constructor(private readonly options: OutboxRelayOptions) {
    this.repo = new OutboxRepository(options.db);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** New rows were committed: publish now instead of at the next poll. */
  kick(): void {
    this.kicked = true;
    this.wake?.();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
    this.loop = undefined;
  }

  /** Publishes until no unsent row is left (or publishing fails); returns how many rows were published. */
  async flush(): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await this.drainOnce();
      total += n;
      if (n === 0) return total;
    }
  }

  pendingCount(): Promise<number> {
    return this.repo.pendingCount();
  }

  /** One batch; concurrent callers in this process share the in-flight batch. */
  drainOnce(): Promise<number> {
    this.draining ??= this.publishBatch().finally(() => {
      this.draining = undefined;
    });
    return this.draining;
  }

  private async run(): Promise<void> {
    const pollMs = this.options.pollMs ?? 1000;
    while (this.running) {
      let n = 0;
      try {
        n = await this.drainOnce();
      } catch (err) {
        reportError(err, { logger: this.options.logger, registry: this.options.registry, fallbackId: FEATURES_ERROR.PUBLISH, context: { event: 'outbox_relay_failed' } });
      }
      if (n > 0 || !this.running) continue;
      if (this.kicked) {
        this.kicked = false;
        continue;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, pollMs);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
      this.kicked = false;
    }
  }

  private async publishBatch(): Promise<number> {
    const { bus, metrics } = this.options;
    const now = this.options.now ?? Date.now;
    return withTransaction(this.options.db, async (trx) => {
      const rows = await this.repo.lockPending(trx, this.options.batchSize ?? 500);
      const sent: number[] = [];
      for (const row of rows) {
        // feat.<tf>.<pair_id> (after the prefix)
        const [pairId = '', tf = ''] = row.subject.split('.').reverse();
        try {
          const ack = await bus.publish(row.subject, new Uint8Array(row.payload), { msgId: row.msg_id, headers: row.headers });
          metrics.vectorsPublished.inc({ pair_id: pairId, timeframe: tf, outcome: ack.duplicate ? 'duplicate' : 'published' });
          const closeMs = Number(row.headers[BAR_CLOSE_HEADER]);
          if (row.headers[LIVE_HEADER] === '1' && Number.isFinite(closeMs)) {
            metrics.lagSeconds.observe({ timeframe: tf, stage: 'published' }, Math.max(0, (now() - closeMs) / 1000));
          }
          sent.push(row.id);
        } catch (err) {
          metrics.vectorsPublished.inc({ pair_id: pairId, timeframe: tf, outcome: 'failed' });
          await this.repo.markFailed(trx, row.id, err instanceof Error ? err.message : String(err));
          reportError(err, {
            logger: this.options.logger,
            registry: this.options.registry,
            fallbackId: FEATURES_ERROR.PUBLISH,
            context: { event: 'outbox_publish_failed', subject: row.subject, msg_id: row.msg_id },
          });
          // Keep per-subject order: stop at the first failure, the rest waits for the next round.
          break;
        }
      }
      await this.repo.markSent(trx, sent);
      return sent.length;
    });
  }
}
