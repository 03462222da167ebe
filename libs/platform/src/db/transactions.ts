import { Kysely, PostgresDialect, type KyselyPlugin, type PostgresPool, type PostgresPoolClient, type Transaction } from 'kysely';
import type pg from 'pg';

export type IsolationLevel = 'read committed' | 'repeatable read' | 'serializable';

export interface TransactionOptions {
  isolation?: IsolationLevel;
  accessMode?: 'read only' | 'read write';
  /**
   * Retries of the whole function after a serialization failure (40001) or deadlock (40P01), which
   * Postgres asks the client to retry. Default 0. The function must be safe to re-run.
   */
  retries?: number;
}

const RETRYABLE = new Set(['40001', '40P01']);

function sqlState(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null && 'code' in e && typeof (e as { code: unknown }).code === 'string'
    ? (e as { code: string }).code
    : undefined;
}

/**
 * Runs `fn` in one transaction: committed when it resolves, rolled back when it throws. Inside an existing
 * transaction `fn` simply joins it (Kysely has no nested transactions; use savepoints explicitly if needed).
 */
export async function withTransaction<DB, T>(
  db: Kysely<DB>,
  fn: (trx: Transaction<DB>) => Promise<T>,
  options: TransactionOptions = {},
): Promise<T> {
  if (db.isTransaction) return fn(db as Transaction<DB>);
  const retries = options.retries ?? 0;
  for (let attempt = 0; ; attempt++) {
    try {
      let builder = db.transaction();
      if (options.isolation) builder = builder.setIsolationLevel(options.isolation);
      if (options.accessMode) builder = builder.setAccessMode(options.accessMode);
      return await builder.execute(fn);
    } catch (e) {
      const state = sqlState(e);
      if (attempt < retries && state !== undefined && RETRYABLE.has(state)) continue;
      throw e;
    }
  }
}

/** What a client transaction body receives: a Kysely `Transaction` and the raw pg client under it (same connection). */
export interface ClientTransaction<DB> {
  /** Kysely view of the transaction; `withTransaction(db, …)` inside joins it. */
  db: Transaction<DB>;
  /** The pg client running the transaction: for what Kysely cannot express (COPY … FROM STDIN). Never release it. */
  client: pg.PoolClient;
}

export interface ClientTransactionOptions extends TransactionOptions {
  /** Kysely plugins of the transaction's `db` (use the ones the database's Kysely was built with). */
  plugins?: KyselyPlugin[];
}

/**
 * A pg "pool" that always hands out the same client and never releases it: the dialect pool of a Kysely
 * instance bound to one checked-out connection. Releasing and ending are the owner's business.
 */
export function singleClientPool(client: pg.PoolClient): PostgresPool {
  const handle = {
    query: client.query.bind(client),
    release: () => undefined,
  } as unknown as PostgresPoolClient;
  return {
    connect: async () => handle,
    end: async () => undefined,
  };
}

/**
 * Runs `fn` in one transaction on a connection checked out of `pool`, with both a Kysely `Transaction` and the
 * raw pg client of that connection: Kysely statements and raw client work (COPY into a temp staging table)
 * commit or roll back together. The client comes from the same pool, so its type parsers are the database's.
 * On any failure the transaction is rolled back and the connection discarded (its state after a broken COPY or
 * an uncertain COMMIT is not trusted); `retries` re-runs `fn` after 40001/40P01 as `withTransaction` does.
 */
export async function withClientTransaction<DB, T>(
  pool: pg.Pool,
  fn: (tx: ClientTransaction<DB>) => Promise<T>,
  options: ClientTransactionOptions = {},
): Promise<T> {
  const retries = options.retries ?? 0;
  for (let attempt = 0; ; attempt++) {
    try {
      return await onClientTransaction(pool, fn, options);
    } catch (e) {
      const state = sqlState(e);
      if (attempt < retries && state !== undefined && RETRYABLE.has(state)) continue;
      throw e;
    }
  }
}

async function onClientTransaction<DB, T>(pool: pg.Pool, fn: (tx: ClientTransaction<DB>) => Promise<T>, options: ClientTransactionOptions): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  // A connection killed between statements would otherwise raise an unhandled 'error' on the client.
  const onError = (e: Error): void => {
    broken = e;
  };
  client.on('error', onError);
  try {
    const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool: singleClientPool(client) }), plugins: options.plugins ?? [] });
    let builder = db.transaction();
    if (options.isolation) builder = builder.setIsolationLevel(options.isolation);
    if (options.accessMode) builder = builder.setAccessMode(options.accessMode);
    return await builder.execute((trx) => fn({ db: trx, client }));
  } catch (e) {
    broken ??= e instanceof Error ? e : new Error(String(e));
    throw e;
  } finally {
    // A broken client keeps a listener: late errors (the server's FATAL after a reset) must not go unhandled.
    if (broken) client.on('error', () => undefined);
    client.off('error', onError);
    client.release(broken);
  }
}
