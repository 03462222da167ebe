/**
 * The in-process variant of the fault tests' backfill: the real pipeline, backfill service and outbox relay
 * over a test database and a JetStream bus, fed by the seeded SyntheticProvider (with its deterministic data
 * faults, so DQ fills, duplicates and outliers are part of what must come out equal).
 */
import type { Kysely } from 'kysely';
import { streamFor } from '@noctria/contracts';
import { JetStreamBus } from '@noctria/platform';
import type { DB } from '../../../src/db/schema.js';
import { OutboxRelay } from '../../../src/pipeline/outbox-relay.js';
import type { BackfillRequest } from '../../../src/pipeline/backfill.service.js';
import { SyntheticProvider } from '../../../src/providers/synthetic/synthetic.provider.js';
import { testLogger, testSettings } from '../../helpers/harness.js';
import { buildPipeline } from '../../helpers/pipeline.js';

export const FAULT_SYMBOLS = ['EURUSD', 'GBPUSD', 'XAGUSD', 'XAUUSD'];
export const FAULT_NOW = Date.UTC(2024, 3, 1);
export const FAULT_REQUEST: BackfillRequest = { symbols: FAULT_SYMBOLS, timeframes: ['1h'], fromMs: Date.UTC(2024, 0, 1), toMs: FAULT_NOW };

export function faultProvider(): SyntheticProvider {
  return new SyntheticProvider({ seed: 777, sourceId: 'synthetic', faults: { dropRate: 0.004, duplicateRate: 0.002, spikeRate: 0.001 } });
}

export async function connectBus(servers: string, prefix: string): Promise<JetStreamBus> {
  const bus = await JetStreamBus.connect({ servers, name: 'ingest-fault-test', reconnectTimeWaitMs: 100, apiTimeoutMs: 2_000 });
  await bus.ensureStreams([streamFor(prefix, 'MD')]);
  return bus;
}

/** Pipeline + backfill + relay (not started) over `db`, announcing on `bus` under `prefix`. */
export function faultIngest(db: Kysely<DB>, bus: JetStreamBus, prefix: string, chunkBars = 60) {
  const built = buildPipeline(db, {
    provider: faultProvider(),
    nowMs: FAULT_NOW,
    busPrefix: prefix,
    chunkBars,
    settings: testSettings({ universeSymbols: FAULT_SYMBOLS }),
    onCommitted: () => relay.kick(),
  });
  const relay = new OutboxRelay({ db, bus, logger: testLogger(), metrics: built.metrics, registry: built.registry, pollMs: 50 });
  return { ...built, relay };
}

/** Sum of a counter's values over all label sets. */
export async function counterTotal(metric: { get(): Promise<{ values: { value: number }[] }> }): Promise<number> {
  return (await metric.get()).values.reduce((a, v) => a + v.value, 0);
}
