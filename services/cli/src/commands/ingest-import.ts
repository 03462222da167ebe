/**
 * `noctria ingest import`: a thin shell over the ingest ImportService (the one importer, also behind
 * POST /ingest/import): MT5 exports, HistData ASCII and generic CSV (column mapping from the header), in the
 * file's time zone (`--tz`), streamed in chunks through canonicalise → DQ → store under one `import` run. Bad
 * rows are kept out and reported with their file line; good rows are stored.
 */
import type { Timeframe } from '@noctria/canonical-bar';
import { INGEST_ERROR, type BrokerTimeZone, type ImportFormat, type ImportSummary, type IngestRuntime } from '@noctria/ingest';
import { NoctriaError } from '@noctria/platform';
import { CliError, CLI_ERROR, EXIT } from '../io.js';

export type { ImportFormat };

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
  format: ImportSummary['format'];
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

/** Imports one file; a file that cannot be read or parsed at all is a `UI_CLI_FILE` error (exit 1). */
export async function importBarFile(rt: IngestRuntime, req: ImportFileRequest): Promise<ImportFileResult> {
  let s: ImportSummary;
  try {
    s = await rt.imports.importFile({
      path: req.path,
      symbol: req.symbol,
      timeframe: req.timeframe,
      format: req.format,
      ...(req.timeZone ? { timeZone: req.timeZone } : {}),
      ...(req.sourceId ? { sourceId: req.sourceId } : {}),
    });
  } catch (err) {
    if (err instanceof NoctriaError && err.id === INGEST_ERROR.IMPORT) throw new CliError(CLI_ERROR.FILE, err.message, EXIT.FAILED, { path: req.path });
    throw err;
  }
  const r = s.result;
  if (s.status !== 'succeeded' || !r) {
    throw new CliError(CLI_ERROR.FILE, `${req.path}: ${s.error?.id ?? 'failed'}: ${s.error?.message ?? 'import failed'}`, EXIT.FAILED, { path: req.path, run_id: s.runId });
  }
  return {
    file: req.path,
    run_id: s.runId,
    symbol: s.symbol,
    timeframe: s.timeframe,
    format: s.format,
    status: 'succeeded',
    rows_parsed: r.fetched,
    accepted: s.accepted ?? 0,
    rejected: r.rejected,
    inserted: r.inserted,
    updated: r.updated,
    unchanged: r.storeDuplicates,
    duplicates_in_file: r.dqDuplicates,
    pending: r.pending,
    filled: r.filled,
    outliers: r.outliers,
    months: r.months,
    rejected_rows: (s.rejectedRows ?? []).map((x) => ({ line: x.line, error_id: x.errorId, reason: x.reason })),
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
