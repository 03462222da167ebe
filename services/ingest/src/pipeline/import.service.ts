import { randomUUID } from 'node:crypto';
import { basename } from 'node:path';
import { access, open } from 'node:fs/promises';
import { parseTsUtcMs, timeframeMs, type CanonicalBar, type Timeframe } from '@noctria/canonical-bar';
import { NoctriaError, reportError, type Logger } from '@noctria/platform';
import type { Registry } from 'prom-client';
import { INGEST_ERROR } from '../errors.js';
import { parseBarFile, type CsvColumnMapping } from '../providers/files/bar-file-parser.js';
import { classifyBarFileName } from '../providers/files/file.provider.js';
import type { BrokerTimeZone } from '../providers/files/timezone.js';
import { RejectedRepository } from '../repositories/rejected.repository.js';
import { canonicalSymbol } from '../providers/internal/symbol.js';
import type { RejectedRow } from '../providers/market-data-provider.port.js';
import { logEvent } from '../telemetry.js';
import type { ChunkResult, IngestPipeline } from './ingest-pipeline.js';
import type { QuarantineService } from './quarantine.service.js';

export interface ImportRequest {
  /** Server-side path of an MT5 / HistData / CSV bar file. */
  path: string;
  /** Default: from the file name (e.g. XAUUSD_H1.csv, DAT_ASCII_EURUSD_M1_2024.csv). */
  symbol?: string;
  timeframe?: Timeframe;
  format?: ImportFormat;
  /** Wall-clock zone of the file's timestamps (default UTC; HistData: fixed EST). See {@link parseTimeZoneSpec}. */
  timeZone?: BrokerTimeZone;
  /** Generic CSV column mapping; default: derived from the header ({@link columnsFromHeader}). */
  columns?: CsvColumnMapping;
  /** Source id written on the bars (default 'file'). */
  sourceId?: string;
  runId?: string;
}

export type ImportFormat = 'auto' | 'mt5' | 'histdata' | 'csv';

/** A rejected row of an import: its 1-based file line (header counted), error id and reason. */
export interface ImportRejectedRow {
  line: number | null;
  errorId: string;
  reason: string;
}

export interface ImportSummary {
  runId: string;
  status: 'succeeded' | 'failed';
  symbol: string;
  timeframe: Timeframe;
  /** The file's format (detected when 'auto'). */
  format: Exclude<ImportFormat, 'auto'>;
  /** Totals over every chunk of the file (counters summed, months merged, lastTsMs the latest). */
  result?: ChunkResult;
  /** Parsed rows that passed validation and reached storage (closed bars). */
  accepted?: number;
  /** Rejected rows (parser and bar validation) in file-line order, at most {@link IMPORT_REJECTED_LIST_MAX}. */
  rejectedRows?: ImportRejectedRow[];
  /** Store transactions the file was cut into. */
  chunks?: number;
  error?: { id: string; message: string };
}

export const IMPORT_REJECTED_LIST_MAX = 10_000;

const TS_NAMES = ['ts_utc', 'ts', 'timestamp', 'datetime', 'time', 'date'];
const VOLUME_NAMES = ['volume', 'vol', 'tick_volume', 'tickvol'];

/**
 * Column mapping of a generic CSV from its header: a timestamp column (ts_utc|ts|timestamp|datetime|time|date),
 * open/high/low/close (or o/h/l/c) and an optional volume; delimiter tab, ';' or ','. Null when unmappable.
 */
export function columnsFromHeader(header: string): CsvColumnMapping | null {
  const delimiter = header.includes('\t') ? '\t' : header.includes(';') ? ';' : ',';
  const names = header.split(delimiter).map((h) => h.trim().replace(/^"|"$/g, ''));
  const find = (cands: string[]) => names.find((n) => cands.includes(n.toLowerCase()));
  const ts = find(TS_NAMES);
  const [open, high, low, close] = ['open', 'high', 'low', 'close'].map((c) => find([c, c[0] as string]));
  if (!ts || !open || !high || !low || !close) return null;
  const volume = find(VOLUME_NAMES);
  return { ts, open, high, low, close, ...(volume ? { volume } : {}), delimiter };
}

/** A time zone spec: 'UTC'/'Z', a fixed offset ('+02:00', '-0500') or an IANA zone known to this Node. */
export function parseTimeZoneSpec(value: string): BrokerTimeZone {
  if (value === 'UTC' || value === 'Z') return 'UTC';
  const off = /^([+-])(\d{2}):?(\d{2})$/.exec(value);
  if (off) {
    const minutes = Number(off[2]) * 60 + Number(off[3]);
    if (minutes > 14 * 60) throw new NoctriaError(INGEST_ERROR.BAD_REQUEST, `time zone offset ${value} is out of range`, { severity: 'INFO', details: { value } });
    return { offsetMinutes: off[1] === '-' ? -minutes : minutes };
  }
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: value });
    return value;
  } catch {
    throw new NoctriaError(INGEST_ERROR.BAD_REQUEST, `time zone must be UTC, an offset like +02:00, or an IANA zone like Europe/Athens; got ${JSON.stringify(value)}`, {
      severity: 'INFO',
      details: { value },
    });
  }
}

/** First non-empty line of a bar file (UTF-8 or UTF-16LE, BOM stripped). */
async function headerLine(path: string): Promise<string> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(64 * 1024);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    const bytes = buf.subarray(0, bytesRead);
    let oddZeros = 0;
    for (let i = 1; i < bytes.length; i += 2) if (bytes[i] === 0) oddZeros++;
    const utf16 = (bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes.length >= 4 && oddZeros > bytes.length / 4);
    const text = bytes.toString(utf16 ? 'utf16le' : 'utf8').replace(/^\uFEFF/, '');
    return text.split(/\r?\n/).find((l) => l.trim() !== '') ?? '';
  } finally {
    await fh.close();
  }
}

function detectFormat(header: string): Exclude<ImportFormat, 'auto'> {
  if (header.trimStart().startsWith('<')) return 'mt5';
  if (/^\d{8} \d{6};/.test(header.trim())) return 'histdata';
  return 'csv';
}

/** Good rows per store transaction of an import (bounded memory whatever the file size). */
export const IMPORT_CHUNK_BARS = 5000;

function addResults(total: ChunkResult | undefined, r: ChunkResult): ChunkResult {
  if (!total) return { ...r, months: [...r.months] };
  const out: ChunkResult = { ...total };
  for (const [k, v] of Object.entries(r) as [keyof ChunkResult, unknown][]) {
    if (typeof v === 'number' && k !== 'lastTsMs') (out as unknown as Record<string, number>)[k] = ((total as unknown as Record<string, number>)[k] ?? 0) + v;
  }
  out.lastTsMs = total.lastTsMs === null ? r.lastTsMs : r.lastTsMs === null ? total.lastTsMs : Math.max(total.lastTsMs, r.lastTsMs);
  out.months = [...new Set([...total.months, ...r.months])].sort();
  out.sourceId = total.sourceId ?? r.sourceId;
  return out;
}

/**
 * File import: the file is parsed as a stream (good rows kept, bad rows rejected with their line number) and
 * cut into chunks of `chunkBars` good rows at time boundaries; each chunk goes through the same
 * canonicalise → DQ → store path as the providers (one transaction, DQ context read from storage, so the
 * chunking changes no flag), under one `import` run. Memory stays bounded by the chunk size.
 */
export class ImportService {
  constructor(private readonly deps: { pipeline: IngestPipeline; quarantine: QuarantineService; logger: Logger; registry?: Registry; chunkBars?: number }) {}

  async importFile(req: ImportRequest & { chunkBars?: number }): Promise<ImportSummary> {
    const named = classifyBarFileName(basename(req.path));
    const symbol = req.symbol ?? named?.symbol;
    const timeframe = req.timeframe ?? named?.timeframe;
    if (!symbol || !timeframe) {
      throw new NoctriaError(INGEST_ERROR.BAD_REQUEST, `cannot tell symbol/timeframe of ${basename(req.path)}; pass them explicitly`, { severity: 'INFO' });
    }
    let header: string;
    try {
      await access(req.path);
      header = await headerLine(req.path);
    } catch {
      throw new NoctriaError(INGEST_ERROR.IMPORT, `import file not found or unreadable: ${req.path}`, { severity: 'INFO', details: { path: req.path } });
    }
    const format = !req.format || req.format === 'auto' ? detectFormat(header) : req.format;
    const columns = format === 'csv' ? (req.columns ?? columnsFromHeader(header)) : undefined;
    if (format === 'csv' && !columns) {
      throw new NoctriaError(
        INGEST_ERROR.IMPORT,
        `${req.path}: cannot map the CSV header [${header}] — expected a timestamp column (${TS_NAMES.join('|')}) and open, high, low, close, or pass a column mapping`,
        { severity: 'INFO', details: { path: req.path, header } },
      );
    }
    const runId = req.runId ?? randomUUID();
    const sourceId = req.sourceId ?? 'file';
    const { pipeline } = this.deps;
    const chunkBars = Math.max(1, req.chunkBars ?? this.deps.chunkBars ?? IMPORT_CHUNK_BARS);
    const { chunkBars: _chunkBars, ...params } = req;
    await pipeline.runs.create({ id: runId, kind: 'import', source: sourceId, params: { ...params, format, time_zone: req.timeZone ?? null, ...(columns ? { columns } : {}) } });
    const canonical = canonicalSymbol(symbol);
    const d = timeframeMs(timeframe);
    let total: ChunkResult | undefined;
    let chunks = 0;
    let parserRejected = 0;
    try {
      let bars: CanonicalBar[] = [];
      let lines: number[] = [];
      let rejected: RejectedRow[] = [];
      let minTs = Infinity;
      let maxTs = -Infinity;
      let prevEnd: number | undefined;
      const flush = async () => {
        if (bars.length === 0 && rejected.length === 0) return;
        // Consecutive chunks cover contiguous ranges (expected-bar counts and gap detection see no seam).
        const startMs = bars.length === 0 ? (prevEnd ?? Math.floor(pipeline.now() / d) * d) : Math.min(prevEnd ?? minTs, minTs);
        const endMs = bars.length === 0 ? startMs : Math.max(maxTs + d, startMs);
        const r = await pipeline.processFetched(
          { runId, symbol: canonical, timeframe, startMs, endMs },
          { bars, rejected, latencyMs: 0 },
          sourceId,
          { request: { path: req.path, chunk: chunks }, lines },
        );
        total = addResults(total, r);
        chunks += 1;
        prevEnd = Math.max(prevEnd ?? endMs, endMs);
        bars = [];
        lines = [];
        rejected = [];
        minTs = Infinity;
        maxTs = -Infinity;
      };
      for await (const row of parseBarFile(req.path, {
        sourceId,
        symbol: canonical,
        timeframe,
        ingestRunId: runId,
        format,
        ...(req.timeZone ? { timeZone: req.timeZone } : {}),
        ...(columns ? { columns } : {}),
      })) {
        if ('bar' in row) {
          const t = parseTsUtcMs(row.bar.ts_utc);
          // Cut only at a time boundary: every copy of a timestamp lands in the same chunk (latest wins there).
          if (bars.length >= chunkBars && t > maxTs) await flush();
          bars.push(row.bar);
          lines.push(row.line);
          if (t < minTs) minTs = t;
          if (t > maxTs) maxTs = t;
        } else {
          parserRejected += 1;
          rejected.push(row.rejected);
          if (rejected.length >= chunkBars) await flush();
        }
      }
      await flush();
      const result = total ?? addResults(undefined, emptyResult(canonical, timeframe, sourceId));
      if (result.months.length > 0) await this.deps.quarantine.evaluate(runId, canonical, timeframe, result.months);
      await pipeline.runs.finish(runId, 'succeeded');
      logEvent(this.deps.logger, 'info', 'import_finished', { source: sourceId, symbol: canonical, timeframe, ingest_run_id: runId, details: { ...result, chunks } });
      // Validation rejects count among the parsed rows; parser rejects never became bars.
      const accepted = result.fetched - (result.rejected - parserRejected) - result.pending;
      return { runId, status: 'succeeded', symbol: canonical, timeframe, format, result, accepted, rejectedRows: await this.rejectedRows(runId), chunks };
    } catch (err) {
      const e = reportError(err, { logger: this.deps.logger, registry: this.deps.registry, fallbackId: INGEST_ERROR.IMPORT, context: { event: 'import_failed', ingest_run_id: runId } });
      await pipeline.runs.finish(runId, 'failed', { id: e.id, message: e.message });
      return { runId, status: 'failed', symbol: canonical, timeframe, format, chunks, ...(total ? { result: total } : {}), error: { id: e.id, message: e.message } };
    }
  }

  private async rejectedRows(runId: string): Promise<ImportRejectedRow[]> {
    const rows = await new RejectedRepository(this.deps.pipeline.deps.db).list(runId, IMPORT_REJECTED_LIST_MAX);
    return rows
      .map((r) => ({ line: r.line, errorId: r.error_id, reason: r.reason }))
      .sort((a, b) => (a.line ?? Number.MAX_SAFE_INTEGER) - (b.line ?? Number.MAX_SAFE_INTEGER));
  }
}

function emptyResult(symbol: string, timeframe: Timeframe, sourceId: string): ChunkResult {
  return {
    symbol,
    timeframe,
    sourceId,
    fetched: 0,
    pending: 0,
    rejected: 0,
    dqDuplicates: 0,
    inserted: 0,
    updated: 0,
    storeDuplicates: 0,
    revised: 0,
    conflicts: 0,
    missing: 0,
    outliers: 0,
    filled: 0,
    published: 0,
    lastTsMs: null,
    months: [],
  };
}
