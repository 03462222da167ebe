/**
 * `noctria bars export`: a thin shell over the ingest ExportService (the one exporter, also behind
 * rpc.ingest.export): canonical bars of one series in the seed 003 partition layout
 * `{out}/{timeframe}/{symbol}/{YYYY}/{YYYY-MM}/{symbol}_{YYYY-MM-DD}.{parquet|csv}` with `__meta.json`,
 * `__quarantine.json` and a manifest. The CLI adds the pipeline_policy window parameters and progress.
 */
import { windowParamsFromPolicy, type ExportFormat, type ExportResult, type IngestRuntime } from '@noctria/ingest';
import type { PipelinePolicy } from '@noctria/policy';
import type { Progress } from '../progress.js';

export interface BarsExportRequest {
  symbol: string;
  timeframe: string;
  /** Default: the first stored bar. */
  fromMs?: number;
  /** Default: one bar after the last stored bar. */
  toMs?: number;
  format: ExportFormat;
  outDir: string;
  /** Leave the bar files of quarantined months out (their __meta.json/__quarantine.json are still written). */
  excludeQuarantined: boolean;
}

export async function exportBars(rt: IngestRuntime, pipelinePolicy: PipelinePolicy, req: BarsExportRequest, progress?: Progress): Promise<ExportResult> {
  try {
    return await rt.exports.export({
      symbol: req.symbol,
      timeframe: req.timeframe,
      ...(req.fromMs !== undefined ? { fromMs: req.fromMs } : {}),
      ...(req.toMs !== undefined ? { toMs: req.toMs } : {}),
      format: req.format,
      excludeQuarantined: req.excludeQuarantined,
      root: req.outDir,
      windowParams: windowParamsFromPolicy(pipelinePolicy, req.timeframe),
      ...(progress ? { onProgress: (p: { done: number; total: number; detail: string }) => progress.update(p) } : {}),
    });
  } finally {
    progress?.stop();
  }
}

export function humanExport(r: ExportResult): string[] {
  return [
    ...r.months.map((m) => `  ${m.dir}: ${m.files} file(s), ${m.bars} bars${m.quarantined ? ` — QUARANTINED${m.excluded ? ' (bars excluded)' : ''}` : ''}`),
    `exported ${r.bars} ${r.symbol} ${r.timeframe} bars into ${r.files} ${r.format} file(s) under ${r.root}`,
    `manifest ${r.manifestRef} sha256 ${r.manifestSha256}`,
  ];
}
