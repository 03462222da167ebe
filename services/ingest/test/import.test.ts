/**
 * File import happy path on real files: an MT5 export written from the seeded SyntheticProvider with bad rows
 * mixed in, a generic CSV of ~100k lines. Stored rows equal the good rows after DQ (derived with the library's
 * runDq), rejected rows are stored with their file line and reason, a re-import is idempotent (dedupe
 * counted), and large files are streamed in bounded chunks whose seams change nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runDq, type CanonicalBar } from '@noctria/canonical-bar';
import { ImportService, parseTimeZoneSpec } from '../src/pipeline/import.service.js';
import { SyntheticProvider } from '../src/providers/synthetic/synthetic.provider.js';
import { openTestDb, testLogger, testSettings, type TestDb } from './helpers/harness.js';
import { buildPipeline, storedBars } from './helpers/pipeline.js';

const NOW = Date.UTC(2026, 0, 1);
const dir = mkdtempSync(join(tmpdir(), 'ingest-import-'));
const pad = (n: number) => String(n).padStart(2, '0');
const mt5Date = (ms: number) => {
  const d = new Date(ms);
  return [`${d.getUTCFullYear()}.${pad(d.getUTCMonth() + 1)}.${pad(d.getUTCDate())}`, `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:00`];
};

async function syntheticBars(symbol: string, timeframe: '1h' | '15m', fromMs: number, toMs: number): Promise<CanonicalBar[]> {
  const p = new SyntheticProvider({ seed: 5, sourceId: 'synthetic' });
  return (await p.fetchTimeSeries({ symbol, timeframe, startMs: fromMs, endMs: toMs, ingestRunId: 'gen' })).bars;
}

/** What the store must hold for the good rows: one pass of DQ over the whole series (no chunk seams). */
function expectedAfterDq(good: CanonicalBar[]) {
  const s = testSettings();
  const dq = runDq(good, { calendar: s.calendar, missing_fill_max_run: s.missingFillMaxRun, outlier_sigma: s.outlierSigma, dq_spike_k: s.spikeK });
  return dq.bars.map((b) => ({ ts_utc: new Date(b.ts_utc).toISOString(), open: b.open, high: b.high, low: b.low, close: b.close, quality_flag: b.quality_flag }));
}
const project = (rows: Awaited<ReturnType<typeof storedBars>>) => rows.map((r) => ({ ts_utc: r.ts_utc, open: r.open, high: r.high, low: r.low, close: r.close, quality_flag: r.quality_flag }));

describe('file import', () => {
  let t: TestDb;
  let imports: ImportService;
  beforeAll(async () => {
    t = await openTestDb();
    const { pipeline, quarantine } = buildPipeline(t.db, { provider: new SyntheticProvider({ seed: 5 }), nowMs: NOW, settings: testSettings({ timeframeAllowed: ['15m', '1h', '4h'] }) });
    imports = new ImportService({ pipeline, quarantine, logger: testLogger() });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('stores the good rows of an MT5 export, rejects bad rows with line and reason, and re-imports idempotently', async () => {
    const bars = await syntheticBars('XAUUSD', '1h', Date.UTC(2024, 0, 8), Date.UTC(2024, 1, 3));
    const lines = ['<DATE>\t<TIME>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>\t<VOL>\t<SPREAD>'];
    const good: CanonicalBar[] = [];
    const bad = new Map<number, string>(); // file line → what is wrong
    bars.forEach((b, i) => {
      const [date, time] = mt5Date(Date.parse(b.ts_utc));
      if (i === 10) {
        bad.set(lines.length + 1, 'date');
        lines.push(`2024.13.45\t${time}\t${b.open}\t${b.high}\t${b.low}\t${b.close}\t100\t0\t20`);
      } else if (i === 200) {
        bad.set(lines.length + 1, 'close');
        lines.push(`${date}\t${time}\t${b.open}\t${b.high}\t${b.low}\tabc\t100\t0\t20`);
      } else if (i === 333) {
        bad.set(lines.length + 1, 'high<low');
        lines.push(`${date}\t${time}\t${b.open}\t${b.low - 5}\t${b.high + 5}\t${b.close}\t100\t0\t20`);
      } else if (i === 500) {
        bad.set(lines.length + 1, 'fields');
        lines.push(`${date}\t${time}\t${b.open}\t${b.high}`);
      } else {
        good.push(b);
        lines.push(`${date}\t${time}\t${b.open}\t${b.high}\t${b.low}\t${b.close}\t100\t0\t20`);
      }
    });
    const path = join(dir, 'XAUUSD_H1_202401080000_202402022300.csv');
    writeFileSync(path, lines.join('\r\n') + '\r\n');

    const first = await imports.importFile({ path, chunkBars: 100 });
    expect(first.status).toBe('succeeded');
    expect(first.symbol).toBe('XAUUSD');
    expect(first.chunks).toBeGreaterThan(good.length / 100 - 1);
    const stored = await storedBars(t.db, 'XAUUSD');
    // Bars with missing neighbours (the rejected rows left holes) are DQ-filled exactly as one pass of runDq does.
    expect(project(stored)).toEqual(expectedAfterDq(good));
    expect(stored.every((r) => r.source_id === 'file')).toBe(true);
    expect(first.result).toMatchObject({ rejected: bad.size, inserted: stored.length, storeDuplicates: 0 });

    const rejected = await t.db.selectFrom('ingest.rejected_rows').selectAll().where('ingest_run_id', '=', first.runId).orderBy('line').execute();
    expect(rejected.map((r) => r.line)).toEqual([...bad.keys()]);
    for (const r of rejected) {
      expect(r.reason.length).toBeGreaterThan(5);
      expect(r.symbol).toBe('XAUUSD');
    }
    expect(rejected.find((r) => r.line === [...bad.keys()][2])!.reason).toMatch(/high|low/);

    // Re-import: nothing changes, every good row is counted as a duplicate, nothing is published again.
    const again = await imports.importFile({ path, chunkBars: 100 });
    expect(again.status).toBe('succeeded');
    expect(await storedBars(t.db, 'XAUUSD')).toEqual(stored);
    expect(again.result).toMatchObject({ inserted: 0, updated: 0, published: 0, storeDuplicates: stored.length, rejected: bad.size });
    const run = await t.db.selectFrom('ingest.ingest_runs').selectAll().where('id', '=', again.runId).executeTakeFirstOrThrow();
    expect(run).toMatchObject({ kind: 'import', status: 'succeeded' });
    expect(run.counts['duplicates']).toBe(stored.length);
  });

  it('streams a ~100k-line MT5 export in bounded chunks and stores what a single pass stores', async () => {
    const bars = await syntheticBars('EURUSD', '15m', Date.UTC(2022, 0, 3), Date.UTC(2025, 11, 1));
    expect(bars.length).toBeGreaterThan(95_000);
    const path = join(dir, 'EURUSD_M15_big.csv');
    const out = ['<DATE>\t<TIME>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>'];
    for (const b of bars) out.push(`${mt5Date(Date.parse(b.ts_utc)).join('\t')}\t${b.open}\t${b.high}\t${b.low}\t${b.close}\t10`);
    writeFileSync(path, out.join('\n') + '\n');

    const r = await imports.importFile({ path, chunkBars: 5000 });
    expect(r.error).toBeUndefined();
    expect(r.status).toBe('succeeded');
    // Cut into many store transactions (never the whole file in memory at once).
    expect(r.chunks).toBeGreaterThanOrEqual(Math.floor(bars.length / 5000));
    const stored = await storedBars(t.db, 'EURUSD');
    expect(stored.length).toBe(expectedAfterDq(bars).length);
    expect(project(stored)).toEqual(expectedAfterDq(bars));
    expect(r.result).toMatchObject({ inserted: stored.length, rejected: 0 });
  }, 180_000);

  it('imports a generic CSV in its own time zone with the column mapping derived from its header; rejected rows carry file lines', async () => {
    const bars = await syntheticBars('GBPUSD', '1h', Date.UTC(2024, 0, 8), Date.UTC(2024, 0, 13));
    // Athens wall clock (UTC+2 in January), no zone in the timestamps; columns in an unusual order with ';'.
    const athens = (ms: number) => new Date(ms + 2 * 3_600_000).toISOString().slice(0, 19).replace('T', ' ');
    const lines = ['Close;Open;High;Low;Timestamp;Tick_Volume'];
    const bad = new Map<number, string>();
    bars.forEach((b, i) => {
      if (i === 5) {
        bad.set(lines.length + 1, 'close');
        lines.push(`x;${b.open};${b.high};${b.low};${athens(Date.parse(b.ts_utc))};7`);
      } else if (i === 40) {
        bad.set(lines.length + 1, 'misaligned');
        lines.push(`${b.close};${b.open};${b.high};${b.low};${athens(Date.parse(b.ts_utc) + 60_000)};7`);
      } else lines.push(`${b.close};${b.open};${b.high};${b.low};${athens(Date.parse(b.ts_utc))};7`);
    });
    const path = join(dir, 'gbp_athens.csv');
    writeFileSync(path, lines.join('\n') + '\n');

    const r = await imports.importFile({ path, symbol: 'GBPUSD', timeframe: '1h', timeZone: parseTimeZoneSpec('Europe/Athens') });
    expect(r.error).toBeUndefined();
    expect(r).toMatchObject({ status: 'succeeded', format: 'csv', accepted: bars.length - bad.size });
    expect(r.rejectedRows!.map((x) => x.line)).toEqual([...bad.keys()]);
    const stored = await storedBars(t.db, 'GBPUSD');
    const good = bars.filter((_, i) => i !== 5 && i !== 40);
    expect(stored.filter((x) => x.quality_flag === 'ok').map((x) => [x.ts_utc, x.close])).toEqual(good.map((b) => [new Date(Date.parse(b.ts_utc)).toISOString(), b.close]));
    const run = await t.db.selectFrom('ingest.ingest_runs').selectAll().where('id', '=', r.runId).executeTakeFirstOrThrow();
    expect(run.params).toMatchObject({ format: 'csv', time_zone: 'Europe/Athens', columns: { ts: 'Timestamp', close: 'Close', volume: 'Tick_Volume', delimiter: ';' } });

    // A header that cannot be mapped is refused before any run starts; an explicit mapping makes it importable.
    const odd = join(dir, 'odd.csv');
    writeFileSync(odd, `when,a,b,c,d\n${athens(Date.parse(bars[0]!.ts_utc))},${bars[0]!.open},${bars[0]!.high},${bars[0]!.low},${bars[0]!.close}\n`);
    await expect(imports.importFile({ path: odd, symbol: 'AUDCAD', timeframe: '1h', format: 'csv' })).rejects.toMatchObject({ id: 'DATA_IMPORT_FILE' });
    const mapped = await imports.importFile({ path: odd, symbol: 'AUDCAD', timeframe: '1h', format: 'csv', timeZone: { offsetMinutes: 120 }, columns: { ts: 'when', open: 'a', high: 'b', low: 'c', close: 'd' } });
    expect(mapped).toMatchObject({ status: 'succeeded', accepted: 1, rejectedRows: [] });
    expect((await storedBars(t.db, 'AUDCAD')).map((x) => x.ts_utc)).toEqual([bars[0]!.ts_utc]);
    expect(() => parseTimeZoneSpec('Mars/Olympus')).toThrow(/time zone/);
  });
});
