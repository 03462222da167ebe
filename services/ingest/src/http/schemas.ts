import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { z } from 'zod';
import type { Timeframe } from '@noctria/canonical-bar';
import type { BackfillRequest } from '../pipeline/backfill.service.js';
import type { ExportRequest, ExportResult } from '../pipeline/export.service.js';
import { parseTimeZoneSpec, type ImportRequest, type ImportSummary } from '../pipeline/import.service.js';

const timeframe = z.enum(['1m', '5m', '15m', '1h', '4h', '1d']);
const symbol = z.string().regex(/^[A-Z0-9]{1,32}$/, 'canonical symbol (A-Z0-9)');

export const backfillBodySchema = z
  .object({
    symbols: z.array(symbol).min(1).max(500).optional(),
    timeframes: z.array(timeframe).min(1).optional(),
    from: z.string().datetime().optional(),
    to: z.string().datetime().optional(),
    chunk_bars: z.number().int().min(10).max(50_000).optional(),
  })
  .refine((b) => !b.from || !b.to || Date.parse(b.from) < Date.parse(b.to), 'from must be before to');

export function toBackfillRequest(b: z.output<typeof backfillBodySchema>): BackfillRequest {
  return {
    ...(b.symbols ? { symbols: b.symbols } : {}),
    ...(b.timeframes ? { timeframes: b.timeframes as Timeframe[] } : {}),
    ...(b.from ? { fromMs: Date.parse(b.from) } : {}),
    ...(b.to ? { toMs: Date.parse(b.to) } : {}),
    ...(b.chunk_bars ? { chunkBars: b.chunk_bars } : {}),
  };
}

const column = z.string().min(1).max(64);
export const importBodySchema = z.object({
  path: z.string().min(1),
  symbol: symbol.optional(),
  timeframe: timeframe.optional(),
  format: z.enum(['auto', 'mt5', 'histdata', 'csv']).optional(),
  source_id: z.string().regex(/^[a-z0-9_-]{1,64}$/).optional(),
  /** Wall-clock zone of the file: UTC, +02:00, or an IANA zone. */
  time_zone: z.string().min(1).max(64).optional(),
  /** Generic CSV column mapping (default: derived from the header). */
  columns: z
    .object({
      ts: column.optional(),
      date: column.optional(),
      time: column.optional(),
      open: column,
      high: column,
      low: column,
      close: column,
      volume: column.optional(),
      ts_format: z.string().min(1).max(64).optional(),
      delimiter: z.string().min(1).max(4).optional(),
    })
    .refine((c) => c.ts !== undefined || c.date !== undefined, 'a ts column or a date (+ time) column is needed')
    .optional(),
});

export function toImportRequest(b: z.output<typeof importBodySchema>): ImportRequest {
  const c = b.columns;
  return {
    path: b.path,
    ...(b.symbol ? { symbol: b.symbol } : {}),
    ...(b.timeframe ? { timeframe: b.timeframe } : {}),
    ...(b.format ? { format: b.format } : {}),
    ...(b.source_id ? { sourceId: b.source_id } : {}),
    ...(b.time_zone ? { timeZone: parseTimeZoneSpec(b.time_zone) } : {}),
    ...(c
      ? {
          columns: {
            open: c.open,
            high: c.high,
            low: c.low,
            close: c.close,
            ...(c.ts ? { ts: c.ts } : {}),
            ...(c.date ? { date: c.date } : {}),
            ...(c.time ? { time: c.time } : {}),
            ...(c.volume ? { volume: c.volume } : {}),
            ...(c.ts_format ? { tsFormat: c.ts_format } : {}),
            ...(c.delimiter ? { delimiter: c.delimiter } : {}),
          },
        }
      : {}),
  };
}

/** Export of one series into the partition layout under the artefact root (rpc.ingest.export, POST /ingest/export). */
export const exportBodySchema = z
  .object({
    symbol,
    timeframe,
    from: z.string().datetime().optional(),
    to: z.string().datetime().optional(),
    format: z.enum(['parquet', 'csv']).optional(),
    exclude_quarantined: z.boolean().optional(),
  })
  .refine((b) => !b.from || !b.to || Date.parse(b.from) < Date.parse(b.to), 'from must be before to');

export function toExportRequest(b: z.output<typeof exportBodySchema>): ExportRequest {
  return {
    symbol: b.symbol,
    timeframe: b.timeframe,
    ...(b.from ? { fromMs: Date.parse(b.from) } : {}),
    ...(b.to ? { toMs: Date.parse(b.to) } : {}),
    ...(b.format ? { format: b.format } : {}),
    ...(b.exclude_quarantined !== undefined ? { excludeQuarantined: b.exclude_quarantined } : {}),
  };
}

/** The reply of an export: the manifest (its reference relative to the artefact root and its sha256) and a summary. */
export function exportReply(r: ExportResult) {
  return {
    manifest_ref: r.manifestRef,
    manifest_sha256: r.manifestSha256,
    format: r.format,
    from: r.from,
    to: r.to,
    bars: r.bars,
    files: r.files,
    excluded_months: r.excludedMonths,
    months: r.months,
  };
}

export const barsQuerySchema = z.object({
  symbol,
  timeframe,
  from: z.string().datetime().optional(),
  to: z.string().datetime().optional(),
  limit: z.coerce.number().int().min(1).max(10_000).default(1000),
  /** Opaque cursor: the ts_utc of the last bar of the previous page. */
  cursor: z.string().datetime().optional(),
});

export class BackfillBodyDto {
  @ApiPropertyOptional({ type: [String], example: ['XAUUSD', 'XAGUSD'] }) symbols?: string[];
  @ApiPropertyOptional({ type: [String], example: ['1h'] }) timeframes?: string[];
  @ApiPropertyOptional({ format: 'date-time' }) from?: string;
  @ApiPropertyOptional({ format: 'date-time' }) to?: string;
  @ApiPropertyOptional() chunk_bars?: number;
}

export class ExportBodyDto {
  @ApiProperty({ example: 'XAUUSD' }) symbol!: string;
  @ApiProperty({ example: '1h' }) timeframe!: string;
  @ApiPropertyOptional({ format: 'date-time', description: 'default: the first stored bar' }) from?: string;
  @ApiPropertyOptional({ format: 'date-time', description: 'default: after the last stored bar' }) to?: string;
  @ApiPropertyOptional({ enum: ['parquet', 'csv'] }) format?: string;
  @ApiPropertyOptional({ description: 'leave bar files of quarantined months out (default true)' }) exclude_quarantined?: boolean;
}

export class ImportBodyDto {
  @ApiProperty({ example: '/data/imports/XAUUSD_H1.csv' }) path!: string;
  @ApiPropertyOptional() symbol?: string;
  @ApiPropertyOptional() timeframe?: string;
  @ApiPropertyOptional({ enum: ['auto', 'mt5', 'histdata', 'csv'] }) format?: string;
  @ApiPropertyOptional() source_id?: string;
  @ApiPropertyOptional({ example: 'Europe/Athens', description: 'UTC, +02:00, or an IANA zone (default UTC; HistData: EST)' }) time_zone?: string;
  @ApiPropertyOptional({ type: 'object', additionalProperties: true, description: 'CSV column mapping {ts|date,time, open, high, low, close, volume?, ts_format?, delimiter?}; default from the header' })
  columns?: Record<string, string>;
}

/** The reply of an import: the run, its totals and the rejected rows with their file lines. */
export function importReply(r: ImportSummary) {
  return {
    run_id: r.runId,
    status: r.status,
    symbol: r.symbol,
    timeframe: r.timeframe,
    format: r.format,
    chunks: r.chunks ?? 0,
    accepted: r.accepted ?? 0,
    result: r.result ?? null,
    rejected_rows: (r.rejectedRows ?? []).map((x) => ({ line: x.line, error_id: x.errorId, reason: x.reason })),
    error: r.error ?? null,
  };
}
