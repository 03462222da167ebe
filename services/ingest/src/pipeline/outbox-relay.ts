import type { OutboxRelaySettings } from '@noctria/platform';
import { OutboxRelay as PlatformOutboxRelay, outboxLiveLagSeconds } from '@noctria/platform';
import type { DB } from '../db/schema.js';
import { OutboxRepository } from '../repositories/outbox.repository.js';
import type { IngestMetrics } from '../telemetry.js';

export { OUTBOX_BAR_CLOSE_HEADER as BAR_CLOSE_HEADER, OUTBOX_LIVE_HEADER as LIVE_HEADER } from '@noctria/platform';

export interface OutboxRelayOptions extends OutboxRelaySettings<DB> {
  metrics: IngestMetrics;
  /** Wall clock (ms) for lag metrics. */
  now?: () => number;
}

/** The platform relay over `ingest.outbox`, counting `outboxPublished` by outcome and the publish lag of live bars. */
export class OutboxRelay extends PlatformOutboxRelay<DB> {
  constructor(options: OutboxRelayOptions) {
    const { metrics } = options;
    const now = options.now ?? Date.now;
    super({
      ...options,
      repository: new OutboxRepository(options.db),
      fallbackErrorId: 'DATA_BUS_PUBLISH',
      onPublished: (row, outcome) => {
        metrics.outboxPublished.inc({ outcome });
        const lag = outboxLiveLagSeconds(row, now);
        if (lag !== undefined) {
          // bar-closed subjects end in .<tf>.<symbol>
          const tf = row.subject.split('.').at(-2) ?? '';
          metrics.pipelineLagSeconds.observe({ timeframe: tf, stage: 'published' }, lag);
        }
      },
      onFailed: () => metrics.outboxPublished.inc({ outcome: 'failed' }),
    });
  }
}
