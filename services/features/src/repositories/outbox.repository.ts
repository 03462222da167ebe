import type { Kysely } from 'kysely';
import { OutboxRepository as PlatformOutboxRepository } from '@noctria/platform';
import type { DB } from '../db/schema.js';

export type { OutboxMessage, PendingOutboxRow } from '@noctria/platform';

/** `features.outbox`: feature vectors announced in the transaction that stores them. */
export class OutboxRepository extends PlatformOutboxRepository<DB> {
  constructor(db: Kysely<DB>) {
    super(db, { schema: 'features' });
  }
}
