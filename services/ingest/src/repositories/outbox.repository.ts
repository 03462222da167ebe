import type { Kysely } from 'kysely';
import { OutboxRepository as PlatformOutboxRepository } from '@noctria/platform';
import type { DB } from '../db/schema.js';

export { encodeOutboxRows, type OutboxMessage, type PendingOutboxRow } from '@noctria/platform';

/** `ingest.outbox`: bars announced in the transaction that stores them. */
export class OutboxRepository extends PlatformOutboxRepository<DB> {
  constructor(db: Kysely<DB>) {
    super(db, { schema: 'ingest' });
  }
}
