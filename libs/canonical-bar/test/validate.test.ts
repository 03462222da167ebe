import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import {
  CanonicalBarError,
  DQ_ERROR,
  ERROR_ID_PATTERN,
  createBarValidator,
  tickPrice,
  validateBar,
  validateBars,
  validateTick,
  type CanonicalBar,
  type CanonicalTick,
  type Timeframe,
} from '../src/index.js';
import { bar, validBarArb } from './fixtures.js';

const ALL: Timeframe[] = ['1m', '5m', '15m', '1h', '4h', '1d'];
const OPTS = { timeframe_allowed: ALL };

function ids(r: ReturnType<typeof validateBar>): string[] {
  return r.ok ? [] : r.issues.map((i) => i.errorId);
}

type Mutation = { name: string; errorId: string; apply: (b: CanonicalBar) => unknown };

/** Each corruption and the error id it must produce. */
const MUTATIONS: Mutation[] = [
  { name: 'ts without ms', errorId: 'DATA_DQ_TSFMT', apply: (b) => ({ ...b, ts_utc: b.ts_utc.replace(/\.\d{3}Z$/, 'Z') }) },
  { name: 'ts with offset', errorId: 'DATA_DQ_TSFMT', apply: (b) => ({ ...b, ts_utc: b.ts_utc.replace('Z', '+00:00') }) },
  { name: 'ts as number', errorId: 'DATA_DQ_TSFMT', apply: (b) => ({ ...b, ts_utc: Date.parse(b.ts_utc) }) },
  { name: 'ts misaligned', errorId: 'DATA_DQ_ALIGN', apply: (b) => ({ ...b, ts_utc: new Date(Date.parse(b.ts_utc) + 1).toISOString() }) },
  { name: 'symbol with separator', errorId: 'DATA_DQ_SYMBOL', apply: (b) => ({ ...b, symbol: `${b.symbol.slice(0, 3)}/${b.symbol.slice(3)}` }) },
  { name: 'symbol lower case', errorId: 'DATA_DQ_SYMBOL', apply: (b) => ({ ...b, symbol: `${b.symbol}x` }) },
  { name: 'symbol empty', errorId: 'DATA_DQ_SYMBOL', apply: (b) => ({ ...b, symbol: '' }) },
  { name: 'timeframe unknown', errorId: 'DATA_DQ_TFRAME', apply: (b) => ({ ...b, timeframe: '2h' }) },
  { name: 'low above open/close', errorId: 'DATA_DQ_OHLC', apply: (b) => ({ ...b, low: Math.max(b.open, b.close) * 1.01, high: Math.max(b.high, Math.max(b.open, b.close) * 1.02) }) },
  { name: 'high below open/close', errorId: 'DATA_DQ_OHLC', apply: (b) => ({ ...b, high: Math.min(b.open, b.close) * 0.99, low: Math.min(b.low, Math.min(b.open, b.close) * 0.98) }) },
  { name: 'zero open', errorId: 'DATA_DQ_NONPOS', apply: (b) => ({ ...b, open: 0 }) },
  { name: 'negative low', errorId: 'DATA_DQ_NONPOS', apply: (b) => ({ ...b, low: -b.low }) },
  { name: 'NaN close', errorId: 'DATA_DQ_NONFIN', apply: (b) => ({ ...b, close: Number.NaN }) },
  { name: 'infinite high', errorId: 'DATA_DQ_NONFIN', apply: (b) => ({ ...b, high: Number.POSITIVE_INFINITY }) },
  { name: 'price as string', errorId: 'DATA_DQ_FIELD', apply: (b) => ({ ...b, close: String(b.close) }) },
  { name: 'negative volume', errorId: 'DATA_DQ_VOLUME', apply: (b) => ({ ...b, volume: -1 }) },
  { name: 'NaN volume', errorId: 'DATA_DQ_VOLUME', apply: (b) => ({ ...b, volume: Number.NaN }) },
  { name: 'volume missing', errorId: 'DATA_DQ_FIELD', apply: (b) => ({ ...b, volume: undefined }) },
  { name: 'flag unknown', errorId: 'DATA_DQ_FLAG', apply: (b) => ({ ...b, quality_flag: 'good' }) },
  { name: 'source_id empty', errorId: 'DATA_DQ_FIELD', apply: (b) => ({ ...b, source_id: '' }) },
  { name: 'ingest_run_id missing', errorId: 'DATA_DQ_FIELD', apply: (b) => ({ ...b, ingest_run_id: undefined }) },
  { name: 'metadata null', errorId: 'DATA_DQ_FIELD', apply: (b) => ({ ...b, metadata: null }) },
  { name: 'metadata array', errorId: 'DATA_DQ_FIELD', apply: (b) => ({ ...b, metadata: [] }) },
  { name: 'metadata.symbol_source number', errorId: 'DATA_DQ_FIELD', apply: (b) => ({ ...b, metadata: { ...b.metadata, symbol_source: 1 } }) },
  { name: 'not an object', errorId: 'DATA_DQ_FIELD', apply: () => 'bar' },
];

describe('validateBar', () => {
  it('every error id has the platform format', () => {
    for (const id of Object.values(DQ_ERROR)) expect(id).toMatch(ERROR_ID_PATTERN);
  });

  it('accepts every bar built valid and returns the same object', () => {
    fc.assert(
      fc.property(fc.constantFrom(...ALL).chain(validBarArb), (b) => {
        const r = validateBar(b, OPTS);
        if (!r.ok) throw new Error(JSON.stringify(r.issues));
        expect(r.value).toBe(b);
      }),
      { numRuns: 1000 },
    );
  });

  it('rejects each kind of corruption with its error id', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...ALL).chain(validBarArb).filter((b) => b.symbol.length >= 2 && b.symbol.length <= 31),
        fc.constantFrom(...MUTATIONS),
        (b, m) => {
          const r = validateBar(m.apply(b), OPTS);
          expect(r.ok).toBe(false);
          expect(ids(r)).toContain(m.errorId);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('checks the timeframe against the configured allowed set', () => {
    const r = validateBar(bar({ timeframe: '1m' }), { timeframe_allowed: ['15m', '1h', '4h'] });
    expect(r).toEqual({
      ok: false,
      issues: [{ errorId: 'DATA_DQ_TFRAME', field: 'timeframe', message: 'timeframe "1m" is not in timeframe_allowed [15m, 1h, 4h]' }],
    });
    expect(validateBar(bar({ timeframe: '1h' }), { timeframe_allowed: ['15m', '1h', '4h'] }).ok).toBe(true);
  });

  it('reports every problem with a precise message', () => {
    const input = { ...bar(), ts_utc: '2025-11-03T12:00:00Z', symbol: 'XAU/USD', open: 0, low: 102, volume: -5, quality_flag: 'bad', source_id: '' };
    const r = validateBar(input, OPTS);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.issues).toEqual([
      { errorId: 'DATA_DQ_TSFMT', field: 'ts_utc', message: expect.stringContaining('"2025-11-03T12:00:00Z" is not RFC3339 UTC with milliseconds') },
      { errorId: 'DATA_DQ_SYMBOL', field: 'symbol', message: expect.stringContaining('symbol "XAU/USD" is not canonical') },
      { errorId: 'DATA_DQ_NONPOS', field: 'open', message: 'open must be > 0, got 0' },
      { errorId: 'DATA_DQ_VOLUME', field: 'volume', message: 'volume must be ≥ 0, got -5' },
      { errorId: 'DATA_DQ_FLAG', field: 'quality_flag', message: expect.stringContaining('quality_flag "bad" is not one of ok, missing') },
      { errorId: 'DATA_DQ_FIELD', field: 'source_id', message: 'source_id must be a non-empty string, got ""' },
    ]);
  });

  it('names every violated OHLC relation', () => {
    // open 100, close 100.5: low 101 is above open (100) and close (100.5); high 100.2 is below close.
    const r = validateBar(bar({ low: 101, high: 100.2 }), OPTS);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.issues.map((i) => i.message)).toEqual([
      'low 101 is above high 100.2',
      'low 101 is above open 100',
      'low 101 is above close 100.5',
      'high 100.2 is below close 100.5',
    ]);
  });

  it('null volume is valid and distinct from 0; alignment can be switched off', () => {
    expect(validateBar(bar({ volume: null }), OPTS).ok).toBe(true);
    expect(validateBar(bar({ volume: 0 }), OPTS).ok).toBe(true);
    const off = bar({ ts_utc: '2024-01-01T00:30:00.000Z' });
    expect(ids(validateBar(off, OPTS))).toEqual(['DATA_DQ_ALIGN']);
    expect(validateBar(off, { timeframe_allowed: ALL, check_alignment: false }).ok).toBe(true);
  });

  it('refuses invalid options by throwing (configuration error, not data)', () => {
    expect(() => createBarValidator({ timeframe_allowed: ['2h'] })).toThrow(CanonicalBarError);
    expect(() => createBarValidator({ timeframe_allowed: [] })).toThrow(/DATA_DQ_CONFIG/);
  });

  it('validateBars splits valid and invalid with input indices', () => {
    const r = validateBars([bar(), bar({ open: -1 }), bar()], OPTS);
    expect(r.valid).toHaveLength(2);
    expect(r.invalid.map((x) => [x.index, x.issues[0]!.errorId])).toEqual([[1, 'DATA_DQ_NONPOS']]);
  });
});

const tick = (p: Partial<CanonicalTick> = {}): CanonicalTick => ({
  ts_utc: '2025-11-03T12:34:56.789Z',
  symbol: 'EURUSD',
  bid: 1.1,
  ask: 1.1002,
  mid: null,
  size: null,
  metadata: {},
  ...p,
});

describe('validateTick / tickPrice', () => {
  it('accepts valid ticks', () => {
    expect(validateTick(tick()).ok).toBe(true);
    expect(validateTick(tick({ bid: null, ask: null, mid: 1.1 })).ok).toBe(true);
    expect(validateTick(tick({ size: 0 })).ok).toBe(true);
  });

  it.each([
    [{ ts_utc: '2025-11-03T12:34:56Z' }, 'DATA_DQ_TSFMT'],
    [{ symbol: 'eur/usd' }, 'DATA_DQ_SYMBOL'],
    [{ bid: 1.2, ask: 1.1 }, 'DATA_DQ_CROSS'],
    [{ ask: null }, 'DATA_DQ_NOPX'],
    [{ bid: null, ask: null, mid: null }, 'DATA_DQ_NOPX'],
    [{ bid: 0 }, 'DATA_DQ_NONPOS'],
    [{ mid: Number.NaN }, 'DATA_DQ_NONFIN'],
    [{ mid: undefined }, 'DATA_DQ_FIELD'],
    [{ size: -1 }, 'DATA_DQ_VOLUME'],
    [{ metadata: null }, 'DATA_DQ_FIELD'],
  ] as [Partial<CanonicalTick>, string][])('rejects %p with %s', (p, id) => {
    const r = validateTick(tick(p));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.issues.map((i) => i.errorId)).toContain(id);
  });

  it('price is mid, else the bid/ask midpoint', () => {
    expect(tickPrice(tick({ mid: 1.5 }))).toBe(1.5);
    expect(tickPrice(tick({ bid: 1, ask: 3 }))).toBe(2);
    expect(tickPrice(tick({ ask: null }))).toBeNull();
  });
});
