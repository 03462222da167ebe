import { DataStorageError } from './errors.js';
import { assertIdentifier, quoteIdent } from './identifiers.js';

/** A row: an object keyed by column name, or an array in the order of `columns`. */
export type BulkRow = object | readonly unknown[];
export type BulkRows = Iterable<BulkRow> | AsyncIterable<BulkRow>;

/**
 * Conflict handling on a unique key (`columns` must match a primary key or unique index of the target).
 * - `nothing`: existing rows are kept.
 * - `update`: existing rows take the new values of `update` (default: every non-key column); with
 *   `onlyIfChanged` rows whose values are already equal are not rewritten (and count as `unchanged`).
 * Rows of one call that share a key are de-duplicated before writing (the LAST one wins) and counted in
 * `duplicates`, because Postgres refuses to touch a row twice in one statement.
 */
export type ConflictSpec =
  | { columns: readonly string[]; action: 'nothing' }
  | { columns: readonly string[]; action: 'update'; update?: readonly string[]; onlyIfChanged?: boolean };

/** `rows = inserted + updated + unchanged + duplicates`. */
export interface BulkWriteResult {
  /** Rows received. */
  rows: number;
  /** Rows that did not exist and were inserted. */
  inserted: number;
  /** Existing rows overwritten (`action: 'update'`). */
  updated: number;
  /** Rows whose key already existed and that were left as they were (`nothing`, or `onlyIfChanged` with equal values). */
  unchanged: number;
  /** Rows dropped because a later row of the same call had the same key. */
  duplicates: number;
}

export interface ValueOptions {
  /**
   * Non-finite numbers (NaN, ±Infinity) are refused by default (`DATA_STORAGE_BADVALUE`): in Noctria they
   * mean a computation went wrong, and NaN in a float8 column silently poisons aggregates and comparisons.
   * Set to true to store them as Postgres 'NaN' / 'Infinity' / '-Infinity'.
   */
  allowNonFinite?: boolean;
}

export interface ResolvedConflict {
  key: string[];
  action: 'nothing' | 'update';
  update: string[];
  onlyIfChanged: boolean;
}

export function resolveConflict(columns: readonly string[], spec: ConflictSpec | undefined): ResolvedConflict | undefined {
  if (!spec) return undefined;
  if (spec.columns.length === 0) throw new DataStorageError('DATA_STORAGE_CONFIG', 'onConflict.columns must not be empty');
  for (const k of spec.columns) {
    assertIdentifier(k, 'column');
    if (!columns.includes(k)) {
      throw new DataStorageError('DATA_STORAGE_CONFIG', `conflict column ${k} is not among the written columns`, { column: k });
    }
  }
  if (spec.action === 'nothing') return { key: [...spec.columns], action: 'nothing', update: [], onlyIfChanged: false };
  const update = spec.update ? [...spec.update] : columns.filter((c) => !spec.columns.includes(c));
  for (const c of update) {
    if (!columns.includes(c)) throw new DataStorageError('DATA_STORAGE_CONFIG', `update column ${c} is not among the written columns`, { column: c });
  }
  if (update.length === 0) return { key: [...spec.columns], action: 'nothing', update: [], onlyIfChanged: false };
  return { key: [...spec.columns], action: 'update', update, onlyIfChanged: spec.onlyIfChanged ?? false };
}

/** `ON CONFLICT (...) DO ...` for a target aliased `t`. */
export function onConflictSql(c: ResolvedConflict): string {
  const key = c.key.map((k) => quoteIdent(k)).join(', ');
  if (c.action === 'nothing') return `ON CONFLICT (${key}) DO NOTHING`;
  const set = c.update.map((u) => `${quoteIdent(u)} = EXCLUDED.${quoteIdent(u)}`).join(', ');
  let s = `ON CONFLICT (${key}) DO UPDATE SET ${set}`;
  if (c.onlyIfChanged) {
    const cols = c.update.map((u) => quoteIdent(u));
    s += ` WHERE (${cols.map((x) => `t.${x}`).join(', ')}) IS DISTINCT FROM (${cols.map((x) => `EXCLUDED.${x}`).join(', ')})`;
  }
  return s;
}

export function rowValue(row: BulkRow, index: number, column: string): unknown {
  return Array.isArray(row) ? (row as readonly unknown[])[index] : (row as Readonly<Record<string, unknown>>)[column];
}

export function invalid(message: string, rowIndex: number, column: string, value?: unknown): DataStorageError {
  return new DataStorageError('DATA_STORAGE_BADVALUE', `row ${rowIndex}, column ${column}: ${message}`, {
    row: rowIndex,
    column,
    value: typeof value === 'bigint' ? String(value) : value,
  });
}

export function nonFiniteText(n: number): string {
  return Number.isNaN(n) ? 'NaN' : n > 0 ? 'Infinity' : '-Infinity';
}

export function checkNumber(n: number, opts: ValueOptions, rowIndex: number, column: string): void {
  if (!Number.isFinite(n) && !opts.allowNonFinite) {
    throw invalid(`non-finite number ${String(n)} refused (allowNonFinite is off)`, rowIndex, column, n);
  }
}

export function checkString(s: string, rowIndex: number, column: string): void {
  if (s.includes('\u0000')) throw invalid('string contains a NUL character (U+0000), which Postgres text cannot store', rowIndex, column);
}

export function emptyResult(): BulkWriteResult {
  return { rows: 0, inserted: 0, updated: 0, unchanged: 0, duplicates: 0 };
}

export function addResults(a: BulkWriteResult, b: BulkWriteResult): BulkWriteResult {
  return {
    rows: a.rows + b.rows,
    inserted: a.inserted + b.inserted,
    updated: a.updated + b.updated,
    unchanged: a.unchanged + b.unchanged,
    duplicates: a.duplicates + b.duplicates,
  };
}

/**
 * The tail of a `WITH` statement that moves the rows of `source` (a table or CTE name) into `target` and
 * reports counts as columns `inserted`, `updated`, `existing`.
 *
 * Plain tables tell inserts from updates with `RETURNING (t.xmax = 0)` (`existing` is NULL). Partitioned tables
 * cannot return system columns, so there the rows of `source` whose key already exists are counted in the same
 * statement (same snapshot, before the insert) and `existing` carries that number; see `countsFrom`.
 */
export function moveRowsSql(p: {
  target: string;
  columns: readonly string[];
  source: string;
  orderByKey: boolean;
  conflict: ResolvedConflict;
  partitioned: boolean;
  extraSelect?: string;
}): string {
  const names = p.columns.map((c) => quoteIdent(c, 'column')).join(', ');
  const keys = p.conflict.key.map((k) => quoteIdent(k));
  const order = p.orderByKey ? ` ORDER BY ${keys.join(', ')}` : '';
  const needPre = p.partitioned && p.conflict.action === 'update';
  const returning = p.conflict.action === 'update' && !p.partitioned ? 'RETURNING (t.xmax = 0) AS ins' : 'RETURNING true AS ins';
  const pre = needPre
    ? `pre AS (SELECT count(*)::int AS n FROM ${p.source} s WHERE EXISTS (SELECT 1 FROM ${p.target} x WHERE ${keys
        .map((k) => `x.${k} = s.${k}`)
        .join(' AND ')})), `
    : '';
  return `${pre}w AS (
      INSERT INTO ${p.target} AS t (${names}) SELECT ${names} FROM ${p.source}${order}
      ${onConflictSql(p.conflict)}
      ${returning})
    SELECT (count(*) FILTER (WHERE ins))::int AS inserted,
           (count(*) FILTER (WHERE NOT ins))::int AS updated,
           ${needPre ? '(SELECT n FROM pre)' : 'NULL::int'} AS existing${p.extraSelect ? `, ${p.extraSelect}` : ''}
    FROM w`;
}

export interface MoveCounts {
  inserted: number;
  updated: number;
  existing: number | null;
}

/**
 * Final counts for `distinct` de-duplicated rows. With `existing` (partitioned targets): inserted = distinct −
 * existing, updated = affected − inserted. These are exact unless another transaction writes the same keys
 * concurrently (the data stays correct; only the split between inserted and updated can then be off).
 */
export function countsFrom(rows: number, distinct: number, m: MoveCounts): BulkWriteResult {
  let inserted = m.inserted;
  let updated = m.updated;
  if (m.existing !== null && m.existing !== undefined) {
    const affected = m.inserted + m.updated;
    inserted = Math.max(0, distinct - m.existing);
    updated = Math.max(0, affected - inserted);
  }
  return { rows, inserted, updated, unchanged: distinct - inserted - updated, duplicates: rows - distinct };
}

/** `SELECT relkind` of a (possibly search_path-resolved) table name: 'p' for partitioned tables. */
export function relkindSql(): string {
  return `SELECT c.relkind::text AS relkind FROM pg_class c WHERE c.oid = to_regclass($1)`;
}
