import { CanonicalBarError, DQ_ERROR, describeValue } from './errors.js';
import type { BarMetadata } from './types.js';

/** Maximum length of a canonical symbol. */
export const SYMBOL_MAX_LENGTH = 32;

/** Canonical symbol: 1..32 characters, each `A-Z` or `0-9` (no separators, no lower case). */
export function isCanonicalSymbol(s: unknown): s is string {
  if (typeof s !== 'string') return false;
  const n = s.length;
  if (n === 0 || n > SYMBOL_MAX_LENGTH) return false;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (!((c >= 65 && c <= 90) || (c >= 48 && c <= 57))) return false;
  }
  return true;
}

/**
 * Provider spelling → canonical symbol: Unicode NFKC (full-width `ＸＡＵ／ＵＳＤ` becomes ASCII), upper case,
 * then every character outside `A-Z0-9` (separators `/ - _ . :` and spaces, and anything else) is removed.
 * `normalizeSymbol('XAU/USD') === 'XAUUSD'`, `normalizeSymbol('eur_usd') === 'EURUSD'`.
 * Throws {@link CanonicalBarError} `DATA_DQ_SYMBOL` when nothing (or more than 32 characters) remains.
 */
export function normalizeSymbol(raw: string): string {
  const input: unknown = raw;
  if (typeof input !== 'string') {
    throw new CanonicalBarError(DQ_ERROR.SYMBOL, `symbol must be a string, got ${describeValue(raw)}`);
  }
  if (isCanonicalSymbol(input)) return input;
  const out = raw.normalize('NFKC').toUpperCase().replace(/[^A-Z0-9]/g, '');
  if (out.length === 0 || out.length > SYMBOL_MAX_LENGTH) {
    throw new CanonicalBarError(
      DQ_ERROR.SYMBOL,
      `symbol ${describeValue(raw)} normalises to ${describeValue(out)}, which is not 1..${SYMBOL_MAX_LENGTH} characters of A-Z0-9`,
    );
  }
  return out;
}

/**
 * Canonical symbol plus metadata carrying the provider spelling in `metadata.symbol_source`
 * (the given metadata is copied, not mutated).
 */
export function canonicalizeSymbol(raw: string, metadata: BarMetadata = {}): { symbol: string; metadata: BarMetadata } {
  return { symbol: normalizeSymbol(raw), metadata: { ...metadata, symbol_source: raw } };
}
