import { describe, expect, it } from '@jest/globals';
import { backoffDelay, BusErrorIds, errorIdOf, isValidSubject, subjectMatches, subjectsOverlap } from '../../src/bus/index.js';

describe('subject matching', () => {
  it.each([
    ['md.bar.m1.EURUSD', 'md.bar.m1.EURUSD', true],
    ['md.bar.*.EURUSD', 'md.bar.m1.EURUSD', true],
    ['md.bar.*', 'md.bar.m1.EURUSD', false],
    ['md.>', 'md.bar.m1.EURUSD', true],
    ['md.>', 'md', false],
    ['md.bar.m1.>', 'md.bar.m1', false],
    ['*.bar.>', 'md.bar.m1', true],
    ['md.bar', 'md.bar.m1', false],
    ['md.bar.m1', 'md.bar', false],
  ])('%s matches %s: %s', (pattern, subject, expected) => {
    expect(subjectMatches(pattern, subject)).toBe(expected);
  });

  it.each([
    ['md.>', 'md.bar.*', true],
    ['md.*.x', 'md.y.*', true],
    ['md.*', 'md.a.b', false],
    ['md.>', 'md', false],
    ['>', 'anything.at.all', true],
    ['a.b', 'a.c', false],
    ['a.*.>', 'a.b', false],
    ['a.*.>', 'a.b.c', true],
  ])('%s overlaps %s: %s', (a, b, expected) => {
    expect(subjectsOverlap(a, b)).toBe(expected);
    expect(subjectsOverlap(b, a)).toBe(expected);
  });

  it('validates subjects and patterns', () => {
    expect(isValidSubject('md.bar.m1.EURUSD', false)).toBe(true);
    expect(isValidSubject('md.*.x', false)).toBe(false);
    expect(isValidSubject('md.*.x', true)).toBe(true);
    expect(isValidSubject('md.>.x', true)).toBe(false);
    expect(isValidSubject('md..x', true)).toBe(false);
    expect(isValidSubject('md.a b', true)).toBe(false);
    expect(isValidSubject('md.a*', true)).toBe(false);
    expect(isValidSubject('', true)).toBe(false);
  });
});

describe('delivery policy helpers', () => {
  it('picks backoffMs[min(deliveryCount-1, len-1)]', () => {
    const backoff = [50, 100, 400];
    expect([1, 2, 3, 4, 9].map((n) => backoffDelay(backoff, n))).toEqual([50, 100, 400, 400, 400]);
    expect(backoffDelay([], 3)).toBe(0);
  });

  it('reads {DOMAIN}_{CATEGORY}_{CODE} ids from id or code, else falls back', () => {
    expect(errorIdOf(Object.assign(new Error('x'), { id: 'DATA_DQ_GAP' }))).toBe('DATA_DQ_GAP');
    expect(errorIdOf(Object.assign(new Error('x'), { code: 'CORE_SIG_STALE' }))).toBe('CORE_SIG_STALE');
    expect(errorIdOf(Object.assign(new Error('x'), { code: 'ECONNRESET' }))).toBe(BusErrorIds.HandlerFailed);
    expect(errorIdOf('plain string', 'X_Y_Z')).toBe('X_Y_Z');
  });
});
