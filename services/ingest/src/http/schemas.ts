import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { z } from 'zod';
import type { Timeframe } from '@noctria/canonical-bar';
import type { BackfillRequest } from '../pipeline/backfill.service.js';
import type { ExportRequest, ExportResult } from '../pipeline/export.service.js';

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

export const importBodySchema = z.object({
  path: z.string().min(1),
  symbol: symbol.optional(),
  timeframe: timeframe.optional(),
  format: z.enum(['auto', 'mt5', 'histdata', 'csv']).optional(),
  source_id: z.string().regex(/^[a-z0-9_-]{1,64}$/).optional(),
});

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
}
