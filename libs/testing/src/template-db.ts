import { createHash, randomBytes } from 'node:crypto';
import pg from 'pg';
import { createDatabase, migrateToLatest, type Migration } from '@noctria/platform';
import { postgresUrl } from './infra.js';

/** Bump when the way templates are built changes, so old templates are not reused. */
const HARNESS_VERSION = 1;
const TEST_DB = /^noctria_t_(\d{14})_/;

export interface TestDatabaseOptions {
  /** The service schema (created and migrated in the template). */
  schema: string;
  migrations?: Record<string, Migration>;
  /** Server URL (superuser); default `postgresUrl()`. Its database part is ignored: the admin work happens in `postgres`. */
  serverUrl?: string;
  /** Per-test databases older than this are dropped opportunistically (default 3 h). */
  staleAfterMs?: number;
}

export interface TestDatabase {
  connectionString: string;
  databaseName: string;
  templateName: string;
  schema: string;
  /** Drops the database (terminating its connections). Idempotent. */
  drop(): Promise<void>;
}

/** Replaces the database of a Postgres URL. */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(database)}`;
  return u.toString();
}

/** `noctria_tpl_<schema>_<hash>`: the hash covers the schema and every migration's name and code. */
export function templateDatabaseName(schema: string, migrations: Record<string, Migration> = {}): string {
  const h = createHash('sha256');
  h.update(JSON.stringify([HARNESS_VERSION, schema]));
  for (const name of Object.keys(migrations).sort()) {
    const m = migrations[name] as Migration;
    h.update(JSON.stringify([name, m.up.toString(), m.down?.toString() ?? null]));
  }
  return `noctria_tpl_${schema.slice(0, 38)}_${h.digest('hex').slice(0, 12)}`;
}

function stamp(d = new Date()): string {
  return d.toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

function parseStamp(s: string): number {
  return Date.UTC(+s.slice(0, 4), +s.slice(4, 6) - 1, +s.slice(6, 8), +s.slice(8, 10), +s.slice(10, 12), +s.slice(12, 14));
}

const ident = (name: string): string => `"${name.replaceAll('"', '""')}"`;

async function withAdmin<T>(serverUrl: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: withDatabase(serverUrl, 'postgres'), application_name: 'noctria-testing' });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

async function ensureTemplate(admin: pg.Client, serverUrl: string, tpl: string, schema: string, migrations: Record<string, Migration>): Promise<void> {
  const exists = async (name: string): Promise<boolean> =>
    (await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount === 1;
  if (await exists(tpl)) return;
  // Parallel Jest workers: one builds, the others wait on the lock and then find the template.
  await admin.query('SELECT pg_advisory_lock(hashtext($1))', [`noctria.tpl.${tpl}`]);
  try {
    if (await exists(tpl)) return;
    // Built under another name and renamed at the end, so a crash never leaves a half-migrated template.
    const building = tpl.replace(/^noctria_tpl_/, 'noctria_tpb_');
    if (await exists(building)) {
      await admin.query(`ALTER DATABASE ${ident(building)} WITH IS_TEMPLATE false`);
      await admin.query(`DROP DATABASE ${ident(building)} WITH (FORCE)`);
    }
    await admin.query(`CREATE DATABASE ${ident(building)}`);
    const d = createDatabase({ connectionString: withDatabase(serverUrl, building), schema, poolMax: 3, applicationName: 'noctria-testing-template' });
    try {
      await migrateToLatest({ db: d.db, schema, migrations });
    } finally {
      await d.close();
    }
    // Nobody may connect to a template (a connection would make CREATE DATABASE … TEMPLATE fail).
    await admin.query(`ALTER DATABASE ${ident(building)} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false`);
    await admin.query(`ALTER DATABASE ${ident(building)} RENAME TO ${ident(tpl)}`);
  } finally {
    await admin.query('SELECT pg_advisory_unlock(hashtext($1))', [`noctria.tpl.${tpl}`]);
  }
}

let cleanedThisProcess = false;

/** Drops per-test databases (`noctria_t_<yyyyMMddHHmmss>_…`) created more than `olderThanMs` ago; returns their names. */
export async function dropStaleTestDatabases(serverUrl?: string, olderThanMs = 3 * 3600_000): Promise<string[]> {
  const url = serverUrl ?? (await postgresUrl());
  return withAdmin(url, async (admin) => {
    const r = await admin.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname LIKE 'noctria\\_t\\_%'`);
    const cutoff = Date.now() - olderThanMs;
    const dropped: string[] = [];
    for (const { datname } of r.rows) {
      const m = TEST_DB.exec(datname);
      if (!m || parseStamp(m[1] as string) >= cutoff) continue;
      try {
        await admin.query(`DROP DATABASE IF EXISTS ${ident(datname)} WITH (FORCE)`);
        dropped.push(datname);
      } catch {
        // Another worker may be dropping it at the same moment; cleanup is best effort.
      }
    }
    return dropped;
  });
}

/**
 * A fresh database for one test (file), cloned with `CREATE DATABASE … TEMPLATE` from a template holding the
 * migrated schema. The template is built once per (schema, migrations) content, under an advisory lock in the
 * `postgres` database, so parallel workers never race. Works with no migrations (just the schema).
 */
export async function createTestDatabase(options: TestDatabaseOptions): Promise<TestDatabase> {
  const serverUrl = options.serverUrl ?? (await postgresUrl());
  const migrations = options.migrations ?? {};
  const tpl = templateDatabaseName(options.schema, migrations);
  const databaseName = `noctria_t_${stamp()}_${randomBytes(4).toString('hex')}_${options.schema.slice(0, 28)}`;
  if (!cleanedThisProcess) {
    cleanedThisProcess = true;
    await dropStaleTestDatabases(serverUrl, options.staleAfterMs).catch(() => undefined);
  }
  await withAdmin(serverUrl, async (admin) => {
    await ensureTemplate(admin, serverUrl, tpl, options.schema, migrations);
    await admin.query(`CREATE DATABASE ${ident(databaseName)} TEMPLATE ${ident(tpl)}`);
  });
  let dropping: Promise<void> | undefined;
  return {
    connectionString: withDatabase(serverUrl, databaseName),
    databaseName,
    templateName: tpl,
    schema: options.schema,
    drop() {
      dropping ??= withAdmin(serverUrl, async (admin) => {
        await admin.query(`DROP DATABASE IF EXISTS ${ident(databaseName)} WITH (FORCE)`);
      });
      return dropping;
    },
  };
}

/** Drops a template (e.g. `templateDatabaseName(schema, migrations)`) so the next call rebuilds it. */
export async function dropTemplateDatabase(name: string, serverUrl?: string): Promise<void> {
  const url = serverUrl ?? (await postgresUrl());
  await withAdmin(url, async (admin) => {
    const r = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (r.rowCount === 0) return;
    await admin.query(`ALTER DATABASE ${ident(name)} WITH IS_TEMPLATE false`);
    await admin.query(`DROP DATABASE IF EXISTS ${ident(name)} WITH (FORCE)`);
  });
}
