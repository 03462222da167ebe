/**
 * `float8[]` text literals that keep every bit: pg's own array serialisation of JS numbers goes through
 * `String(x)`, which turns -0 into "0" (and has no NULL for NaN). A feature that is NaN (warm-up) is stored as a
 * NULL element and read back as NaN; a finite value is written in JS shortest round-trip form, which PostgreSQL
 * parses to the same double and prints back unchanged (extra_float_digits ≥ 1, the default since PostgreSQL 12).
 */
export function float8ArrayLiteral(values: ArrayLike<number>): string {
  const parts = new Array<string>(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (v !== v) parts[i] = 'NULL';
    else if (v === Infinity) parts[i] = 'Infinity';
    else if (v === -Infinity) parts[i] = '-Infinity';
    else if (Object.is(v, -0)) parts[i] = '-0';
    else parts[i] = String(v);
  }
  return `{${parts.join(',')}}`;
}

/** A `float8[]` read by pg (numbers, NULL → null) back into a Float64Array with NaN for NULL. */
export function float8ArrayFromDb(values: readonly (number | null)[]): Float64Array {
  const out = new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    out[i] = v === null || v === undefined ? Number.NaN : v;
  }
  return out;
}
