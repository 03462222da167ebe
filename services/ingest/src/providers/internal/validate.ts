/**
 * Structural checks an adapter applies before handing a bar on. Returns the reason a bar is invalid, or null.
 * (Semantic DQ — gaps, spikes, outliers — is the pipeline's job, not the adapter's.)
 */
export interface OhlcvLike {
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number | null;
}

export function ohlcProblem(b: OhlcvLike): string | null {
  for (const k of ['open', 'high', 'low', 'close'] as const) {
    const v = b[k];
    if (typeof v !== 'number' || !Number.isFinite(v)) return `${k} is not a finite number`;
    if (v <= 0) return `${k} must be > 0 (got ${v})`;
  }
  if (b.high < b.low) return `high ${b.high} < low ${b.low}`;
  if (b.high < Math.max(b.open, b.close)) return `high ${b.high} below open/close`;
  if (b.low > Math.min(b.open, b.close)) return `low ${b.low} above open/close`;
  if (b.volume !== null && (!Number.isFinite(b.volume) || b.volume < 0)) return `volume ${b.volume} invalid`;
  return null;
}

const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** Parses a decimal string exactly as `Number(str)` would, refusing empty/garbage strings (Number('') is 0). */
export function parseDecimal(raw: unknown): number | null {
  if (typeof raw === 'number') return Number.isFinite(raw) ? raw : null;
  if (typeof raw !== 'string') return null;
  const s = raw.trim();
  if (!DECIMAL.test(s)) return null;
  const n = Number(s);
  return Number.isFinite(n) ? n : null;
}
