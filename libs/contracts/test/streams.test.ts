import { describe, expect, it } from '@jest/globals';
import {
  DUPLICATE_WINDOW_MS,
  RPC_COMMANDS,
  STREAM_KEYS,
  consumerFor,
  filtersOverlap,
  streamName,
  streams,
  subjectMatches,
  subjects,
} from '../src/index.js';

const PREFIXES = ['', 't1a2b.', 'ci.run-7.'];

describe('stream definitions', () => {
  it('defines MD, FEAT, SIG, EXEC, OPS, BT, CONFIG, DLQ with a 2-minute duplicate window', () => {
    const defs = streams();
    expect(defs.map((d) => d.name)).toEqual(['MD', 'FEAT', 'SIG', 'EXEC', 'OPS', 'BT', 'CONFIG', 'DLQ']);
    expect(DUPLICATE_WINDOW_MS).toBe(120_000);
    for (const d of defs) {
      expect(d.duplicateWindowMs).toBe(120_000);
      expect(d.maxAgeMs).toBeGreaterThan(d.duplicateWindowMs);
      expect(d.storage).toBe('file');
    }
    expect(defs.find((d) => d.name === 'MD')?.subjects).toEqual(['md.>']);
    expect(defs.find((d) => d.name === 'BT')?.subjects).toEqual(['bt.>']);
    expect(defs.find((d) => d.name === 'DLQ')?.subjects).toEqual(['dlq.>']);
  });

  it('prefixes stream names in upper case and subjects verbatim', () => {
    expect(streamName('t1a2b.', 'MD')).toBe('T1A2B_MD');
    expect(streamName('ci.run-7.', 'DLQ')).toBe('CI_RUN-7_DLQ');
    const defs = streams('t1a2b.');
    expect(defs.map((d) => d.name)).toEqual(STREAM_KEYS.map((k) => `T1A2B_${k}`));
    expect(defs.every((d) => d.subjects.every((s) => s.startsWith('t1a2b.')))).toBe(true);
    expect(defs.every((d) => /^[A-Z0-9_-]+$/.test(d.name))).toBe(true);
  });

  it.each(PREFIXES)('stream subjects do not overlap each other (prefix %j)', (prefix) => {
    const all = streams(prefix).flatMap((d) => d.subjects.map((s) => ({ name: d.name, s })));
    for (let i = 0; i < all.length; i++) {
      for (let j = i + 1; j < all.length; j++) {
        const a = all[i]!;
        const b = all[j]!;
        expect({ pair: `${a.name}:${a.s} vs ${b.name}:${b.s}`, overlap: filtersOverlap(a.s, b.s) }).toEqual({
          pair: `${a.name}:${a.s} vs ${b.name}:${b.s}`,
          overlap: false,
        });
      }
    }
  });

  it('streams of different prefixes are disjoint', () => {
    for (const a of streams('')) for (const b of streams('t1a2b.')) for (const x of a.subjects) for (const y of b.subjects) expect(filtersOverlap(x, y)).toBe(false);
  });

  it.each(PREFIXES)('no request/reply subject is captured by a stream (prefix %j)', (prefix) => {
    const s = subjects(prefix);
    const filters = streams(prefix).flatMap((d) => d.subjects);
    const rpcs = [...s.allRpc(), s.rpc('ingest', 'backfill'), s.rpc('ingest', 'export'), s.rpc('ingest', 'status')];
    expect(rpcs.length).toBe(Object.values(RPC_COMMANDS).flat().length + 3);
    for (const r of rpcs) for (const f of filters) expect(subjectMatches(f, r)).toBe(false);
    for (const f of filters) expect(filtersOverlap(f, s.rpcFilter())).toBe(false);
  });

  it.each(PREFIXES)('every fact subject lands in exactly one stream (prefix %j)', (prefix) => {
    const s = subjects(prefix);
    const defs = streams(prefix);
    const expected: [string, string][] = [
      [s.barClosed('1h', 'XAUUSD'), 'MD'],
      [s.barStale('1h', 'XAUUSD'), 'MD'],
      [s.features('1h', 'XAUUSD_XAGUSD'), 'FEAT'],
      [s.signal('XAUUSD_XAGUSD'), 'SIG'],
      [s.execOrder('XAUUSD_XAGUSD'), 'EXEC'],
      [s.execFill('XAUUSD_XAGUSD'), 'EXEC'],
      [s.opsFlags(), 'OPS'],
      [s.btRun('r1'), 'BT'],
      [s.configApplied('core_policy'), 'CONFIG'],
      [s.deadLetter('features'), 'DLQ'],
    ];
    for (const [subject, key] of expected) {
      const owners = defs.filter((d) => d.subjects.some((f) => subjectMatches(f, subject))).map((d) => d.name);
      expect({ subject, owners }).toEqual({ subject, owners: [streamName(prefix, key as (typeof STREAM_KEYS)[number])] });
    }
  });
});

describe('consumerFor', () => {
  it('fills defaults and the dead-letter subject', () => {
    const s = subjects('t9.');
    const c = consumerFor({ prefix: 't9.', stream: 'MD', durable: 'features-bars', filterSubjects: [s.barClosedFilter('1h')] });
    expect(c).toEqual({
      stream: 'T9_MD',
      durable: 'features-bars',
      filterSubjects: ['t9.md.bar.1h.*'],
      maxDeliver: 5,
      backoffMs: [1000, 5000, 15000],
      ackWaitMs: 30000,
      maxAckPending: 1000,
      deadLetterSubject: 't9.dlq.features-bars',
    });
    const dlqStream = streams('t9.').find((d) => d.name === 'T9_DLQ')!;
    expect(dlqStream.subjects.some((f) => subjectMatches(f, c.deadLetterSubject))).toBe(true);
  });

  it('honours overrides', () => {
    const c = consumerFor({ stream: 'SIG', durable: 'exec', filterSubjects: ['sig.>'], maxDeliver: 3, backoffMs: [200], ackWaitMs: 5000, maxAckPending: 1 });
    expect(c).toMatchObject({ stream: 'SIG', maxDeliver: 3, backoffMs: [200], ackWaitMs: 5000, maxAckPending: 1, deadLetterSubject: 'dlq.exec' });
  });

  it('rejects filters outside the stream, bad durables and inconsistent redelivery', () => {
    expect(() => consumerFor({ stream: 'MD', durable: 'x', filterSubjects: ['feat.>'] })).toThrow(/outside the stream subjects md\.>/);
    expect(() => consumerFor({ stream: 'MD', durable: 'x', filterSubjects: ['>'] })).toThrow(/outside/);
    expect(() => consumerFor({ prefix: 't1.', stream: 'MD', durable: 'x', filterSubjects: ['md.>'] })).toThrow(/outside/);
    expect(() => consumerFor({ stream: 'MD', durable: 'a.b', filterSubjects: ['md.>'] })).toThrow(/durable/);
    expect(() => consumerFor({ stream: 'MD', durable: 'x', filterSubjects: [] })).toThrow(/empty/);
    expect(() => consumerFor({ stream: 'MD', durable: 'x', filterSubjects: ['md..x'] })).toThrow(/valid NATS subject/);
    expect(() => consumerFor({ stream: 'MD', durable: 'x', filterSubjects: ['md.>'], maxDeliver: 2 })).toThrow(/backoffMs has 3 steps/);
    expect(() => consumerFor({ stream: 'MD', durable: 'x', filterSubjects: ['md.>'], backoffMs: [0] })).toThrow(/positive/);
  });
});
