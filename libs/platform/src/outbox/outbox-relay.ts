import type { Kysely } from 'kysely';
import type { Registry } from 'prom-client';
import type { Bus } from '../bus/bus.port.js';
import { withTransaction } from '../db/transactions.js';
import { reportError } from '../errors/report-error.js';
import type { Logger } from '../logging/logger.js';
import type { OutboxRepository, PendingOutboxRow } from './outbox.repository.js';

/** How the bus took a published row: JetStream reports a `msgId` it already holds as a duplicate. */
export type OutboxPublishOutcome = 'published' | 'duplicate';

/** The relay settings a service's wiring provides (what its own relay options extend). */
export interface OutboxRelaySettings<DB> {
  db: Kysely<DB>;
  bus: Bus;
  logger: Logger;
  registry?: Registry;
  /** Rows per publishing transaction (default 500). */
  batchSize?: number;
  /** Poll interval when nothing kicks the relay (default 1000 ms; catches rows left by a crash). */
  pollMs?: number;
}

export interface OutboxRelayOptions<DB> extends OutboxRelaySettings<DB> {
  repository: OutboxRepository<DB>;
  /** Error id reported when a failure carries none of its own. */
  fallbackErrorId: string;
  /** After each row the bus accepted (before the batch commits): where services count and time their messages. */
  onPublished?: (row: PendingOutboxRow, outcome: OutboxPublishOutcome) => void;
  /** After a row the bus refused (the batch stops there). */
  onFailed?: (row: PendingOutboxRow) => void;
}

/**
 * Publishes outbox rows in id order and marks them sent, in one transaction per batch holding the rows
 * `FOR UPDATE SKIP LOCKED` (replicas never publish the same row concurrently). A crash after publishing but
 * before the commit republishes the batch with the same `msgId`s, which JetStream drops inside its duplicate
 * window: at-least-once delivery, exactly-once effect.
 */
export class OutboxRelay<DB> {
  private running = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private kicked = false;
  private draining: Promise<number> | undefined;

  constructor(private readonly options: OutboxRelayOptions<DB>) {}

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

  pendingCount(): Promise<number> {
    return this.options.repository.pendingCount();
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
        reportError(err, {
          logger: this.options.logger,
          registry: this.options.registry,
          fallbackId: this.options.fallbackErrorId,
          context: { event: 'outbox_relay_failed' },
        });
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
    const { bus, repository: repo, onPublished, onFailed } = this.options;
    return withTransaction(this.options.db, async (trx) => {
      const rows = await repo.lockPending(trx, this.options.batchSize ?? 500);
      const sent: number[] = [];
      for (const row of rows) {
        try {
          const ack = await bus.publish(row.subject, new Uint8Array(row.payload), { msgId: row.msg_id, headers: row.headers });
          onPublished?.(row, ack.duplicate ? 'duplicate' : 'published');
          sent.push(row.id);
        } catch (err) {
          onFailed?.(row);
          await repo.markFailed(trx, row.id, err instanceof Error ? err.message : String(err));
          reportError(err, {
            logger: this.options.logger,
            registry: this.options.registry,
            fallbackId: this.options.fallbackErrorId,
            context: { event: 'outbox_publish_failed', subject: row.subject, msg_id: row.msg_id },
          });
          // Keep per-subject order: stop at the first failure, the rest waits for the next round.
          break;
        }
      }
      await repo.markSent(trx, sent);
      return sent.length;
    });
  }
}

/** Header carrying the announced bar's close time (epoch ms), for the publish-lag metric. */
export const OUTBOX_BAR_CLOSE_HEADER = 'Noctria-Bar-Close-Ms';
/** Header set to `1` on messages of live (not backfilled) bars: only those feed the publish-lag metric. */
export const OUTBOX_LIVE_HEADER = 'Noctria-Live';

/** Seconds from the live bar's close to `now()`, or undefined (clock not read) for a backfilled row or one without a close time. */
export function outboxLiveLagSeconds(row: Pick<PendingOutboxRow, 'headers'>, now: () => number): number | undefined {
  const closeMs = Number(row.headers[OUTBOX_BAR_CLOSE_HEADER]);
  if (row.headers[OUTBOX_LIVE_HEADER] !== '1' || !Number.isFinite(closeMs)) return undefined;
  return Math.max(0, (now() - closeMs) / 1000);
}
