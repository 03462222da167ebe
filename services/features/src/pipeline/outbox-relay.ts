import type { OutboxRelaySettings } from '@noctria/platform';
import { OutboxRelay as PlatformOutboxRelay, outboxLiveLagSeconds } from '@noctria/platform';
import type { DB } from '../db/schema.js';
import { FEATURES_ERROR } from '../errors.js';
import { OutboxRepository } from '../repositories/outbox.repository.js';
import type { FeaturesMetrics } from '../telemetry.js';

/** Outbox row headers read back by the relay for the lag metric. */
export { OUTBOX_BAR_CLOSE_HEADER as BAR_CLOSE_HEADER, OUTBOX_LIVE_HEADER as LIVE_HEADER } from '@noctria/platform';

export interface OutboxRelayOptions extends OutboxRelaySettings<DB> {
  metrics: FeaturesMetrics;
  /** Service clock (ms) for the lag metric. */
  now?: () => number;
}

/** The platform relay over `features.outbox`, counting `vectorsPublished` per pair/timeframe and the publish lag of live bars. */
export class OutboxRelay extends PlatformOutboxRelay<DB> {
  constructor(options: OutboxRelayOptions) {
    const { metrics } = options;
    const now = options.now ?? Date.now;
    // feat.<tf>.<pair_id> (after the prefix)
    const labels = (subject: string): { pairId: string; tf: string } => {
      const [pairId = '', tf = ''] = subject.split('.').reverse();
      return { pairId, tf };
    };
    super({
      ...options,
      repository: new OutboxRepository(options.db),
      fallbackErrorId: FEATURES_ERROR.PUBLISH,
      onPublished: (row, outcome) => {
        const { pairId, tf } = labels(row.subject);
        metrics.vectorsPublished.inc({ pair_id: pairId, timeframe: tf, outcome });
        const lag = outboxLiveLagSeconds(row, now);
        if (lag !== undefined) metrics.lagSeconds.observe({ timeframe: tf, stage: 'published' }, lag);
      },
      onFailed: (row) => {
        const { pairId, tf } = labels(row.subject);
        metrics.vectorsPublished.inc({ pair_id: pairId, timeframe: tf, outcome: 'failed' });
      },
    });
  }
}
