/**
 * Bar exports in the seed 003 partition layout (data-assets-pipeline 仕様 v1), the one exporter of the platform
 * (`rpc.ingest.export`, `POST /ingest/export`, `noctria bars export`):
 *
 *   {root}/{timeframe}/{symbol}/{YYYY}/{YYYY-MM}/{symbol}_{YYYY-MM-DD}.{parquet|csv}   one file per UTC day
 *   {root}/{timeframe}/{symbol}/{YYYY}/{YYYY-MM}/__meta.json                            per month
 *   {root}/{timeframe}/{symbol}/{YYYY}/{YYYY-MM}/__quarantine.json                      when the month is quarantined
 *   {root}/{timeframe}/{symbol}/__export_{from}_{to}.{format}.json                      manifest of one export
 *
 * Parquet columns are typed: ts_utc TIMESTAMP (ms, UTC), open/high/low/close DOUBLE, volume DOUBLE (nullable),
 * symbol/timeframe/quality_flag/source_id/ingest_run_id/checksum STRING. Every file is written atomically
 * (temporary file + rename) and its content depends only on the stored data, so a re-export rewrites identical
 * bytes (idempotent). `__meta.json` keeps one entry per day file (rows, quality flags, sha256), so exporting a
 * month in several ranges accumulates a correct month summary. The manifest lists every file of the export with
 * its sha256 (references relative to the root); messages carry the manifest reference and its sha256, never bytes.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Kysely } from 'kysely';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { timeframeMs, type Timeframe } from '@noctria/canonical-bar';
import { NoctriaError, type Logger } from '@noctria/platform';
import type { PipelinePolicy } from '@noctria/policy';
import type { DB } from '../db/schema.js';
import { INGEST_ERROR } from '../errors.js';
import { BarsRepository, type BarRow } from '../repositories/bars.repository.js';
import { DQ_COUNTER_FIELDS, DqRepository } from '../repositories/dq.repository.js';
import { QuarantineRepository, type QuarantineRow } from '../repositories/quarantine.repository.js';
import { WatermarksRepository } from '../repositories/watermarks.repository.js';
import { logEvent } from '../telemetry.js';
import { monthKey, monthStartMs, nextMonthStartMs } from './months.js';

export type ExportFormat = 'csv' | 'parquet';

/** The pipeline_policy window parameters a consumer of a partition needs to recompute features alike. */
export type WindowParams = Record<string, number | string>;

export function windowParamsFromPolicy(p: PipelinePolicy, timeframe: string): WindowParams {
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

export interface ExportRequest {
  symbol: string;
  timeframe: string;
  /** Inclusive start (epoch ms). Default: the first stored bar. */
  fromMs?: number;
  /** Exclusive end (epoch ms). Default: one bar after the watermark (the last stored bar). */
  toMs?: number;
  /** Default 'parquet'. */
  format?: ExportFormat;
  /** Leave the bar files of quarantined months out (default true: training/BT outputs exclude them); their markers are still written. */
  excludeQuarantined?: boolean;
  /** Root directory of the layout (default: the service's artefact directory). */
  root?: string;
  /** Recorded in each `__meta.json` (default: the service's `windowParams`). */
  windowParams?: WindowParams;
  /** Called after each day file. */
  onProgress?: (p: { done: number; total: number; detail: string }) => void;
}

export interface ExportedFile {
  /** Relative to the root. */
  ref: string;
  sha256: string;
  bytes: number;
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
  format: ExportFormat;
  last_refreshed_ts: string | null;
  counts: { bars: number; files: number; quality_flags: Record<string, number> };
  dq_counters: Record<string, number>;
  window_params: WindowParams;
  sources: string[];
  quarantined: boolean;
  bars_excluded: boolean;
  files: MetaFileEntry[];
}

export interface MonthReport {
  /** YYYY-MM */
  month: string;
  /** Partition directory, relative to the root. */
  dir: string;
  files: number;
  bars: number;
  quarantined: boolean;
  excluded: boolean;
}

export interface ExportManifest {
  symbol: string;
  timeframe: string;
  format: ExportFormat;
  from: string;
  to: string;
  last_refreshed_ts: string | null;
  bars: number;
  excluded_months: string[];
  months: MonthReport[];
  /** Day files written by this export. */
  files: (ExportedFile & { rows: number })[];
  meta: ExportedFile[];
  quarantine: ExportedFile[];
}

export interface ExportResult {
  symbol: string;
  timeframe: string;
  format: ExportFormat;
  from: string;
  to: string;
  /** Absolute root directory; every reference below is relative to it. */
  root: string;
  manifestRef: string;
  manifestSha256: string;
  bars: number;
  files: number;
  months: MonthReport[];
  /** YYYY-MM of quarantined months whose bars were left out. */
  excludedMonths: string[];
  manifest: ExportManifest;
}

export const EXPORT_COLUMNS = ['ts_utc', 'symbol', 'timeframe', 'open', 'high', 'low', 'close', 'volume', 'quality_flag', 'source_id', 'ingest_run_id', 'checksum'] as const;
type ExportRow = Pick<BarRow, (typeof EXPORT_COLUMNS)[number]>;

/** Largest month of bars (1m: 31 × 1440) with room to spare: one query per month. */
const MONTH_QUERY_LIMIT = 100_000;

export function partitionDir(timeframe: string, symbol: string, month: string): string {
  return join(timeframe, symbol, month.slice(0, 4), month);
}

export function dayFileName(symbol: string, day: string, format: ExportFormat): string {
  return `${symbol}_${day}.${format}`;
}

function csvCell(v: unknown): string {
  if (v === null || v === undefined) return '';
  const s = v instanceof Date ? v.toISOString() : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function encodeCsv(rows: readonly ExportRow[]): Buffer {
  const lines = [EXPORT_COLUMNS.join(',')];
  for (const r of rows) lines.push(EXPORT_COLUMNS.map((c) => csvCell(r[c])).join(','));
  return Buffer.from(`${lines.join('\n')}\n`, 'utf8');
}

export function encodeParquet(rows: readonly ExportRow[]): Buffer {
  const str = (name: (typeof EXPORT_COLUMNS)[number]) => ({ name, data: rows.map((r) => String(r[name])), type: 'STRING' as const, nullable: false });
  const dbl = (name: 'open' | 'high' | 'low' | 'close') => ({ name, data: rows.map((r) => r[name]), type: 'DOUBLE' as const, nullable: false });
  const buffer = parquetWriteBuffer({
    columnData: [
      { name: 'ts_utc', data: rows.map((r) => BigInt(r.ts_utc.getTime())), type: 'TIMESTAMP', nullable: false },
      str('symbol'),
      str('timeframe'),
      dbl('open'),
      dbl('high'),
      dbl('low'),
      dbl('close'),
      { name: 'volume', data: rows.map((r) => r.volume), type: 'DOUBLE', nullable: true },
      str('quality_flag'),
      str('source_id'),
      str('ingest_run_id'),
      str('checksum'),
    ],
    kvMetadata: [{ key: 'noctria.layout', value: 'seed003/data-assets-pipeline-v1' }],
    createdBy: 'noctria ingest export',
  });
  return Buffer.from(buffer);
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function json(value: unknown): Buffer {
  return Buffer.from(`${JSON.stringify(value, null, 2)}\n`, 'utf8');
}

async function atomicWrite(path: string, bytes: Buffer): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  try {
    await writeFile(tmp, bytes);
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

function countBy<T>(xs: readonly T[], key: (x: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of xs) out[key(x)] = (out[key(x)] ?? 0) + 1;
  return out;
}

function compactIso(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
}

/** YYYY-MM of every month overlapping [fromMs, toMs). */
function monthsOf(fromMs: number, toMs: number): string[] {
  const out: string[] = [];
  for (let m = monthStartMs(monthKey(fromMs)); m < toMs; m = nextMonthStartMs(monthKey(m))) out.push(monthKey(m).slice(0, 7));
  return out;
}

export class ExportService {
  private readonly bars: BarsRepository;
  private readonly watermarks: WatermarksRepository;
  private readonly quarantine: QuarantineRepository;
  private readonly dq: DqRepository;

  constructor(private readonly deps: { db: Kysely<DB>; artifactDir: string; logger: Logger; windowParams?: (timeframe: string) => WindowParams }) {
    this.bars = new BarsRepository(deps.db);
    this.watermarks = new WatermarksRepository(deps.db);
    this.quarantine = new QuarantineRepository(deps.db);
    this.dq = new DqRepository(deps.db);
  }

  async export(req: ExportRequest): Promise<ExportResult> {
    const format = req.format ?? 'parquet';
    const excludeQuarantined = req.excludeQuarantined ?? true;
    const root = resolve(req.root ?? this.deps.artifactDir);
    const wm = await this.watermarks.get(req.symbol, req.timeframe);
    const { fromMs, toMs } = await this.range(req, wm?.last_ts.getTime());
    const quarantined = new Map((await this.quarantine.list({ symbol: req.symbol, timeframe: req.timeframe, activeOnly: true })).map((q) => [String(q.month).slice(0, 7), q]));
    const dqByMonth = await this.dqCounters(req.symbol, req.timeframe);
    const windowParams = req.windowParams ?? this.deps.windowParams?.(req.timeframe) ?? {};
    const lastRefreshed = wm ? wm.last_ts.toISOString() : null;

    const manifest: ExportManifest = {
      symbol: req.symbol,
      timeframe: req.timeframe,
      format,
      from: new Date(fromMs).toISOString(),
      to: new Date(toMs).toISOString(),
      last_refreshed_ts: lastRefreshed,
      bars: 0,
      excluded_months: [],
      months: [],
      files: [],
      meta: [],
      quarantine: [],
    };
    // Day counts for progress come from the months' bars as they are read; the total grows month by month.
    let daysDone = 0;
    let daysSeen = 0;
    for (const month of monthsOf(fromMs, toMs)) {
      const start = Math.max(fromMs, monthStartMs(`${month}-01`));
      const end = Math.min(toMs, nextMonthStartMs(`${month}-01`));
      const rows = await this.bars.query({ symbol: req.symbol, timeframe: req.timeframe, fromMs: start, toMs: end, limit: MONTH_QUERY_LIMIT });
      const q = quarantined.get(month);
      if (rows.length === 0 && !q) continue;
      const days = new Map<string, ExportRow[]>();
      for (const r of rows) {
        const day = r.ts_utc.toISOString().slice(0, 10);
        let list = days.get(day);
        if (!list) days.set(day, (list = []));
        list.push(r);
      }
      daysSeen += days.size;
      const excluded = q !== undefined && excludeQuarantined;
      const dirRef = partitionDir(req.timeframe, req.symbol, month);
      const dir = join(root, dirRef);
      await mkdir(dir, { recursive: true });
      const written: MetaFileEntry[] = [];
      for (const [day, list] of [...days.entries()].sort(([a], [b]) => a.localeCompare(b))) {
        const name = dayFileName(req.symbol, day, format);
        if (excluded) await rm(join(dir, name), { force: true });
        else {
          const bytes = format === 'parquet' ? encodeParquet(list) : encodeCsv(list);
          await atomicWrite(join(dir, name), bytes);
          const entry: MetaFileEntry = {
            name,
            date: day,
            rows: list.length,
            bytes: bytes.length,
            sha256: sha256(bytes),
            quality_flags: countBy(list, (r) => r.quality_flag),
            sources: [...new Set(list.map((r) => r.source_id))].sort(),
            first_ts: list[0]!.ts_utc.toISOString(),
            last_ts: list[list.length - 1]!.ts_utc.toISOString(),
          };
          written.push(entry);
          manifest.files.push({ ref: join(dirRef, name), sha256: entry.sha256, bytes: entry.bytes, rows: entry.rows });
        }
        daysDone += 1;
        req.onProgress?.({ done: daysDone, total: daysSeen, detail: day });
      }
      const files = excluded ? [] : await this.mergeWithEarlier(dir, format, written, new Set(days.keys()));
      const meta: MonthMeta = {
        symbol: req.symbol,
        timeframe: req.timeframe,
        month,
        format,
        last_refreshed_ts: lastRefreshed,
        counts: { bars: files.reduce((a, f) => a + f.rows, 0), files: files.length, quality_flags: files.reduce<Record<string, number>>((acc, f) => addCounts(acc, f.quality_flags), {}) },
        dq_counters: dqByMonth.get(month) ?? {},
        window_params: windowParams,
        sources: [...new Set(files.flatMap((f) => f.sources))].sort(),
        quarantined: q !== undefined,
        bars_excluded: excluded,
        files,
      };
      manifest.meta.push(await this.writeJson(root, join(dirRef, '__meta.json'), meta));
      const qRef = join(dirRef, '__quarantine.json');
      if (q) manifest.quarantine.push(await this.writeJson(root, qRef, quarantineMarker(req.symbol, req.timeframe, month, q, excluded)));
      else await rm(join(root, qRef), { force: true });
      if (excluded) manifest.excluded_months.push(month);
      const bars = written.reduce((a, f) => a + f.rows, 0);
      manifest.months.push({ month, dir: dirRef, files: written.length, bars, quarantined: q !== undefined, excluded });
      manifest.bars += bars;
    }
    const manifestRef = join(req.timeframe, req.symbol, `__export_${compactIso(fromMs)}_${compactIso(toMs)}.${format}.json`);
    const written = await this.writeJson(root, manifestRef, manifest);
    logEvent(this.deps.logger, 'info', 'export_written', {
      symbol: req.symbol,
      timeframe: req.timeframe,
      details: { root, manifest: manifestRef, sha256: written.sha256, bars: manifest.bars, files: manifest.files.length, excluded_months: manifest.excluded_months },
    });
    return {
      symbol: req.symbol,
      timeframe: req.timeframe,
      format,
      from: manifest.from,
      to: manifest.to,
      root,
      manifestRef,
      manifestSha256: written.sha256,
      bars: manifest.bars,
      files: manifest.files.length,
      months: manifest.months,
      excludedMonths: manifest.excluded_months,
      manifest,
    };
  }

  private async range(req: ExportRequest, lastMs: number | undefined): Promise<{ fromMs: number; toMs: number }> {
    let { fromMs, toMs } = req;
    if (fromMs === undefined) fromMs = (await this.bars.query({ symbol: req.symbol, timeframe: req.timeframe, limit: 1 }))[0]?.ts_utc.getTime();
    if (toMs === undefined && lastMs !== undefined) toMs = lastMs + timeframeMs(req.timeframe as Timeframe);
    if (fromMs === undefined || toMs === undefined) {
      throw new NoctriaError(INGEST_ERROR.NOT_FOUND, `no stored ${req.symbol} ${req.timeframe} bars to export (backfill or import first)`, { severity: 'INFO' });
    }
    if (!(fromMs < toMs)) throw new NoctriaError(INGEST_ERROR.BAD_REQUEST, `export range is empty: ${new Date(fromMs).toISOString()} ≥ ${new Date(toMs).toISOString()}`, { severity: 'INFO' });
    return { fromMs, toMs };
  }

  private async dqCounters(symbol: string, timeframe: string): Promise<Map<string, Record<string, number>>> {
    const out = new Map<string, Record<string, number>>();
    for (const row of await this.dq.list({ symbol, timeframe })) {
      const month = String(row.month).slice(0, 7);
      const acc = out.get(month) ?? {};
      for (const f of DQ_COUNTER_FIELDS) acc[f] = (acc[f] ?? 0) + Number(row[f]);
      out.set(month, acc);
    }
    return out;
  }

  /** Day files of the month exported earlier (outside this export's range) and still on disk stay listed. */
  private async mergeWithEarlier(dir: string, format: ExportFormat, written: MetaFileEntry[], rewritten: Set<string>): Promise<MetaFileEntry[]> {
    let previous: MetaFileEntry[] = [];
    try {
      const old = JSON.parse(await readFile(join(dir, '__meta.json'), 'utf8')) as Partial<MonthMeta>;
      if (old.format === format && Array.isArray(old.files)) previous = old.files;
    } catch {
      // first export of this month
    }
    const kept: MetaFileEntry[] = [];
    for (const f of previous) if (!rewritten.has(f.date) && (await exists(join(dir, f.name)))) kept.push(f);
    return [...kept, ...written].sort((a, b) => a.date.localeCompare(b.date));
  }

  private async writeJson(root: string, ref: string, value: unknown): Promise<ExportedFile> {
    const bytes = json(value);
    await atomicWrite(join(root, ref), bytes);
    return { ref, sha256: sha256(bytes), bytes: bytes.length };
  }
}

function addCounts(into: Record<string, number>, from: Record<string, number>): Record<string, number> {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
  return into;
}

function quarantineMarker(symbol: string, timeframe: string, month: string, q: QuarantineRow, excluded: boolean) {
  return {
    symbol,
    timeframe,
    month,
    reason: q.reason,
    metrics: q.metrics,
    thresholds: q.thresholds,
    range: { from: q.range_from.toISOString(), to: q.range_to.toISOString() },
    since: q.created_at.toISOString(),
    ingest_run_id: q.ingest_run_id,
    bars_excluded: excluded,
  };
}
