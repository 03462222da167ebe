import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sql } from 'kysely';
import { decodeBarStale, decodeBarClosed } from '@noctria/contracts';
import { LiveService } from '../src/pipeline/live.service.js';
import { openTestDb, testLogger, testSettings, type TestDb } from './helpers/harness.js';
import { buildPipeline } from './helpers/pipeline.js';
import { ScriptedProvider } from './support/scripted-provider.js';

const H = 3_600_000;
const T = Date.UTC(2024, 0, 10, 12); // Wednesday 12:00

describe('live mode', () => {
  let t: TestDb;
  beforeAll(async () => {
    t = await openTestDb();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('stores each bar once it is closed, flags a late bar after its freshness budget and clears the flag when it arrives', async () => {
    const late = T; // the 12:00 bar will be late
    const provider = new ScriptedProvider('scripted', { seed: 4, gaps: new Set([late]) });
    const clock = { nowMs: T + 30_000 }; // 30 s after the 11:00 bar closed
    const { pipeline, metrics } = buildPipeline(t.db, { provider, nowMs: 0, now: () => clock.nowMs, settings: testSettings({ timeframes: ['1h'], universeSymbols: ['XAUUSD'] }) });
    const live = new LiveService({ pipeline, provider, db: t.db, logger: testLogger(), metrics, busPrefix: '', symbols: ['XAUUSD'], timeframes: ['1h'] });
    await pipeline.runs.create({ id: 'live-1', kind: 'live', source: 'scripted', params: {} });

    // First poll: starts with the last closed bar (11:00), nothing stale.
    let r = await live.tick('live-1');
    expect(r).toEqual({ stored: 1, staleRaised: [], staleCleared: [] });
    const outbox = async () => (await sql<{ subject: string; payload: Buffer }>`select subject, payload from ingest.outbox order by id`.execute(t.db)).rows;
    expect(decodeBarClosed((await outbox())[0]!.payload).bar.ts_utc).toBe(new Date(T - H).toISOString());

    // 13:01: the 12:00 bar closed 60 s ago (budget 120 s) but is missing → not yet stale.
    clock.nowMs = T + H + 60_000;
    r = await live.tick('live-1');
    expect(r.staleRaised).toEqual([]);
    // 13:03: 180 s after close > 120 s → one stale flag, raised once only.
    clock.nowMs = T + H + 180_000;
    expect((await live.tick('live-1')).staleRaised).toEqual(['XAUUSD|1h']);
    expect((await live.tick('live-1')).staleRaised).toEqual([]);
    const staleMsgs = (await outbox()).filter((m) => m.subject === 'md.stale.1h.XAUUSD');
    expect(staleMsgs).toHaveLength(1);
    expect(decodeBarStale(staleMsgs[0]!.payload)).toMatchObject({ suppress: true, expectedBarTsMs: late, lastBarTsMs: T - H, budgetSeconds: 120 });
    expect((await metrics.staleFlags.get()).values[0]?.value).toBe(1);

    // The bar arrives: stored, published with stale=true, and the flag is cleared.
    provider.options.gaps = new Set();
    clock.nowMs = T + H + 200_000;
    r = await live.tick('live-1');
    expect(r).toMatchObject({ stored: 1, staleCleared: ['XAUUSD|1h'] });
    const msgs = await outbox();
    const arrived = decodeBarClosed(msgs.find((m) => m.subject === 'md.bar.1h.XAUUSD' && decodeBarClosed(m.payload).bar.ts_utc === new Date(late).toISOString())!.payload);
    expect(arrived.stale).toBe(true);
    const cleared = msgs.filter((m) => m.subject === 'md.stale.1h.XAUUSD').map((m) => decodeBarStale(m.payload));
    expect(cleared.map((c) => c.suppress)).toEqual([true, false]);
    const flags = await t.db.selectFrom('ingest.stale_flags').selectAll().execute();
    expect(flags).toHaveLength(1);
    expect(flags[0]!.cleared_at).not.toBeNull();
  });

  it('under the 24/5 calendar owes no bar over the weekend (no stale flag), then flags a missing Monday bar', async () => {
    const FRI_2200 = Date.UTC(2024, 0, 12, 22); // Friday
    const MON = Date.UTC(2024, 0, 15); // Monday 00:00, the first bar after the weekend, will be missing
    const provider = new ScriptedProvider('scripted', { seed: 6, gaps: new Set([MON]) });
    const clock = { nowMs: FRI_2200 + 30_000 };
    const settings = testSettings({ timeframes: ['1h'], universeSymbols: ['XAGUSD'], calendar: '24/5' });
    const { pipeline, metrics } = buildPipeline(t.db, { provider, nowMs: 0, now: () => clock.nowMs, settings });
    const live = new LiveService({ pipeline, provider, db: t.db, logger: testLogger(), metrics, busPrefix: '', symbols: ['XAGUSD'], timeframes: ['1h'] });
    await pipeline.runs.create({ id: 'live-weekend', kind: 'live', source: 'scripted', params: {} });
    const lag = async () => (await metrics.watermarkLagBars.get()).values.find((v) => v.labels['symbol'] === 'XAGUSD')?.value;

    expect(await live.tick('live-weekend')).toEqual({ stored: 1, staleRaised: [], staleCleared: [] }); // Friday 21:00
    clock.nowMs = Date.UTC(2024, 0, 13, 0, 5); // Saturday 00:05: Friday 22:00 and 23:00 closed
    expect(await live.tick('live-weekend')).toEqual({ stored: 2, staleRaised: [], staleCleared: [] });
    // Well past the freshness budget of every weekend hour: nothing is expected, nothing is stale.
    for (const at of [Date.UTC(2024, 0, 13, 12), Date.UTC(2024, 0, 14, 9, 30), Date.UTC(2024, 0, 14, 23, 59), MON + 30 * 60_000]) {
      clock.nowMs = at;
      expect(await live.tick('live-weekend')).toEqual({ stored: 0, staleRaised: [], staleCleared: [] });
      expect(await lag()).toBe(0);
    }
    const flags = () => t.db.selectFrom('ingest.stale_flags').selectAll().where('symbol', '=', 'XAGUSD').execute();
    expect(await flags()).toEqual([]);

    // Monday 01:03: the 00:00 bar closed 180 s ago (budget 120 s) and is missing → one stale flag for exactly that bar.
    clock.nowMs = MON + H + 180_000;
    expect((await live.tick('live-weekend')).staleRaised).toEqual(['XAGUSD|1h']);
    expect(await lag()).toBe(1);
    const raised = await flags();
    expect(raised.map((f) => f.expected_ts.getTime())).toEqual([MON]);
    const msg = (await sql<{ payload: Buffer }>`select payload from ingest.outbox where subject = 'md.stale.1h.XAGUSD'`.execute(t.db)).rows;
    expect(msg.map((m) => decodeBarStale(m.payload))).toEqual([expect.objectContaining({ suppress: true, expectedBarTsMs: MON, lastBarTsMs: Date.UTC(2024, 0, 12, 23) })]);
  });
});
