/**
 * Group commit of consumed bars: handlers running concurrently submit their bar and wait; a single drain loop takes
 * everything queued (in stream-sequence order) and applies it in one transaction, then settles every waiter (the
 * bus acks each message only then). One WAL flush per batch instead of one per bar, bars still applied strictly in
 * order, and at most one batch in flight.
 *
 * When a batch fails for a reason that is not a database outage (a bug or one poisonous bar), its bars are applied
 * one at a time so that only the failing bar's message is retried; a database outage fails the whole batch (every
 * message is redelivered).
 */
export interface GroupCommitOptions<T, R> {
  applyBatch(items: T[]): Promise<R[]>;
  /** Should a failed batch be retried bar by bar? (false: reject the whole batch). */
  splitOnError(err: unknown): boolean;
  maxBatch: number;
}

interface Waiter<T, R> {
  item: T;
  seq: number;
  resolve(r: R): void;
  reject(e: unknown): void;
}

export class GroupCommit<T, R> {
  private queue: Waiter<T, R>[] = [];
  private draining = false;

  constructor(private readonly options: GroupCommitOptions<T, R>) {}

  /** Queues `item` (ordered by `seq` within a batch) and resolves with its result once its batch committed. */
  submit(item: T, seq: number): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, seq, resolve, reject });
      if (!this.draining) {
        this.draining = true;
        // Let the other handlers of this turn of the event loop join the batch.
        setImmediate(() => void this.drain());
      }
    });
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, this.options.maxBatch).sort((x, y) => x.seq - y.seq);
        try {
          const results = await this.options.applyBatch(batch.map((w) => w.item));
          batch.forEach((w, i) => w.resolve(results[i]!));
        } catch (err) {
          if (batch.length === 1 || !this.options.splitOnError(err)) {
            for (const w of batch) w.reject(err);
            continue;
          }
          for (const w of batch) {
            try {
              w.resolve((await this.options.applyBatch([w.item]))[0]!);
            } catch (e) {
              w.reject(e);
            }
          }
        }
      }
    } finally {
      this.draining = false;
      if (this.queue.length > 0) {
        this.draining = true;
        setImmediate(() => void this.drain());
      }
    }
  }
}
