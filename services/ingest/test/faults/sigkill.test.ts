/**
 * Fault: the ingest process is SIGKILLed in the middle of a backfill (twice, at different points) and started
 * again. The end state must equal an undisturbed reference run of the same backfill in another fresh database:
 * same canonical bars (every column but ingest_run_id / ingested_at), no duplicate keys, same watermarks, and
 * every closed bar present exactly once in the JetStream stream of the run's prefix.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { countExpectedBars } from '@noctria/canonical-bar';
import { compileForChild, isProcessAlive, natsUrl, redisUrl, uniquePrefix, waitFor, type CompiledSources } from '@noctria/testing';
import { openTestDb, type TestDb } from '../helpers/harness.js';
import { canonicalRows, duplicateKeys, expectedBusKeys, readBarStream, storedBarCount, watermarks } from './support/compare.js';

const FIXTURE = 'services/ingest/test/faults/fixtures/backfill-child.ts';
const SYMBOLS = ['EURUSD', 'GBPUSD', 'XAGUSD', 'XAUUSD'];
const NOW = Date.UTC(2024, 4, 1); // lookback 4 months → from 2024-01-01
const TO = Date.UTC(2024, 4, 1);
const LOOKBACK = 4;

interface ChildRun {
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
}

describe('fault: SIGKILL mid-backfill', () => {
  let compiled: CompiledSources;
  let ref: TestDb;
  let victim: TestDb;
  const refPrefix = uniquePrefix('.');
  const victimPrefix = uniquePrefix('.');
  const artifactDir = mkdtempSync(join(tmpdir(), 'ingest-fault-artifacts-'));
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    [compiled, ref, victim] = await Promise.all([
      compileForChild(['libs/canonical-bar/src', 'libs/contracts/src', 'libs/platform/src', 'libs/policy/src', 'services/ingest/src', FIXTURE]),
      openTestDb(),
      openTestDb(),
    ]);
  }, 120_000);
  afterAll(async () => {
    for (const c of children) if (c.pid && isProcessAlive(c.pid)) c.kill('SIGKILL');
    await ref?.close();
    await victim?.close();
    await compiled?.remove();
  });

  async function start(db: TestDb, prefix: string): Promise<ChildRun> {
    const child = spawn(process.execPath, [compiled.file(FIXTURE)], {
      env: {
        PATH: process.env['PATH'] ?? '',
        DATABASE_URL: db.test.connectionString,
        NATS_URL: await natsUrl(),
        REDIS_URL: await redisUrl(),
        FAULT_PREFIX: prefix,
        FAULT_SYMBOLS: SYMBOLS.join(','),
        FAULT_NOW_MS: String(NOW),
        FAULT_TO_MS: String(TO),
        FAULT_LOOKBACK_MONTHS: String(LOOKBACK),
        FAULT_SEED: '1234',
        FAULT_CHUNK_BARS: '60',
        FAULT_ARTIFACT_DIR: artifactDir,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal, stdout, stderr })),
    );
    return { child, exited };
  }

  async function runToEnd(db: TestDb, prefix: string) {
    const r = await (await start(db, prefix)).exited;
    if (r.code !== 0) throw new Error(`backfill child exited ${r.code ?? r.signal}: ${r.stderr}\n${r.stdout}`);
    return JSON.parse(r.stdout.trim().split('\n').at(-1) as string) as { status: string; published: number };
  }

  it('ends equal to an undisturbed run after two kills at different points', async () => {
    const expectedTotal = SYMBOLS.length * countExpectedBars(Date.UTC(2024, 0, 1), TO, '1h', '24/5');

    // Reference: the same backfill, undisturbed, in its own database and prefix.
    const reference = await runToEnd(ref, refPrefix);
    expect(reference.status).toBe('succeeded');
    const refRows = await canonicalRows(ref.db);
    // The synthetic faults drop some bars (most are filled back or reported missing): roughly the calendar count.
    expect(refRows.length).toBeGreaterThan(expectedTotal * 0.98);

    // Disturbed: kill -9 once a quarter is stored, start again, kill -9 past two thirds, start again, finish.
    const kills: number[] = [];
    for (const fraction of [0.25, 0.66]) {
      const run = await start(victim, victimPrefix);
      const before = await storedBarCount(victim.db);
      await waitFor(async () => (await storedBarCount(victim.db)) >= Math.max(before + 1, refRows.length * fraction), {
        timeoutMs: 120_000,
        intervalMs: 5,
        message: `${fraction * 100}% of the bars stored`,
      });
      run.child.kill('SIGKILL');
      const end = await run.exited;
      expect(end.signal).toBe('SIGKILL');
      kills.push(await storedBarCount(victim.db));
    }
    // Each kill really interrupted the backfill at a different point.
    expect(kills[0]!).toBeLessThan(refRows.length);
    expect(kills[1]!).toBeGreaterThan(kills[0]!);
    expect(kills[1]!).toBeLessThan(refRows.length);
    const wmPartial = await watermarks(victim.db);
    expect(wmPartial.length).toBeGreaterThan(0);

    const final = await runToEnd(victim, victimPrefix);
    expect(final.status).toBe('succeeded');

    // Stored bars and watermarks equal the reference; no key twice.
    const rows = await canonicalRows(victim.db);
    expect(rows.length).toBe(refRows.length);
    expect(rows).toEqual(refRows);
    expect(await duplicateKeys(victim.db)).toEqual([]);
    expect(await watermarks(victim.db)).toEqual(await watermarks(ref.db));

    // The bus: every closed bar once in each stream (JetStream de-duplicated any republished outbox row).
    const nats = await natsUrl();
    for (const [db, prefix] of [
      [ref, refPrefix],
      [victim, victimPrefix],
    ] as const) {
      const stream = await readBarStream(nats, prefix);
      expect(stream.keys.length).toBe(stream.messages);
      expect(new Set(stream.msgIds).size).toBe(stream.messages);
      expect([...stream.keys].sort()).toEqual(expectedBusKeys(await canonicalRows(db.db)));
    }
  }, 300_000);
});
