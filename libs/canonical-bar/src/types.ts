/**
 * Canonical market data shapes (seed 003, "データソース抽象化レイヤ v1").
 * Prices are IEEE-754 doubles carried with at least 6 decimals; `volume` is nullable because
 * FX/index feeds have no volume and 0 must never stand in for "unknown".
 */
export const QUALITY_FLAGS = ['ok', 'missing', 'outlier', 'resampled', 'conflict', 'stale', 'revised'] as const;
export type QualityFlag = (typeof QUALITY_FLAGS)[number];

/** Timeframes the library knows how to do math for; the configured `timeframe_allowed` narrows this set. */
export const KNOWN_TIMEFRAMES = ['1m', '5m', '15m', '1h', '4h', '1d'] as const;
export type Timeframe = (typeof KNOWN_TIMEFRAMES)[number];

export interface BarMetadata {
  symbol_source?: string;
  source_latency_ms?: number;
  provider_version?: string;
  ingest_seq?: number;
  [key: string]: unknown;
}

export interface CanonicalBar {
  /** Bar open time, RFC3339 UTC with milliseconds, e.g. 2025-11-03T12:00:00.000Z. */
  ts_utc: string;
  symbol: string;
  timeframe: Timeframe;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number | null;
  quality_flag: QualityFlag;
  source_id: string;
  ingest_run_id: string;
  metadata: BarMetadata;
}

export interface CanonicalTick {
  ts_utc: string;
  symbol: string;
  bid: number | null;
  ask: number | null;
  mid: number | null;
  size: number | null;
  metadata: Record<string, unknown>;
}
