// Database area of @noctria/platform: Kysely over pg with per-schema search_path, per-schema migrations under
// an advisory lock, transactions, advisory locks and measured bulk writers (COPY staging and unnest batches).
export * from './errors.js';
export { assertIdentifier, assertPgType, quoteIdent, qualifiedName } from './identifiers.js';
export * from './database.js';
export * from './migrations.js';
export * from './transactions.js';
export * from './locks.js';
export type { BulkRow, BulkRows, BulkWriteResult, ConflictSpec, ValueOptions } from './bulk.js';
export * from './copy.js';
export * from './unnest.js';
