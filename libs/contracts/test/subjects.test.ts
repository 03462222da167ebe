import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { ContractError, filterCovers, filtersOverlap, isValidSubject, subjectMatches, subjects } from '../src/index.js';

// ---- brute-force oracle over a tiny alphabet ('c' stands for "any other token") ----
const ALPHABET = ['a', 'b', 'c'];
function concreteSubjects(maxLen: number): string[] {
  const out: string[] = [];
  let level: string[][] = [[]];
  for (let len = 1; len <= maxLen; len++) {
    level = level.flatMap((prefix) => ALPHABET.map((t) => [...prefix, t]));
    out.push(...level.map((t) => t.join('.')));
  }
  return out;
}
const ALL = concreteSubjects(5);
/** Reference matcher written as a regular expression, independent of subjectMatches. */
function oracleMatch(filter: string, subject: string): boolean {
  const re = filter
    .split('.')
    .map((t) => (t === '*' ? '[^.]+' : t === '>' ? '[^.]+(?:\\.[^.]+)*' : t))
    .join('\\.');
  return new RegExp(`^${re}$`).test(subject);
}
const filterArb = fc
  .array(fc.constantFrom('a', 'b', '*'), { minLength: 1, maxLength: 3 })
  .chain((tokens) => fc.boolean().map((tail) => (tail ? [...tokens.slice(0, -1), '>'] : tokens).join('.')));

describe('NATS wildcard matching', () => {
  it('agrees with a regex oracle on concrete subjects', () => {
    fc.assert(
      fc.property(filterArb, fc.constantFrom(...ALL), (f, s) => {
        expect(subjectMatches(f, s)).toBe(oracleMatch(f, s));
      }),
      { numRuns: 2000 },
    );
  });

  it('filtersOverlap ⇔ some concrete subject matches both', () => {
    fc.assert(
      fc.property(filterArb, filterArb, (x, y) => {
        const witness = ALL.some((s) => oracleMatch(x, s) && oracleMatch(y, s));
        expect(filtersOverlap(x, y)).toBe(witness);
        expect(filtersOverlap(y, x)).toBe(witness);
      }),
      { numRuns: 1000 },
    );
  });

  it('filterCovers ⇔ every subject of the specific filter matches the general one', () => {
    fc.assert(
      fc.property(filterArb, filterArb, (g, s) => {
        const covered = ALL.filter((x) => oracleMatch(s, x)).every((x) => oracleMatch(g, x));
        expect(filterCovers(g, s)).toBe(covered);
      }),
      { numRuns: 1000 },
    );
  });

  it('handles the documented NATS examples', () => {
    expect(subjectMatches('md.>', 'md.bar.1h.XAUUSD')).toBe(true);
    expect(subjectMatches('md.>', 'md')).toBe(false);
    expect(subjectMatches('md.bar.*.XAUUSD', 'md.bar.1h.XAUUSD')).toBe(true);
    expect(subjectMatches('md.bar.*', 'md.bar.1h.XAUUSD')).toBe(false);
    expect(isValidSubject('md.bar.>', true)).toBe(true);
    expect(isValidSubject('md.>.bar', true)).toBe(false);
    expect(isValidSubject('md.bar.*', false)).toBe(false);
    expect(isValidSubject('md..bar', true)).toBe(false);
  });
});

describe('subject builders', () => {
  const s = subjects();
  it('builds every family without prefix', () => {
    expect(s.barClosed('1h', 'XAUUSD')).toBe('md.bar.1h.XAUUSD');
    expect(s.barStale('15m', 'XAGUSD')).toBe('md.stale.15m.XAGUSD');
    expect(s.features('4h', 'XAUUSD_XAGUSD')).toBe('feat.4h.XAUUSD_XAGUSD');
    expect(s.signal('XAUUSD_XAGUSD')).toBe('sig.XAUUSD_XAGUSD');
    expect(s.execOrder('EURUSD_GBPUSD')).toBe('exec.order.EURUSD_GBPUSD');
    expect(s.execFill('EURUSD_GBPUSD')).toBe('exec.fill.EURUSD_GBPUSD');
    expect(s.opsFlags()).toBe('ops.flags');
    expect(s.btRun('0b5c6a0e-1f7e-4c38-9d1e-6c5b8a9d7e21')).toBe('bt.run.0b5c6a0e-1f7e-4c38-9d1e-6c5b8a9d7e21');
    expect(s.configApplied('core_policy')).toBe('config.applied.core_policy');
    expect(s.deadLetter('features-bars')).toBe('dlq.features-bars');
    expect(s.rpc('ingest', 'backfill')).toBe('rpc.ingest.backfill');
    expect(s.allRpc()).toEqual(expect.arrayContaining(['rpc.ingest.backfill', 'rpc.ingest.export', 'rpc.ingest.status']));
  });

  it('builds wildcard filters', () => {
    expect(s.barClosedFilter()).toBe('md.bar.*.*');
    expect(s.barClosedFilter('1h')).toBe('md.bar.1h.*');
    expect(s.featuresFilter(undefined, 'XAUUSD_XAGUSD')).toBe('feat.*.XAUUSD_XAGUSD');
    expect(s.rpcFilter('ingest')).toBe('rpc.ingest.*');
    expect(s.root('md')).toBe('md.>');
    expect(subjectMatches(s.barClosedFilter('1h'), s.barClosed('1h', 'XAUUSD'))).toBe(true);
    expect(subjectMatches(s.barClosedFilter('1h'), s.barStale('1h', 'XAUUSD'))).toBe(false);
  });

  it('applies a test prefix to every subject', () => {
    const t = subjects('t1a2b.');
    expect(t.barClosed('1h', 'XAUUSD')).toBe('t1a2b.md.bar.1h.XAUUSD');
    expect(t.rpc('ingest', 'status')).toBe('t1a2b.rpc.ingest.status');
    expect(t.deadLetter('x')).toBe('t1a2b.dlq.x');
    expect(t.allRpc().every((x) => x.startsWith('t1a2b.rpc.'))).toBe(true);
    expect(subjects('a.b.').opsFlags()).toBe('a.b.ops.flags');
  });

  it('rejects tokens that are not NATS-token-safe', () => {
    for (const bad of ['', 'XAU.USD', 'XAU USD', '*', '>', 'XAU/USD', 'XAU\tUSD', 'ü']) {
      expect(() => s.barClosed('1h', bad)).toThrow(ContractError);
    }
    expect(() => s.barClosed('1.5h', 'XAUUSD')).toThrow(/timeframe must be a NATS subject token/);
    expect(() => s.signal('A.B')).toThrow(/pair_id/);
    expect(() => s.configApplied('core_policy.yaml')).toThrow(/config name/);
    expect(() => s.barClosedFilter('1h', '>')).toThrow(/symbol/);
  });

  it('property: any token-safe input produces a subject with the expected token count', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Za-z0-9_-]{1,12}$/), fc.stringMatching(/^[A-Za-z0-9_-]{1,12}$/), (tf, sym) => {
        const subj = s.barClosed(tf, sym);
        expect(isValidSubject(subj)).toBe(true);
        expect(subj.split('.')).toEqual(['md', 'bar', tf, sym]);
      }),
    );
  });

  it('rejects malformed prefixes and prefixes that collide with subject roots', () => {
    for (const bad of ['t1', '.t1.', 't1..', 't 1.', 'md.', 'rpc.x.']) expect(() => subjects(bad)).toThrow(/prefix/);
  });
});
