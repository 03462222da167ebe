import { canonicalSymbol } from '../internal/symbol.js';

/**
 * Canonical ↔ TwelveData symbol mapping. Explicit entries win; otherwise a 6-letter FX/metal symbol
 * (XAUUSD, EURUSD) maps to `XAU/USD` form, and anything else is passed through unchanged.
 */
export class TwelveDataSymbolMap {
  private readonly toProvider = new Map<string, string>();
  private readonly toCanonical = new Map<string, string>();

  constructor(overrides: Record<string, string> = {}) {
    for (const [canonical, provider] of Object.entries(overrides)) {
      const c = canonicalSymbol(canonical);
      this.toProvider.set(c, provider);
      this.toCanonical.set(provider.toUpperCase(), c);
    }
  }

  provider(symbol: string): string {
    const c = canonicalSymbol(symbol);
    const explicit = this.toProvider.get(c);
    if (explicit) return explicit;
    if (/^[A-Z]{6}$/.test(c)) return `${c.slice(0, 3)}/${c.slice(3)}`;
    return c;
  }

  canonical(providerSymbol: string): string {
    return this.toCanonical.get(providerSymbol.toUpperCase()) ?? canonicalSymbol(providerSymbol);
  }
}
