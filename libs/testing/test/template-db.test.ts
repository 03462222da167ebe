import { afterAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { sql } from 'kysely';
import { createDatabase, type Migration } from '@noctria/platform';
import { createTestDatabase, dropStaleTestDatabases, dropTemplateDatabase, postgresUrl, templateDatabaseName, withDatabase, type TestDatabase } from '../src/index.js';

const schema = `tplt_${process.pid}`; // fresh per run so the template is actually built here
let upCalls = 0;
const migrations: Record<string, Migration> = {
  '20240101000000-items': {
    async up(db) {
      upCalls++;
      await sql`create table items (id int primary key, name text)`.execute(db);
      await sql`insert into items values (1, 'seeded')`.execute(db);
    },
    async down(db) {
      await sql`drop table items`.execute(db);
    },
  },
};

async function adminQuery<T extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<T[]> {
  const c = new pg.Client({ connectionString: withDatabase(await postgresUrl(), 'postgres') });
  await c.connect();
  try {
    return (await c.query<T>(text, values)).rows;
  } finally {
    await c.end();
  }
}

describe('template databases', () => {
  const created: TestDatabase[] = [];
  afterAll(async () => {
    await Promise.all(created.map((d) => d.drop()));
    await dropTemplateDatabase(templateDatabaseName(schema, migrations));
    await dropTemplateDatabase(templateDatabaseName(`${schema}_none`));
  });

  it('parallel callers build the template once and each get an isolated migrated clone', async () => {
    const dbs = await Promise.all([1, 2, 3, 4].map(() => createTestDatabase({ schema, migrations })));
    created.push(...dbs);
    expect(upCalls).toBe(1);
    expect(new Set(dbs.map((d) => d.databaseName)).size).toBe(4);
    expect(new Set(dbs.map((d) => d.templateName))).toEqual(new Set([templateDatabaseName(schema, migrations)]));
    const [a, b] = dbs.map((d) => createDatabase({ connectionString: d.connectionString, schema, poolMax: 1 }));
    try {
      await sql`insert into items values (2, 'only in a')`.execute(a!.db);
      const inA = await sql<{ n: number }>`select count(*) as n from items`.execute(a!.db);
      const inB = await sql<{ n: number }>`select count(*) as n from items`.execute(b!.db);
      expect([inA.rows[0]?.n, inB.rows[0]?.n]).toEqual([2, 1]);
    } finally {
      await Promise.all([a!.close(), b!.close()]);
    }
    const tpl = await adminQuery<{ datistemplate: boolean; datallowconn: boolean }>('select datistemplate, datallowconn from pg_database where datname = $1', [dbs[0]!.templateName]);
    expect(tpl).toEqual([{ datistemplate: true, datallowconn: false }]);
  });

  it('the template name changes with the migrations content', () => {
    const changed = { '20240101000000-items': { ...migrations['20240101000000-items']!, up: async () => undefined } };
    expect(templateDatabaseName(schema, changed)).not.toBe(templateDatabaseName(schema, migrations));
    expect(templateDatabaseName(schema, migrations)).toMatch(new RegExp(`^noctria_tpl_${schema}_[0-9a-f]{12}$`));
  });

  it('works without migrations and drop() removes the database', async () => {
    const d = await createTestDatabase({ schema: `${schema}_none` });
    const conn = createDatabase({ connectionString: d.connectionString, schema: d.schema, poolMax: 1 });
    try {
      const r = await sql<{ s: string }>`select schema_name as s from information_schema.schemata where schema_name = ${d.schema}`.execute(conn.db);
      expect(r.rows).toEqual([{ s: d.schema }]);
    } finally {
      await conn.close();
    }
    await d.drop();
    await d.drop();
    expect(await adminQuery('select 1 from pg_database where datname = $1', [d.databaseName])).toEqual([]);
  });

  it('drops stale per-test databases only', async () => {
    const old = `noctria_t_20000101000000_deadbeef_stale`;
    await adminQuery(`drop database if exists ${old}`);
    await adminQuery(`create database ${old}`);
    const fresh = await createTestDatabase({ schema: `${schema}_none` });
    created.push(fresh);
    const dropped = await dropStaleTestDatabases(undefined, 3 * 3600_000);
    expect(dropped).toContain(old);
    expect(dropped).not.toContain(fresh.databaseName);
    expect(await adminQuery('select datname from pg_database where datname = any($1)', [[old, fresh.databaseName]])).toEqual([{ datname: fresh.databaseName }]);
  });
});
