/**
 * The chunk store after an uncertain COMMIT: the server committed, but the client saw the connection drop while
 * waiting for the reply. The store step is retried (it cannot know), and the retry must find its chunk in the
 * ledger and add nothing: DQ counters, run counts, outbox rows and bars end as after one clean store.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type pg from 'pg';
import { sql } from 'kysely';
import { IngestPipeline, type ChunkRequest } from '../src/pipeline/ingest-pipeline.js';
import { DqRepository } from '../src/repositories/dq.repository.js';
import { bar, openTestDb, testLogger, testMetrics, testSettings, type TestDb } from './helpers/harness.js';

const H = 3_600_000;
const FROM = Date.UTC(2024, 0, 15); // Monday
const TO = FROM + 48 * H;
const NOW = Date.UTC(2024, 1, 1);

/** A pool whose clients report a lost connection right after the server acknowledged the next `commit`s. */
function commitReplyLosingPool(real: pg.Pool, failures: { left: number; seen: number }): pg.Pool {
  return {
    async connect() {
      const client = await real.connect();
      const query = client.query;
      const release = client.release;
      client.query = function (this: pg.PoolClient, ...args: unknown[]) {
        const result = (query as (...a: unknown[]) => unknown).apply(client, args);
        if (typeof args[0] === 'string' && args[0].trim().toLowerCase() === 'commit' && failures.left > 0) {
          failures.left -= 1;
          return (result as Promise<unknown>).then(() => {
            failures.seen += 1;
            throw Object.assign(new Error('Connection terminated unexpectedly'), { code: 'ECONNRESET' });
          });
        }
        return result;
      } as typeof client.query;
      client.release = (err?: Error | boolean) => {
        client.query = query;
        client.release = release;
        release.call(client, err);
      };
      return client;
    },
  } as unknown as pg.Pool;
}

describe('chunk store after a COMMIT whose reply was lost', () => {
  let t: TestDb;
  beforeAll(async () => {
    t = await openTestDb();
  });
  afterAll(async () => {
    await t?.close();
  });

  const pipeline = (pool?: pg.Pool) => {
    const { metrics, registry } = testMetrics();
    const p = new IngestPipeline({
      db: t.db,
      ...(pool ? { pool } : {}),
      logger: testLogger(),
      metrics,
      registry,
      settings: testSettings(),
      busPrefix: '',
      now: () => NOW,
      storeRetry: { initialDelayMs: 1, maxDelayMs: 2 },
    });
    return { p, metrics };
  };

  async function storeChunk(p: IngestPipeline, runId: string, symbol: string) {
    await p.runs.create({ id: runId, kind: 'backfill', source: 'test', params: {} });
    const bars = Array.from({ length: 48 }, (_, i) => bar(symbol, '1h', FROM + i * H, 100 + Math.sin(i) * 0.5));
    // One bar sent twice (a DQ duplicate) and a gap (DQ missing), so several counters are non-zero.
    bars.splice(20, 1);
    bars.push({ ...bars[5]! });
    const req: ChunkRequest = { runId, symbol, timeframe: '1h', startMs: FROM, endMs: TO };
    return p.processFetched(req, { bars, rejected: [{ line: 99, errorId: 'DATA_INGEST_REJECTED', reason: 'bad row', raw: 'x' }], latencyMs: 1 }, 'test');
  }

  async function observed(runId: string, symbol: string) {
    const dq = (await new DqRepository(t.db).list({ runId })).map(({ ingest_run_id: _r, symbol: _s, updated_at: _u, ...c }) => c);
    const run = await t.db.selectFrom('ingest.ingest_runs').select('counts').where('id', '=', runId).executeTakeFirstOrThrow();
    const outbox = await sql<{ n: number }>`select count(*)::int as n from ingest.outbox where subject like ${`%${symbol}%`}`.execute(t.db);
    const rejected = await sql<{ n: number }>`select count(*)::int as n from ingest.rejected_rows where ingest_run_id = ${runId}`.execute(t.db);
    const bars = await sql<{ n: number }>`select count(*)::int as n from ingest.canonical_bars where symbol = ${symbol}`.execute(t.db);
    const ledger = await sql<{ n: number }>`select count(*)::int as n from ingest.chunk_ledger where ingest_run_id = ${runId}`.execute(t.db);
    return { dq, counts: run.counts, outbox: outbox.rows[0]?.n, rejected: rejected.rows[0]?.n, bars: bars.rows[0]?.n, ledger: ledger.rows[0]?.n };
  }

  it('retries, finds the committed chunk in the ledger and counts nothing twice', async () => {
    // Reference: the same chunk shape stored once without faults (another symbol, same calendar range).
    const clean = pipeline();
    const cleanResult = await storeChunk(clean.p, 'run-clean', 'CLEANX');
    const reference = await observed('run-clean', 'CLEANX');
    expect(reference.ledger).toBe(1);
    const sum = (k: 'duplicates_dropped' | 'missing' | 'filled' | 'rejected') => reference.dq.reduce((a, r) => a + r[k], 0);
    expect([sum('duplicates_dropped'), sum('rejected'), sum('missing') + sum('filled')]).toEqual([1, 1, 1]);

    const failures = { left: 1, seen: 0 };
    const faulty = pipeline(commitReplyLosingPool(t.database.pool, failures));
    const result = await storeChunk(faulty.p, 'run-fault', 'FAULTX');
    expect(failures.seen).toBe(1);
    expect((await faulty.metrics.storeRetries.get()).values.reduce((a, v) => a + v.value, 0)).toBe(1);
    expect(await observed('run-fault', 'FAULTX')).toEqual(reference);
    // The replayed outcome reports what the committed attempt wrote.
    expect({ ...result, symbol: 'CLEANX' }).toEqual(cleanResult);
  });

  it('a store that really failed (no commit) is re-run in full', async () => {
    const failures = { left: 0, seen: 0 };
    const pool = commitReplyLosingPool(t.database.pool, failures);
    // Fail the first attempt before COMMIT: the run row is missing its ledger entry, so the retry stores everything.
    const { p, metrics } = pipeline({
      async connect() {
        const client = await pool.connect();
        if (failures.seen === 0) {
          failures.seen += 1;
          client.release(true);
          throw Object.assign(new Error('Connection terminated unexpectedly'), { code: 'ECONNRESET' });
        }
        return client;
      },
    } as unknown as pg.Pool);
    await storeChunk(p, 'run-refail', 'REFAILX');
    expect((await metrics.storeRetries.get()).values.reduce((a, v) => a + v.value, 0)).toBe(1);
    const o = await observed('run-refail', 'REFAILX');
    const reference = await observed('run-clean', 'CLEANX');
    expect(o).toEqual(reference);
  });
});
