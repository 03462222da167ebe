/**
 * `noctria ingest backfill`: the ingest BackfillService in the foreground — from each series' watermark (or
 * --from) to --to / now, in chunks, with progress. Stopping (Ctrl-C) aborts between chunks; a later run resumes
 * from the watermarks.
 */
import { sql } from 'kysely';
import type { Timeframe } from '@noctria/canonical-bar';
import type { BackfillProgress, BackfillRequest, BackfillSummary, IngestRuntime } from '@noctria/ingest';
import type { Progress } from '../progress.js';

export interface SeriesReport {
  symbol: string;
  timeframe: Timeframe;
  from: string;
  to: string;
  /** The run started after the stored watermark instead of the lookback start. */
  resumed: boolean;
  /** Bars of the series already stored before the run (not fetched again). */
  stored_before: number;
  chunks: number;
  ok: boolean;
  error?: string;
}

export interface BackfillReport {
  run_id: string;
  status: BackfillSummary['status'];
  series: SeriesReport[];
  totals: Record<string, number>;
  /** Bars not fetched again because the series resumed after its watermark (stored_before of resumed series). */
  skipped_bars: number;
  fetched_bars: number;
}

async function storedCount(rt: IngestRuntime, symbol: string, timeframe: string): Promise<number> {
  const r = await sql<{ n: number }>`select count(*)::int as n from ingest.canonical_bars where symbol = ${symbol} and timeframe = ${timeframe}`.execute(rt.db);
  return r.rows[0]?.n ?? 0;
}

/**
 * Runs a backfill to completion (or until `signal` aborts: the run stops between chunks and is reported as
 * interrupted). `onProgress` receives the service's progress callbacks.
 */
export async function runBackfill(
  rt: IngestRuntime,
  req: BackfillRequest,
  options: { progress?: Progress; signal?: AbortSignal; onProgress?: (p: BackfillProgress) => void } = {},
): Promise<BackfillReport> {
  const plans = await rt.backfill.plan(req);
  const before = new Map<string, { stored: number; resumed: boolean }>();
  for (const p of plans) {
    const wm = await rt.pipeline.watermarks.get(p.symbol, p.timeframe);
    before.set(`${p.symbol}|${p.timeframe}`, { stored: await storedCount(rt, p.symbol, p.timeframe), resumed: req.fromMs === undefined && wm !== undefined });
  }
  const { done } = await rt.backfill.start(req, (p) => {
    options.progress?.update({ done: p.barsDone, total: p.barsTotal, detail: `${p.symbol} ${p.timeframe}`, extra: { run_id: p.runId, chunks_done: p.chunksDone, chunks_total: p.chunksTotal } });
    options.onProgress?.(p);
  });
  const onAbort = () => void rt.backfill.stopAll();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  let summary: BackfillSummary;
  try {
    summary = await done;
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    options.progress?.stop();
  }
  const series = summary.series.map((s) => {
    const b = before.get(`${s.symbol}|${s.timeframe}`) ?? { stored: 0, resumed: false };
    return {
      symbol: s.symbol,
      timeframe: s.timeframe,
      from: new Date(s.fromMs).toISOString(),
      to: new Date(s.toMs).toISOString(),
      resumed: b.resumed,
      stored_before: b.stored,
      chunks: s.chunks,
      ok: s.ok,
      ...(s.error ? { error: s.error } : {}),
    };
  });
  return {
    run_id: summary.runId,
    status: summary.status,
    series,
    totals: summary.totals,
    skipped_bars: series.reduce((a, s) => a + (s.resumed ? s.stored_before : 0), 0),
    fetched_bars: summary.totals['fetched'] ?? 0,
  };
}

export function humanBackfill(r: BackfillReport): string[] {
  const lines = [`backfill ${r.run_id}: ${r.status} — ${r.series.length} series, ${r.skipped_bars} bars already stored (skipped), ${r.fetched_bars} fetched, ${r.totals['inserted'] ?? 0} inserted, ${r.totals['updated'] ?? 0} updated`];
  for (const s of r.series) {
    lines.push(`  ${s.symbol} ${s.timeframe}: ${s.resumed ? 'resumed from watermark' : 'from'} ${s.from} → ${s.to}, ${s.chunks} chunk(s)${s.ok ? '' : ` FAILED: ${s.error}`}`);
  }
  return lines;
}
