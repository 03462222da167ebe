import { describe, expect, it } from '@jest/globals';
import type { CanonicalBar } from '@noctria/canonical-bar';
import { ManualClock } from '../../src/providers/synthetic/clock.js';
import { SyntheticProvider, type SyntheticPairSpec } from '../../src/providers/synthetic/synthetic.provider.js';
import { take, waitFor } from '../support/wait-for.js';

const D = 86_400_000;
const req = (symbol: string, startMs: number, endMs: number, timeframe: CanonicalBar['timeframe'] = '1h') => ({ symbol, timeframe, startMs, endMs, ingestRunId: 'syn' });
const strip = (bars: CanonicalBar[]) => bars.map(({ ingest_run_id: _r, ...rest }) => rest);

function ols(x: number[], y: number[]): { slope: number; intercept: number; resid: number[] } {
  const n = x.length;
  const mx = x.reduce((a, b) => a + b, 0) / n;
  const my = y.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += ((x[i] as number) - mx) * ((y[i] as number) - my);
    sxx += ((x[i] as number) - mx) ** 2;
  }
  const slope = sxy / sxx;
  const intercept = my - slope * mx;
  return { slope, intercept, resid: y.map((v, i) => v - intercept - slope * (x[i] as number)) };
}

function lag1(r: number[]): number {
  const m = r.reduce((a, b) => a + b, 0) / r.length;
  let num = 0;
  let den = 0;
  for (let i = 0; i < r.length; i++) {
    den += ((r[i] as number) - m) ** 2;
    if (i > 0) num += ((r[i] as number) - m) * ((r[i - 1] as number) - m);
  }
  return num / den;
}

async function logCloses(p: SyntheticProvider, a: string, b: string, start: number, end: number, tf: CanonicalBar['timeframe'] = '1h') {
  const [ra, rb] = await Promise.all([p.fetchTimeSeries(req(a, start, end, tf)), p.fetchTimeSeries(req(b, start, end, tf))]);
  expect(ra.bars.map((x) => x.ts_utc)).toEqual(rb.bars.map((x) => x.ts_utc));
  return { la: ra.bars.map((x) => Math.log(x.close)), lb: rb.bars.map((x) => Math.log(x.close)) };
}

describe('SyntheticProvider determinism', () => {
  const start = Date.UTC(2024, 0, 1);
  const end = Date.UTC(2024, 3, 1);

  it('a sub-range equals the same bars of a bigger range, and chunked fetches equal one fetch', async () => {
    const whole = (await new SyntheticProvider({ seed: 11 }).fetchTimeSeries(req('XAUUSD', start, end))).bars;
    const fresh = new SyntheticProvider({ seed: 11 });
    const sub = (await fresh.fetchTimeSeries(req('XAUUSD', Date.UTC(2024, 1, 7, 5), Date.UTC(2024, 1, 20)))).bars;
    const i0 = whole.findIndex((b) => b.ts_utc === '2024-02-07T05:00:00.000Z');
    expect(i0).toBeGreaterThan(0);
    expect(strip(sub)).toEqual(strip(whole.slice(i0, i0 + sub.length)));
    const chunked: CanonicalBar[] = [];
    const p = new SyntheticProvider({ seed: 11 });
    for (let t = end - 10 * D; t > start - 10 * D; t -= 10 * D) chunked.unshift(...(await p.fetchTimeSeries(req('XAUUSD', Math.max(t, start), Math.min(t + 10 * D, end)))).bars);
    expect(strip(chunked)).toEqual(strip(whole));
  });

  it('same seed → same bars; different seed → different bars', async () => {
    const a = (await new SyntheticProvider({ seed: 5 }).fetchTimeSeries(req('EURUSD', start, start + 10 * D))).bars;
    const b = (await new SyntheticProvider({ seed: 5 }).fetchTimeSeries(req('EURUSD', start, start + 10 * D))).bars;
    const c = (await new SyntheticProvider({ seed: 6 }).fetchTimeSeries(req('EURUSD', start, start + 10 * D))).bars;
    expect(strip(a)).toEqual(strip(b));
    expect(a.map((x) => x.ts_utc)).toEqual(c.map((x) => x.ts_utc));
    expect(a.filter((x, i) => x.close !== c[i]?.close).length).toBeGreaterThan(a.length * 0.9);
  });
});

describe('SyntheticProvider market realism', () => {
  it('has no weekend bars, gaps at the Monday open, valid rounded OHLC at realistic levels, null volume', async () => {
    const p = new SyntheticProvider({ seed: 3 });
    const levels: Record<string, [number, number, number]> = {
      XAUUSD: [1000, 4000, 2],
      XAGUSD: [10, 60, 3],
      EURUSD: [0.8, 1.4, 5],
      GBPUSD: [0.9, 1.7, 5],
      AUDUSD: [0.45, 0.9, 5],
      NZDUSD: [0.4, 0.85, 5],
    };
    for (const [symbol, [lo, hi, dec]] of Object.entries(levels)) {
      const bars = (await p.fetchTimeSeries(req(symbol, Date.UTC(2023, 0, 2), Date.UTC(2025, 0, 1), '4h'))).bars;
      expect(bars.length).toBe(6 * 5 * 104 + 6 * 2); // 104 weeks of 4h bars + Mon 2024-12-30, Tue 12-31
      const problems: string[] = [];
      for (const b of bars) {
        const dow = new Date(b.ts_utc).getUTCDay();
        if (dow === 0 || dow === 6) problems.push(`${b.ts_utc} weekend`);
        if (b.high < Math.max(b.open, b.close) || b.low > Math.min(b.open, b.close) || b.low <= 0) problems.push(`${b.ts_utc} OHLC`);
        if (!(b.close > lo && b.close < hi)) problems.push(`${b.ts_utc} level ${b.close}`);
        if (Math.abs(b.close * 10 ** dec - Math.round(b.close * 10 ** dec)) > 1e-6) problems.push(`${b.ts_utc} precision ${b.close}`);
        if (b.volume !== null) problems.push(`${b.ts_utc} volume`);
      }
      expect(problems).toEqual([]);
      // Within the week a bar opens at the previous close; the Monday open gaps away from Friday's close.
      let mondayGaps = 0;
      let mondays = 0;
      for (let i = 1; i < bars.length; i++) {
        const prev = bars[i - 1] as CanonicalBar;
        const cur = bars[i] as CanonicalBar;
        if (Date.parse(cur.ts_utc) - Date.parse(prev.ts_utc) > D) {
          mondays++;
          if (cur.open !== prev.close) mondayGaps++;
        } else if (cur.open !== prev.close) problems.push(`${cur.ts_utc} open != previous close`);
      }
      expect(problems).toEqual([]);
      expect(mondays).toBe(104);
      expect(mondayGaps).toBeGreaterThan(mondays * 0.8);
    }
  });

  it('pairs are cointegrated: the OLS residual of log A on log B mean-reverts, unlike an unrelated pair', async () => {
    const p = new SyntheticProvider({ seed: 21 });
    const start = Date.UTC(2022, 0, 3);
    const end = Date.UTC(2023, 0, 2);
    const coint = await logCloses(p, 'GBPUSD', 'EURUSD', start, end);
    const r1 = lag1(ols(coint.lb, coint.la).resid);
    const unrelated = await logCloses(p, 'XAUUSD', 'EURUSD', start, end);
    const r2 = lag1(ols(unrelated.lb, unrelated.la).resid);
    expect(coint.la.length).toBeGreaterThan(6000);
    expect(r1).toBeLessThan(0.99);
    expect(r2).toBeGreaterThan(0.99);
  });

  it('changes the hedge ratio at the configured regime break', async () => {
    const pair: SyntheticPairSpec = { a: 'XAUUSD', b: 'XAGUSD', beta: 0.5, betaAfterBreak: 1.2, breakAt: '2024-01-01T00:00:00Z', kappaPerDay: 1, sigmaDaily: 0.002 };
    const p = new SyntheticProvider({ seed: 8, pairs: [pair] });
    const before = await logCloses(p, 'XAUUSD', 'XAGUSD', Date.UTC(2023, 0, 2), Date.UTC(2024, 0, 1), '4h');
    const after = await logCloses(p, 'XAUUSD', 'XAGUSD', Date.UTC(2024, 0, 1), Date.UTC(2025, 0, 1), '4h');
    expect(ols(before.lb, before.la).slope).toBeCloseTo(0.5, 1);
    expect(ols(after.lb, after.la).slope).toBeCloseTo(1.2, 1);
  });
});

describe('SyntheticProvider live emission and faults', () => {
  it('liveBars on a manual clock emits exactly the bars fetchTimeSeries returns', async () => {
    const p = new SyntheticProvider({ seed: 4 });
    const t0 = Date.UTC(2024, 2, 8, 20, 30); // Friday 20:30 UTC
    const clock = new ManualClock(t0);
    const it = p.liveBars(['XAUUSD', 'XAGUSD'], '1h', clock)[Symbol.asyncIterator]();
    const first = it.next();
    await waitFor(() => clock.pending === 1, 'consumer waiting on the clock');
    clock.set(Date.UTC(2024, 2, 11, 2)); // Monday 02:00: Friday 20:00–23:00 and Monday 00:00–01:00 have closed
    const got = [(await first).value as CanonicalBar, ...(await take(it, 11))];
    const expected: CanonicalBar[] = [];
    for (const s of ['XAUUSD', 'XAGUSD']) expected.push(...(await p.fetchTimeSeries(req(s, Date.UTC(2024, 2, 8, 20), Date.UTC(2024, 2, 11, 2)))).bars);
    const key = (b: CanonicalBar) => `${b.ts_utc}|${b.symbol}`;
    expect(got.map(key).sort()).toEqual(expected.map(key).sort());
    expect(strip(got).sort((a, b) => key(a as CanonicalBar).localeCompare(key(b as CanonicalBar)))).toEqual(
      strip(expected).sort((a, b) => key(a as CanonicalBar).localeCompare(key(b as CanonicalBar))),
    );
    expect(got.map((b) => b.ts_utc)).not.toContain('2024-03-09T00:00:00.000Z');
    await it.return?.(undefined);
  });

  it('streamQuotes yields ticks at bar closes with bid < mid < ask', async () => {
    const clock = new ManualClock(Date.UTC(2024, 2, 5, 10, 0, 30));
    const p = new SyntheticProvider({ seed: 4, clock, tickTimeframe: '1m', originMs: Date.UTC(2024, 2, 4) });
    const h = await p.streamQuotes(['EURUSD'], {});
    const it = h.ticks[Symbol.asyncIterator]();
    await waitFor(() => clock.pending === 1, 'stream waiting');
    clock.advance(3 * 60_000);
    const ticks = await take(it, 3);
    const bars = (await p.fetchTimeSeries(req('EURUSD', Date.UTC(2024, 2, 5, 10), Date.UTC(2024, 2, 5, 10, 3), '1m'))).bars;
    expect(ticks.map((t) => t.mid)).toEqual(bars.map((b) => b.close));
    expect(ticks.map((t) => t.ts_utc)).toEqual(['2024-03-05T10:01:00.000Z', '2024-03-05T10:02:00.000Z', '2024-03-05T10:03:00.000Z']);
    for (const t of ticks) expect((t.bid as number) < (t.mid as number) && (t.mid as number) < (t.ask as number)).toBe(true);
    await h.close();
  });

  it('fault injection drops, duplicates and spikes exactly the requested bars and is off by default', async () => {
    const range = req('EURUSD', Date.UTC(2024, 0, 2), Date.UTC(2024, 0, 3));
    const clean = (await new SyntheticProvider({ seed: 9 }).fetchTimeSeries(range)).bars;
    const faulty = (
      await new SyntheticProvider({
        seed: 9,
        faults: { dropAt: ['2024-01-02T05:00:00Z'], duplicateAt: ['2024-01-02T07:00:00Z'], spikeAt: ['2024-01-02T09:00:00Z'] },
      }).fetchTimeSeries(range)
    ).bars;
    expect(clean).toHaveLength(24);
    expect(clean.some((b) => b.metadata['synthetic_fault'])).toBe(false);
    expect(faulty).toHaveLength(24);
    expect(faulty.map((b) => b.ts_utc)).not.toContain('2024-01-02T05:00:00.000Z');
    expect(faulty.filter((b) => b.ts_utc === '2024-01-02T07:00:00.000Z')).toHaveLength(2);
    const spikeClean = clean.find((b) => b.ts_utc === '2024-01-02T09:00:00.000Z') as CanonicalBar;
    const spike = faulty.find((b) => b.ts_utc === '2024-01-02T09:00:00.000Z') as CanonicalBar;
    const typicalMove = clean.slice(1).reduce((s, b, i) => s + Math.abs(Math.log(b.close / (clean[i] as CanonicalBar).close)), 0) / (clean.length - 1);
    expect(Math.abs(Math.log(spike.close / spikeClean.close))).toBeGreaterThan(8 * typicalMove);
    const untouched = faulty.filter((b) => !b.metadata['synthetic_fault']);
    expect(strip(untouched)).toEqual(strip(clean.filter((b) => !['2024-01-02T05:00:00.000Z', '2024-01-02T09:00:00.000Z'].includes(b.ts_utc))));
  });
});
