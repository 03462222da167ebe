/** `noctria ingest status`: watermarks, recent runs, DQ counters per series, quarantined months, outbox backlog. */
import { sql } from 'kysely';
import type { IngestRuntime } from '@noctria/ingest';

export interface StatusReport {
  watermarks: { symbol: string; timeframe: string; last_ts: string; source_id: string; bars: number }[];
  runs: { id: string; kind: string; source: string; status: string; started_at: string; finished_at: string | null; counts: Record<string, number>; error: unknown }[];
  dq: { symbol: string; timeframe: string; months: number; expected: number; received: number; missing: number; outliers: number; spikes: number; duplicates_dropped: number; rejected: number; filled: number; revised: number; conflicts: number }[];
  quarantine: { symbol: string; timeframe: string; month: string; reason: string; since: string; run_id: string }[];
  outbox_pending: number;
}

export async function ingestStatus(rt: IngestRuntime, options: { runs: number }): Promise<StatusReport> {
  const db = rt.db;
  const wms = await sql<{ symbol: string; timeframe: string; last_ts: Date; source_id: string; bars: number }>`
    select w.symbol, w.timeframe, w.last_ts, w.source_id,
           (select count(*)::int from ingest.canonical_bars b where b.symbol = w.symbol and b.timeframe = w.timeframe) as bars
    from ingest.watermarks w order by w.symbol, w.timeframe`.execute(db);
  const runs = await rt.pipeline.runs.list(options.runs);
  const dq = await sql<StatusReport['dq'][number]>`
    select symbol, timeframe, count(distinct month)::int as months,
           sum(expected)::int as expected, sum(received)::int as received, sum(missing)::int as missing,
           sum(outliers)::int as outliers, sum(spikes)::int as spikes, sum(duplicates_dropped)::int as duplicates_dropped,
           sum(rejected)::int as rejected, sum(filled)::int as filled, sum(revised)::int as revised, sum(conflicts)::int as conflicts
    from ingest.dq_counters group by symbol, timeframe order by symbol, timeframe`.execute(db);
  const q = await rt.quarantine.list({ activeOnly: true });
  const pending = await sql<{ n: number }>`select count(*)::int as n from ingest.outbox where sent_at is null`.execute(db);
  const iso = (d: Date | string | null) => (d === null ? null : d instanceof Date ? d.toISOString() : String(d));
  const monthOf = (m: unknown) => (m instanceof Date ? m.toISOString().slice(0, 7) : String(m).slice(0, 7));
  return {
    watermarks: wms.rows.map((w) => ({ symbol: w.symbol, timeframe: w.timeframe, last_ts: w.last_ts.toISOString(), source_id: w.source_id, bars: w.bars })),
    runs: runs.map((r) => ({ id: r.id, kind: r.kind, source: r.source, status: r.status, started_at: iso(r.started_at) as string, finished_at: iso(r.finished_at), counts: r.counts, error: r.error })),
    dq: dq.rows,
    quarantine: q.map((x) => ({ symbol: x.symbol, timeframe: x.timeframe, month: monthOf(x.month), reason: x.reason, since: iso(x.created_at) as string, run_id: x.ingest_run_id })),
    outbox_pending: pending.rows[0]?.n ?? 0,
  };
}
