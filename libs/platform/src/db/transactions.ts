import type { Kysely, Transaction } from 'kysely';

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
