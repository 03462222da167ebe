import { sql, type Kysely, type RawBuilder } from 'kysely';
import { DataStorageError, isDataStorageError } from './errors.js';
import { assertPgType, qualifiedName, quoteIdent } from './identifiers.js';
import { withTransaction } from './transactions.js';
import {
  addResults,
  checkNumber,
  checkString,
  emptyResult,
  invalid,
  countsFrom,
  moveRowsSql,
  nonFiniteText,
  resolveConflict,
  rowValue,
  type BulkRow,
  type BulkRows,
  type BulkWriteResult,
  type ConflictSpec,
  type MoveCounts,
  type ResolvedConflict,
  type ValueOptions,
} from './bulk.js';

export interface UnnestColumn {
  name: string;
  /** Element type of the array parameter (`text`, `float8`, `timestamptz`, `int8`, `numeric`, `jsonb`, …). */
  pgType: string;
}

export interface UnnestInsertOptions extends ValueOptions {
  schema?: string;
  table: string;
  columns: readonly UnnestColumn[];
  rows: BulkRows;
  /** Without it rows are inserted plainly (a duplicate key fails the call). */
  conflict?: ConflictSpec;
  /** Rows per statement (default 5,000). */
  batchSize?: number;
}

function toParam(value: unknown, pgType: string, opts: ValueOptions, rowIndex: number, column: string): unknown {
  if (value === null || value === undefined) return null;
  if (pgType === 'json' || pgType === 'jsonb') {
    const json = JSON.stringify(value);
    checkString(json, rowIndex, column);
    return json;
  }
  switch (typeof value) {
    case 'string':
      checkString(value, rowIndex, column);
      return value;
    case 'number':
      if (Number.isFinite(value)) return Object.is(value, -0) ? '-0' : value;
      checkNumber(value, opts, rowIndex, column);
      return nonFiniteText(value);
    case 'bigint':
      return value.toString();
    case 'boolean':
      return value;
    case 'object':
      if (value instanceof Date) {
        if (Number.isNaN(value.getTime())) throw invalid('invalid Date', rowIndex, column);
        return value.toISOString();
      }
      if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
      {
        const json = JSON.stringify(value);
        checkString(json, rowIndex, column);
        return json;
      }
    default:
      throw invalid(`unsupported value of type ${typeof value}`, rowIndex, column);
  }
}

type Counts = MoveCounts & { distinct_rows: number };

/** The statement for one batch: `unnest` of one array parameter per column, `WITH ORDINALITY` for last-wins. */
function statement(
  target: string,
  columns: readonly UnnestColumn[],
  conflict: ResolvedConflict | undefined,
  partitioned: boolean,
  arrays: unknown[][],
  n: number,
): RawBuilder<Counts> {
  const names = columns.map((c) => quoteIdent(c.name, 'column')).join(', ');
  const args = sql.join(columns.map((c, i) => sql`${arrays[i]}::${sql.raw(`${assertPgType(c.pgType)}[]`)}`));
  const src = sql`SELECT * FROM unnest(${args}) WITH ORDINALITY AS u(${sql.raw(names)}, __noctria_ord)`;
  if (!conflict) {
    return sql<Counts>`WITH w AS (INSERT INTO ${sql.raw(target)} AS t (${sql.raw(names)}) SELECT ${sql.raw(names)} FROM (${src}) s RETURNING 1)
      SELECT ${sql.lit(n)}::int AS distinct_rows, count(*)::int AS inserted, 0 AS updated, NULL::int AS existing FROM w`;
  }
  const key = conflict.key.map((k) => quoteIdent(k)).join(', ');
  const tail = moveRowsSql({
    target,
    columns: columns.map((c) => c.name),
    source: 'dedup',
    orderByKey: false,
    conflict,
    partitioned,
    extraSelect: '(SELECT count(*) FROM dedup)::int AS distinct_rows',
  });
  return sql<Counts>`WITH src AS (${src}),
     dedup AS (SELECT DISTINCT ON (${sql.raw(key)}) ${sql.raw(names)} FROM src ORDER BY ${sql.raw(key)}, __noctria_ord DESC),
     ${sql.raw(tail)}`;
}

/**
 * Batched `INSERT ... SELECT FROM unnest($1::type[], ...) ON CONFLICT ...`: one round trip and one plan per batch,
 * with a fixed number of parameters whatever the batch size. All batches run in ONE transaction (joining the
 * caller's when `db` is a transaction), so a failure stores nothing. Within a batch, rows sharing a key are
 * de-duplicated (last wins) and counted in `duplicates`; a key repeated in a LATER batch updates (or leaves)
 * the row written by the earlier batch and is counted as `updated`/`unchanged`.
 */
export async function unnestInsert(db: Kysely<any>, options: UnnestInsertOptions): Promise<BulkWriteResult> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const columns = options.columns;
  if (columns.length === 0) throw new DataStorageError('DATA_STORAGE_CONFIG', 'columns must not be empty');
  const names = columns.map((c) => c.name);
  const conflict = resolveConflict(names, options.conflict);
  const target = qualifiedName(options.schema, options.table);
  for (const c of columns) assertPgType(c.pgType);
  const batchSize = Math.max(1, Math.floor(options.batchSize ?? 5_000));

  try {
    return await writeBatches(db, options, columns, conflict, target, batchSize);
  } catch (e) {
    if (isDataStorageError(e)) throw e;
    throw new DataStorageError(
      'DATA_STORAGE_BULKWRITE',
      `bulk write into ${target} failed, nothing was stored: ${(e as Error).message}`,
      { schema: options.schema, table: options.table, sqlState: (e as { code?: unknown }).code },
      e,
    );
  }
}

async function writeBatches(
  db: Kysely<any>, // eslint-disable-line @typescript-eslint/no-explicit-any
  options: UnnestInsertOptions,
  columns: readonly UnnestColumn[],
  conflict: ResolvedConflict | undefined,
  target: string,
  batchSize: number,
): Promise<BulkWriteResult> {
  return withTransaction(db, async (trx) => {
    const kind = await sql<{ relkind: string }>`SELECT c.relkind::text AS relkind FROM pg_class c WHERE c.oid = to_regclass(${target})`.execute(trx);
    if (!kind.rows[0]) {
      throw new DataStorageError('DATA_STORAGE_CONFIG', `table ${target} does not exist`, { table: options.table, schema: options.schema });
    }
    const partitioned = kind.rows[0].relkind === 'p';
    let total = emptyResult();
    let arrays: unknown[][] = columns.map(() => []);
    let n = 0;
    let rowIndex = 0;
    const flush = async (): Promise<void> => {
      if (n === 0) return;
      const r = await statement(target, columns, conflict, partitioned, arrays, n).execute(trx);
      const row = r.rows[0] ?? { distinct_rows: n, inserted: 0, updated: 0, existing: null };
      total = addResults(total, countsFrom(n, row.distinct_rows, row));
      arrays = columns.map(() => []);
      n = 0;
    };
    for await (const row of options.rows as AsyncIterable<BulkRow>) {
      for (let i = 0; i < columns.length; i++) {
        const c = columns[i] as UnnestColumn;
        (arrays[i] as unknown[]).push(toParam(rowValue(row, i, c.name), c.pgType, options, rowIndex, c.name));
      }
      n++;
      rowIndex++;
      if (n >= batchSize) await flush();
    }
    await flush();
    return total;
  });
}
