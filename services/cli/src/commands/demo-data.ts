/**
 * `noctria demo-data`: the seeded synthetic market written as bar files, one per symbol — MetaTrader 5 "export
 * bars" (tab separated, `<DATE> <TIME> <OPEN> <HIGH> <LOW> <CLOSE> <TICKVOL> <VOL> <SPREAD>`) or a generic CSV
 * (`ts_utc,open,high,low,close,volume`). Same generator and seed as the fleet's synthetic source, so an import of
 * these files stores exactly the bars a synthetic backfill would.
 */
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { once } from 'node:events';
import { timeframeMs, type CanonicalBar, type Timeframe } from '@noctria/canonical-bar';
import { DEFAULT_SYNTHETIC_SYMBOLS, SyntheticProvider, universeSymbols } from '@noctria/ingest';
import { argsError, type Output } from '../io.js';
import type { Progress } from '../progress.js';

export const MT5_TIMEFRAME_NAMES: Record<Timeframe, string> = { '1m': 'M1', '5m': 'M5', '15m': 'M15', '1h': 'H1', '4h': 'H4', '1d': 'D1' };
export const MT5_HEADER = ['<DATE>', '<TIME>', '<OPEN>', '<HIGH>', '<LOW>', '<CLOSE>', '<TICKVOL>', '<VOL>', '<SPREAD>'];
export const CSV_HEADER = ['ts_utc', 'open', 'high', 'low', 'close', 'volume'];

export interface DemoDataRequest {
  outDir: string;
  symbols?: string[];
  timeframe: Timeframe;
  fromMs: number;
  toMs: number;
  seed: number;
  format: 'mt5' | 'csv';
}

export interface DemoDataFile {
  path: string;
  symbol: string;
  timeframe: Timeframe;
  bars: number;
  first: string | null;
  last: string | null;
}

/** `2024.01.02` / `13:00:00` as MT5 writes them. */
function mt5DateTime(ms: number): [string, string] {
  const iso = new Date(ms).toISOString();
  return [`${iso.slice(0, 4)}.${iso.slice(5, 7)}.${iso.slice(8, 10)}`, iso.slice(11, 19)];
}

function stamp(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:T]/g, '').slice(0, 12);
}

export function demoFileName(symbol: string, timeframe: Timeframe, format: 'mt5' | 'csv', fromMs: number, lastOpenMs: number): string {
  return format === 'mt5' ? `${symbol}_${MT5_TIMEFRAME_NAMES[timeframe]}_${stamp(fromMs)}_${stamp(lastOpenMs)}.csv` : `${symbol}_${timeframe}.csv`;
}

function line(bar: CanonicalBar, format: 'mt5' | 'csv', decimals: number, spreadPoints: number): string {
  const px = (v: number) => v.toFixed(decimals);
  const ms = Date.parse(bar.ts_utc);
  if (format === 'mt5') {
    const [d, t] = mt5DateTime(ms);
    return [d, t, px(bar.open), px(bar.high), px(bar.low), px(bar.close), '0', bar.volume === null ? '0' : String(bar.volume), String(spreadPoints)].join('\t');
  }
  return [bar.ts_utc, px(bar.open), px(bar.high), px(bar.low), px(bar.close), bar.volume === null ? '' : String(bar.volume)].join(',');
}

export async function writeDemoData(req: DemoDataRequest, universe: Parameters<typeof universeSymbols>[0], progress?: Progress): Promise<DemoDataFile[]> {
  const symbols = req.symbols ?? universeSymbols(universe);
  for (const s of symbols) {
    if (!DEFAULT_SYNTHETIC_SYMBOLS[s]) throw argsError(`--symbols: the synthetic market has no ${s} (known: ${Object.keys(DEFAULT_SYNTHETIC_SYMBOLS).join(', ')})`, { option: '--symbols', value: s });
  }
  const provider = new SyntheticProvider({ seed: req.seed, sourceId: 'synthetic' });
  const outDir = resolve(req.outDir);
  await mkdir(outDir, { recursive: true });
  const files: DemoDataFile[] = [];
  const d = timeframeMs(req.timeframe);
  for (const [i, symbol] of symbols.entries()) {
    const spec = DEFAULT_SYNTHETIC_SYMBOLS[symbol]!;
    const { bars } = await provider.fetchTimeSeries({ symbol, timeframe: req.timeframe, startMs: req.fromMs, endMs: req.toMs, ingestRunId: 'demo-data' });
    const lastOpen = bars.length > 0 ? Date.parse(bars[bars.length - 1]!.ts_utc) : req.toMs - d;
    const path = join(outDir, demoFileName(symbol, req.timeframe, req.format, req.fromMs, lastOpen));
    const out = createWriteStream(path, { encoding: 'utf8' });
    const spreadPoints = Math.round(spec.spread * 10 ** spec.decimals);
    const write = async (s: string) => {
      if (!out.write(s)) await once(out, 'drain');
    };
    await write(`${(req.format === 'mt5' ? MT5_HEADER.join('\t') : CSV_HEADER.join(','))}\r\n`);
    let chunk = '';
    for (const bar of bars) {
      chunk += `${line(bar, req.format, spec.decimals, spreadPoints)}\r\n`;
      if (chunk.length > 1 << 16) {
        await write(chunk);
        chunk = '';
      }
    }
    await write(chunk);
    out.end();
    await once(out, 'finish');
    files.push({ path, symbol, timeframe: req.timeframe, bars: bars.length, first: bars[0]?.ts_utc ?? null, last: bars[bars.length - 1]?.ts_utc ?? null });
    progress?.update({ done: i + 1, total: symbols.length, detail: symbol });
  }
  progress?.stop();
  return files;
}

export function reportDemoData(out: Output, files: DemoDataFile[], req: DemoDataRequest): void {
  for (const f of files) {
    out.record('demo_data_file', { path: f.path, symbol: f.symbol, timeframe: f.timeframe, format: req.format, bars: f.bars, first: f.first, last: f.last }, `wrote ${f.path}  (${f.bars} ${f.timeframe} bars, ${f.first ?? '-'} … ${f.last ?? '-'})`);
  }
  out.record(
    'demo_data_summary',
    { files: files.length, bars: files.reduce((a, f) => a + f.bars, 0), seed: req.seed, from: new Date(req.fromMs).toISOString(), to: new Date(req.toMs).toISOString() },
    `${files.length} file(s), seed ${req.seed}, ${new Date(req.fromMs).toISOString().slice(0, 10)} … ${new Date(req.toMs).toISOString().slice(0, 10)} (exclusive); import with: noctria ingest import <file> --symbol <S> --timeframe ${req.timeframe}`,
  );
}
