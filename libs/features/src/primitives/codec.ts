import { FEATURE_ERROR, FeatureError } from '../errors.js';

/**
 * JSON-safe encoding of doubles for snapshots: finite numbers stay numbers (JSON.stringify prints the shortest
 * decimal that parses back to the same double), the values JSON cannot hold become strings.
 */
export type EncodedNumber = number | 'NaN' | 'Infinity' | '-Infinity' | '-0';

export function encodeNumber(x: number): EncodedNumber {
  if (Number.isNaN(x)) return 'NaN';
  if (x === Infinity) return 'Infinity';
  if (x === -Infinity) return '-Infinity';
  if (x === 0 && 1 / x < 0) return '-0';
  return x;
}

export function stateError(message: string): FeatureError {
  return new FeatureError(FEATURE_ERROR.STATE, message);
}

export function decodeNumber(v: unknown, what: string): number {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  switch (v) {
    case 'NaN':
      return NaN;
    case 'Infinity':
      return Infinity;
    case '-Infinity':
      return -Infinity;
    case '-0':
      return -0;
    default:
      throw stateError(`${what}: expected a number, got ${JSON.stringify(v) ?? String(v)}`);
  }
}

export function encodeArray(a: Float64Array, length = a.length): EncodedNumber[] {
  const out: EncodedNumber[] = new Array<EncodedNumber>(length);
  for (let i = 0; i < length; i++) out[i] = encodeNumber(a[i]!);
  return out;
}

export function decodeArrayInto(v: unknown, target: Float64Array, length: number, what: string): void {
  if (!Array.isArray(v) || v.length !== length) {
    throw stateError(`${what}: expected an array of ${length} numbers`);
  }
  for (let i = 0; i < length; i++) target[i] = decodeNumber(v[i], `${what}[${i}]`);
}

export function decodeInt(v: unknown, min: number, max: number, what: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw stateError(`${what}: expected an integer in [${min}, ${max}], got ${JSON.stringify(v) ?? String(v)}`);
  }
  return v;
}

export function asRecord(v: unknown, what: string): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw stateError(`${what}: expected an object`);
  return v as Record<string, unknown>;
}

export function checkWindow(n: unknown, min: number, what: string): number {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > 1_000_000) {
    throw new FeatureError(FEATURE_ERROR.PARAM, `${what} must be an integer in [${min}, 1000000], got ${String(n)}`);
  }
  return n;
}
