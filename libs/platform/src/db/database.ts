import { Kysely, PostgresDialect, sql, type KyselyPlugin } from 'kysely';
import pg from 'pg';
import { DataStorageError } from './errors.js';
import { assertIdentifier } from './identifiers.js';

/**
 * Type parsing decisions (per pool, never the process-global `pg.types`):
 * - `int8`/`bigint` (and `int8[]`) → JS `number`. Counts, ids and sequence values all fit in 2^53; a value
 *   outside ±(2^53−1) cannot be represented exactly, so the query fails with `DATA_STORAGE_INT8RANGE`
 *   instead of silently losing precision. Cast such columns to `text` (or `numeric`) in SQL when they exist.
 * - `numeric` → `string` (pg default, exact decimal; convert deliberately where used).
 * - `timestamptz` → `Date` (pg default; the instant is exact to the millisecond — Postgres keeps µs, the
 *   sub-millisecond part is dropped by `Date`).
 * - `timestamp` (without time zone) → `Date` interpreted as **UTC** (pg's default interprets it in the Node
 *   process's local zone). Prefer `timestamptz` columns.
 * - `date` → `string` `YYYY-MM-DD` (pg's default builds a local-midnight `Date`, a classic off-by-one-day bug).
 */
export const PG_OID = {
  INT8: 20,
  INT8_ARRAY: 1016,
  NUMERIC: 1700,
  DATE: 1082,
  DATE_ARRAY: 1182,
  TIMESTAMP: 1114,
  TIMESTAMP_ARRAY: 1115,
  TIMESTAMPTZ: 1184,
} as const;

export function parseInt8(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) {
    throw new DataStorageError(
      'DATA_STORAGE_INT8RANGE',
      `int8 value ${value} is outside the exactly representable range of a JS number; cast it to text or numeric in SQL`,
      { value },
    );
  }
  return n;
}

function parseTimestampAsUtc(value: string): Date | number {
  if (value === 'infinity') return Infinity;
  if (value === '-infinity') return -Infinity;
  // `2024-01-02 03:04:05.123456` (ISO date style) → treat as UTC. BC dates are not supported here.
  const m = /^(\d{4,})-(\d\d)-(\d\d)[ T](\d\d):(\d\d):(\d\d)(\.\d+)?$/.exec(value);
  if (!m) return new Date(NaN);
  const ms = m[7] ? Math.floor(Number(m[7]) * 1000) : 0;
  const d = new Date(0);
  d.setUTCFullYear(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  d.setUTCHours(Number(m[4]), Number(m[5]), Number(m[6]), ms);
  return d;
}

// pg's typings only list built-in scalar oids; array oids are valid at runtime.
const textParser = pg.types.getTypeParser as unknown as (oid: number, format: 'text' | 'binary') => (value: string) => unknown;

/** The per-pool type parser set described above. */
export const noctriaTypes: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: string) => {
    if (format === 'binary') return textParser(oid, 'binary');
    switch (oid) {
      case PG_OID.INT8:
        return parseInt8;
      case PG_OID.INT8_ARRAY: {
        const base = textParser(PG_OID.INT8_ARRAY, 'text') as (v: string) => (string | null)[];
        return (v: string) => base(v).map((x) => (x === null ? null : parseInt8(String(x))));
      }
      case PG_OID.DATE:
        return (v: string) => v;
      case PG_OID.DATE_ARRAY:
        return textParser(1015 /* varchar[] → string[] */, 'text');
      case PG_OID.TIMESTAMP:
        return parseTimestampAsUtc;
      case PG_OID.TIMESTAMP_ARRAY: {
        const strings = textParser(1015, 'text') as (v: string) => (string | null)[];
        return (v: string) => strings(v).map((x) => (x === null ? null : parseTimestampAsUtc(x)));
      }
      default:
        return textParser(oid, 'text');
    }
  }) as pg.CustomTypesConfig['getTypeParser'],
};

export interface CreateDatabaseOptions {
  connectionString: string;
  /** The service's own schema: first on `search_path` of every connection (then `public`). */
  schema: string;
  poolMax?: number;
  /** Shown in `pg_stat_activity.application_name`. */
  applicationName?: string;
  /** Server-side `statement_timeout` for every statement of this pool. */
  statementTimeoutMs?: number;
  /** Milliseconds to wait for a new connection before failing (default 10 s). */
  connectionTimeoutMs?: number;
  /** Idle connections are closed after this many milliseconds (default 30 s). */
  idleTimeoutMs?: number;
  plugins?: KyselyPlugin[];
  /** Called when a connection dies (server restart, pg_terminate_backend, network); default: ignored here —
   *  the failing query rejects, and the pool discards the dead client. */
  onConnectionError?: (error: Error) => void;
}

export interface Database<DB> {
  db: Kysely<DB>;
  pool: pg.Pool;
  schema: string;
  /** Destroys the Kysely instance and ends the pool. Idempotent. */
  close(): Promise<void>;
}

/**
 * Builds the `-c key=value` startup options. Values inside `options` are space separated and use
 * backslash escaping, so commas inside search_path are fine; spaces are not allowed in schema names anyway.
 */
function startupOptions(schema: string, extra: string | null): string {
  const own = `-c search_path=${schema},public`;
  return extra ? `${extra} ${own}` : own;
}

/** Splits a `?options=` parameter out of a URL so it can be merged with ours (URL params override config in pg). */
function splitOptions(connectionString: string): { url: string; options: string | null } {
  try {
    const u = new URL(connectionString);
    const options = u.searchParams.get('options');
    if (options === null) return { url: connectionString, options: null };
    u.searchParams.delete('options');
    return { url: u.toString(), options };
  } catch {
    return { url: connectionString, options: null };
  }
}

export function createPool(options: CreateDatabaseOptions): pg.Pool {
  const schema = assertIdentifier(options.schema, 'schema');
  const { url, options: urlOptions } = splitOptions(options.connectionString);
  const config: pg.PoolConfig = {
    connectionString: url,
    max: options.poolMax ?? 10,
    application_name: options.applicationName ?? `noctria-${schema}`,
    options: startupOptions(schema, urlOptions),
    types: noctriaTypes,
    connectionTimeoutMillis: options.connectionTimeoutMs ?? 10_000,
    idleTimeoutMillis: options.idleTimeoutMs ?? 30_000,
  };
  if (options.statementTimeoutMs !== undefined) config.statement_timeout = options.statementTimeoutMs;
  const pool = new pg.Pool(config);
  // An idle client losing its server (restart, pg_terminate_backend) emits 'error' on the pool; without a
  // listener that would crash the process. The pool discards the client; the next checkout reconnects.
  const onError = options.onConnectionError ?? (() => undefined);
  pool.on('error', onError);
  // Kysely leaves checked-out clients without an 'error' listener: a backend killed while a client is checked out
  // but between queries (e.g. idle in a transaction) would emit an unhandled 'error' and crash the process.
  // pg marks such a client unqueryable; its next query rejects and the pool drops it on release.
  pool.on('connect', (client) => {
    client.on('error', onError);
  });
  return pool;
}

/** The pool (and plugins) behind each Kysely instance built by `createDatabase`, for `poolOf`. */
const pools = new WeakMap<object, { pool: pg.Pool; plugins: KyselyPlugin[] }>();

/**
 * The pg pool under a Kysely instance built by `createDatabase` (undefined for any other instance, including
 * transactions and `withPlugin`/`withSchema` derivatives): for work that needs a raw client on the same pool,
 * e.g. `withClientTransaction(poolOf(db), …)` to COPY inside a transaction.
 */
export function poolOf(db: Kysely<unknown>): { pool: pg.Pool; plugins: KyselyPlugin[] } | undefined {
  return pools.get(db);
}

export function createDatabase<DB>(options: CreateDatabaseOptions): Database<DB> {
  const pool = createPool(options);
  const plugins = options.plugins ?? [];
  const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool }), plugins });
  pools.set(db, { pool, plugins });
  let closing: Promise<void> | undefined;
  return {
    db,
    pool,
    schema: options.schema,
    close() {
      // Kysely's PostgresDriver.destroy() ends the pool it was given.
      closing ??= db.destroy();
      return closing;
    },
  };
}

/** `select 1` within `timeoutMs`; never throws (for /readyz). */
export async function isDatabaseReachable(db: Kysely<unknown>, timeoutMs = 2_000): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const probe = sql<{ ok: number }>`select 1 as ok`.execute(db).then((r) => r.rows[0]?.ok === 1);
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    return await Promise.race([probe.catch(() => false), timeout]);
  } catch {
    return false;
  } finally {
    if (timer) clearTimeout(timer);
  }
}
