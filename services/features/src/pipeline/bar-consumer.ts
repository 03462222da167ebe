/**
 * The durable pull consumer of `md.bar.<tf>.*` (explicit ack). Up to `batchMax` messages are in flight; their bars
 * are applied in stream-sequence order by one group-commit loop (GroupCommit), and a message is acked once the
 * transaction holding its bar — stored, every series using it advanced — has committed.
 *
 * Bad messages follow the bus's dead-letter policy (`dlq.<durable>`, the `Noctria-Dlq-*` headers, a msgId derived
 * from stream, durable and sequence so a repeat leaves one copy) — but at once: an undecodable payload or an
 * invalid bar fails the same way on every delivery, so it is dead-lettered and acked on its first delivery instead
 * of burning `maxDeliver` retries. The error id is logged and counted (`noctria_errors_total`). Anything else that
 * fails (database unreachable after the store retries) is thrown: the bus redelivers it with backoff.
 */
import type { Registry } from 'prom-client';
import { DQ_ERROR, checkBarPrices, isBarAligned, isTimeframe, type Timeframe } from '@noctria/canonical-bar';
import { ContractError, decodeBarClosed, tsUtcToMs, type BarClosed, type ConsumerDefinition } from '@noctria/contracts';
import {
  BusHeaders,
  NoctriaError,
  deadLetterMsgId,
  errorIdOf,
  reportError,
  type Bus,
  type BusMessage,
  type Logger,
  type Subscription,
} from '@noctria/platform';
import { FEATURES_ERROR } from '../errors.js';
import type { FeaturesMetrics } from '../telemetry.js';
import { isTransientDbError, type ApplyResult, type FeaturePipeline, type IncomingBar } from './feature-pipeline.js';
import { GroupCommit } from './group-commit.js';
import { LIVE_HEADER } from './outbox-relay.js';

export interface BarConsumerOptions {
  bus: Bus;
  pipeline: FeaturePipeline;
  consumer: ConsumerDefinition;
  /** Timeframes this service accepts (the configured ones). */
  timeframes: readonly Timeframe[];
  logger: Logger;
  registry?: Registry;
  metrics: FeaturesMetrics;
  now?: () => number;
  /** Messages in flight and bars per group-commit transaction (default 64). */
  batchMax?: number;
}

export class BarConsumer {
  private sub: Subscription | undefined;
  private readonly now: () => number;
  private readonly accepted: ReadonlySet<string>;
  private readonly commits: GroupCommit<IncomingBar, ApplyResult>;
  private readonly batchMax: number;

  constructor(private readonly options: BarConsumerOptions) {
    this.now = options.now ?? Date.now;
    this.accepted = new Set(options.timeframes);
    this.batchMax = options.batchMax ?? 64;
    this.commits = new GroupCommit({
      applyBatch: (bars) => options.pipeline.applyBatch(bars),
      splitOnError: (err) => !isTransientDbError(err) && (err as { id?: unknown })?.id !== FEATURES_ERROR.STORE,
      maxBatch: this.batchMax,
    });
  }

  async start(): Promise<void> {
    if (this.sub) return;
    this.sub = await this.options.bus.consume(this.options.consumer, (msg) => this.handle(msg).then(() => undefined), { concurrency: this.batchMax });
  }

  /** Stops pulling and waits for the message in flight. */
  async stop(): Promise<void> {
    const sub = this.sub;
    this.sub = undefined;
    await sub?.stop();
  }

  /** Handles one bar message; resolves when it may be acked (a bad message has been dead-lettered by then). */
  async handle(msg: BusMessage): Promise<ApplyResult | undefined> {
    const receivedMs = this.now();
    const subjectTf = msg.subject.split('.').at(-2) ?? 'unknown';
    let event: BarClosed;
    try {
      event = decodeBarClosed(msg.data);
    } catch (err) {
      const id = err instanceof ContractError ? err.id : FEATURES_ERROR.DECODE;
      await this.reject(msg, new NoctriaError(id, (err as Error).message, { severity: 'WARNING', cause: err, details: { subject: msg.subject } }), subjectTf, 'undecodable');
      return undefined;
    }
    const bar = event.bar;
    const problem = this.problem(msg.subject, event);
    if (problem) {
      await this.reject(msg, problem, this.accepted.has(bar.timeframe) ? bar.timeframe : subjectTf, 'invalid');
      return undefined;
    }
    const incoming: IncomingBar = {
      symbol: bar.symbol,
      timeframe: bar.timeframe,
      tsMs: tsUtcToMs(bar.ts_utc),
      open: bar.open,
      high: bar.high,
      low: bar.low,
      close: bar.close,
      volume: bar.volume,
      qualityFlag: bar.quality_flag,
      sourceId: bar.source_id,
      checksum: event.checksum,
      ingestStale: event.stale,
      live: msg.headers[LIVE_HEADER] === '1',
      closedAtMs: event.closedAtMs > 0 ? event.closedAtMs : null,
      receivedMs,
    };
    try {
      return await this.commits.submit(incoming, msg.streamSequence ?? 0);
    } catch (err) {
      // Thrown on: the bus redelivers the message with backoff (dead-lettered after maxDeliver).
      reportError(err, {
        logger: this.options.logger,
        ...(this.options.registry ? { registry: this.options.registry } : {}),
        fallbackId: FEATURES_ERROR.STORE,
        context: { event: 'bar_failed', subject: msg.subject, stream_sequence: msg.streamSequence, delivery_count: msg.deliveryCount },
      });
      throw err;
    }
  }

  /** Why the decoded bar cannot be used, or undefined. */
  private problem(subject: string, event: BarClosed): NoctriaError | undefined {
    const bar = event.bar;
    const details = { subject, symbol: bar.symbol, timeframe: bar.timeframe, ts_utc: bar.ts_utc };
    if (!isTimeframe(bar.timeframe) || !this.accepted.has(bar.timeframe)) {
      return new NoctriaError(DQ_ERROR.TFRAME, `bar timeframe ${bar.timeframe} is not consumed by this service`, { severity: 'WARNING', details });
    }
    if (!subject.endsWith(`.${bar.timeframe}.${bar.symbol}`)) {
      return new NoctriaError(DQ_ERROR.SERIES, `bar ${bar.symbol} ${bar.timeframe} arrived on subject ${subject}`, { severity: 'WARNING', details });
    }
    if (!isBarAligned(Date.parse(bar.ts_utc), bar.timeframe)) {
      return new NoctriaError(DQ_ERROR.ALIGN, `bar ts_utc ${bar.ts_utc} is not on a ${bar.timeframe} boundary`, { severity: 'WARNING', details });
    }
    const issue = checkBarPrices(bar);
    if (issue) return new NoctriaError(issue.errorId, `${issue.field}: ${issue.message}`, { severity: 'WARNING', details });
    if (!/^[0-9a-f]{64}$/.test(event.checksum)) return new NoctriaError(DQ_ERROR.FIELD, 'bar without a sha256 checksum', { severity: 'WARNING', details });
    return undefined;
  }

  private async reject(msg: BusMessage, err: NoctriaError, timeframe: string, outcome: 'undecodable' | 'invalid'): Promise<void> {
    const { consumer, bus, metrics } = this.options;
    reportError(err, {
      logger: this.options.logger,
      ...(this.options.registry ? { registry: this.options.registry } : {}),
      context: { event: 'bar_rejected', subject: msg.subject, stream_sequence: msg.streamSequence, dead_letter_subject: consumer.deadLetterSubject },
    });
    metrics.barsReceived.inc({ timeframe, outcome });
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(msg.headers)) if (k !== BusHeaders.NatsMsgId) headers[k] = v;
    headers[BusHeaders.DlqSubject] = msg.subject;
    headers[BusHeaders.DlqStream] = consumer.stream;
    headers[BusHeaders.DlqStreamSeq] = String(msg.streamSequence ?? 0);
    headers[BusHeaders.DlqDurable] = consumer.durable;
    headers[BusHeaders.DlqDeliveryCount] = String(msg.deliveryCount);
    headers[BusHeaders.DlqError] = err.message.replace(/[\r\n]+/g, ' ').slice(0, 1000);
    headers[BusHeaders.DlqErrorId] = errorIdOf(err);
    // Without a stream sequence there is nothing stable to de-duplicate on: let JetStream take it as new.
    const msgId = msg.streamSequence === undefined ? undefined : deadLetterMsgId(consumer.stream, consumer.durable, msg.streamSequence);
    await bus.publish(consumer.deadLetterSubject, msg.data, { headers, ...(msgId ? { msgId } : {}) });
  }
}
