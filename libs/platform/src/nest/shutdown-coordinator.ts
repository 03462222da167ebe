import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import type { ConsumerDefinition } from '@noctria/contracts';
import type { Logger } from 'pino';
import type { Bus, ConsumeOptions, MessageHandler, RequestHandler, Subscription } from '../bus/bus.port.js';
import { BUS, LOGGER } from './tokens.js';

export interface Stoppable {
  stop(): Promise<void>;
}

/**
 * First step of a graceful shutdown (Nest `onModuleDestroy`, before HTTP and the DB pool close): stops
 * every registered subscription — each `stop()` waits for its in-flight handlers — and waits for tracked
 * background work. Services create their bus subscriptions through it (`consume`/`reply`) or `register`
 * them.
 */
@Injectable()
export class ShutdownCoordinator implements OnModuleDestroy {
  private readonly stoppables = new Map<Stoppable, string>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private stopping: Promise<void> | undefined;

  constructor(
    @Inject(BUS) private readonly bus: Bus,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  get isStopping(): boolean {
    return this.stopping !== undefined;
  }

  /** Registers something to stop at shutdown; returns an unregister function. */
  register(name: string, stoppable: Stoppable): () => void {
    if (this.stopping) throw new Error(`shutdown in progress: cannot register ${name}`);
    this.stoppables.set(stoppable, name);
    return () => this.stoppables.delete(stoppable);
  }

  /** `bus.consume` whose subscription is stopped (in-flight handlers finished) at shutdown. */
  async consume(consumer: ConsumerDefinition, handler: MessageHandler, options?: ConsumeOptions): Promise<Subscription> {
    const sub = await this.bus.consume(consumer, handler, options);
    this.register(`consume:${consumer.stream}/${consumer.durable}`, sub);
    return sub;
  }

  /** `bus.reply` stopped at shutdown. */
  async reply(subject: string, handler: RequestHandler, options?: { queue?: string }): Promise<Subscription> {
    const sub = await this.bus.reply(subject, handler, options);
    this.register(`reply:${subject}`, sub);
    return sub;
  }

  /** Background work (not a bus handler) that shutdown must wait for. */
  track<T>(work: Promise<T>): Promise<T> {
    this.inFlight.add(work);
    const forget = () => this.inFlight.delete(work);
    work.then(forget, forget);
    return work;
  }

  /** Stops every subscription concurrently, then waits for tracked work. Idempotent. */
  stopAll(): Promise<void> {
    this.stopping ??= (async () => {
      const entries = [...this.stoppables];
      this.logger.info({ subscriptions: entries.map(([, name]) => name) }, 'stopping consumers');
      const results = await Promise.allSettled(entries.map(([s]) => s.stop()));
      results.forEach((r, i) => {
        if (r.status === 'rejected') this.logger.warn({ err: r.reason, subscription: entries[i]?.[1] }, 'stopping a subscription failed');
      });
      this.stoppables.clear();
      await Promise.allSettled([...this.inFlight]);
      this.logger.info('consumers stopped, in-flight work finished');
    })();
    return this.stopping;
  }

  async onModuleDestroy(): Promise<void> {
    await this.stopAll();
  }
}
