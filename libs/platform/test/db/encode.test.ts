import { describe, expect, it } from '@jest/globals';
import { encodeCopyRow, encodeCopyValue, isDataStorageError } from '../../src/db/index.js';

describe('COPY value encoding', () => {
  it('escapes text-format specials and keeps NULL distinct from the string "\\N"', () => {
    expect(encodeCopyValue(null, 'text')).toBe('\\N');
    expect(encodeCopyValue(undefined, 'text')).toBe('\\N');
    expect(encodeCopyValue('\\N', 'text')).toBe('\\\\N');
    expect(encodeCopyValue('a\tb\nc\rd\\e', 'text')).toBe('a\\tb\\nc\\rd\\\\e');
    expect(encodeCopyValue('', 'text')).toBe('');
  });

  it('quotes every CSV string so the empty string differs from NULL', () => {
    expect(encodeCopyValue(null, 'csv')).toBe('');
    expect(encodeCopyValue('', 'csv')).toBe('""');
    expect(encodeCopyValue('say "hi", ok\n', 'csv')).toBe('"say ""hi"", ok\n"');
  });

  it('writes numbers with String() (shortest exact form) and -0 as "-0"', () => {
    for (const x of [0.1, 1 / 3, 5e-324, 1.7976931348623157e308, -123.456e-7, 2 ** 53 + 2]) {
      expect(Number(encodeCopyValue(x, 'text'))).toBe(x);
    }
    expect(encodeCopyValue(-0, 'text')).toBe('-0');
  });

  it('refuses non-finite numbers unless allowed', () => {
    for (const x of [NaN, Infinity, -Infinity]) {
      let err: unknown;
      try {
        encodeCopyValue(x, 'text', {}, 7, 'close');
      } catch (e) {
        err = e;
      }
      expect(isDataStorageError(err, 'DATA_STORAGE_BADVALUE')).toBe(true);
      expect((err as Error).message).toMatch(/row 7, column close/);
    }
    expect([NaN, Infinity, -Infinity].map((x) => encodeCopyValue(x, 'text', { allowNonFinite: true }))).toEqual(['NaN', 'Infinity', '-Infinity']);
  });

  it('refuses NUL characters and invalid dates', () => {
    expect(() => encodeCopyValue('a\u0000b', 'text')).toThrow(/NUL/);
    expect(() => encodeCopyValue(new Date(NaN), 'csv')).toThrow(/invalid Date/);
  });

  it('encodes dates, bigints, booleans, bytes and JSON', () => {
    expect(encodeCopyValue(new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 6)), 'text')).toBe('2024-01-02T03:04:05.006Z');
    expect(encodeCopyValue(12345678901234567890n, 'text')).toBe('12345678901234567890');
    expect(encodeCopyValue(true, 'text')).toBe('t');
    expect(encodeCopyValue(new Uint8Array([0, 255, 16]), 'text')).toBe('\\\\x00ff10');
    expect(encodeCopyValue(new Uint8Array([0, 255, 16]), 'csv')).toBe('\\x00ff10');
    expect(encodeCopyValue({ a: 'x\ty' }, 'text')).toBe('{"a":"x\\\\ty"}'); // JSON's \t, then COPY doubles the backslash
  });

  it('builds a row from an object or an array, with an optional ordinal', () => {
    expect(encodeCopyRow({ a: 1, b: 'x' }, ['a', 'b'], 'text')).toBe('1\tx\n');
    expect(encodeCopyRow([1, null], ['a', 'b'], 'csv', {}, 0, 9)).toBe('1,,9\n');
  });
});
