/**
 * Fault: restart parity. The features service runs as a child process (compileForChild) consuming the 2000-bar
 * fixture pair over real NATS into real PostgreSQL; it is SIGKILLed three times mid-stream (between checkpoints,
 * with a batch in flight), started again each time, and finally stopped with SIGTERM. Afterwards:
 * - every stored vector equals computeFeatureMatrix over the aligned bars, bit for bit (Object.is), with bars_seen
 *   1..n — so every vector after a restart is exactly what an uninterrupted run emits;
 * - the FEAT stream holds every complete vector exactly once (republished outbox rows were de-duplicated);
 * - the graceful stop left a checkpoint at the last bar, and a restart from it resumes without replaying anything.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { sql } from 'kysely';
import { decodeFeatureVector, featureKey, featureVectorsConsumer, streamFor, subjects } from '@noctria/contracts';
import { fullVectorWarmupBars } from '@noctria/features';
import { createDatabase, JetStreamBus, type BusMessage, type Database, type Subscription } from '@noctria/platform';
import { compileForChild, createTestDatabase, isProcessAlive, natsUrl, redisUrl, uniquePrefix, waitFor, type CompiledSources, type TestDatabase } from '@noctria/testing';
import { featuresMigrations, FEATURES_SCHEMA } from '../../src/db/migrations/index.js';
import type { DB } from '../../src/db/schema.js';
import { float8ArrayFromDb } from '../../src/pipeline/float8-array.js';
import { alignBars, bitDiff, fixtureLegs, interleave, matrixRow, PAIR_ID, publishBar, referenceMatrix, SYMBOL_A, SYMBOL_B } from '../support/bars.js';

const FIXTURE = 'services/features/test/faults/fixtures/features-child.ts';
const CHECKPOINT_EVERY = 37;

interface ChildRun {
  child: ChildProcess;
  stdout(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
}

describe('fault: SIGKILL of the features service mid-stream', () => {
  let compiled: CompiledSources;
  let test: TestDatabase;
  let database: Database<DB>;
  let bus: JetStreamBus;
  let sub: Subscription | undefined;
  const prefix = uniquePrefix('.');
  const children: ChildProcess[] = [];
  const feat: BusMessage[] = [];

  beforeAll(async () => {
    [compiled, test] = await Promise.all([
      compileForChild(['libs/canonical-bar/src', 'libs/contracts/src', 'libs/platform/src', 'libs/policy/src', 'libs/features/src', 'services/features/src', FIXTURE]),
      createTestDatabase({ schema: FEATURES_SCHEMA, migrations: featuresMigrations }),
    ]);
    database = createDatabase<DB>({ connectionString: test.connectionString, schema: FEATURES_SCHEMA, poolMax: 2 });
    bus = await JetStreamBus.connect({ servers: await natsUrl(), name: 'features-fault-test' });
    await bus.ensureStreams([streamFor(prefix, 'MD'), streamFor(prefix, 'FEAT')]);
  }, 120_000);

  afterAll(async () => {
    for (const c of children) if (c.pid && isProcessAlive(c.pid)) c.kill('SIGKILL');
    await sub?.stop();
    await bus?.close();
    await database?.close();
    await test?.drop();
    await compiled?.remove();
  });

  async function start(): Promise<ChildRun> {
    const child = spawn(process.execPath, [compiled.file(FIXTURE)], {
      env: {
        PATH: process.env['PATH'] ?? '',
        DATABASE_URL: test.connectionString,
        NATS_URL: await natsUrl(),
        REDIS_URL: await redisUrl(),
        FAULT_PREFIX: prefix,
        FAULT_PAIR_ID: PAIR_ID,
        FAULT_SYMBOL_A: SYMBOL_A,
        FAULT_SYMBOL_B: SYMBOL_B,
        FAULT_CHECKPOINT_EVERY: String(CHECKPOINT_EVERY),
        // Bars held by a killed process come back after the ack wait, before newer ones; a short wait keeps the test fast.
        FAULT_ACK_WAIT_MS: '3000',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal, stderr })));
    return { child, stdout: () => stdout, exited };
  }

  const vectorCount = async () => (await sql<{ n: number }>`select count(*)::int as n from features.vectors`.execute(database.db)).rows[0]!.n;
  const pending = async () => (await sql<{ n: number }>`select count(*)::int as n from features.outbox where sent_at is null`.execute(database.db)).rows[0]!.n;
  type Started = { event: string; bars_seen: number; restores: Record<string, number> };
  const started = (run: ChildRun) => run.stdout().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Started).find((e) => e.event === 'started');

  it('stores and publishes exactly what an uninterrupted run does, after three kills at different points', async () => {
    const legs = fixtureLegs();
    const aligned = alignBars(legs.a, legs.b);
    const ref = referenceMatrix(aligned);
    const total = aligned.length;
    // Everything is in the MD stream before the first start; the durable consumer works through it across restarts.
    for (const bar of interleave(legs.a, legs.b)) await publishBar(bus, prefix, bar);

    const killedAt: number[] = [];
    const starts: Started[] = [];
    for (const fraction of [0.15, 0.45, 0.8]) {
      const run = await start();
      starts.push(await waitFor(() => started(run), { timeoutMs: 60_000, message: 'child started' }));
      const before = await vectorCount();
      await waitFor(async () => (await vectorCount()) >= Math.max(before + 1, Math.floor(total * fraction)), {
        timeoutMs: 180_000,
        intervalMs: 5,
        message: () => `${Math.floor(total * fraction)} vectors stored (stderr: ${run.child.exitCode !== null ? 'exited' : 'running'})`,
      });
      run.child.kill('SIGKILL');
      const end = await run.exited;
      expect(end.signal).toBe('SIGKILL');
      killedAt.push(await vectorCount());
    }
    // Each kill interrupted the stream at a different point, before the end.
    expect(killedAt[0]!).toBeLessThan(killedAt[1]!);
    expect(killedAt[1]!).toBeLessThan(killedAt[2]!);
    expect(killedAt[2]!).toBeLessThan(total);
    // The kills did not all land on a checkpoint: restarts had bars to replay after the newest one.
    const cps = await sql<{ bars_seen: number }>`select bars_seen from features.checkpoints order by bars_seen`.execute(database.db);
    expect(cps.rows.length).toBeGreaterThan(0);

    const last = await start();
    starts.push(await waitFor(() => started(last), { timeoutMs: 60_000, message: 'child started' }));
    // Every restart after a kill restored its engine from a checkpoint (never from scratch), and at least one had
    // bars to replay after it (the kill fell between two checkpoints).
    expect(starts.map((s) => s.bars_seen)).toEqual([0, ...killedAt]);
    for (const s of starts.slice(1)) expect(s.restores).toEqual({ checkpoint: 1 });
    expect(killedAt.some((n) => n % CHECKPOINT_EVERY !== 0)).toBe(true);
    await waitFor(async () => (await vectorCount()) === total && (await pending()) === 0, { timeoutMs: 180_000, intervalMs: 20, message: 'every vector stored and published' });
    last.child.kill('SIGTERM');
    const end = await last.exited;
    expect({ code: end.code, signal: end.signal }).toEqual({ code: 0, signal: null });

    // Stored vectors: bit-identical to the uninterrupted batch computation.
    const rows = (
      await sql<{ ts_utc: Date; feature_values: (number | null)[]; bars_seen: number; complete: boolean }>`
        select ts_utc, feature_values, bars_seen, complete from features.vectors order by ts_utc`.execute(database.db)
    ).rows;
    expect(rows.map((r) => r.ts_utc.getTime())).toEqual(aligned.map((x) => x.tsMs));
    const diffs = rows.flatMap((r, i) => {
      const d = bitDiff(float8ArrayFromDb(r.feature_values), matrixRow(ref, i));
      return [...d.map((x) => `${r.ts_utc.toISOString()} ${x}`), ...(r.bars_seen === i + 1 ? [] : [`${r.ts_utc.toISOString()} bars_seen ${r.bars_seen}`])];
    });
    expect(diffs).toEqual([]);
    const state = await sql<{ bars_seen: number; last_ts: Date }>`select bars_seen, last_ts from features.pair_state`.execute(database.db);
    expect(state.rows.map((s) => [s.bars_seen, s.last_ts.getTime()])).toEqual([[total, aligned[total - 1]!.tsMs]]);
    // The graceful stop checkpointed the engine at the last bar.
    const newest = await sql<{ bars_seen: number }>`select max(bars_seen) as bars_seen from features.checkpoints`.execute(database.db);
    expect(newest.rows[0]!.bars_seen).toBe(total);

    // The FEAT stream: one message per complete vector, keyed by the feature key, values as stored.
    const hash = (await sql<{ h: string }>`select distinct schema_hash as h from features.vectors`.execute(database.db)).rows.map((r) => r.h);
    expect(hash).toHaveLength(1);
    const complete = rows.filter((r) => r.complete);
    expect(complete.length).toBe(total - fullVectorWarmupBars());
    sub = await bus.consume(featureVectorsConsumer({ prefix, durable: `${prefix.replace(/\./g, '')}_check` }), async (m) => void feat.push(m), { concurrency: 8 });
    const sentinel = subjects(prefix).features('1h', 'ZZZ_SENTINEL');
    await bus.publish(sentinel, new Uint8Array([0]), { msgId: 'sentinel' });
    await waitFor(() => feat.some((m) => m.subject === sentinel), { timeoutMs: 60_000, message: 'sentinel consumed' });
    const vectors = feat.filter((m) => m.subject !== sentinel);
    expect(vectors.length).toBe(complete.length);
    const keys = vectors.map((m) => m.headers['Nats-Msg-Id']);
    expect(new Set(keys).size).toBe(complete.length);
    const byTs = new Map(complete.map((r) => [r.ts_utc.getTime(), r]));
    for (const m of vectors) {
      const v = decodeFeatureVector(m.data);
      expect(m.headers['Nats-Msg-Id']).toBe(featureKey(PAIR_ID, '1h', v.tsMs, hash[0]!));
      expect(bitDiff(v.values, float8ArrayFromDb(byTs.get(v.tsMs)!.feature_values))).toEqual([]);
    }

    // A restart after the graceful stop restores from that checkpoint: nothing left to replay, nothing new stored.
    const again = await start();
    await waitFor(() => started(again), { timeoutMs: 60_000, message: 'restarted child reports its state' });
    expect(started(again)!.bars_seen).toBe(total);
    again.child.kill('SIGTERM');
    expect((await again.exited).code).toBe(0);
    expect(await vectorCount()).toBe(total);
  }, 600_000);
});
