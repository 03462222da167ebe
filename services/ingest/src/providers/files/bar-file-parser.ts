/**
 * Streaming parsers for bar files: MetaTrader 5 "export bars" (tab separated `<DATE> <TIME> <OPEN> …`, daily
 * variant without `<TIME>`, UTF-16LE with BOM or UTF-8, CRLF), HistData ASCII (`20240102 130000;o;h;l;c;v`) and
 * generic CSV with a column mapping. Files are read line by line; every bad row is reported with its 1-based line.
 */
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { basename } from 'node:path';
import { createInterface } from 'node:readline';
import type { CanonicalBar, Timeframe } from '@noctria/canonical-bar';
import { ProviderError, PROVIDER_ERROR_IDS } from '../errors.js';
import type { RejectedRow } from '../market-data-provider.port.js';
import { canonicalSymbol } from '../internal/symbol.js';
import { isAligned, toTsUtc } from '../internal/timeframe.js';
import { ohlcProblem, parseDecimal } from '../internal/validate.js';
import { ZoneConverter, type BrokerTimeZone } from './timezone.js';

export const FILE_PROVIDER_VERSION = 'file-adapter/1.0.0';

export type BarFileFormat = 'auto' | 'mt5' | 'histdata' | 'csv';

export interface CsvColumnMapping {
  /** Column holding the full timestamp … */
  ts?: string;
  /** … or separate date and time columns (joined with a space before `tsFormat` applies). */
  date?: string;
  time?: string;
  open: string;
  high: string;
  low: string;
  close: string;
  volume?: string;
  /**
   * 'iso' (default; a trailing Z/offset is honoured, otherwise the wall clock is in `timeZone`), 'epoch_s',
   * 'epoch_ms', or a pattern of YYYY MM DD HH mm ss SSS and literal characters, e.g. 'DD/MM/YYYY HH:mm'.
   */
  tsFormat?: string;
  delimiter?: string;
}

export interface BarFileOptions {
  symbol: string;
  timeframe: Timeframe;
  ingestRunId: string;
  format?: BarFileFormat;
  /** Wall-clock zone of the file. Default UTC; HistData files default to fixed EST (-05:00, no DST) as published. */
  timeZone?: BrokerTimeZone;
  sourceId?: string;
  encoding?: 'auto' | 'utf8' | 'utf16le';
  columns?: CsvColumnMapping;
  /** Symbol as written by the source (kept in metadata.symbol_source). Default: the file's symbol. */
  symbolSource?: string;
  /** Generic CSV only: treat a volume of 0 as unknown (null). Default true. */
  zeroVolumeAsNull?: boolean;
}

export type ParsedBarRow = { bar: CanonicalBar; line: number } | { rejected: RejectedRow; tsMs?: number };

interface WallClock {
  y: number;
  mo: number;
  d: number;
  h: number;
  mi: number;
  s: number;
  ms: number;
  hasTime: boolean;
}

interface RowValues {
  wall?: WallClock;
  utcMs?: number;
  open: unknown;
  high: unknown;
  low: unknown;
  close: unknown;
  volume: number | null | 'invalid';
  extra: Record<string, unknown>;
}

class RowError extends Error {}

async function detectEncoding(path: string): Promise<'utf8' | 'utf16le'> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(512);
    const { bytesRead } = await fh.read(buf, 0, 512, 0);
    if (bytesRead >= 2 && buf[0] === 0xff && buf[1] === 0xfe) return 'utf16le';
    if (bytesRead >= 2 && buf[0] === 0xfe && buf[1] === 0xff) {
      throw new ProviderError(PROVIDER_ERROR_IDS.fileParse, `${path}: UTF-16BE is not supported; re-export as UTF-16LE or UTF-8`, { retryable: false });
    }
    let oddZeros = 0;
    for (let i = 1; i < bytesRead; i += 2) if (buf[i] === 0) oddZeros++;
    return bytesRead >= 4 && oddZeros > bytesRead / 4 ? 'utf16le' : 'utf8';
  } finally {
    await fh.close();
  }
}

function splitDelimited(line: string, delimiter: string): string[] {
  if (!line.includes('"')) return line.split(delimiter).map((f) => f.trim());
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i] as string;
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cur += ch;
    } else if (ch === '"') quoted = true;
    else if (line.startsWith(delimiter, i)) {
      out.push(cur.trim());
      cur = '';
      i += delimiter.length - 1;
    } else cur += ch;
  }
  out.push(cur.trim());
  return out;
}

function wallClock(y: number, mo: number, d: number, h = 0, mi = 0, s = 0, ms = 0, hasTime = true): WallClock {
  const t = Date.UTC(y, mo - 1, d, h, mi, s, ms);
  const back = new Date(t);
  if (!(back.getUTCFullYear() === y && back.getUTCMonth() === mo - 1 && back.getUTCDate() === d) || h > 23 || mi > 59 || s > 59) {
    throw new RowError(`invalid date/time ${y}-${mo}-${d} ${h}:${mi}:${s}`);
  }
  return { y, mo, d, h, mi, s, ms, hasTime };
}

const MT5_DATE = /^(\d{4})[.\-/](\d{2})[.\-/](\d{2})$/;
const MT5_TIME = /^(\d{2}):(\d{2})(?::(\d{2}))?$/;
const HISTDATA_TS = /^(\d{4})(\d{2})(\d{2}) (\d{2})(\d{2})(\d{2})$/;

function compilePattern(pattern: string): (s: string) => WallClock {
  const tokens: Array<keyof WallClock> = [];
  let re = '';
  let hasTime = false;
  const map: Array<[string, keyof WallClock, string]> = [
    ['YYYY', 'y', '(\\d{4})'],
    ['SSS', 'ms', '(\\d{3})'],
    ['MM', 'mo', '(\\d{1,2})'],
    ['DD', 'd', '(\\d{1,2})'],
    ['HH', 'h', '(\\d{1,2})'],
    ['mm', 'mi', '(\\d{2})'],
    ['ss', 's', '(\\d{2})'],
  ];
  for (let i = 0; i < pattern.length; ) {
    const hit = map.find(([tok]) => pattern.startsWith(tok, i));
    if (hit) {
      tokens.push(hit[1]);
      re += hit[2];
      if (hit[1] === 'h') hasTime = true;
      i += hit[0].length;
    } else {
      re += (pattern[i] as string).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      i++;
    }
  }
  const rx = new RegExp(`^${re}$`);
  return (s: string) => {
    const m = rx.exec(s.trim());
    if (!m) throw new RowError(`timestamp ${JSON.stringify(s)} does not match ${pattern}`);
    const v: Partial<Record<keyof WallClock, number>> = {};
    tokens.forEach((k, idx) => (v[k] = Number(m[idx + 1])));
    return wallClock(v.y ?? NaN, v.mo ?? NaN, v.d ?? NaN, v.h ?? 0, v.mi ?? 0, v.s ?? 0, v.ms ?? 0, hasTime);
  };
}

const ISO_LOCAL = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?)?$/;

function isoParser(s: string): { wall?: WallClock; utcMs?: number } {
  const t = s.trim();
  if (/(Z|[+-]\d{2}:?\d{2})$/.test(t) && t.length > 10) {
    const ms = Date.parse(t);
    if (Number.isNaN(ms)) throw new RowError(`invalid ISO timestamp ${JSON.stringify(s)}`);
    return { utcMs: ms };
  }
  const m = ISO_LOCAL.exec(t);
  if (!m) throw new RowError(`invalid ISO timestamp ${JSON.stringify(s)}`);
  return {
    wall: wallClock(Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4] ?? 0), Number(m[5] ?? 0), Number(m[6] ?? 0), Number((m[7] ?? '0').padEnd(3, '0')), m[4] !== undefined),
  };
}

type LineParser = (fields: string[]) => RowValues;

function columnError(path: string, message: string): ProviderError {
  return new ProviderError(PROVIDER_ERROR_IDS.fileColumn, `${basename(path)}: ${message}`, { retryable: false });
}

function mt5Parser(path: string, header: string[]): LineParser {
  const names = header.map((h) => h.replace(/^<|>$/g, '').toUpperCase());
  const idx = (n: string) => names.indexOf(n);
  for (const req of ['DATE', 'OPEN', 'HIGH', 'LOW', 'CLOSE']) if (idx(req) < 0) throw columnError(path, `MT5 header lacks <${req}> (got ${header.join(' ')})`);
  const [iDate, iTime, iO, iH, iL, iC, iTv, iV, iSp] = ['DATE', 'TIME', 'OPEN', 'HIGH', 'LOW', 'CLOSE', 'TICKVOL', 'VOL', 'SPREAD'].map(idx) as number[];
  return (f) => {
    if (f.length !== names.length) throw new RowError(`expected ${names.length} fields, got ${f.length}`);
    const dm = MT5_DATE.exec(f[iDate as number] ?? '');
    if (!dm) throw new RowError(`invalid <DATE> ${JSON.stringify(f[iDate as number])}`);
    let h = 0;
    let mi = 0;
    let s = 0;
    if (iTime !== undefined && iTime >= 0) {
      const tm = MT5_TIME.exec(f[iTime] ?? '');
      if (!tm) throw new RowError(`invalid <TIME> ${JSON.stringify(f[iTime])}`);
      [h, mi, s] = [Number(tm[1]), Number(tm[2]), Number(tm[3] ?? 0)];
    }
    const extra: Record<string, unknown> = {};
    let volume: number | null | 'invalid' = null;
    if (iV !== undefined && iV >= 0) {
      const v = parseDecimal(f[iV]);
      volume = v === null ? 'invalid' : v > 0 ? v : null;
    }
    if (iTv !== undefined && iTv >= 0) {
      const tv = parseDecimal(f[iTv]);
      if (tv === null) throw new RowError(`invalid <TICKVOL> ${JSON.stringify(f[iTv])}`);
      extra['tick_volume'] = tv;
    }
    if (iSp !== undefined && iSp >= 0) {
      const sp = parseDecimal(f[iSp]);
      if (sp === null) throw new RowError(`invalid <SPREAD> ${JSON.stringify(f[iSp])}`);
      extra['spread_points'] = sp;
    }
    return {
      wall: wallClock(Number(dm[1]), Number(dm[2]), Number(dm[3]), h, mi, s, 0, iTime !== undefined && iTime >= 0),
      open: f[iO as number],
      high: f[iH as number],
      low: f[iL as number],
      close: f[iC as number],
      volume,
      extra,
    };
  };
}

const histdataParser: LineParser = (f) => {
  if (f.length !== 6) throw new RowError(`expected 6 fields, got ${f.length}`);
  const m = HISTDATA_TS.exec(f[0] ?? '');
  if (!m) throw new RowError(`invalid timestamp ${JSON.stringify(f[0])}`);
  const v = parseDecimal(f[5]);
  return {
    wall: wallClock(Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])),
    open: f[1],
    high: f[2],
    low: f[3],
    close: f[4],
    volume: v === null ? 'invalid' : v > 0 ? v : null,
    extra: {},
  };
};

function csvParser(path: string, header: string[], cols: CsvColumnMapping, zeroVolumeAsNull: boolean): LineParser {
  const find = (name: string | undefined, role: string): number => {
    if (name === undefined) return -1;
    let i = header.indexOf(name);
    if (i < 0) i = header.findIndex((h) => h.toLowerCase() === name.toLowerCase());
    if (i < 0) throw columnError(path, `column '${name}' (${role}) not in header [${header.join(', ')}]`);
    return i;
  };
  if (!cols.ts && !cols.date) throw columnError(path, 'column mapping needs `ts` or `date`');
  const iTs = find(cols.ts, 'ts');
  const iDate = find(cols.date, 'date');
  const iTime = find(cols.time, 'time');
  const [iO, iH, iL, iC] = [find(cols.open, 'open'), find(cols.high, 'high'), find(cols.low, 'low'), find(cols.close, 'close')];
  const iV = find(cols.volume, 'volume');
  const fmt = cols.tsFormat ?? 'iso';
  const pattern = fmt === 'iso' || fmt === 'epoch_s' || fmt === 'epoch_ms' ? undefined : compilePattern(fmt);
  return (f) => {
    if (f.length !== header.length) throw new RowError(`expected ${header.length} fields, got ${f.length}`);
    const rawTs = iTs >= 0 ? (f[iTs] as string) : iTime >= 0 ? `${f[iDate]} ${f[iTime]}` : (f[iDate] as string);
    let when: { wall?: WallClock; utcMs?: number };
    if (fmt === 'epoch_s' || fmt === 'epoch_ms') {
      const n = parseDecimal(rawTs);
      if (n === null) throw new RowError(`invalid epoch timestamp ${JSON.stringify(rawTs)}`);
      when = { utcMs: Math.round(fmt === 'epoch_s' ? n * 1000 : n) };
    } else if (pattern) when = { wall: pattern(rawTs) };
    else when = isoParser(rawTs);
    let volume: number | null | 'invalid' = null;
    if (iV >= 0 && (f[iV] ?? '') !== '') {
      const v = parseDecimal(f[iV]);
      volume = v === null ? 'invalid' : v === 0 && zeroVolumeAsNull ? null : v;
    }
    return { ...when, open: f[iO], high: f[iH], low: f[iL], close: f[iC], volume, extra: {} };
  };
}

function detectFormat(firstLine: string): Exclude<BarFileFormat, 'auto'> {
  if (firstLine.trimStart().startsWith('<')) return 'mt5';
  if (/^\d{8} \d{6};/.test(firstLine.trim())) return 'histdata';
  return 'csv';
}

function guessDelimiter(header: string): string {
  if (header.includes('\t')) return '\t';
  if (header.includes(';')) return ';';
  return ',';
}

/**
 * Streams a bar file. Yields `{ bar, line }` for each good row and `{ rejected }` for each bad one (1-based line
 * numbers, the header counted). Whole-file problems (unreadable, unknown layout, missing columns) throw ProviderError.
 */
export async function* parseBarFile(path: string, options: BarFileOptions): AsyncGenerator<ParsedBarRow> {
  let encoding: 'utf8' | 'utf16le';
  try {
    encoding = options.encoding && options.encoding !== 'auto' ? options.encoding : await detectEncoding(path);
  } catch (err) {
    if (err instanceof ProviderError) throw err;
    throw new ProviderError(PROVIDER_ERROR_IDS.fileRead, `${path}: ${(err as NodeJS.ErrnoException).code ?? 'cannot read'}`, { retryable: false, cause: err });
  }
  const symbol = canonicalSymbol(options.symbol);
  const symbolSource = options.symbolSource ?? options.symbol;
  const sourceId = options.sourceId ?? 'file';
  const file = basename(path);
  const stream = createReadStream(path, { encoding });
  const rl = createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY });
  let format = options.format ?? 'auto';
  let parser: LineParser | undefined;
  let delimiter = ';';
  let converter: ZoneConverter | undefined;
  let lastUtc = Number.NEGATIVE_INFINITY;
  let lineNo = 0;
  try {
    for await (let line of rl) {
      lineNo++;
      if (lineNo === 1) line = line.replace(/^\uFEFF/, '');
      if (line.trim() === '') continue;
      if (!parser) {
        if (format === 'auto') format = detectFormat(line);
        converter = new ZoneConverter(options.timeZone ?? (format === 'histdata' ? { offsetMinutes: -300 } : 'UTC'));
        if (format === 'histdata') {
          parser = histdataParser;
          delimiter = ';';
        } else {
          delimiter = format === 'csv' && options.columns?.delimiter ? options.columns.delimiter : guessDelimiter(line);
          const header = splitDelimited(line, delimiter);
          if (format === 'mt5') parser = mt5Parser(path, header);
          else {
            if (!options.columns) throw columnError(path, 'generic CSV needs a column mapping (`columns`)');
            parser = csvParser(path, header, options.columns, options.zeroVolumeAsNull ?? true);
          }
          continue;
        }
      }
      const reject = (reason: string, tsMs?: number): ParsedBarRow => ({
        rejected: { errorId: PROVIDER_ERROR_IDS.fileParse, reason, line: lineNo, raw: line },
        ...(tsMs !== undefined ? { tsMs } : {}),
      });
      let values: RowValues;
      try {
        values = parser(splitDelimited(line, delimiter));
      } catch (err) {
        if (err instanceof RowError) {
          yield reject(err.message);
          continue;
        }
        throw err;
      }
      let tsMs: number;
      const extra: Record<string, unknown> = { ...values.extra };
      if (values.utcMs !== undefined) tsMs = values.utcMs;
      else {
        const w = values.wall as WallClock;
        const local = Date.UTC(w.y, w.mo - 1, w.d, w.h, w.mi, w.s, w.ms);
        const cands = (converter as ZoneConverter).candidates(local);
        if (options.timeframe === '1d') {
          // A daily bar is identified by its trading date; the broker-clock session open is kept for provenance.
          tsMs = Date.UTC(w.y, w.mo - 1, w.d);
          if (cands[0] !== undefined) extra['session_open_utc'] = toTsUtc(cands[0]);
        } else {
          if (cands.length === 0) {
            yield reject(`local time ${toTsUtc(local).slice(0, 19)} does not exist in the broker time zone (DST gap)`);
            continue;
          }
          tsMs = cands.find((c) => c > lastUtc) ?? (cands[0] as number);
          if (cands.length > 1) extra['dst_ambiguous'] = true;
        }
      }
      if (!isAligned(tsMs, options.timeframe)) {
        yield reject(`${toTsUtc(tsMs)} is not a ${options.timeframe} bar boundary in UTC`, tsMs);
        continue;
      }
      const px: Record<'open' | 'high' | 'low' | 'close', number> = { open: 0, high: 0, low: 0, close: 0 };
      let bad: string | null = null;
      for (const k of ['open', 'high', 'low', 'close'] as const) {
        const v = parseDecimal(values[k]);
        if (v === null) {
          bad = `${k} ${JSON.stringify(values[k])} is not a number`;
          break;
        }
        px[k] = v;
      }
      if (!bad && values.volume === 'invalid') bad = 'volume is not a number';
      const volume = values.volume === 'invalid' ? null : values.volume;
      bad = bad ?? ohlcProblem({ ...px, volume });
      if (bad) {
        yield reject(bad, tsMs);
        continue;
      }
      lastUtc = tsMs;
      yield {
        line: lineNo,
        bar: {
          ts_utc: toTsUtc(tsMs),
          symbol,
          timeframe: options.timeframe,
          ...px,
          volume,
          quality_flag: 'ok',
          source_id: sourceId,
          ingest_run_id: options.ingestRunId,
          metadata: { symbol_source: symbolSource, provider_version: FILE_PROVIDER_VERSION, source_file: file, file_line: lineNo, ...extra },
        },
      };
    }
  } finally {
    rl.close();
    stream.destroy();
  }
}
