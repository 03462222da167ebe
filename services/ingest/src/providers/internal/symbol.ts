import { normalizeSymbol } from '@noctria/canonical-bar';

/**
 * Canonical symbol form (XAU/USD, xau_usd, ＸＡＵ／ＵＳＤ → XAUUSD) via `@noctria/canonical-bar`'s normalizeSymbol.
 * Never throws: a spelling that normalises to nothing valid comes back in the plain upper-case/stripped form,
 * so the caller's own validation reports it as a rejected row instead of crashing a stream handler.
 */
export function canonicalSymbol(symbol: string): string {
  try {
    return normalizeSymbol(symbol);
  } catch {
    return String(symbol).trim().toUpperCase().replace(/[^A-Z0-9]/g, '');
  }
}
