import { DataStorageError } from './errors.js';

const IDENT = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Schema, table and column names used by the helpers are interpolated into SQL, so they are restricted to
 * lower-case unquoted-identifier syntax (what every Noctria migration uses). Anything else is refused.
 */
export function assertIdentifier(name: string, what = 'identifier'): string {
  if (typeof name !== 'string' || !IDENT.test(name)) {
    throw new DataStorageError('DATA_STORAGE_CONFIG', `invalid ${what} ${JSON.stringify(name)}: expected ${IDENT}`, {
      [what]: name,
    });
  }
  return name;
}

/** Double-quoted identifier (after validation). */
export function quoteIdent(name: string, what = 'identifier'): string {
  return `"${assertIdentifier(name, what)}"`;
}

/** `"schema"."table"`, or `"table"` when no schema is given (then resolved through search_path). */
export function qualifiedName(schema: string | undefined, table: string): string {
  return schema === undefined ? quoteIdent(table, 'table') : `${quoteIdent(schema, 'schema')}.${quoteIdent(table, 'table')}`;
}

const PG_TYPE = /^[a-z_][a-z0-9_]*( [a-z_][a-z0-9_]*)*(\(\d+(, ?\d+)?\))?$/;

/** A Postgres type name as written in a cast (`float8`, `timestamptz`, `numeric(18,6)`, `double precision`). */
export function assertPgType(type: string): string {
  if (typeof type !== 'string' || !PG_TYPE.test(type)) {
    throw new DataStorageError('DATA_STORAGE_CONFIG', `invalid Postgres type ${JSON.stringify(type)}`, { type });
  }
  return type;
}
