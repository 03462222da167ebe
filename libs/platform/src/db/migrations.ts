import { readdir } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { Migrator, sql, type Kysely, type Migration, type MigrationResultSet } from 'kysely';
import { DataStorageError } from './errors.js';
import { assertIdentifier } from './identifiers.js';

export type { Migration } from 'kysely';

/** A migration module as written in `src/db/migrations/<yyyyMMddHHmmss>-<name>.ts`. */
export interface MigrationModule {
  up(db: Kysely<any>): Promise<void>; // eslint-disable-line @typescript-eslint/no-explicit-any
  down?(db: Kysely<any>): Promise<void>; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export const MIGRATION_NAME = /^\d{14}-[a-z0-9][a-z0-9_-]*$/;

/** The advisory-lock key that serialises migrations of one schema (`hashtext` of it). */
export function migrationLockKey(schema: string): string {
  return `noctria.migrate.${schema}`;
}

function baseName(key: string): string {
  const last = key.split(/[\\/]/).pop() ?? key;
  return last.replace(/\.(m?[jt]s)$/, '');
}

/**
 * Normalises `{ '20240101000000-init': module }` (keys may also be paths such as `./migrations/2024…-init.ts`)
 * into Kysely migrations, refusing badly named or duplicate entries and modules without `up`.
 */
export function migrationsFromModules(record: Record<string, MigrationModule>): Record<string, Migration> {
  const out: Record<string, Migration> = {};
  for (const [key, mod] of Object.entries(record)) {
    const name = baseName(key);
    if (!MIGRATION_NAME.test(name)) {
      throw new DataStorageError('DATA_STORAGE_CONFIG', `migration name ${JSON.stringify(name)} must match <yyyyMMddHHmmss>-<name>`, { name });
    }
    if (name in out) throw new DataStorageError('DATA_STORAGE_CONFIG', `duplicate migration ${name}`, { name });
    if (typeof mod?.up !== 'function') {
      throw new DataStorageError('DATA_STORAGE_CONFIG', `migration ${name} does not export up(db)`, { name });
    }
    out[name] = mod.down ? { up: mod.up, down: mod.down } : { up: mod.up };
  }
  return out;
}

/** Imports every `<yyyyMMddHHmmss>-<name>.{js,ts}` module of a directory (compiled `.js` or `.ts` under Jest). */
export async function migrationsFromDirectory(dir: string): Promise<Record<string, Migration>> {
  const files = (await readdir(dir)).filter((f) => /^\d{14}-.*\.(m?js|ts)$/.test(f) && !f.endsWith('.d.ts') && !/\.(test|spec)\./.test(f));
  const record: Record<string, MigrationModule> = {};
  for (const f of files.sort()) {
    record[f] = (await import(pathToFileURL(join(dir, f)).href)) as MigrationModule;
  }
  return migrationsFromModules(record);
}

export interface MigrateOptions {
  /** Any Kysely over the target database (its pool must allow one extra connection). */
  db: Kysely<any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  /** The service schema: created when missing; migrations run with `search_path = <schema>, public` and the
   *  bookkeeping tables (`kysely_migration`, `kysely_migration_lock`) live inside it. */
  schema: string;
  migrations: Record<string, Migration>;
  /** Give up waiting for another replica's migration after this long (default: wait). */
  lockTimeoutMs?: number;
}

type Direction = 'latest' | 'down';

function failure(schema: string, set: MigrationResultSet, direction: Direction): DataStorageError {
  const failed = set.results?.find((r) => r.status === 'Error');
  const cause = set.error;
  const reason = cause instanceof Error ? cause.message : String(cause);
  const name = failed?.migrationName;
  return new DataStorageError(
    'DATA_STORAGE_MIGRATE',
    name
      ? `migration ${name} (${direction === 'down' ? 'down' : 'up'}) of schema ${schema} failed: ${reason}`
      : `migrating schema ${schema} failed: ${reason}`,
    { schema, migration: name, direction },
    cause,
  );
}

async function runLocked<T>(options: MigrateOptions, body: (conn: Kysely<any>) => Promise<T>): Promise<T> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const schema = assertIdentifier(options.schema, 'schema');
  const key = migrationLockKey(schema);
  // One dedicated connection: the lock, the schema creation and Kysely's migration transaction all run on it.
  return options.db.connection().execute(async (conn) => {
    if (options.lockTimeoutMs !== undefined) {
      await sql`select set_config('lock_timeout', ${String(Math.max(1, Math.round(options.lockTimeoutMs)))}, false)`.execute(conn);
    }
    try {
      await sql`select pg_advisory_lock(hashtext(${key}))`.execute(conn);
    } catch (e) {
      throw new DataStorageError('DATA_STORAGE_MIGRATE', `could not take the migration lock of schema ${schema}: ${(e as Error).message}`, { schema }, e);
    } finally {
      if (options.lockTimeoutMs !== undefined) await sql`select set_config('lock_timeout', '0', false)`.execute(conn);
    }
    try {
      const prev = await sql<{ sp: string }>`select current_setting('search_path') as sp`.execute(conn);
      await sql`create schema if not exists ${sql.id(schema)}`.execute(conn);
      await sql`select set_config('search_path', ${`${schema}, public`}, false)`.execute(conn);
      try {
        return await body(conn);
      } finally {
        await sql`select set_config('search_path', ${prev.rows[0]?.sp ?? '"$user", public'}, false)`.execute(conn);
      }
    } finally {
      await sql`select pg_advisory_unlock(hashtext(${key}))`.execute(conn);
    }
  });
}

function migrator(conn: Kysely<any>, options: MigrateOptions): Migrator { // eslint-disable-line @typescript-eslint/no-explicit-any
  return new Migrator({
    db: conn,
    provider: { getMigrations: async () => options.migrations },
    migrationTableSchema: options.schema,
  });
}

/**
 * Applies every pending migration of `schema` in one transaction, under the schema's advisory lock, and
 * returns the names applied (empty when already up to date). Throws `DATA_STORAGE_MIGRATE` naming the failed
 * migration; then nothing of this run is applied (Postgres DDL is transactional).
 */
export async function migrateToLatest(options: MigrateOptions): Promise<string[]> {
  for (const name of Object.keys(options.migrations)) {
    if (!MIGRATION_NAME.test(name)) {
      throw new DataStorageError('DATA_STORAGE_CONFIG', `migration name ${JSON.stringify(name)} must match <yyyyMMddHHmmss>-<name>`, { name });
    }
  }
  return runLocked(options, async (conn) => {
    const set = await migrator(conn, options).migrateToLatest();
    if (set.error !== undefined) throw failure(options.schema, set, 'latest');
    return (set.results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
  });
}

/** Reverts the most recent applied migration; returns its name, or `undefined` when none is applied. */
export async function migrateDown(options: MigrateOptions): Promise<string | undefined> {
  return runLocked(options, async (conn) => {
    const m = migrator(conn, options);
    const last = (await m.getMigrations()).filter((i) => i.executedAt !== undefined).pop();
    if (last === undefined) return undefined;
    if (typeof last.migration.down !== 'function') {
      throw new DataStorageError('DATA_STORAGE_MIGRATE', `migration ${last.name} of schema ${options.schema} has no down()`, {
        schema: options.schema,
        migration: last.name,
        direction: 'down',
      });
    }
    const set = await m.migrateDown();
    if (set.error !== undefined) throw failure(options.schema, set, 'down');
    return (set.results ?? []).find((r) => r.status === 'Success')?.migrationName;
  });
}

export interface MigrationState {
  name: string;
  executedAt?: Date;
}

/** Every known migration with its execution time (undefined when pending). */
export async function migrationStatus(options: Omit<MigrateOptions, 'lockTimeoutMs'>): Promise<MigrationState[]> {
  return runLocked(options, async (conn) => {
    const infos = await migrator(conn, options).getMigrations();
    return infos.map((i) => (i.executedAt ? { name: i.name, executedAt: i.executedAt } : { name: i.name }));
  });
}
