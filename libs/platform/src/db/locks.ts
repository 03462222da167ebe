import { sql, type Kysely } from 'kysely';

/**
 * Session-level advisory locks keyed by `hashtext(key)` (a 32-bit hash: use distinct, namespaced keys such as
 * `noctria.retention.ingest`). The lock is taken on a connection reserved for the whole call and released in
 * `finally`; if that connection dies, Postgres releases the lock with the session.
 *
 * `fn` runs on the caller's pool, not on the lock connection (which is busy holding the lock), so a pool of
 * size 1 cannot use these helpers.
 */
export interface AdvisoryLockOptions {
  /** Give up waiting after this many milliseconds (Postgres `lock_timeout`, error 55P03). Default: wait. */
  timeoutMs?: number;
}

export type TryLockResult<T> = { acquired: true; value: T } | { acquired: false };

export async function withAdvisoryLock<T>(
  db: Kysely<any>, // eslint-disable-line @typescript-eslint/no-explicit-any
  key: string,
  fn: () => Promise<T>,
  options: AdvisoryLockOptions = {},
): Promise<T> {
  return db.connection().execute(async (conn) => {
    if (options.timeoutMs !== undefined) {
      await sql`select set_config('lock_timeout', ${String(Math.max(1, Math.round(options.timeoutMs)))}, false)`.execute(conn);
      try {
        await sql`select pg_advisory_lock(hashtext(${key}))`.execute(conn);
      } finally {
        await sql`select set_config('lock_timeout', '0', false)`.execute(conn);
      }
    } else {
      await sql`select pg_advisory_lock(hashtext(${key}))`.execute(conn);
    }
    try {
      return await fn();
    } finally {
      await sql`select pg_advisory_unlock(hashtext(${key}))`.execute(conn);
    }
  });
}

/** Like `withAdvisoryLock` but never waits: `{ acquired: false }` when another session holds the lock. */
export async function tryAdvisoryLock<T>(
  db: Kysely<any>, // eslint-disable-line @typescript-eslint/no-explicit-any
  key: string,
  fn: () => Promise<T>,
): Promise<TryLockResult<T>> {
  return db.connection().execute(async (conn) => {
    const r = await sql<{ locked: boolean }>`select pg_try_advisory_lock(hashtext(${key})) as locked`.execute(conn);
    if (!r.rows[0]?.locked) return { acquired: false } as const;
    try {
      return { acquired: true, value: await fn() } as const;
    } finally {
      await sql`select pg_advisory_unlock(hashtext(${key}))`.execute(conn);
    }
  });
}

/** True when some session currently holds the advisory lock for `key` (diagnostics and tests). */
export async function isAdvisoryLockHeld(db: Kysely<any>, key: string): Promise<boolean> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const r = await sql<{ held: boolean }>`
    select exists (
      select 1 from pg_locks
      where locktype = 'advisory' and granted and database = (select oid from pg_database where datname = current_database())
        and objsubid = 1
        and classid = ((hashtext(${key})::bigint >> 32) & 4294967295)::oid
        and objid = (hashtext(${key})::bigint & 4294967295)::oid
    ) as held`.execute(db);
  return r.rows[0]?.held === true;
}
