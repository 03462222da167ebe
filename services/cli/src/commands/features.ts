/**
 * `noctria features compute`: the 21 pair features of "特徴量仕様 v1" for two canonical-bar CSV files
 * (`ts_utc,open,high,low,close[,volume]`), computed by the batch path of `@noctria/features` (bit-identical to the
 * streaming engine) and written as CSV: `ts_utc` + the columns of FEATURE_NAMES, empty cells during warm-up,
 * every number in its shortest round-trip form.
 *
 * Input rows are validated with `@noctria/canonical-bar`; a bad row is reported with its file line and error id
 * and left out, the good rows are kept. The legs are aligned on bar time (inner join); bars without a partner
 * are dropped and counted.
 */
import { createWriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { once } from 'node:events';
import { resolve } from 'node:path';
import { alignPairs, createBarValidator, DQ_ERROR, tryNormalizeTsUtc, type AlignResult, type CanonicalBar, type Timeframe } from '@noctria/canonical-bar';
import {
  computeFeatureMatrix,
  DEFAULT_FEATURE_PARAMS,
  FEATURE_NAMES,
  FeatureError,
  fullVectorWarmupBars,
  pairSeriesFromBars,
  resolveFeatureParams,
  type FeatureMatrix,
  type FeatureParams,
  type PairSeries,
} from '@noctria/features';
import { paramsFromPolicy } from '@noctria/features-service';
import type { PipelinePolicy } from '@noctria/policy';
import { argsError, CliError, CLI_ERROR, EXIT, type Output } from '../io.js';

/** A FeatureError's message without its leading id (the CLI prints the id separately). */
export function featureErrorText(err: FeatureError): string {
  return err.message.startsWith(`${err.id}: `) ? err.message.slice(err.id.length + 2) : err.message;
}

/** Rejected rows listed in a report (the count is always complete). */
const MAX_LISTED_REJECTS = 1000;
const REQUIRED_COLUMNS = ['ts_utc', 'open', 'high', 'low', 'close'] as const;
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

export interface RejectedBarRow {
  file: string;
  /** 1-based line in the file, the header being line 1. */
  line: number;
  error_id: string;
  field: string;
  message: string;
}

export interface BarFileReport {
  file: string;
  /** Data rows read (blank lines not counted). */
  rows: number;
  accepted: number;
  rejected: number;
}

export interface LegInput {
  bars: CanonicalBar[];
  report: BarFileReport;
  rejects: RejectedBarRow[];
}

/**
 * Reads a canonical-bar CSV. Whole-file problems (unreadable, no header, a required column missing) are
 * `UI_CLI_FILE`; row problems are returned as rejects with the canonical-bar error id of the first issue.
 */
export async function readBarCsv(path: string, leg: string, timeframe: Timeframe, timeframeAllowed: readonly string[]): Promise<LegInput> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new CliError(CLI_ERROR.FILE, `${path}: ${(err as NodeJS.ErrnoException).code ?? 'cannot read'}`, EXIT.FAILED, { path });
  }
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  const headerLine = lines.findIndex((l) => l.trim() !== '');
  if (headerLine < 0) throw new CliError(CLI_ERROR.FILE, `${path}: empty file (expected a header ts_utc,open,high,low,close[,volume])`, EXIT.FAILED, { path });
  const header = (lines[headerLine] as string).split(',').map((h) => h.trim().toLowerCase());
  const col = Object.fromEntries(['ts_utc', 'open', 'high', 'low', 'close', 'volume'].map((c) => [c, header.indexOf(c)])) as Record<string, number>;
  const missing = REQUIRED_COLUMNS.filter((c) => (col[c] as number) < 0);
  if (missing.length > 0) {
    throw new CliError(CLI_ERROR.FILE, `${path}: header lacks ${missing.join(', ')} (got ${header.join(',')}; expected ts_utc,open,high,low,close[,volume])`, EXIT.FAILED, { path, missing });
  }
  const validate = createBarValidator({ timeframe_allowed: timeframeAllowed });
  const bars: CanonicalBar[] = [];
  const rejects: RejectedBarRow[] = [];
  let rows = 0;
  const num = (cell: string | undefined): unknown => {
    const s = (cell ?? '').trim();
    return DECIMAL.test(s) ? Number(s) : s;
  };
  for (let i = headerLine + 1; i < lines.length; i++) {
    const raw = lines[i] as string;
    if (raw.trim() === '') continue;
    rows += 1;
    const line = i + 1;
    const f = raw.split(',');
    const reject = (error_id: string, field: string, message: string) => rejects.push({ file: path, line, error_id, field, message });
    if (f.length !== header.length) {
      reject(DQ_ERROR.FIELD, '$', `expected ${header.length} fields, got ${f.length}`);
      continue;
    }
    const ts = tryNormalizeTsUtc((f[col['ts_utc'] as number] as string).trim());
    if (!ts.ok) {
      const issue = ts.issues[0]!;
      reject(issue.errorId, issue.field, issue.message);
      continue;
    }
    const iVolume = col['volume'] as number;
    const vCell = iVolume >= 0 ? (f[iVolume] as string).trim() : '';
    const r = validate({
      ts_utc: ts.value,
      symbol: leg,
      timeframe,
      open: num(f[col['open'] as number]),
      high: num(f[col['high'] as number]),
      low: num(f[col['low'] as number]),
      close: num(f[col['close'] as number]),
      volume: vCell === '' ? null : num(vCell),
      quality_flag: 'ok',
      source_id: 'file',
      ingest_run_id: 'cli',
      metadata: { file_line: line },
    });
    if (r.ok) bars.push(r.value);
    else {
      const issue = r.issues[0]!;
      reject(issue.errorId, issue.field, r.issues.map((x) => x.message).join('; '));
    }
  }
  return { bars, rejects, report: { file: path, rows, accepted: bars.length, rejected: rejects.length } };
}

export interface PairInput {
  a: LegInput;
  b: LegInput;
  aligned: AlignResult;
  series: PairSeries;
}

/** Both legs read, validated and inner-joined on bar time. */
export async function readPair(aPath: string, bPath: string, timeframe: Timeframe, timeframeAllowed: readonly string[]): Promise<PairInput> {
  const a = await readBarCsv(aPath, 'A', timeframe, timeframeAllowed);
  const b = await readBarCsv(bPath, 'B', timeframe, timeframeAllowed);
  const aligned = alignPairs(a.bars, b.bars);
  return { a, b, aligned, series: pairSeriesFromBars(aligned.pairs) };
}

/** Feature parameters of pipeline_policy (as the features service reads them) with `key=value` overrides, validated together. */
export function featureParamsFor(pipeline: PipelinePolicy, overrides: readonly string[] | undefined): FeatureParams {
  let fromPolicy: FeatureParams;
  try {
    // The features service's reading of pipeline_policy, so the CLI computes with exactly the service's parameters.
    fromPolicy = paramsFromPolicy(pipeline);
  } catch (err) {
    if (err instanceof FeatureError) throw new CliError(err.id, `pipeline_policy: ${featureErrorText(err)}`, EXIT.CONFIG);
    throw err;
  }
  const partial: Record<string, number> = { ...fromPolicy };
  for (const item of overrides ?? []) {
    for (const kv of item.split(',').filter((s) => s.trim() !== '')) {
      const m = /^\s*([A-Za-z]+)\s*=\s*(\S+)\s*$/.exec(kv);
      if (!m) throw argsError(`--param expects key=value, got ${JSON.stringify(kv)}`, { option: '--param', value: kv });
      const key = m[1] as string;
      if (!(key in DEFAULT_FEATURE_PARAMS)) {
        throw argsError(`--param: unknown feature parameter ${JSON.stringify(key)} (known: ${Object.keys(DEFAULT_FEATURE_PARAMS).join(', ')})`, { option: '--param', key });
      }
      if (!DECIMAL.test(m[2] as string)) throw argsError(`--param ${key} expects a number, got ${JSON.stringify(m[2])}`, { option: '--param', key });
      partial[key] = Number(m[2]);
    }
  }
  try {
    return resolveFeatureParams(partial as Partial<FeatureParams>);
  } catch (err) {
    if (err instanceof FeatureError) throw argsError(`--param: ${featureErrorText(err)}`, { option: '--param', feature_error: err.id });
    throw err;
  }
}

/** Shortest round-trip text of a number; NaN (warm-up) is an empty cell. */
export function csvNumber(v: number): string {
  return Number.isNaN(v) ? '' : String(v);
}

/** Writes `header` and the rows produced by `row(i)` for i in 0..n−1, in 64 KiB chunks. */
export async function writeCsv(path: string, header: readonly string[], n: number, row: (i: number) => string): Promise<string> {
  const abs = resolve(path);
  const out = createWriteStream(abs, { encoding: 'utf8' });
  const failed = once(out, 'error').then(([err]) => {
    throw new CliError(CLI_ERROR.FILE, `${path}: ${(err as NodeJS.ErrnoException).code ?? 'cannot write'}`, EXIT.FAILED, { path });
  });
  const write = async (s: string) => {
    if (!out.write(s)) await Promise.race([once(out, 'drain'), failed]);
  };
  await write(`${header.join(',')}\n`);
  let chunk = '';
  for (let i = 0; i < n; i++) {
    chunk += `${row(i)}\n`;
    if (chunk.length > 1 << 16) {
      await write(chunk);
      chunk = '';
    }
  }
  await write(chunk);
  out.end();
  await Promise.race([once(out, 'finish'), failed]);
  return abs;
}

export async function writeFeatureCsv(path: string, m: FeatureMatrix): Promise<string> {
  const cols = FEATURE_NAMES.map((name) => m.columns[name]);
  return writeCsv(path, ['ts_utc', ...FEATURE_NAMES], m.tsMs.length, (i) => {
    let line = new Date(m.tsMs[i] as number).toISOString();
    for (const c of cols) line += `,${csvNumber(c[i] as number)}`;
    return line;
  });
}

/** The input part of a report: per-file counts, alignment, rejected rows (first MAX_LISTED_REJECTS). */
export function inputSummary(input: PairInput): Record<string, unknown> {
  const rejects = [...input.a.rejects, ...input.b.rejects];
  return {
    a: input.a.report,
    b: input.b.report,
    aligned_bars: input.aligned.pairs.length,
    dropped_a_only: input.aligned.aOnly,
    dropped_b_only: input.aligned.bOnly,
    duplicates_a: input.aligned.aDuplicates,
    duplicates_b: input.aligned.bDuplicates,
    rejected_rows: rejects.slice(0, MAX_LISTED_REJECTS),
    ...(rejects.length > MAX_LISTED_REJECTS ? { rejected_rows_truncated: true } : {}),
  };
}

/** Human lines for the input part of a report. */
export function humanInput(input: PairInput): string[] {
  const lines: string[] = [];
  for (const leg of [input.a, input.b]) {
    lines.push(`${leg.report.file}: ${leg.report.rows} rows, ${leg.report.accepted} accepted, ${leg.report.rejected} rejected`);
    for (const r of leg.rejects.slice(0, 20)) lines.push(`  ${r.file}:${r.line}: ${r.error_id} ${r.field}: ${r.message}`);
    if (leg.rejects.length > 20) lines.push(`  … ${leg.rejects.length - 20} more rejected rows (--json lists up to ${MAX_LISTED_REJECTS})`);
  }
  const al = input.aligned;
  lines.push(`aligned ${al.pairs.length} bars on ts_utc; dropped ${al.aOnly} A-only and ${al.bOnly} B-only bars${al.aDuplicates + al.bDuplicates > 0 ? `, ${al.aDuplicates + al.bDuplicates} duplicate timestamps (latest row kept)` : ''}`);
  return lines;
}

export interface FeaturesComputeRequest {
  a: string;
  b: string;
  out: string;
  timeframe: Timeframe;
  timeframeAllowed: readonly string[];
  params: FeatureParams;
}

export interface FeaturesComputeResult {
  input: PairInput;
  matrix: FeatureMatrix;
  out: string;
}

export async function computeFeaturesFromFiles(req: FeaturesComputeRequest): Promise<FeaturesComputeResult> {
  const input = await readPair(req.a, req.b, req.timeframe, req.timeframeAllowed);
  const matrix = computeFeatureMatrix(input.series, req.params);
  const out = await writeFeatureCsv(req.out, matrix);
  return { input, matrix, out };
}

/** Rows where all 21 features are defined. */
export function fullyDefinedRows(m: FeatureMatrix): number {
  const cols = FEATURE_NAMES.map((f) => m.columns[f]);
  let rows = 0;
  for (let i = 0; i < m.tsMs.length; i++) if (cols.every((c) => !Number.isNaN(c[i] as number))) rows++;
  return rows;
}

export function reportFeatures(out: Output, r: FeaturesComputeResult, timeframe: Timeframe): void {
  const warmup = fullVectorWarmupBars(r.matrix.params);
  const n = r.matrix.tsMs.length;
  const full = fullyDefinedRows(r.matrix);
  out.record(
    'features',
    {
      out: r.out,
      timeframe,
      bars: n,
      columns: FEATURE_NAMES.length,
      full_vector_warmup_bars: warmup,
      fully_defined_rows: full,
      schema_hash: r.matrix.schemaHash,
      params: r.matrix.params,
      ...inputSummary(r.input),
    },
    [...humanInput(r.input), `wrote ${r.out}  (${n} rows × ${FEATURE_NAMES.length} features; warm-up ${warmup} bars, ${full} rows with every feature defined)`],
  );
}
