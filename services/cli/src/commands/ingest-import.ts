/**
 * `noctria ingest import`: bar files (MT5 export, HistData ASCII, generic CSV) through the ingest pipeline
 * (canonicalise → DQ → store, under an `import` run). Bad rows are kept out and reported with their file line;
 * good rows are stored. The same steps as the ingest ImportService, plus what the CLI can pass and the service
 * cannot yet: the file's time zone (`--tz`) and the column mapping of a generic CSV (sniffed from its header).
 */
import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { timeframeMs, parseTsUtcMs, type Timeframe } from '@noctria/canonical-bar';
import { FileProvider, type BrokerTimeZone, type CsvColumnMapping, type IngestRuntime } from '@noctria/ingest';
import { CliError, CLI_ERROR, EXIT } from '../io.js';

export type ImportFormat = 'auto' | 'mt5' | 'histdata' | 'csv';

export interface ImportFileRequest {
  path: string;
  symbol: string;
  timeframe: Timeframe;
  format: ImportFormat;
  timeZone?: BrokerTimeZone;
  sourceId?: string;
}

export interface RejectedLine {
  line: number | null;
  error_id: string;
  reason: string;
}

export interface ImportFileResult {
  file: string;
  run_id: string;
  symbol: string;
  timeframe: Timeframe;
  format: Exclude<ImportFormat, 'auto'>;
  status: 'succeeded';
  /** Rows the parser turned into bars. */
  rows_parsed: number;
  /** Parsed rows that passed validation and reached storage (closed bars). */
  accepted: number;
  /** Rows rejected by the parser or by bar validation (see rejected_rows). */
  rejected: number;
  inserted: number;
  updated: number;
  /** Rows identical to stored bars (a re-import): nothing written. */
  unchanged: number;
  /** Repeated timestamps inside the file (latest kept). */
  duplicates_in_file: number;
  /** Bars not closed yet at import time (left for later). */
  pending: number;
  filled: number;
  outliers: number;
  months: string[];
  rejected_rows: RejectedLine[];
}

const TS_NAMES = ['ts_utc', 'ts', 'timestamp', 'datetime', 'time', 'date'];
const VOLUME_NAMES = ['volume', 'vol', 'tick_volume', 'tickvol'];

async function firstLine(path: string): Promise<string> {
  const rl = createInterface({ input: createReadStream(path, { encoding: 'utf8', end: 64 * 1024 }), crlfDelay: Number.POSITIVE_INFINITY });
  try {
    for await (const l of rl) if (l.trim() !== '') return l.replace(/^\uFEFF/, '');
    return '';
  } finally {
    rl.close();
  }
}

function detect(line: string): Exclude<ImportFormat, 'auto'> {
  const clean = line.replace(/\0/g, '');
  if (clean.trimStart().startsWith('<')) return 'mt5';
  if (/^\d{8} \d{6};/.test(clean.trim())) return 'histdata';
  return 'csv';
}

/** Column mapping of a generic CSV from its header (ts_utc/timestamp/…, open, high, low, close, volume). */
export function sniffColumns(header: string, path: string): CsvColumnMapping {
  const delimiter = header.includes('\t') ? '\t' : header.includes(';') ? ';' : ',';
  const names = header.split(delimiter).map((h) => h.trim().replace(/^"|"$/g, ''));
  const find = (cands: string[]) => names.find((n) => cands.includes(n.toLowerCase()));
  const ts = find(TS_NAMES);
  const [open, high, low, close] = ['open', 'high', 'low', 'close'].map((c) => find([c, c[0] as string]));
  if (!ts || !open || !high || !low || !close) {
    throw new CliError(
      CLI_ERROR.FILE,
      `${path}: cannot map the CSV header [${names.join(', ')}] — expected a timestamp column (${TS_NAMES.join('|')}) and open, high, low, close`,
      EXIT.FAILED,
      { path, header: names },
    );
  }
  const volume = find(VOLUME_NAMES);
  return { ts, open, high, low, close, ...(volume ? { volume } : {}), delimiter };
}

async function assertReadable(path: string): Promise<void> {
  try {
    const s = await stat(path);
    if (!s.isFile()) throw new Error('not a regular file');
    const fh = await import('node:fs/promises').then((m) => m.open(path, 'r'));
    await fh.close();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new CliError(CLI_ERROR.FILE, `cannot read ${path}: ${code}`, EXIT.FAILED, { path });
  }
}

/** The 1-based file line of a rejected row: the parser's own line, or the `file_line` the parser put in the bar. */
function lineOf(row: { line: number | null; raw: string | null }, fromParser: boolean): number | null {
  if (fromParser) return row.line;
  try {
    const raw = JSON.parse(row.raw ?? 'null') as { metadata?: { file_line?: number } } | null;
    if (typeof raw?.metadata?.file_line === 'number') return raw.metadata.file_line;
  } catch {
    // not JSON
  }
  return null;
}

export async function importBarFile(rt: IngestRuntime, req: ImportFileRequest): Promise<ImportFileResult> {
  await assertReadable(req.path);
  const head = await firstLine(req.path);
  const format = req.format === 'auto' ? detect(head) : req.format;
  const columns = format === 'csv' ? sniffColumns(head, req.path) : undefined;
  const sourceId = req.sourceId ?? 'file';
  const { pipeline } = rt;
  const d = timeframeMs(req.timeframe);
  const provider = new FileProvider({
    sourceId,
    files: [{ path: req.path, symbol: req.symbol, timeframe: req.timeframe, options: { format, ...(req.timeZone ? { timeZone: req.timeZone } : {}), ...(columns ? { columns } : {}) } }],
  });
  const runId = randomUUID();
  await pipeline.runs.create({ id: runId, kind: 'import', source: sourceId, params: { path: req.path, symbol: req.symbol, timeframe: req.timeframe, format, time_zone: req.timeZone ?? 'UTC', via: 'noctria-cli' } });
  let fetched;
  try {
    // Every row of the file, whatever its date: nothing is dropped silently by the range filter.
    fetched = await provider.fetchTimeSeries({ symbol: req.symbol, timeframe: req.timeframe, startMs: -8.64e15, endMs: 8.64e15, ingestRunId: runId });
  } catch (err) {
    await pipeline.runs.finish(runId, 'failed', { message: (err as Error).message });
    throw new CliError(CLI_ERROR.FILE, `${req.path}: ${(err as Error).message}`, EXIT.FAILED, { path: req.path, run_id: runId });
  }
  const parserRejected = fetched.rejected.length;
  const times = fetched.bars.map((b) => parseTsUtcMs(b.ts_utc));
  const startMs = times.length > 0 ? Math.min(...times) : Math.floor(pipeline.now() / d) * d;
  const endMs = times.length > 0 ? Math.max(...times) + d : startMs;
  const result = await pipeline.processFetched({ runId, symbol: req.symbol, timeframe: req.timeframe, startMs, endMs }, fetched, sourceId, { request: { path: req.path } });
  if (result.months.length > 0) await rt.quarantine.evaluate(runId, req.symbol, req.timeframe, result.months);
  await pipeline.runs.finish(runId, 'succeeded');
  const rows = await rt.db.selectFrom('ingest.rejected_rows').select(['id', 'line', 'error_id', 'reason', 'raw']).where('ingest_run_id', '=', runId).orderBy('id').execute();
  const rejectedRows = rows.map((r, i) => {
    const line = lineOf(r, i < parserRejected);
    const prefix = `${req.path}:${r.line}: `;
    return { line, error_id: r.error_id, reason: r.reason.startsWith(prefix) ? r.reason.slice(prefix.length) : r.reason };
  });
  rejectedRows.sort((a, b) => (a.line ?? Number.MAX_SAFE_INTEGER) - (b.line ?? Number.MAX_SAFE_INTEGER));
  const validationRejected = result.rejected - parserRejected;
  return {
    file: req.path,
    run_id: runId,
    symbol: req.symbol,
    timeframe: req.timeframe,
    format,
    status: 'succeeded',
    rows_parsed: result.fetched,
    accepted: result.fetched - validationRejected - result.pending,
    rejected: result.rejected,
    inserted: result.inserted,
    updated: result.updated,
    unchanged: result.storeDuplicates,
    duplicates_in_file: result.dqDuplicates,
    pending: result.pending,
    filled: result.filled,
    outliers: result.outliers,
    months: result.months,
    rejected_rows: rejectedRows,
  };
}

export function humanImport(r: ImportFileResult, maxRows = 50): string[] {
  const lines = [
    `${r.file}: ${r.symbol} ${r.timeframe} (${r.format}) run ${r.run_id}`,
    `  accepted ${r.accepted}, rejected ${r.rejected}; stored: ${r.inserted} new, ${r.updated} updated, ${r.unchanged} unchanged (already stored)` +
      (r.duplicates_in_file > 0 ? `, ${r.duplicates_in_file} duplicate timestamps in the file` : '') +
      (r.pending > 0 ? `, ${r.pending} not closed yet` : '') +
      (r.filled > 0 ? `, ${r.filled} gap bars filled` : ''),
  ];
  for (const row of r.rejected_rows.slice(0, maxRows)) lines.push(`  line ${row.line ?? '?'}: ${row.error_id} ${row.reason}`);
  if (r.rejected_rows.length > maxRows) lines.push(`  … ${r.rejected_rows.length - maxRows} more (use --json for all)`);
  return lines;
}
