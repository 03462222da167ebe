import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { CanonicalBarError, canonicalizeSymbol, isCanonicalSymbol, normalizeSymbol } from '../src/index.js';

describe('symbols', () => {
  it.each([
    ['XAU/USD', 'XAUUSD'],
    ['eur_usd', 'EURUSD'],
    ['EUR-USD', 'EURUSD'],
    [' us500.cash ', 'US500CASH'],
    ['ＸＡＵ／ＵＳＤ', 'XAUUSD'], // full-width forms (NFKC)
    ['BTC:USDT', 'BTCUSDT'],
    ['XAUUSD', 'XAUUSD'],
  ])('normalizeSymbol(%j) = %j', (raw, canonical) => {
    expect(normalizeSymbol(raw)).toBe(canonical);
  });

  it('throws DATA_DQ_SYMBOL when nothing canonical remains', () => {
    expect(() => normalizeSymbol('///')).toThrow(CanonicalBarError);
    expect(() => normalizeSymbol('A'.repeat(33))).toThrow(/DATA_DQ_SYMBOL/);
  });

  it('canonicalizeSymbol keeps the provider spelling in metadata.symbol_source without mutating', () => {
    const meta = { provider_version: 'v2' };
    expect(canonicalizeSymbol('XAU/USD', meta)).toEqual({ symbol: 'XAUUSD', metadata: { provider_version: 'v2', symbol_source: 'XAU/USD' } });
    expect(meta).toEqual({ provider_version: 'v2' });
  });

  it('isCanonicalSymbol agrees with the regular expression ^[A-Z0-9]{1,32}$', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 40 }), fc.stringMatching(/^[A-Z0-9]{0,34}$/)), (s) => {
        expect(isCanonicalSymbol(s)).toBe(/^[A-Z0-9]{1,32}$/.test(s));
      }),
    );
  });

  it('normalizeSymbol output is canonical and normalisation is idempotent', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 20 }), (s) => {
        let out: string;
        try {
          out = normalizeSymbol(s);
        } catch (e) {
          expect((e as CanonicalBarError).errorId).toBe('DATA_DQ_SYMBOL');
          return;
        }
        expect(isCanonicalSymbol(out)).toBe(true);
        expect(normalizeSymbol(out)).toBe(out);
      }),
    );
  });
});
