import { describe, expect, it } from '@jest/globals';
import { mkdtempSync, createWriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CanonicalBar } from '@noctria/canonical-bar';
import { ProviderError } from '../../src/providers/errors.js';
import { parseBarFile, type BarFileOptions, type ParsedBarRow } from '../../src/providers/files/bar-file-parser.js';
import { FileProvider, classifyBarFileName } from '../../src/providers/files/file.provider.js';
import { ZoneConverter } from '../../src/providers/files/timezone.js';

const FIX = fileURLToPath(new URL('./fixtures/', import.meta.url));

async function collect(path: string, options: Omit<BarFileOptions, 'ingestRunId'>) {
  const bars: Array<{ bar: CanonicalBar; line: number }> = [];
  const rejected: Array<{ line: number | undefined; reason: string }> = [];
  for await (const row of parseBarFile(path, { ingestRunId: 'run-f', ...options }) as AsyncIterable<ParsedBarRow>) {
    if ('bar' in row) bars.push(row);
    else rejected.push({ line: row.rejected.line, reason: row.rejected.reason });
  }
  return { bars, rejected };
}

describe('MT5 export bars', () => {
  it('parses the tab-separated CRLF file in the broker zone, keeps good rows and reports bad ones by line', async () => {
    const { bars, rejected } = await collect(join(FIX, 'XAUUSD_H1_202401021300_202401021800.csv'), {
      symbol: 'XAUUSD',
      timeframe: '1h',
      timeZone: 'Europe/Athens',
    });
    // January: Athens is UTC+2.
    expect(bars.map((b) => [b.line, b.bar.ts_utc])).toEqual([
      [2, '2024-01-02T11:00:00.000Z'],
      [3, '2024-01-02T12:00:00.000Z'],
      [7, '2024-01-02T15:00:00.000Z'],
    ]);
    expect(bars[0]?.bar).toMatchObject({ open: 2062.43, high: 2063.1, low: 2061.9, close: 2062.8, volume: null, source_id: 'file', quality_flag: 'ok' });
    expect(bars[0]?.bar.metadata).toMatchObject({ tick_volume: 1523, spread_points: 25, file_line: 2 });
    expect(bars[1]?.bar.volume).toBe(37);
    expect(rejected.map((r) => r.line)).toEqual([4, 5, 8]);
    expect(rejected[0]?.reason).toMatch(/high .* < low/);
    expect(rejected[1]?.reason).toMatch(/expected 9 fields, got 5/);
    expect(rejected[2]?.reason).toMatch(/open "2065.9x"/);
  });

  it('reads the UTF-16LE (BOM) daily variant without <TIME>, keyed by trading date', async () => {
    const { bars, rejected } = await collect(join(FIX, 'XAUUSD_D1_utf16.csv'), { symbol: 'XAUUSD', timeframe: '1d', timeZone: 'Europe/Athens' });
    expect(bars.map((b) => [b.line, b.bar.ts_utc, b.bar.close])).toEqual([
      [2, '2024-01-02T00:00:00.000Z', 2073.8],
      [3, '2024-01-03T00:00:00.000Z', 2041.55],
      [5, '2024-01-05T00:00:00.000Z', 2045],
    ]);
    expect(bars[0]?.bar.metadata['session_open_utc']).toBe('2024-01-01T22:00:00.000Z');
    expect(rejected).toEqual([{ line: 4, reason: 'expected 8 fields, got 7' }]);
  });

  it('handles a "NY+7" server clock across the US DST switch', async () => {
    const { bars } = await collect(join(FIX, 'EURUSD_H1_nyplus7.csv'), { symbol: 'EURUSD', timeframe: '1h', timeZone: { zone: 'America/New_York', shiftMinutes: 420 } });
    expect(bars.map((b) => b.bar.ts_utc)).toEqual(['2024-03-08T08:00:00.000Z', '2024-03-11T07:00:00.000Z']);
  });

  it('fails the whole file with DATA_FILE_COLUMN when a required column is missing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mt5-'));
    const path = join(dir, 'bad.csv');
    await new Promise<void>((res) => createWriteStream(path).end('<DATE>\t<TIME>\t<OPEN>\t<CLOSE>\n2024.01.02\t13:00:00\t1\t1\n', res));
    await expect(collect(path, { symbol: 'X', timeframe: '1h' })).rejects.toMatchObject({ id: 'DATA_FILE_COLUMN', retryable: false });
  });
});

describe('HistData ASCII and generic CSV', () => {
  it('parses HistData M1 (fixed EST, no DST) and reports bad lines', async () => {
    const { bars, rejected } = await collect(join(FIX, 'DAT_ASCII_EURUSD_M1_2024.csv'), { symbol: 'EURUSD', timeframe: '1m' });
    expect(bars.map((b) => [b.line, b.bar.ts_utc, b.bar.close, b.bar.volume])).toEqual([
      [1, '2024-01-02T18:00:00.000Z', 1.09455, null],
      [2, '2024-01-02T18:01:00.000Z', 1.0946, null],
      [5, '2024-01-02T18:04:00.000Z', 1.0947, null],
    ]);
    expect(rejected.map((r) => r.line)).toEqual([3, 4]);
    expect(rejected[1]?.reason).toMatch(/invalid timestamp/);
  });

  it('maps generic CSV columns with a timestamp pattern and quoted fields', async () => {
    const { bars, rejected } = await collect(join(FIX, 'generic_eurusd_1h.csv'), {
      symbol: 'eur/usd',
      timeframe: '1h',
      format: 'csv',
      columns: { ts: 'Date', open: 'Open', high: 'High', low: 'Low', close: 'Close', volume: 'Volume', tsFormat: 'DD/MM/YYYY HH:mm' },
    });
    expect(bars.map((b) => [b.line, b.bar.symbol, b.bar.ts_utc, b.bar.volume])).toEqual([
      [2, 'EURUSD', '2024-01-02T13:00:00.000Z', 120],
      [3, 'EURUSD', '2024-01-02T14:00:00.000Z', null],
      [7, 'EURUSD', '2024-01-02T18:00:00.000Z', 13],
    ]);
    expect(rejected.map((r) => r.line)).toEqual([4, 5, 6]);
    expect(rejected[0]?.reason).toMatch(/not a 1h bar boundary/);
    expect(rejected[1]?.reason).toMatch(/invalid date/);
    expect(rejected[2]?.reason).toMatch(/close "" is not a number/);
  });

  it('converts Europe/Athens wall clock across both DST transitions', async () => {
    const { bars, rejected } = await collect(join(FIX, 'athens_dst_1h.csv'), {
      symbol: 'TEST',
      timeframe: '1h',
      format: 'csv',
      timeZone: 'Europe/Athens',
      columns: { ts: 'time', open: 'o', high: 'h', low: 'l', close: 'c' },
    });
    // Spring: EET (+2) until 01:00Z on 31 Mar, then EEST (+3); local 03:00 does not exist.
    // Autumn: EEST (+3) until 01:00Z on 27 Oct, then EET (+2); local 03:00 happens twice.
    expect(bars.map((b) => [b.line, b.bar.ts_utc])).toEqual([
      [2, '2024-03-30T23:00:00.000Z'],
      [3, '2024-03-31T00:00:00.000Z'],
      [5, '2024-03-31T01:00:00.000Z'],
      [6, '2024-03-31T02:00:00.000Z'],
      [7, '2024-10-26T23:00:00.000Z'],
      [8, '2024-10-27T00:00:00.000Z'],
      [9, '2024-10-27T01:00:00.000Z'],
      [10, '2024-10-27T02:00:00.000Z'],
    ]);
    expect(rejected).toEqual([{ line: 4, reason: expect.stringMatching(/does not exist/) as unknown as string }]);
  });

  it('zone converter: fixed offsets and IANA offsets agree with known values', () => {
    expect(new ZoneConverter('+02:00').candidates(Date.UTC(2024, 6, 1, 12))).toEqual([Date.UTC(2024, 6, 1, 10)]);
    expect(new ZoneConverter({ offsetMinutes: -300 }).candidates(Date.UTC(2024, 6, 1, 12))).toEqual([Date.UTC(2024, 6, 1, 17)]);
    expect(new ZoneConverter('America/New_York').candidates(Date.UTC(2024, 6, 1, 12))).toEqual([Date.UTC(2024, 6, 1, 16)]);
    expect(() => new ZoneConverter('Mars/Olympus')).toThrow(RangeError);
  });

  it('streams a large file row by row', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'big-'));
    const path = join(dir, 'DAT_ASCII_EURUSD_M1_2023.csv');
    const n = 50_000;
    const out = createWriteStream(path);
    const start = Date.UTC(2023, 0, 2, 5);
    for (let i = 0; i < n; i++) {
      const d = new Date(start + i * 60_000).toISOString();
      out.write(`${d.slice(0, 10).replace(/-/g, '')} ${d.slice(11, 19).replace(/:/g, '')};1.1;1.2;1.0;1.15;0\n`);
    }
    await new Promise<void>((res) => out.end(res));
    let count = 0;
    let last = '';
    for await (const row of parseBarFile(path, { symbol: 'EURUSD', timeframe: '1m', ingestRunId: 'r', timeZone: 'UTC' })) {
      if ('bar' in row) {
        count++;
        last = row.bar.ts_utc;
      }
    }
    expect(count).toBe(n);
    expect(last).toBe(new Date(start + (n - 1) * 60_000).toISOString());
  });
});

describe('FileProvider', () => {
  it('discovers files by name, filters by range and reports rejected rows in range', async () => {
    expect(classifyBarFileName('XAUUSD_H1_202401020000_202401312300.csv')).toEqual({ symbol: 'XAUUSD', timeframe: '1h' });
    expect(classifyBarFileName('DAT_ASCII_EURUSD_M1_2024.csv')).toEqual({ symbol: 'EURUSD', timeframe: '1m' });
    expect(classifyBarFileName('notes.txt')).toBeNull();
    const p = new FileProvider({ directory: FIX, sourceId: 'mt5-files' });
    const res = await p.fetchTimeSeries({ symbol: 'XAUUSD', timeframe: '1h', startMs: Date.UTC(2024, 0, 2, 14), endMs: Date.UTC(2024, 0, 2, 18), ingestRunId: 'r' });
    expect(res.bars.map((b) => b.ts_utc)).toEqual(['2024-01-02T14:00:00.000Z', '2024-01-02T17:00:00.000Z']);
    expect(res.bars[0]?.source_id).toBe('mt5-files');
    // Line 4 (bad high/low at 15:00) is in range; line 5 has no parseable time; line 8 (18:00) is outside.
    expect(res.rejected.map((r) => r.line)).toEqual([4, 5]);
    expect((await p.listSymbols()).map((s) => s.symbol).sort()).toEqual(['EURUSD', 'XAUUSD']);
    expect((await p.healthCheck()).status).toBe('up');
    await expect(p.streamQuotes()).rejects.toBeInstanceOf(ProviderError);
  });
});
