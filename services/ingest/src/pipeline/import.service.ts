import { randomUUID } from 'node:crypto';
import { basename } from 'node:path';
import { access } from 'node:fs/promises';
import { parseTsUtcMs, timeframeMs, type CanonicalBar, type Timeframe } from '@noctria/canonical-bar';
import { NoctriaError, reportError, type Logger } from '@noctria/platform';
import type { Registry } from 'prom-client';
import { INGEST_ERROR } from '../errors.js';
import { parseBarFile } from '../providers/files/bar-file-parser.js';
import { classifyBarFileName } from '../providers/files/file.provider.js';
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
  format?: 'auto' | 'mt5' | 'histdata' | 'csv';
  /** Source id written on the bars (default 'file'). */
  sourceId?: string;
  runId?: string;
}

export interface ImportSummary {
  runId: string;
  status: 'succeeded' | 'failed';
  symbol: string;
  timeframe: Timeframe;
  /** Totals over every chunk of the file (counters summed, months merged, lastTsMs the latest). */
  result?: ChunkResult;
  /** Store transactions the file was cut into. */
  chunks?: number;
  error?: { id: string; message: string };
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
    try {
      await access(req.path);
    } catch {
      throw new NoctriaError(INGEST_ERROR.IMPORT, `import file not found or unreadable: ${req.path}`, { severity: 'INFO', details: { path: req.path } });
    }
    const runId = req.runId ?? randomUUID();
    const sourceId = req.sourceId ?? 'file';
    const { pipeline } = this.deps;
    const chunkBars = Math.max(1, req.chunkBars ?? this.deps.chunkBars ?? IMPORT_CHUNK_BARS);
    const { chunkBars: _chunkBars, ...params } = req;
    await pipeline.runs.create({ id: runId, kind: 'import', source: sourceId, params: { ...params } });
    const canonical = canonicalSymbol(symbol);
    const d = timeframeMs(timeframe);
    let total: ChunkResult | undefined;
    let chunks = 0;
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
        ...(req.format ? { format: req.format } : {}),
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
          rejected.push({ ...row.rejected, reason: `${req.path}:${row.rejected.line}: ${row.rejected.reason}` });
          if (rejected.length >= chunkBars) await flush();
        }
      }
      await flush();
      const result = total ?? addResults(undefined, emptyResult(canonical, timeframe, sourceId));
      if (result.months.length > 0) await this.deps.quarantine.evaluate(runId, canonical, timeframe, result.months);
      await pipeline.runs.finish(runId, 'succeeded');
      logEvent(this.deps.logger, 'info', 'import_finished', { source: sourceId, symbol: canonical, timeframe, ingest_run_id: runId, details: { ...result, chunks } });
      return { runId, status: 'succeeded', symbol: canonical, timeframe, result, chunks };
    } catch (err) {
      const e = reportError(err, { logger: this.deps.logger, registry: this.deps.registry, fallbackId: INGEST_ERROR.IMPORT, context: { event: 'import_failed', ingest_run_id: runId } });
      await pipeline.runs.finish(runId, 'failed', { id: e.id, message: e.message });
      return { runId, status: 'failed', symbol: canonical, timeframe, chunks, ...(total ? { result: total } : {}), error: { id: e.id, message: e.message } };
    }
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
