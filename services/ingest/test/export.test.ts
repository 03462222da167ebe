/**
 * ExportService on a real database and file system: the seed 003 partition layout, quarantined months left out by
 * default (markers still written), an idempotent re-export (identical bytes and manifest sha256, no temporary
 * files left), a month exported in two ranges accumulating one correct `__meta.json`, and errors for empty series.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExportService, type MonthMeta } from '../src/pipeline/export.service.js';
import { openTestDb, testLogger, type TestDb } from './helpers/harness.js';
import { buildPipeline, storedBars } from './helpers/pipeline.js';
import { ScriptedProvider, hourGrid } from './support/scripted-provider.js';

const FROM = Date.UTC(2024, 0, 1);
const TO = Date.UTC(2024, 2, 1);
const NOW = Date.UTC(2024, 3, 1);
const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
}

describe('ExportService (partition layout)', () => {
  let t: TestDb;
  let exports: ExportService;
  const root = mkdtempSync(join(tmpdir(), 'ingest-export-'));

  beforeAll(async () => {
    t = await openTestDb();
    // XAUUSD loses two weeks of January (missing rate far above 5 % → January quarantined); XAGUSD is clean.
    const gaps = new Set(hourGrid(Date.UTC(2024, 0, 8), Date.UTC(2024, 0, 22)));
    const provider = new ScriptedProvider('scripted', { seed: 17, gaps, gapSymbols: ['XAUUSD'] });
    const { backfill } = buildPipeline(t.db, { provider, nowMs: NOW, chunkBars: 500 });
    const summary = await backfill.run({ symbols: ['XAGUSD', 'XAUUSD'], timeframes: ['1h'], fromMs: FROM, toMs: TO });
    expect(summary.status).toBe('succeeded');
    exports = new ExportService({ db: t.db, artifactDir: root, logger: testLogger(), windowParams: (tf) => ({ timeframe: tf, beta_window_bars: 180 }) });
  }, 60_000);
  afterAll(async () => {
    await t?.close();
  });

  it('leaves quarantined months out by default, with __quarantine.json and __meta.json, and lists every file in the manifest', async () => {
    const r = await exports.export({ symbol: 'XAUUSD', timeframe: '1h', fromMs: FROM, toMs: TO });
    expect(r.excludedMonths).toEqual(['2024-01']);
    const jan = join(root, '1h', 'XAUUSD', '2024', '2024-01');
    expect(readdirSync(jan).sort()).toEqual(['__meta.json', '__quarantine.json']);
    expect(JSON.parse(readFileSync(join(jan, '__quarantine.json'), 'utf8'))).toMatchObject({ symbol: 'XAUUSD', month: '2024-01', bars_excluded: true, reason: expect.any(String) });
    expect(JSON.parse(readFileSync(join(jan, '__meta.json'), 'utf8'))).toMatchObject({ quarantined: true, bars_excluded: true, counts: { bars: 0, files: 0 } });

    const stored = (await storedBars(t.db, 'XAUUSD')).filter((b) => b.ts_utc.startsWith('2024-02'));
    const febDays = [...new Set(stored.map((b) => b.ts_utc.slice(0, 10)))].sort();
    const feb = join(root, '1h', 'XAUUSD', '2024', '2024-02');
    expect(readdirSync(feb).sort()).toEqual(['__meta.json', ...febDays.map((d) => `XAUUSD_${d}.parquet`)].sort());
    const meta = JSON.parse(readFileSync(join(feb, '__meta.json'), 'utf8')) as MonthMeta;
    expect(meta).toMatchObject({ quarantined: false, counts: { bars: stored.length, files: febDays.length }, window_params: { timeframe: '1h', beta_window_bars: 180 }, sources: ['scripted'] });
    expect(meta.dq_counters['received']).toBe(stored.length);
    expect(r.bars).toBe(stored.length);

    const manifestPath = join(root, r.manifestRef);
    expect(sha(manifestPath)).toBe(r.manifestSha256);
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as typeof r.manifest;
    expect(manifest.files.map((f) => f.ref)).toEqual(febDays.map((d) => join('1h', 'XAUUSD', '2024', '2024-02', `XAUUSD_${d}.parquet`)));
    for (const f of [...manifest.files, ...manifest.meta, ...manifest.quarantine]) expect(sha(join(root, f.ref))).toBe(f.sha256);
    expect(manifest.quarantine.map((q) => q.ref)).toEqual([join('1h', 'XAUUSD', '2024', '2024-01', '__quarantine.json')]);
  });

  it('re-exports idempotently: same bytes, same manifest sha256, no temporary files; including quarantined months on request', async () => {
    const before = new Map(walk(root).map((p) => [p, sha(p)]));
    const again = await exports.export({ symbol: 'XAUUSD', timeframe: '1h', fromMs: FROM, toMs: TO });
    expect(new Map(walk(root).map((p) => [p, sha(p)]))).toEqual(before);
    expect(again.manifestSha256).toBe(before.get(join(root, again.manifestRef)));
    expect(walk(root).filter((p) => p.includes('.tmp-'))).toEqual([]);

    const incl = await exports.export({ symbol: 'XAUUSD', timeframe: '1h', fromMs: FROM, toMs: TO, excludeQuarantined: false });
    const janBars = (await storedBars(t.db, 'XAUUSD')).filter((b) => b.ts_utc.startsWith('2024-01'));
    expect(incl.excludedMonths).toEqual([]);
    expect(incl.months.find((m) => m.month === '2024-01')).toMatchObject({ quarantined: true, excluded: false, bars: janBars.length });
    const q = JSON.parse(readFileSync(join(root, '1h', 'XAUUSD', '2024', '2024-01', '__quarantine.json'), 'utf8'));
    expect(q.bars_excluded).toBe(false);
  });

  it('accumulates one month exported in two ranges into a correct __meta.json (CSV), defaulting the range to the stored bars', async () => {
    const mid = Date.UTC(2024, 1, 15);
    const a = await exports.export({ symbol: 'XAGUSD', timeframe: '1h', fromMs: Date.UTC(2024, 1, 1), toMs: mid, format: 'csv' });
    const b = await exports.export({ symbol: 'XAGUSD', timeframe: '1h', fromMs: mid, toMs: TO, format: 'csv' });
    const feb = (await storedBars(t.db, 'XAGUSD')).filter((x) => x.ts_utc.startsWith('2024-02'));
    expect(a.bars + b.bars).toBe(feb.length);
    const meta = JSON.parse(readFileSync(join(root, '1h', 'XAGUSD', '2024', '2024-02', '__meta.json'), 'utf8')) as MonthMeta;
    expect(meta.counts.bars).toBe(feb.length);
    expect(meta.files.map((f) => f.date)).toEqual([...new Set(feb.map((x) => x.ts_utc.slice(0, 10)))].sort());
    const csvTs = meta.files.flatMap((f) => readFileSync(join(root, '1h', 'XAGUSD', '2024', '2024-02', f.name), 'utf8').trim().split('\n').slice(1).map((l) => l.split(',')[0]));
    expect(csvTs).toEqual(feb.map((x) => x.ts_utc));

    const all = await exports.export({ symbol: 'XAGUSD', timeframe: '1h', format: 'csv' });
    expect([all.from, all.to]).toEqual([new Date(hourGrid(FROM, TO)[0]!).toISOString(), new Date(hourGrid(FROM, TO).at(-1)! + 3_600_000).toISOString()]);
    expect(all.bars).toBe((await storedBars(t.db, 'XAGUSD')).length);
  });

  it('refuses a series without stored bars and an empty range', async () => {
    await expect(exports.export({ symbol: 'EURUSD', timeframe: '1h' })).rejects.toMatchObject({ id: 'DATA_API_NOTFOUND' });
    await expect(exports.export({ symbol: 'XAGUSD', timeframe: '1h', fromMs: TO, toMs: FROM })).rejects.toMatchObject({ id: 'DATA_API_BADREQ' });
    expect(existsSync(join(root, '1h', 'EURUSD'))).toBe(false);
  });
});
