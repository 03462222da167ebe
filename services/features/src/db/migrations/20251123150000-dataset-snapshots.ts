/**
 * `dataset_snapshots`: one row per training dataset snapshot (issue 3). The artefacts (one Parquet file per pair and
 * `manifest.json`) live in the ArtifactStore; the row holds the manifest reference with its sha256, the hashes that
 * identify the snapshot, and its lifecycle. `request_key` (sha256 of the canonical request with the resolved
 * parameters) is unique: a repeated request finds the existing snapshot. `expires_at` = created_at +
 * data_retention.features_snapshot_months; the retention pass deletes artefacts and row after it.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE features.dataset_snapshots (
      id                  text        PRIMARY KEY,
      request_key         text        NOT NULL UNIQUE,
      request             jsonb       NOT NULL,
      status              text        NOT NULL CHECK (status IN ('building','ready','failed')),
      timeframe           text        NOT NULL,
      pairs               text[]      NOT NULL,
      period_from         timestamptz NOT NULL,
      period_to           timestamptz NOT NULL,
      feature_schema_hash text        NOT NULL,
      data_hash           text        NULL,
      code_version        text        NULL,
      rows                integer     NULL,
      manifest_ref        jsonb       NULL,
      manifest_sha256     text        NULL,
      artifacts           jsonb       NOT NULL DEFAULT '[]'::jsonb,
      integrity           jsonb       NULL,
      error_id            text        NULL,
      error_message       text        NULL,
      created_at          timestamptz NOT NULL,
      ready_at            timestamptz NULL,
      expires_at          timestamptz NOT NULL
    )`.execute(db);
  await sql`CREATE INDEX dataset_snapshots_expires_idx ON features.dataset_snapshots (expires_at)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE IF EXISTS features.dataset_snapshots`.execute(db);
}
