/**
 * Bus benchmark: latency of a bar-closed publish (≈200-byte payload, bar-key msgId) acknowledged by JetStream
 * (file storage) on loopback, sequentially, N times — target p99 ≤ 5 ms. Measured in the same run, next to it:
 * - core NATS publish + flush round trip on the same connection (no JetStream: the network/server floor);
 * - the in-process adapter's publish (the embedded profile).
 * NATS_URL (default nats://127.0.0.1:4222); BENCH_BUS_N (default 10000). Prints figures; asserts nothing.
 */
import { randomBytes } from 'node:crypto';
import { jetstreamManager } from '@nats-io/jetstream';
import { InProcessBus, JetStreamBus } from '@noctria/platform';

interface LatencyStats {
  n: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  meanMs: number;
  perSecond: number;
}

function stats(samplesNs: bigint[], wallNs: bigint): LatencyStats {
  const ms = samplesNs.map((v) => Number(v) / 1e6).sort((a, b) => a - b);
  const pick = (q: number): number => ms[Math.min(ms.length - 1, Math.ceil(q * ms.length) - 1)] ?? 0;
  const round = (v: number): number => Math.round(v * 1000) / 1000;
  return {
    n: ms.length,
    p50Ms: round(pick(0.5)),
    p99Ms: round(pick(0.99)),
    maxMs: round(ms[ms.length - 1] ?? 0),
    meanMs: round(ms.reduce((a, b) => a + b, 0) / Math.max(1, ms.length)),
    perSecond: Math.round(ms.length / (Number(wallNs) / 1e9)),
  };
}

async function measure(n: number, op: (i: number) => Promise<unknown>): Promise<LatencyStats> {
  const samples: bigint[] = [];
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    await op(i);
    samples.push(process.hrtime.bigint() - t0);
  }
  return stats(samples, process.hrtime.bigint() - start);
}

export async function run(): Promise<Record<string, unknown>> {
  const servers = process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222';
  const n = Number(process.env['BENCH_BUS_N'] ?? 10_000);
  const warmup = Math.min(1_000, Math.ceil(n / 10));
  const payload = new Uint8Array(randomBytes(200));
  const prefix = `bench${randomBytes(4).toString('hex')}`;
  const streamName = `${prefix.toUpperCase()}_MD`;
  const stream = { name: streamName, subjects: [`${prefix}.md.>`], maxAgeMs: 0, duplicateWindowMs: 120_000, storage: 'file' as const };
  const subject = `${prefix}.md.bar.m1.EURUSD`;
  const barKey = (i: number): string => `bar:bench:EURUSD:m1:${1_700_000_000_000 + i * 60_000}`;

  const bus = await JetStreamBus.connect({ servers, name: 'bench-bus' });
  try {
    await bus.ensureStreams([stream]);
    const nc = bus.connection;

    // Interleave warm-ups, then measure each variant on its own.
    await measure(warmup, (i) => bus.publish(subject, payload, { msgId: `warm:${i}` }));
    await measure(warmup, () => {
      nc.publish(`${prefix}.core.bar`, payload);
      return nc.flush();
    });

    const jetstream = await measure(n, (i) => bus.publish(subject, payload, { msgId: barKey(i) }));
    const coreNats = await measure(n, () => {
      nc.publish(`${prefix}.core.bar`, payload);
      return nc.flush();
    });

    const inproc = new InProcessBus();
    await inproc.ensureStreams([stream]);
    await measure(warmup, (i) => inproc.publish(subject, payload, { msgId: `warm:${i}` }));
    const inProcess = await measure(n, (i) => inproc.publish(subject, payload, { msgId: barKey(i) }));
    await inproc.close();

    const targetP99Ms = 5;
    return {
      what: 'sequential bar-closed publish latency, ~200-byte payload, msgId = bar key',
      servers,
      payloadBytes: payload.byteLength,
      jetstreamPublishAck: jetstream,
      reference: {
        coreNatsPublishFlush: coreNats,
        inProcessPublish: inProcess,
      },
      jetstreamOverCoreP50: Math.round((jetstream.p50Ms / Math.max(coreNats.p50Ms, 1e-6)) * 100) / 100,
      targetP99Ms,
      meetsTarget: jetstream.p99Ms <= targetP99Ms,
    };
  } finally {
    try {
      const jsm = await jetstreamManager(bus.connection);
      await jsm.streams.delete(streamName);
    } catch {
      // best effort: the stream may not exist when ensureStreams failed
    }
    await bus.close();
  }
}
