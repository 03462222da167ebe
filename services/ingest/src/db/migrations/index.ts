import type { Migration } from 'kysely';
import * as initial from './20250601000000-initial.js';
import * as chunkLedger from './20250801000000-chunk-ledger.js';

/** Every ingest migration by name; the name order is the apply order. */
export const ingestMigrations: Record<string, Migration> = {
  '20250601000000-initial': initial,
  '20250801000000-chunk-ledger': chunkLedger,
};

export const INGEST_SCHEMA = 'ingest';
