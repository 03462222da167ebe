/**
 * Naive reference implementation of the DQ pipeline, written independently of `src/` (only the types are
 * shared): Date-based parsing, per-bar grid walks with getUTCDay(), and statistics recomputed from scratch
 * for every bar (two-pass std; median by sorting the window) — O(n · w log w). Used by the tests as the
 * oracle for `runDq` and by the benchmark as the reference figure.
 */
import type { CanonicalBar, Timeframe } from '../src/types.js';

export interface NaiveDqOptions {
  calendar: '24/5' | '24/7';
  missing_fill_max_run?: number;
  outlier_sigma?: number;
  outlier_window?: number;
  outlier_min_returns?: number;
  dq_spike_k?: number;
  spike_window?: number;
  spike_min_count?: number;
}

export interface NaiveDqReport {
  reordered: number;
  duplicates_dropped: number;
  rejected_indices: number[];
  rejected_by_reason: Record<string, number>;
  filled_bars: number;
  missing_bars: number;
  gaps: { fromMs: number; toMs: number; bars: number }[];
  expected_bars: number;
  outliers_sigma: number;
  outliers_spike: number;
  outlier_bars: number;
}

const TF: Record<Timeframe, number> = { '1m': 60e3, '5m': 300e3, '15m': 900e3, '1h': 3600e3, '4h': 14400e3, '1d': 86400e3 };
const CANON = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

function parse(s: unknown): number {
  if (typeof s !== 'string' || !CANON.test(s)) return NaN;
  const ms = Date.parse(s);
  return Number.isNaN(ms) || new Date(ms).toISOString() !== s ? NaN : ms;
}

function trading(ms: number, cal: '24/5' | '24/7'): boolean {
  if (cal === '24/7') return true;
  const dow = new Date(ms).getUTCDay();
  return dow !== 0 && dow !== 6;
}

function gridBetween(fromExcl: number, toExcl: number, d: number, cal: '24/5' | '24/7'): number[] {
  const out: number[] = [];
  for (let t = fromExcl + d; t < toExcl; t += d) if (trading(t, cal)) out.push(t);
  return out;
}

function priceReason(b: CanonicalBar): string | null {
  for (const f of ['open', 'high', 'low', 'close'] as const) {
    const v = b[f] as unknown;
    if (typeof v !== 'number') return 'DATA_DQ_FIELD';
    if (!Number.isFinite(v)) return 'DATA_DQ_NONFIN';
    if (v <= 0) return 'DATA_DQ_NONPOS';
  }
  if (b.low > Math.min(b.open, b.close) || b.high < Math.max(b.open, b.close)) return 'DATA_DQ_OHLC';
  const v = b.volume as unknown;
  if (v === undefined) return 'DATA_DQ_FIELD';
  if (v !== null && !(typeof v === 'number' && Number.isFinite(v) && v >= 0)) return 'DATA_DQ_VOLUME';
  return null;
}

function std(xs: number[]): number {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  const v = xs.reduce((a, b) => a + (b - m) * (b - m), 0) / (xs.length - 1);
  const meanSquare = xs.reduce((a, b) => a + b * b, 0) / xs.length;
  return v > 1e-12 * meanSquare ? Math.sqrt(v) : 0; // documented zero-dispersion floor
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const h = Math.floor(s.length / 2);
  return s.length % 2 ? s[h]! : (s[h - 1]! + s[h]!) / 2;
}

export function naiveRunDq(input: readonly CanonicalBar[], opts: NaiveDqOptions): { bars: CanonicalBar[]; report: NaiveDqReport } {
  const maxRun = opts.missing_fill_max_run ?? 2;
  const kSigma = opts.outlier_sigma ?? 8;
  const wSigma = opts.outlier_window ?? 180;
  const minSigma = opts.outlier_min_returns ?? 30;
  const kSpike = opts.dq_spike_k ?? 12;
  const wSpike = opts.spike_window ?? 180;
  const minSpike = opts.spike_min_count ?? 30;
  const report: NaiveDqReport = {
    reordered: 0, duplicates_dropped: 0, rejected_indices: [], rejected_by_reason: {}, filled_bars: 0, missing_bars: 0,
    gaps: [], expected_bars: 0, outliers_sigma: 0, outliers_spike: 0, outlier_bars: 0,
  };
  const reject = (i: number, reason: string): void => {
    report.rejected_indices.push(i);
    report.rejected_by_reason[reason] = (report.rejected_by_reason[reason] ?? 0) + 1;
  };
  if (input.length === 0) return { bars: [], report };
  const d = TF[input[0]!.timeframe];

  // 1. parse + order
  let entries: { i: number; ms: number; bar: CanonicalBar }[] = [];
  let maxSeen = -Infinity;
  input.forEach((bar, i) => {
    const ms = parse(bar.ts_utc);
    if (Number.isNaN(ms)) return reject(i, 'DATA_DQ_TSFMT');
    if (ms % d !== 0) return reject(i, 'DATA_DQ_ALIGN');
    if (ms < maxSeen) report.reordered++;
    maxSeen = Math.max(maxSeen, ms);
    entries.push({ i, ms, bar });
  });
  entries.sort((a, b) => a.ms - b.ms); // Array.prototype.sort is stable
  // 2. duplicates: latest in input order wins
  const byTs = new Map<number, { i: number; ms: number; bar: CanonicalBar }>();
  for (const e of entries) {
    const prev = byTs.get(e.ms);
    if (prev) report.duplicates_dropped++;
    if (!prev || prev.i < e.i) byTs.set(e.ms, e);
  }
  entries = [...byTs.values()].sort((a, b) => a.ms - b.ms);
  // 3. prices
  entries = entries.filter((e) => {
    const r = priceReason(e.bar);
    if (r) reject(e.i, r);
    return r === null;
  });
  report.rejected_indices.sort((a, b) => a - b);
  // 4. gaps
  type Row = { ms: number; bar: CanonicalBar; synth: boolean; afterGap: boolean };
  const rows: Row[] = [];
  entries.forEach((e, k) => {
    if (k > 0) {
      const prev = entries[k - 1]!;
      const missing = gridBetween(prev.ms, e.ms, d, opts.calendar);
      if (missing.length > 0 && missing.length <= maxRun) {
        let open = prev.bar.close;
        missing.forEach((t, j) => {
          const close = prev.bar.close + ((e.bar.close - prev.bar.close) * (j + 1)) / (missing.length + 1);
          rows.push({
            ms: t,
            synth: true,
            afterGap: false,
            bar: {
              ts_utc: new Date(t).toISOString(), symbol: prev.bar.symbol, timeframe: prev.bar.timeframe, open,
              high: Math.max(open, close), low: Math.min(open, close), close, volume: null, quality_flag: 'resampled',
              source_id: prev.bar.source_id, ingest_run_id: e.bar.ingest_run_id, metadata: { dq_fill: 'interpolated' },
            },
          });
          open = close;
        });
        report.filled_bars += missing.length;
      } else if (missing.length > maxRun) {
        report.gaps.push({ fromMs: missing[0]!, toMs: e.ms, bars: missing.length });
        report.missing_bars += missing.length;
      }
      rows.push({ ms: e.ms, bar: e.bar, synth: e.bar.metadata?.dq_fill === 'interpolated', afterGap: missing.length > maxRun });
    } else rows.push({ ms: e.ms, bar: e.bar, synth: e.bar.metadata?.dq_fill === 'interpolated', afterGap: false });
  });
  if (rows.length > 0) {
    for (let t = rows[0]!.ms; t <= rows[rows.length - 1]!.ms; t += d) if (trading(t, opts.calendar)) report.expected_bars++;
  }
  // 5 + 6. outliers and spikes, statistics recomputed from scratch per bar
  const rets: number[] = [];
  const deltas: number[] = [];
  const out: CanonicalBar[] = [];
  rows.forEach((row, k) => {
    const b = row.bar;
    let verdict: 'sigma' | 'spike' | null = null;
    const judged = k > 0 && !row.synth && b.quality_flag !== 'outlier' && !row.afterGap;
    if (judged) {
      const pc = rows[k - 1]!.bar.close;
      const r = Math.log(b.close / pc);
      const dl = Math.abs(b.close - pc);
      const sw = rets.slice(-wSigma);
      if (sw.length >= minSigma) {
        const s = std(sw);
        if (s > 0 && Math.abs(r) > kSigma * s) verdict = 'sigma';
      }
      const mw = deltas.slice(-wSpike);
      if (!verdict && mw.length >= minSpike) {
        const m = median(mw);
        if (m > 0 && dl > kSpike * m) verdict = 'spike';
      }
      if (!verdict) {
        rets.push(r);
        deltas.push(dl);
      }
    }
    if (verdict) {
      if (verdict === 'sigma') report.outliers_sigma++;
      else report.outliers_spike++;
      out.push({ ...b, quality_flag: 'outlier', metadata: { ...b.metadata, dq_reason: verdict } });
    } else out.push(b);
    if (out[out.length - 1]!.quality_flag === 'outlier') report.outlier_bars++;
  });
  return { bars: out, report };
}
