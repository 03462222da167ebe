/**
 * `noctria bars export`: canonical bars of one series written in the seed 003 partition layout
 * (data-assets-pipeline 仕様 v1):
 *
 *   {out}/{timeframe}/{symbol}/{YYYY}/{YYYY-MM}/{symbol}_{YYYY-MM-DD}.{parquet|csv}   one file per UTC day
 *   {out}/{timeframe}/{symbol}/{YYYY}/{YYYY-MM}/__meta.json                            per month
 *   {out}/{timeframe}/{symbol}/{YYYY}/{YYYY-MM}/__quarantine.json                      when the month is quarantined
 *
 * Parquet columns are typed: ts_utc TIMESTAMP (ms, UTC), open/high/low/close DOUBLE, volume DOUBLE (nullable),
 * symbol/timeframe/quality_flag/source_id/ingest_run_id/checksum STRING. Files are written atomically and a
 * re-export overwrites them (idempotent). `__meta.json` keeps one entry per day file (rows, quality flags,
 * sha256), so exporting a month in several ranges accumulates a correct month summary.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { sql } from 'kysely';
import { parquetWriteBuffer } from 'hyparquet-writer';
import type { IngestRuntime } from '@noctria/ingest';
import type { PipelinePolicy } from '@noctria/policy';
import type { Progress } from '../progress.js';

export interface ExportRequest {
  symbol: string;
  timeframe: string;
  fromMs: number;
  toMs: number;
  format: 'csv' | 'parquet';
  outDir: string;
  /** Leave the bar files of quarantined months out (their __meta.json/__quarantine.json are still written). */
  excludeQuarantined?: boolean;
}

export interface ExportedRow {
  ts_utc: Date;
  symbol: string;
  timeframe: string;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number | null;
  quality_flag: string;
  source_id: string;
  ingest_run_id: string;
  checksum: string;
}

export interface MetaFileEntry {
  name: string;
  date: string;
  rows: number;
  bytes: number;
  sha256: string;
  quality_flags: Record<string, number>;
  sources: string[];
  first_ts: string;
  last_ts: string;
}

export interface MonthMeta {
  symbol: string;
  timeframe: string;
  month: string;
  format: 'csv' | 'parquet';
  last_refreshed_ts: string | null;
  exported_at: string;
  counts: { bars: number; files: number; quality_flags: Record<string, number> };
  dq_counters: Record<string, number>;
  window_params: Record<string, number | string>;
  sources: string[];
  quarantined: boolean;
  bars_excluded: boolean;
  files: MetaFileEntry[];
}

export interface MonthReport {
  month: string;
  dir: string;
  files: number;
  bars: number;
  quarantined: boolean;
  excluded: boolean;
}

export interface ExportReport {
  symbol: string;
  timeframe: string;
  format: 'csv' | 'parquet';
  from: string;
  to: string;
  root: string;
  bars: number;
  files: number;
  months: MonthReport[];
}

export const EXPORT_COLUMNS = ['ts_utc', 'symbol', 'timeframe', 'open', 'high', 'low', 'close', 'volume', 'quality_flag', 'source_id', 'ingest_run_id', 'checksum'] as const;

/** The pipeline_policy window parameters a consumer of the partition needs to recompute features alike. */
export function windowParams(p: PipelinePolicy, timeframe: string): Record<string, number | string> {
  return {
    timeframe,
    beta_window_bars: p.beta_window_bars,
    beta_ema_half_life_bars: p.beta_ema_half_life_bars,
    z_window_bars: p.z_window_bars,
    z_ema_half_life_bars: p.z_ema_half_life_bars,
    z_clip_sigma: p.z_clip_sigma,
    atr_period: p.atr_period,
  };
}

export function partitionDir(root: string, timeframe: string, symbol: string, month: string): string {
  return join(root, timeframe, symbol, month.slice(0, 4), month);
}

export function dayFileName(symbol: string, day: string, format: 'csv' | 'parquet'): string {
  return `${symbol}_${day}.${format}`;
}

function csvCell(v: unknown): string {
  if (v === null || v === undefined) return '';
  const s = v instanceof Date ? v.toISOString() : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function encodeCsv(rows: ExportedRow[]): Buffer {
  const lines = [EXPORT_COLUMNS.join(',')];
  for (const r of rows) lines.push(EXPORT_COLUMNS.map((c) => csvCell(r[c])).join(','));
  return Buffer.from(`${lines.join('\n')}\n`, 'utf8');
}

export function encodeParquet(rows: ExportedRow[]): Buffer {
  const buffer = parquetWriteBuffer({
    columnData: [
      { name: 'ts_utc', data: rows.map((r) => BigInt(r.ts_utc.getTime())), type: 'TIMESTAMP', nullable: false },
      { name: 'symbol', data: rows.map((r) => r.symbol), type: 'STRING', nullable: false },
      { name: 'timeframe', data: rows.map((r) => r.timeframe), type: 'STRING', nullable: false },
      { name: 'open', data: rows.map((r) => r.open), type: 'DOUBLE', nullable: false },
      { name: 'high', data: rows.map((r) => r.high), type: 'DOUBLE', nullable: false },
      { name: 'low', data: rows.map((r) => r.low), type: 'DOUBLE', nullable: false },
      { name: 'close', data: rows.map((r) => r.close), type: 'DOUBLE', nullable: false },
      { name: 'volume', data: rows.map((r) => r.volume), type: 'DOUBLE', nullable: true },
      { name: 'quality_flag', data: rows.map((r) => r.quality_flag), type: 'STRING', nullable: false },
      { name: 'source_id', data: rows.map((r) => r.source_id), type: 'STRING', nullable: false },
      { name: 'ingest_run_id', data: rows.map((r) => r.ingest_run_id), type: 'STRING', nullable: false },
      { name: 'checksum', data: rows.map((r) => r.checksum), type: 'STRING', nullable: false },
    ],
    kvMetadata: [{ key: 'noctria.layout', value: 'seed003/data-assets-pipeline-v1' }],
    createdBy: 'noctria bars export',
  });
  return Buffer.from(buffer);
}

async function atomicWrite(path: string, bytes: Buffer | string): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, bytes);
  await rename(tmp, path);
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

function countBy<T>(xs: T[], key: (x: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of xs) out[key(x)] = (out[key(x)] ?? 0) + 1;
  return out;
}

function addCounts(into: Record<string, number>, from: Record<string, number>): void {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
}

export async function exportBars(rt: IngestRuntime, pipelinePolicy: PipelinePolicy, req: ExportRequest, progress?: Progress): Promise<ExportReport> {
  const root = resolve(req.outDir);
  const rows = (await rt.db
    .selectFrom('ingest.canonical_bars')
    .select(['ts_utc', 'symbol', 'timeframe', 'open', 'high', 'low', 'close', 'volume', 'quality_flag', 'source_id', 'ingest_run_id', 'checksum'])
    .where('symbol', '=', req.symbol)
    .where('timeframe', '=', req.timeframe)
    .where('ts_utc', '>=', new Date(req.fromMs))
    .where('ts_utc', '<', new Date(req.toMs))
    .orderBy('ts_utc')
    .execute()) as ExportedRow[];
  const wm = await rt.pipeline.watermarks.get(req.symbol, req.timeframe);
  const quarantined = new Map((await rt.quarantine.list({ symbol: req.symbol, timeframe: req.timeframe, activeOnly: true })).map((q) => [String(q.month).slice(0, 7), q]));
  const dqRows = await sql<{ month: string } & Record<string, number>>`
    select to_char(month, 'YYYY-MM') as month, sum(expected)::int as expected, sum(received)::int as received, sum(missing)::int as missing,
           sum(outliers)::int as outliers, sum(spikes)::int as spikes, sum(duplicates_dropped)::int as duplicates_dropped,
           sum(rejected)::int as rejected, sum(filled)::int as filled, sum(revised)::int as revised, sum(conflicts)::int as conflicts
    from ingest.dq_counters where symbol = ${req.symbol} and timeframe = ${req.timeframe} group by 1`.execute(rt.db);
  const dqByMonth = new Map(dqRows.rows.map(({ month, ...c }) => [month, c as Record<string, number>]));

  // Months of the range (also those without bars, so a quarantined empty month still gets its marker).
  const byMonth = new Map<string, Map<string, ExportedRow[]>>();
  for (let m = Date.UTC(new Date(req.fromMs).getUTCFullYear(), new Date(req.fromMs).getUTCMonth(), 1); m < req.toMs; ) {
    const d = new Date(m);
    byMonth.set(d.toISOString().slice(0, 7), new Map());
    m = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
  }
  for (const r of rows) {
    const iso = r.ts_utc.toISOString();
    const days = byMonth.get(iso.slice(0, 7)) as Map<string, ExportedRow[]>;
    const day = iso.slice(0, 10);
    let list = days.get(day);
    if (!list) days.set(day, (list = []));
    list.push(r);
  }

  const report: ExportReport = {
    symbol: req.symbol,
    timeframe: req.timeframe,
    format: req.format,
    from: new Date(req.fromMs).toISOString(),
    to: new Date(req.toMs).toISOString(),
    root,
    bars: 0,
    files: 0,
    months: [],
  };
  const totalDays = [...byMonth.values()].reduce((a, d) => a + d.size, 0);
  let daysDone = 0;
  for (const [month, days] of byMonth) {
    const q = quarantined.get(month);
    const excluded = q !== undefined && req.excludeQuarantined === true;
    if (days.size === 0 && !q) continue;
    const dir = partitionDir(root, req.timeframe, req.symbol, month);
    await mkdir(dir, { recursive: true });
    const metaPath = join(dir, '__meta.json');
    let previous: MetaFileEntry[] = [];
    try {
      const old = JSON.parse(await readFile(metaPath, 'utf8')) as Partial<MonthMeta>;
      if (old.format === req.format && Array.isArray(old.files)) previous = old.files;
    } catch {
      // first export of this month
    }
    const written: MetaFileEntry[] = [];
    let monthBars = 0;
    for (const [day, list] of [...days.entries()].sort()) {
      const name = dayFileName(req.symbol, day, req.format);
      const path = join(dir, name);
      if (excluded) {
        await rm(path, { force: true });
      } else {
        const bytes = req.format === 'parquet' ? encodeParquet(list) : encodeCsv(list);
        await atomicWrite(path, bytes);
        written.push({
          name,
          date: day,
          rows: list.length,
          bytes: bytes.length,
          sha256: createHash('sha256').update(bytes).digest('hex'),
          quality_flags: countBy(list, (r) => r.quality_flag),
          sources: [...new Set(list.map((r) => r.source_id))].sort(),
          first_ts: list[0]!.ts_utc.toISOString(),
          last_ts: list[list.length - 1]!.ts_utc.toISOString(),
        });
        monthBars += list.length;
      }
      daysDone += 1;
      progress?.update({ done: daysDone, total: totalDays, detail: day });
    }
    // Day files of this month exported earlier (outside this run's range) and still on disk stay listed.
    const rewritten = new Set([...days.keys()]);
    const kept: MetaFileEntry[] = [];
    for (const f of previous) if (!rewritten.has(f.date) && !excluded && (await exists(join(dir, f.name)))) kept.push(f);
    const files = [...kept, ...written].sort((a, b) => a.date.localeCompare(b.date));
    const flags: Record<string, number> = {};
    for (const f of files) addCounts(flags, f.quality_flags);
    const meta: MonthMeta = {
      symbol: req.symbol,
      timeframe: req.timeframe,
      month,
      format: req.format,
      last_refreshed_ts: wm ? wm.last_ts.toISOString() : null,
      exported_at: new Date().toISOString(),
      counts: { bars: files.reduce((a, f) => a + f.rows, 0), files: files.length, quality_flags: flags },
      dq_counters: dqByMonth.get(month) ?? {},
      window_params: windowParams(pipelinePolicy, req.timeframe),
      sources: [...new Set(files.flatMap((f) => f.sources))].sort(),
      quarantined: q !== undefined,
      bars_excluded: excluded,
      files,
    };
    await atomicWrite(metaPath, `${JSON.stringify(meta, null, 2)}\n`);
    const qPath = join(dir, '__quarantine.json');
    if (q) {
      await atomicWrite(
        qPath,
        `${JSON.stringify(
          {
            symbol: req.symbol,
            timeframe: req.timeframe,
            month,
            reason: q.reason,
            metrics: q.metrics,
            thresholds: q.thresholds,
            range: { from: q.range_from.toISOString(), to: q.range_to.toISOString() },
            since: q.created_at.toISOString(),
            ingest_run_id: q.ingest_run_id,
            bars_excluded: excluded,
          },
          null,
          2,
        )}\n`,
      );
    } else {
      await rm(qPath, { force: true });
    }
    report.months.push({ month, dir, files: written.length, bars: monthBars, quarantined: q !== undefined, excluded });
    report.bars += monthBars;
    report.files += written.length;
  }
  progress?.stop();
  return report;
}
