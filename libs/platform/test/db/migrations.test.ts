import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { sql, type Kysely } from 'kysely';
import { createTestDatabase, type TestDatabase } from '@noctria/testing';
import {
  createDatabase,
  isAdvisoryLockHeld,
  isDataStorageError,
  migrateDown,
  migrateToLatest,
  migrationLockKey,
  migrationStatus,
  migrationsFromModules,
  type Database,
  type Migration,
} from '../../src/db/index.js';

// Each `up` appends to a log table outside the migrated objects, so a migration applied twice shows up twice.
const logged = (name: string, ddl: string, undo: string): Migration => ({
  async up(db) {
    await sql`create table if not exists public.migration_log (name text, at timestamptz default clock_timestamp())`.execute(db);
    await sql`insert into public.migration_log (name) values (${name})`.execute(db);
    await sql.raw(ddl).execute(db);
  },
  async down(db) {
    await sql.raw(undo).execute(db);
  },
});

const MIGRATIONS: Record<string, Migration> = {
  '20240101000000-accounts': logged('accounts', 'create table accounts (id int8 primary key, name text not null)', 'drop table accounts'),
  '20240102000000-orders': logged('orders', 'create table orders (id int8 primary key, account_id int8 references accounts(id))', 'drop table orders'),
  '20240103000000-orders-qty': logged('orders-qty', 'alter table orders add column qty double precision', 'alter table orders drop column qty'),
};

async function tables(db: Kysely<any>, schema: string): Promise<string[]> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const r = await sql<{ t: string }>`select table_name as t from information_schema.tables where table_schema = ${schema} order by 1`.execute(db);
  return r.rows.map((x) => x.t);
}

describe('per-schema migrations', () => {
  let test: TestDatabase;
  const open: Database<any>[] = []; // eslint-disable-line @typescript-eslint/no-explicit-any
  const connect = (schema: string): Database<any> => { // eslint-disable-line @typescript-eslint/no-explicit-any
    const d = createDatabase({ connectionString: test.connectionString, schema, poolMax: 4 });
    open.push(d);
    return d;
  };

  beforeAll(async () => {
    // An empty database (no template migrations): the tests migrate it themselves.
    test = await createTestDatabase({ schema: 'migr_base' });
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((d) => d.close()));
  });
  afterAll(async () => {
    await test?.drop();
  });

  it('creates the schema, applies in order, keeps bookkeeping inside the schema, and is idempotent', async () => {
    const { db } = connect('svc_a');
    const applied = await migrateToLatest({ db, schema: 'svc_a', migrations: MIGRATIONS });
    expect(applied).toEqual(Object.keys(MIGRATIONS).sort());
    expect(await tables(db, 'svc_a')).toEqual(['accounts', 'kysely_migration', 'kysely_migration_lock', 'orders']);
    expect(await tables(db, 'public')).toEqual(['migration_log']);
    expect(await migrateToLatest({ db, schema: 'svc_a', migrations: MIGRATIONS })).toEqual([]);
    const status = await migrationStatus({ db, schema: 'svc_a', migrations: MIGRATIONS });
    expect(status.map((s) => [s.name, s.executedAt instanceof Date])).toEqual(Object.keys(MIGRATIONS).map((n) => [n, true]));
    // search_path of the connection used is restored afterwards.
    const sp = await sql<{ sp: string }>`select current_setting('search_path') as sp`.execute(db);
    expect(sp.rows[0]?.sp).toBe('svc_a,public');
  });

  it('two replicas migrating at once apply each migration exactly once', async () => {
    const a = connect('svc_b');
    const b = connect('svc_b');
    const [ra, rb] = await Promise.all([
      migrateToLatest({ db: a.db, schema: 'svc_b', migrations: MIGRATIONS }),
      migrateToLatest({ db: b.db, schema: 'svc_b', migrations: MIGRATIONS }),
    ]);
    expect([...ra, ...rb].sort()).toEqual(Object.keys(MIGRATIONS).sort());
    expect(ra.length === 0 || rb.length === 0).toBe(true);
    const log = await sql<{ n: number }>`select count(*) as n from public.migration_log where name = 'orders-qty'`.execute(a.db);
    // svc_a ran earlier in this file and logged once; svc_b must add exactly one more.
    expect(log.rows[0]?.n).toBe(2);
  });

  it('holds the schema advisory lock while migrations run', async () => {
    const d = connect('svc_c');
    const observer = connect('svc_c');
    const seen: boolean[] = [];
    const probe: Migration = {
      async up(db) {
        seen.push(await isAdvisoryLockHeld(observer.db, migrationLockKey('svc_c')));
        await sql`create table probe (x int)`.execute(db);
      },
    };
    await migrateToLatest({ db: d.db, schema: 'svc_c', migrations: { '20240101000000-probe': probe } });
    expect(seen).toEqual([true]);
    expect(await isAdvisoryLockHeld(observer.db, migrationLockKey('svc_c'))).toBe(false);
  });

  it('rolls back one step', async () => {
    const { db } = connect('svc_d');
    await migrateToLatest({ db, schema: 'svc_d', migrations: MIGRATIONS });
    expect(await migrateDown({ db, schema: 'svc_d', migrations: MIGRATIONS })).toBe('20240103000000-orders-qty');
    const cols = await sql<{ c: string }>`select column_name as c from information_schema.columns where table_schema = 'svc_d' and table_name = 'orders' order by 1`.execute(db);
    expect(cols.rows.map((r) => r.c)).toEqual(['account_id', 'id']);
    expect(await migrateDown({ db, schema: 'svc_d', migrations: MIGRATIONS })).toBe('20240102000000-orders');
    expect(await tables(db, 'svc_d')).toEqual(['accounts', 'kysely_migration', 'kysely_migration_lock']);
    // Up again re-applies exactly the two reverted ones.
    expect(await migrateToLatest({ db, schema: 'svc_d', migrations: MIGRATIONS })).toEqual(['20240102000000-orders', '20240103000000-orders-qty']);
  });

  it('fails with DATA_STORAGE_MIGRATE naming the migration, and applies nothing of the failed run', async () => {
    const { db } = connect('svc_e');
    const broken = {
      ...MIGRATIONS,
      '20240104000000-broken': logged('broken', 'alter table no_such_table add column x int', 'select 1'),
    };
    const err = await migrateToLatest({ db, schema: 'svc_e', migrations: broken }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isDataStorageError(err, 'DATA_STORAGE_MIGRATE')).toBe(true);
    expect((err as Error).message).toContain('20240104000000-broken');
    expect((err as { details: Record<string, unknown> }).details['migration']).toBe('20240104000000-broken');
    expect(await tables(db, 'svc_e')).toEqual(['kysely_migration', 'kysely_migration_lock']);
    // The lock was released: a corrected set applies.
    expect(await migrateToLatest({ db, schema: 'svc_e', migrations: MIGRATIONS })).toHaveLength(3);
  });

  it('refuses to roll back a migration without down()', async () => {
    const { db } = connect('svc_f');
    const m = { '20240101000000-only-up': { up: MIGRATIONS['20240101000000-accounts']!.up } };
    await migrateToLatest({ db, schema: 'svc_f', migrations: m });
    const err = await migrateDown({ db, schema: 'svc_f', migrations: m }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isDataStorageError(err, 'DATA_STORAGE_MIGRATE')).toBe(true);
    expect(await tables(db, 'svc_f')).toContain('accounts');
    expect(await migrateDown({ db, schema: 'svc_g', migrations: {} })).toBeUndefined();
  });

  it('migrationsFromModules normalises paths and rejects bad names', () => {
    const up = MIGRATIONS['20240101000000-accounts']!.up;
    expect(Object.keys(migrationsFromModules({ './migrations/20240101000000-init.ts': { up }, '20240102000000-next.js': { up } }))).toEqual([
      '20240101000000-init',
      '20240102000000-next',
    ]);
    expect(() => migrationsFromModules({ '2024-01-01-init': { up } })).toThrow(/yyyyMMddHHmmss/);
    expect(() => migrationsFromModules({ '20240101000000-x.ts': { up }, '20240101000000-x.js': { up } })).toThrow(/duplicate/);
  });
});
