import type { CanonicalBar } from '@noctria/canonical-bar';

export const H = 3_600_000;
/** Monday 2024-01-01T00:00:00.000Z (new Date(Date.UTC(2024, 0, 1)).getUTCDay() === 1). */
export const MONDAY = Date.UTC(2024, 0, 1);

/** A 1h canonical bar with open = previous-ish close: high/low bracket open and close. */
export function cbar(ms: number, close: number, symbol = 'XAUUSD', extra: Partial<CanonicalBar> = {}): CanonicalBar {
  const open = extra.open ?? close;
  return {
    ts_utc: new Date(ms).toISOString(),
    symbol,
    timeframe: '1h',
    open,
    high: Math.max(open, close),
    low: Math.min(open, close),
    close,
    volume: null,
    quality_flag: 'ok',
    source_id: 'test',
    ingest_run_id: 'run-1',
    metadata: {},
    ...extra,
  };
}

/** Hourly bars at MONDAY + h·H for each (h, close). */
export function legBars(points: [number, number][], symbol: string): CanonicalBar[] {
  return points.map(([h, c]) => cbar(MONDAY + h * H, c, symbol));
}
