import { createHash } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import {
  barChecksum,
  barIdempotencyKey,
  canonicalBarString,
  idempotencyKey,
  seriesKey,
  verifyChecksum,
  withChecksum,
  type CanonicalBar,
} from '../src/index.js';
import { bar, validBarArb } from './fixtures.js';

describe('idempotency key', () => {
  it('is (source, symbol, timeframe, ts_utc) joined with |', () => {
    expect(idempotencyKey('twelvedata', 'XAUUSD', '1h', '2025-11-03T12:00:00.000Z')).toBe('twelvedata|XAUUSD|1h|2025-11-03T12:00:00.000Z');
    const b = bar({ ts_utc: '2025-11-03T12:00:00.000Z' });
    expect(barIdempotencyKey(b)).toBe('twelvedata|XAUUSD|1h|2025-11-03T12:00:00.000Z');
    expect(seriesKey(b)).toBe('XAUUSD|1h|2025-11-03T12:00:00.000Z');
  });

  it('distinct (source, symbol, timeframe, ts) give distinct keys', () => {
    fc.assert(
      fc.property(validBarArb('1h'), validBarArb('1h'), (a, b) => {
        const same = a.source_id === b.source_id && a.symbol === b.symbol && a.timeframe === b.timeframe && a.ts_utc === b.ts_utc;
        expect(barIdempotencyKey(a) === barIdempotencyKey(b)).toBe(same);
      }),
    );
  });
});

describe('checksum', () => {
  it('hashes the documented serialisation (values from `printf %s ... | sha256sum`)', () => {
    const b = bar({ ts_utc: '2025-11-03T12:00:00.000Z', open: 2000.5, high: 2001.25, low: 1999.75, close: 2000.1, volume: null });
    expect(canonicalBarString(b)).toBe('cbar-v1|XAUUSD|1h|2025-11-03T12:00:00.000Z|2000.5|2001.25|1999.75|2000.1|null');
    expect(barChecksum(b)).toBe('05a9cd213a38a0bf3146f6c63910e8e1509514c7f2ee3ff6fbde6c462dd01202');
    const e = bar({ symbol: 'EURUSD', timeframe: '1m', ts_utc: '2025-01-02T03:04:00.000Z', open: 1.0845, high: 1.0851, low: 1.084, close: 1.0849, volume: 1250 });
    expect(barChecksum(e)).toBe('244b4e6a99e1cfd45c464c3c402fde81c76fe65d566f5a33dff3697dd975088d');
  });

  it('depends on market content only, and on every content field', () => {
    fc.assert(
      fc.property(validBarArb('5m'), fc.constantFrom('open', 'high', 'low', 'close', 'volume', 'symbol', 'ts_utc'), (b, field) => {
        const sum = barChecksum(b);
        expect(sum).toBe(createHash('sha256').update(canonicalBarString(b)).digest('hex'));
        const other: CanonicalBar = { ...b, quality_flag: 'revised', source_id: 'other', ingest_run_id: 'r2', metadata: { x: 1 } };
        expect(barChecksum(other)).toBe(sum);
        const changed =
          field === 'symbol' ? { ...b, symbol: `${b.symbol}Z` }
          : field === 'ts_utc' ? { ...b, ts_utc: new Date(Date.parse(b.ts_utc) + 300_000).toISOString() }
          : field === 'volume' ? { ...b, volume: b.volume === null ? 0 : null }
          : { ...b, [field]: (b[field] as number) * 2 };
        expect(barChecksum(changed)).not.toBe(sum);
      }),
    );
  });

  it('withChecksum / verifyChecksum', () => {
    const b = withChecksum(bar());
    expect(b.metadata.checksum).toBe(barChecksum(bar()));
    expect(verifyChecksum(b)).toBe(true);
    expect(verifyChecksum({ ...b, close: 100.6 })).toBe(false);
  });
});
