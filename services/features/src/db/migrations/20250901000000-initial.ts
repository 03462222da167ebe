/**
 * Initial `features` schema.
 *
 * - `leg_bars`: every closed bar consumed from `md.bar.<tf>.<symbol>` (this service never reads the ingest schema),
 *   keyed (symbol, timeframe, ts_utc). Prices are `double precision` like ingest's: they round-trip bit-exactly,
 *   so replaying stored bars into an engine reproduces the live computation exactly.
 * - `vectors`: one row per (pair, timeframe, feature schema hash, bar time). `feature_values` holds the features in
 *   FEATURE_NAMES order as `float8[]`; an undefined (warm-up) feature is a NULL element. `complete` = every feature
 *   defined. The schema hash is part of the key: a parameter change starts a new series next to the old one.
 * - `pair_state`: how far each (pair, timeframe, schema hash) engine has advanced; the row is locked while a bar is
 *   applied, which serialises writers and tells a process whether its in-memory engine is current.
 * - `checkpoints`: `engine.snapshot()` JSON written in the same transaction as the vector it follows.
 * - `outbox`: `feat.<tf>.<pair_id>` messages written with their vector, published by the relay.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`CREATE SCHEMA IF NOT EXISTS features`.execute(db);

  await sql`
    CREATE TABLE features.leg_bars (
      symbol        text             NOT NULL,
      timeframe     text             NOT NULL,
      ts_utc        timestamptz      NOT NULL,
      open          double precision NOT NULL,
      high          double precision NOT NULL,
      low           double precision NOT NULL,
      close         double precision NOT NULL,
      volume        double precision NULL,
      quality_flag  text             NOT NULL
        CHECK (quality_flag IN ('ok','missing','outlier','resampled','conflict','stale','revised')),
      source_id     text             NOT NULL,
      checksum      text             NOT NULL,
      ingest_stale  boolean          NOT NULL DEFAULT false,
      live          boolean          NOT NULL DEFAULT false,
      closed_at     timestamptz      NULL,
      received_at   timestamptz      NOT NULL,
      revision      integer          NOT NULL DEFAULT 0,
      PRIMARY KEY (symbol, timeframe, ts_utc)
    )`.execute(db);

  await sql`
    CREATE TABLE features.pair_state (
      pair_id      text        NOT NULL,
      timeframe    text        NOT NULL,
      schema_hash  text        NOT NULL,
      symbol_a     text        NOT NULL,
      symbol_b     text        NOT NULL,
      last_ts      timestamptz NULL,
      bars_seen    integer     NOT NULL DEFAULT 0,
      updated_at   timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (pair_id, timeframe, schema_hash)
    )`.execute(db);

  await sql`
    CREATE TABLE features.vectors (
      pair_id         text             NOT NULL,
      timeframe       text             NOT NULL,
      schema_hash     text             NOT NULL,
      ts_utc          timestamptz      NOT NULL,
      feature_values  double precision[] NOT NULL,
      complete        boolean          NOT NULL,
      quality_flag    text             NOT NULL CHECK (quality_flag IN ('ok','stale','outlier','missing','beta_jump')),
      quality_reasons text[]           NOT NULL DEFAULT '{}',
      bars_seen       integer          NOT NULL,
      stored_at       timestamptz      NOT NULL,
      PRIMARY KEY (pair_id, timeframe, schema_hash, ts_utc)
    )`.execute(db);

  await sql`
    CREATE TABLE features.checkpoints (
      pair_id     text        NOT NULL,
      timeframe   text        NOT NULL,
      schema_hash text        NOT NULL,
      bars_seen   integer     NOT NULL,
      ts_utc      timestamptz NOT NULL,
      state       text        NOT NULL,
      created_at  timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (pair_id, timeframe, schema_hash, bars_seen)
    )`.execute(db);

  await sql`
    CREATE TABLE features.outbox (
      id         bigserial   PRIMARY KEY,
      subject    text        NOT NULL,
      msg_id     text        NOT NULL,
      payload    bytea       NOT NULL,
      headers    jsonb       NOT NULL DEFAULT '{}'::jsonb,
      created_at timestamptz NOT NULL DEFAULT now(),
      sent_at    timestamptz NULL,
      attempts   integer     NOT NULL DEFAULT 0,
      last_error text        NULL
    )`.execute(db);
  await sql`CREATE INDEX outbox_pending_idx ON features.outbox (id) WHERE sent_at IS NULL`.execute(db);
  await sql`CREATE INDEX outbox_sent_idx ON features.outbox (sent_at) WHERE sent_at IS NOT NULL`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  // The schema itself stays: the migration bookkeeping table lives in it.
  for (const table of ['outbox', 'checkpoints', 'vectors', 'pair_state', 'leg_bars']) {
    await sql`DROP TABLE IF EXISTS ${sql.table(`features.${table}`)}`.execute(db);
  }
}
