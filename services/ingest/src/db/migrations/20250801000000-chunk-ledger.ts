/**
 * Chunk ledger: one row per committed chunk store, written in the chunk's own transaction. A store step that
 * lost its connection during COMMIT cannot know whether the commit went through; before re-running, the retry
 * looks its attempt token up here and, when found, reuses the recorded outcome instead of adding the chunk's
 * DQ counters and run counts a second time.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE ingest.chunk_ledger (
      token         text        PRIMARY KEY,
      ingest_run_id text        NOT NULL,
      symbol        text        NOT NULL,
      timeframe     text        NOT NULL,
      start_ts      timestamptz NOT NULL,
      end_ts        timestamptz NOT NULL,
      outcome       jsonb       NOT NULL,
      committed_at  timestamptz NOT NULL DEFAULT now()
    )`.execute(db);
  await sql`CREATE INDEX chunk_ledger_run_idx ON ingest.chunk_ledger (ingest_run_id, symbol, timeframe, start_ts)`.execute(db);
  await sql`CREATE INDEX chunk_ledger_committed_at_idx ON ingest.chunk_ledger (committed_at)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE IF EXISTS ingest.chunk_ledger`.execute(db);
}
