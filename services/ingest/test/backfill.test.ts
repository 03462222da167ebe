import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sql } from 'kysely';
import { barChecksum, countExpectedBars, runDq, type CanonicalBar } from '@noctria/canonical-bar';
import { DqRepository } from '../src/repositories/dq.repository.js';
import { bar, openTestDb, testSettings, type TestDb } from './helpers/harness.js';
import { buildPipeline, storedBars } from './helpers/pipeline.js';
import { FailoverRouter } from '../src/providers/resilience/failover-router.js';
import { ScriptedProvider, hourGrid, permanentError } from './support/scripted-provider.js';

const H = 3_600_000;
const FROM = Date.UTC(2024, 0, 8); // Monday
const TO = Date.UTC(2024, 0, 27); // Saturday
const NOW = Date.UTC(2024, 1, 1);
const SYMBOLS = ['XAGUSD', 'XAUUSD'];

/** What a single pass of DQ over each whole series yields: the reference the chunked backfill must match. */
async function reference(provider: ScriptedProvider, symbols: string[], from = FROM, to = TO) {
  const out: { symbol: string; ts_utc: string; open: number; high: number; low: number; close: number; quality_flag: string; checksum: string }[] = [];
  for (const symbol of symbols) {
    const r = await provider.fetchTimeSeries({ symbol, timeframe: '1h', startMs: from, endMs: to, ingestRunId: 'ref' });
    const dq = runDq(r.bars, { calendar: '24/5', missing_fill_max_run: 2, outlier_sigma: 8, dq_spike_k: 12 });
    for (const b of dq.bars) out.push({ symbol, ts_utc: b.ts_utc, open: b.open, high: b.high, low: b.low, close: b.close, quality_flag: b.quality_flag, checksum: barChecksum(b) });
  }
  return out;
}

const project = (rows: Awaited<ReturnType<typeof storedBars>>) =>
  rows.map((r) => ({ symbol: r.symbol, ts_utc: r.ts_utc, open: r.open, high: r.high, low: r.low, close: r.close, quality_flag: r.quality_flag, checksum: r.checksum }));

describe('backfill', () => {
  let t: TestDb;
  beforeAll(async () => {
    t = await openTestDb();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('stores exactly the bars the provider returns after DQ, with watermarks, outbox rows and DQ counters', async () => {
    const provider = new ScriptedProvider('scripted', { seed: 11 });
    const { backfill } = buildPipeline(t.db, { provider, nowMs: NOW, chunkBars: 50 });
    const progress: number[] = [];
    const summary = await backfill.run({ symbols: SYMBOLS, timeframes: ['1h'], fromMs: FROM, toMs: TO }, { onProgress: (p) => progress.push(p.fraction) });
    expect(summary.status).toBe('succeeded');
    const expected = await reference(new ScriptedProvider('scripted', { seed: 11 }), SYMBOLS);
    expect(project(await storedBars(t.db))).toEqual(expected);
    // Progress is monotonic and ends at 1.
    expect(progress.length).toBeGreaterThan(2);
    expect(progress.every((p, i) => i === 0 || p >= progress[i - 1]!)).toBe(true);
    expect(progress.at(-1)).toBe(1);
    // Chunks follow the fixed grid (50 bars × 1h since the epoch).
    for (const r of provider.calls) expect(r.endMs === TO || r.endMs % (50 * H) === 0).toBe(true);
    // Watermark = last bar of each series.
    const wms = await t.db.selectFrom('ingest.watermarks').selectAll().orderBy('symbol').execute();
    const lastOpen = hourGrid(FROM, TO).at(-1)!;
    expect(wms.map((w) => [w.symbol, w.last_ts.getTime()])).toEqual(SYMBOLS.map((s) => [s, lastOpen]));
    // One outbox row per stored bar.
    const outbox = await sql<{ n: number }>`select count(*)::int as n from ingest.outbox`.execute(t.db);
    expect(outbox.rows[0]?.n).toBe(expected.length);
    // DQ counters: expected bars of the calendar, received = stored (clean data).
    const dq = await new DqRepository(t.db).list({ runId: summary.runId });
    const sum = (k: 'expected' | 'received' | 'missing') => dq.reduce((a, r) => a + r[k], 0);
    expect(sum('expected')).toBe(SYMBOLS.length * countExpectedBars(FROM, TO, '1h', '24/5'));
    expect(sum('received')).toBe(expected.length);
    expect(sum('missing')).toBe(0);
    const run = await t.db.selectFrom('ingest.ingest_runs').selectAll().where('id', '=', summary.runId).executeTakeFirstOrThrow();
    expect(run.status).toBe('succeeded');
    expect(run.counts).toMatchObject({ inserted: expected.length, published: expected.length });
  });

  it('is idempotent: re-running the range stores nothing new, counts duplicates and enqueues nothing', async () => {
    const provider = new ScriptedProvider('scripted', { seed: 11 });
    const { backfill, registry } = buildPipeline(t.db, { provider, nowMs: NOW, chunkBars: 50 });
    const before = await storedBars(t.db);
    const summary = await backfill.run({ symbols: SYMBOLS, timeframes: ['1h'], fromMs: FROM, toMs: TO });
    expect(summary.status).toBe('succeeded');
    expect(await storedBars(t.db)).toEqual(before);
    expect(summary.totals['storeDuplicates']).toBe(before.length);
    expect(summary.totals['inserted'] ?? 0).toBe(0);
    const outbox = await sql<{ n: number }>`select count(*)::int as n from ingest.outbox`.execute(t.db);
    expect(outbox.rows[0]?.n).toBe(before.length);
    const metric = await registry.getSingleMetric('data_dedupe_drops_total')!.get();
    expect(metric.values.reduce((a, v) => a + v.value, 0)).toBe(before.length);
    // Without a range, the run resumes from the watermark: nothing is left to fetch up to TO.
    const resume = await backfill.plan({ symbols: SYMBOLS, timeframes: ['1h'], toMs: TO });
    expect(resume.every((p) => p.chunks.length === 0)).toBe(true);
  });

  it('resumes an interrupted run from the watermark and ends equal to an undisturbed run', async () => {
    const symbols = ['EURUSD', 'GBPUSD'];
    // Lookback of 1 month before NOW: Jan 2024. The 4th provider call fails: EURUSD keeps its first 3
    // committed chunks and stops; GBPUSD (next series) completes.
    const settings = testSettings({ historyLookbackMonths: 1 });
    const failing = new ScriptedProvider('scripted', { seed: 5, failOnCall: 4 });
    const first = buildPipeline(t.db, { provider: failing, nowMs: NOW, chunkBars: 50, settings });
    const s1 = await first.backfill.run({ symbols, timeframes: ['1h'], toMs: TO });
    expect(s1.status).toBe('partial');
    expect(s1.series.map((x) => [x.symbol, x.ok, x.chunks])).toEqual([
      ['EURUSD', false, 3],
      ['GBPUSD', true, s1.series[1]!.chunks],
    ]);
    const wmAfterCrash = await t.db.selectFrom('ingest.watermarks').selectAll().where('symbol', 'in', symbols).execute();
    expect(wmAfterCrash.map((w) => w.symbol).sort()).toEqual(symbols);
    // Resume: no range given → from each watermark + 1 bar.
    const clean = new ScriptedProvider('scripted', { seed: 5 });
    const second = buildPipeline(t.db, { provider: clean, nowMs: NOW, chunkBars: 50, settings });
    const s2 = await second.backfill.run({ symbols, timeframes: ['1h'], toMs: TO });
    expect(s2.status).toBe('succeeded');
    const eur = wmAfterCrash.find((w) => w.symbol === 'EURUSD')!;
    expect(clean.calls.find((r) => r.symbol === 'EURUSD')!.startMs).toBe(eur.last_ts.getTime() + H);
    expect(clean.calls.filter((r) => r.symbol === 'GBPUSD')).toEqual([]);
    const expected = await reference(new ScriptedProvider('scripted', { seed: 5 }), symbols, Date.UTC(2024, 0, 1), TO);
    const stored = project((await storedBars(t.db)).filter((r) => symbols.includes(r.symbol)));
    expect(stored.length).toBe(expected.length);
    expect(stored).toEqual(expected);
  });

  it('keeps good rows and records every rejected row with its reason', async () => {
    const provider = new ScriptedProvider('scripted', { seed: 3, rejectedPerCall: 2 });
    const { backfill } = buildPipeline(t.db, { provider, nowMs: NOW, chunkBars: 1000 });
    const summary = await backfill.run({ symbols: ['USDJPY'], timeframes: ['1h'], fromMs: FROM, toMs: FROM + 5 * 24 * H });
    expect(summary.status).toBe('succeeded');
    const rejected = await t.db.selectFrom('ingest.rejected_rows').selectAll().where('ingest_run_id', '=', summary.runId).orderBy('id').execute();
    expect(rejected.map((r) => [r.line, r.error_id, r.reason])).toEqual([
      [1, 'DATA_DQ_FIELD', 'row 0: close is not a number'],
      [2, 'DATA_DQ_FIELD', 'row 1: close is not a number'],
    ]);
    expect((await storedBars(t.db, 'USDJPY')).length).toBe(countExpectedBars(FROM, FROM + 5 * 24 * H, '1h', '24/5'));
  });

  it('rejects bars outside the request and bars that fail validation, keeping the rest', async () => {
    const { pipeline } = buildPipeline(t.db, { provider: new ScriptedProvider(), nowMs: NOW });
    await pipeline.runs.create({ id: 'run-bad', kind: 'import', source: 'test', params: {} });
    const good = bar('AUDUSD', '1h', FROM, 0.66);
    const bad: CanonicalBar[] = [
      { ...bar('AUDUSD', '1h', FROM + H, 0.66), high: 0.1 }, // high < close
      bar('NZDUSD', '1h', FROM + 2 * H, 0.6), // another symbol
      bar('AUDUSD', '1h', TO + 10 * H, 0.66), // outside the range
      { ...bar('AUDUSD', '1h', FROM + 3 * H, 0.66), ts_utc: '2024-01-08T03:30:00.000Z' }, // misaligned
    ];
    const r = await pipeline.processFetched(
      { runId: 'run-bad', symbol: 'AUDUSD', timeframe: '1h', startMs: FROM, endMs: TO },
      { bars: [good, ...bad], rejected: [], latencyMs: 0 },
      'test',
    );
    expect(r).toMatchObject({ inserted: 1, rejected: 4 });
    const rows = await t.db.selectFrom('ingest.rejected_rows').selectAll().where('ingest_run_id', '=', 'run-bad').orderBy('line').execute();
    expect(rows.map((x) => [x.line, x.error_id])).toEqual([
      [1, 'DATA_DQ_OHLC'],
      [2, 'DATA_DQ_MISMATCH'],
      [3, 'DATA_DQ_MISMATCH'],
      [4, 'DATA_DQ_ALIGN'],
    ]);
  });

  it('records on the run the sources that actually served its chunks, not the failover router', async () => {
    // Chunk calls in order: primary serves the 1st, fails the 2nd and 3rd (secondary serves them), serves the rest.
    const primary = new ScriptedProvider('primary', { seed: 31 }).then('ok', permanentError(), permanentError());
    const secondary = new ScriptedProvider('secondary', { seed: 31 });
    const router = new FailoverRouter([
      { provider: primary, priority: 1 },
      { provider: secondary, priority: 2 },
    ]);
    const { backfill, pipeline } = buildPipeline(t.db, { provider: router, nowMs: NOW, chunkBars: 24 });
    const from = FROM;
    const to = FROM + 5 * 24 * H; // Monday → Saturday: 120 bars in 24-bar grid chunks
    const summary = await backfill.run({ symbols: ['CHFJPY'], timeframes: ['1h'], fromMs: from, toMs: to });
    expect(summary.status).toBe('succeeded');
    const chunks = summary.series[0]!.chunks;
    expect(chunks).toBeGreaterThanOrEqual(4);
    expect(secondary.calls).toHaveLength(2);
    expect(summary.servedBy).toEqual({ primary: chunks - 2, secondary: 2 });
    expect(summary.lastServedBy).toBe('primary');
    const run = await pipeline.runs.get(summary.runId);
    expect(run!.source).toBe('primary');
    expect(run!.params).toMatchObject({ served_by: { primary: chunks - 2, secondary: 2 }, last_served_by: 'primary' });
    // The bars name the same sources, chunk by chunk.
    const bySource = new Map<string, string[]>();
    for (const b of await storedBars(t.db, 'CHFJPY')) bySource.set(b.source_id, [...(bySource.get(b.source_id) ?? []), b.ts_utc]);
    expect(new Set(secondary.calls.flatMap((c) => hourGrid(c.startMs, c.endMs).map((ms) => new Date(ms).toISOString())))).toEqual(new Set(bySource.get('secondary')));
    expect([...bySource.keys()].sort()).toEqual(['primary', 'secondary']);
  });
});

describe('quarantine', () => {
  let t: TestDb;
  beforeAll(async () => {
    t = await openTestDb();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('quarantines a month with injected gaps and outliers and releases it after a clean re-fetch', async () => {
    const grid = hourGrid(FROM, TO);
    // XAUUSD: gaps of 3 bars (too long to fill) every 30 bars → ≈ 10 % missing.
    const gaps = new Set<number>();
    for (let i = 40; i + 3 < grid.length; i += 30) for (let k = 0; k < 3; k++) gaps.add(grid[i + k]!);
    // XAGUSD: 6 % of bars distorted by +5 % (each flags itself and the bar after it).
    const distort = new Map<number, number>();
    for (let i = 60; i < grid.length; i += 16) distort.set(grid[i]!, 1.05);
    const dirty = new ScriptedProvider('scripted', { seed: 21, gaps, gapSymbols: ['XAUUSD'], distort, distortSymbols: ['XAGUSD'] });
    const settings = testSettings();
    const a = buildPipeline(t.db, { provider: dirty, nowMs: NOW, settings });
    const run1 = await a.backfill.run({ symbols: ['XAUUSD', 'XAGUSD'], timeframes: ['1h'], fromMs: FROM, toMs: TO });
    expect(run1.status).toBe('succeeded');
    const active = await a.quarantine.list({ activeOnly: true });
    expect(active.map((q) => [q.symbol, q.timeframe, q.month])).toEqual([
      ['XAGUSD', '1h', '2024-01-01'],
      ['XAUUSD', '1h', '2024-01-01'],
    ]);
    // Independent expectation of the missing rate: removed bars / expected bars over the covered range.
    const q = active.find((x) => x.symbol === 'XAUUSD')!;
    const expectedBars = countExpectedBars(FROM, grid.at(-1)! + H, '1h', '24/5');
    expect(q.metrics).toMatchObject({ expected: expectedBars, missing: gaps.size });
    expect(q.reason).toMatch(/missing_rate/);
    expect(q.thresholds).toEqual({ missing_rate: 0.05, outlier_rate: 0.08 });
    expect([q.range_from.getTime(), q.range_to.getTime()]).toEqual([FROM, grid.at(-1)! + H]);
    expect(active.find((x) => x.symbol === 'XAGUSD')!.reason).toMatch(/outlier_rate/);

    // Clean re-fetch of the same range: DQ re-evaluated, thresholds clear → released automatically.
    const b = buildPipeline(t.db, { provider: new ScriptedProvider('scripted', { seed: 21 }), nowMs: NOW, settings });
    const run2 = await b.backfill.run({ symbols: ['XAUUSD', 'XAGUSD'], timeframes: ['1h'], fromMs: FROM, toMs: TO });
    expect(run2.status).toBe('succeeded');
    expect(await b.quarantine.list({ activeOnly: true })).toEqual([]);
    const all = await b.quarantine.list();
    expect(all.map((x) => [x.symbol, x.released_by_run_id])).toEqual([
      ['XAGUSD', run2.runId],
      ['XAUUSD', run2.runId],
    ]);
    // Content and DQ verdicts now equal a single DQ pass over the clean series (stale outlier flags of the
    // neighbours of distorted bars are cleared too); only replaced bars carry `revised`.
    const expected = await reference(new ScriptedProvider('scripted', { seed: 21 }), ['XAGUSD', 'XAUUSD']);
    const stored = project(await storedBars(t.db));
    const replaced = new Set([...distort.keys()].map((ms) => `XAGUSD|${new Date(ms).toISOString()}`));
    expect(stored.map((r) => ({ ...r, quality_flag: replaced.has(`${r.symbol}|${r.ts_utc}`) && r.quality_flag === 'revised' ? 'ok' : r.quality_flag }))).toEqual(expected);
    expect(stored.filter((r) => r.quality_flag === 'revised').length).toBe(replaced.size);
  });
});
