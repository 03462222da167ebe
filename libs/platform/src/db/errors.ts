import { NoctriaError, type Severity } from '../errors/index.js';

/**
 * Error ids raised by the database helpers (`{DOMAIN}_{CATEGORY}_{CODE}`):
 * - `DATA_STORAGE_CONFIG`: invalid identifier, type, option or missing table (a programming error);
 * - `DATA_STORAGE_MIGRATE`: a migration (named in `details.migration`) or the migration lock failed;
 * - `DATA_STORAGE_BADVALUE`: a value cannot be stored (NaN/Infinity unless allowed, NUL in text, invalid Date);
 * - `DATA_STORAGE_INT8RANGE`: an int8 read from Postgres does not fit a JS number exactly;
 * - `DATA_STORAGE_BULKWRITE`: a bulk write failed (connection lost, constraint…); nothing of it was stored.
 */
export const DATA_STORAGE_ERROR_IDS = [
  'DATA_STORAGE_CONFIG',
  'DATA_STORAGE_MIGRATE',
  'DATA_STORAGE_BADVALUE',
  'DATA_STORAGE_INT8RANGE',
  'DATA_STORAGE_BULKWRITE',
] as const;
export type DataStorageErrorId = (typeof DATA_STORAGE_ERROR_IDS)[number];

const SEVERITY: Record<DataStorageErrorId, Severity> = {
  DATA_STORAGE_CONFIG: 'CRITICAL',
  DATA_STORAGE_MIGRATE: 'CRITICAL',
  DATA_STORAGE_BADVALUE: 'WARNING',
  DATA_STORAGE_INT8RANGE: 'WARNING',
  DATA_STORAGE_BULKWRITE: 'WARNING',
};

export class DataStorageError extends NoctriaError {
  declare readonly id: DataStorageErrorId;

  constructor(id: DataStorageErrorId, message: string, details: Record<string, unknown> = {}, cause?: unknown) {
    super(id, message, cause === undefined ? { details, severity: SEVERITY[id] } : { details, severity: SEVERITY[id], cause });
    this.name = 'DataStorageError';
  }
}

export function isDataStorageError(e: unknown, id?: DataStorageErrorId): e is DataStorageError {
  return e instanceof DataStorageError && (id === undefined || e.id === id);
}
