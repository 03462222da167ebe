/**
 * Initial ingest schema.
 *
 * Price columns are `double precision`: every consumer (features, backtest, protobuf `double` on the bus)
 * computes in IEEE-754 doubles, a double carries 15–17 significant digits (≥ 6 decimals for any price
 * below 10^9, the seed's precision floor), values round-trip bit-exactly between Postgres, JS and
 * protobuf (so the sha256 checksum is stable across the hop), and bulk upserts avoid numeric parsing.
 * `numeric` would add a string round-trip on every read for no precision the pipeline can use.
 *
 * `canonical_bars` is RANGE-partitioned by month on ts_utc; partitions are created on demand by
 * `ingest.ensure_bar_partitions(from, to)` (advisory-locked, idempotent) and dropped whole by retention.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`CREATE SCHEMA IF NOT EXISTS ingest`.execute(db);

  await sql`
    CREATE TABLE ingest.canonical_bars (
      ts_utc        timestamptz      NOT NULL,
      symbol        text             NOT NULL,
      timeframe     text             NOT NULL,
      open          double precision NOT NULL,
      high          double precision NOT NULL,
      low           double precision NOT NULL,
      close         double precision NOT NULL,
      volume        double precision NULL,
      quality_flag  text             NOT NULL
        CHECK (quality_flag IN ('ok','missing','outlier','resampled','conflict','stale','revised')),
      source_id     text             NOT NULL,
      ingest_run_id text             NOT NULL,
      metadata      jsonb            NOT NULL DEFAULT '{}'::jsonb,
      checksum      text             NOT NULL,
      ingested_at   timestamptz      NOT NULL DEFAULT now(),
      revision      integer          NOT NULL DEFAULT 0,
      PRIMARY KEY (symbol, timeframe, ts_utc)
    ) PARTITION BY RANGE (ts_utc)`.execute(db);

  // Creates the monthly partitions covering [p_from, p_to); returns how many it created. Safe under
  // concurrency: the fast path only reads the catalog; creation is serialised by a transaction-scoped
  // advisory lock and a concurrent creator's partition is recognised by the duplicate_table error.
  await sql`
    CREATE FUNCTION ingest.ensure_bar_partitions(p_from timestamptz, p_to timestamptz)
    RETURNS integer
    LANGUAGE plpgsql AS $fn$
    DECLARE
      m       timestamptz := date_trunc('month', p_from AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
      m_next  timestamptz;
      pname   text;
      created integer := 0;
      locked  boolean := false;
    BEGIN
      IF p_to <= p_from THEN
        p_to := p_from + interval '1 microsecond';
      END IF;
      WHILE m < p_to LOOP
        m_next := ((m AT TIME ZONE 'UTC') + interval '1 month') AT TIME ZONE 'UTC';
        pname := 'canonical_bars_p' || to_char(m AT TIME ZONE 'UTC', 'YYYYMM');
        IF to_regclass('ingest.' || pname) IS NULL THEN
          IF NOT locked THEN
            PERFORM pg_advisory_xact_lock(hashtext('ingest.canonical_bars.partitions'));
            locked := true;
          END IF;
          -- The name cache may still miss a partition another session has just committed (an advisory lock
          -- does not process catalog invalidations), so "already exists" is expected and harmless here.
          BEGIN
            EXECUTE format(
              'CREATE TABLE ingest.%I PARTITION OF ingest.canonical_bars FOR VALUES FROM (%L) TO (%L)',
              pname, m, m_next);
            created := created + 1;
          EXCEPTION WHEN duplicate_table OR unique_violation THEN
            NULL;
          END;
        END IF;
        m := m_next;
      END LOOP;
      RETURN created;
    END
    $fn$`.execute(db);

  await sql`
    CREATE TABLE ingest.raw_responses (
      id            bigserial   PRIMARY KEY,
      ingest_run_id text        NOT NULL,
      source_id     text        NOT NULL,
      request       jsonb       NOT NULL,
      content_type  text        NOT NULL,
      body          text        NOT NULL,
      received_at   timestamptz NOT NULL DEFAULT now()
    )`.execute(db);
  await sql`CREATE INDEX raw_responses_received_at_idx ON ingest.raw_responses (received_at)`.execute(db);

  await sql`
    CREATE TABLE ingest.ingest_runs (
      id           text        PRIMARY KEY,
      kind         text        NOT NULL CHECK (kind IN ('backfill','live','import')),
      source       text        NOT NULL,
      params       jsonb       NOT NULL DEFAULT '{}'::jsonb,
      status       text        NOT NULL CHECK (status IN ('running','succeeded','partial','failed','interrupted')),
      started_at   timestamptz NOT NULL DEFAULT now(),
      finished_at  timestamptz NULL,
      heartbeat_at timestamptz NOT NULL DEFAULT now(),
      counts       jsonb       NOT NULL DEFAULT '{}'::jsonb,
      error        jsonb       NULL
    )`.execute(db);
  await sql`CREATE INDEX ingest_runs_status_idx ON ingest.ingest_runs (status, started_at DESC)`.execute(db);

  await sql`
    CREATE TABLE ingest.watermarks (
      symbol     text        NOT NULL,
      timeframe  text        NOT NULL,
      last_ts    timestamptz NOT NULL,
      source_id  text        NOT NULL,
      updated_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (symbol, timeframe)
    )`.execute(db);

  await sql`
    CREATE TABLE ingest.dq_counters (
      ingest_run_id      text    NOT NULL,
      symbol             text    NOT NULL,
      timeframe          text    NOT NULL,
      month              date    NOT NULL,
      expected           integer NOT NULL DEFAULT 0,
      received           integer NOT NULL DEFAULT 0,
      missing            integer NOT NULL DEFAULT 0,
      outliers           integer NOT NULL DEFAULT 0,
      spikes             integer NOT NULL DEFAULT 0,
      duplicates_dropped integer NOT NULL DEFAULT 0,
      rejected           integer NOT NULL DEFAULT 0,
      filled             integer NOT NULL DEFAULT 0,
      revised            integer NOT NULL DEFAULT 0,
      conflicts          integer NOT NULL DEFAULT 0,
      updated_at         timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (ingest_run_id, symbol, timeframe, month)
    )`.execute(db);
  await sql`CREATE INDEX dq_counters_series_idx ON ingest.dq_counters (symbol, timeframe, month)`.execute(db);

  await sql`
    CREATE TABLE ingest.quarantine (
      id            bigserial   PRIMARY KEY,
      symbol        text        NOT NULL,
      timeframe     text        NOT NULL,
      month         date        NOT NULL,
      reason        text        NOT NULL,
      metrics       jsonb       NOT NULL,
      thresholds    jsonb       NOT NULL,
      range_from    timestamptz NOT NULL,
      range_to      timestamptz NOT NULL,
      ingest_run_id text        NOT NULL,
      created_at    timestamptz NOT NULL DEFAULT now(),
      released_at   timestamptz NULL,
      released_by_run_id text   NULL
    )`.execute(db);
  await sql`
    CREATE UNIQUE INDEX quarantine_active_uq ON ingest.quarantine (symbol, timeframe, month)
    WHERE released_at IS NULL`.execute(db);

  await sql`
    CREATE TABLE ingest.rejected_rows (
      id            bigserial   PRIMARY KEY,
      ingest_run_id text        NOT NULL,
      source_id     text        NOT NULL,
      symbol        text        NULL,
      timeframe     text        NULL,
      line          integer     NULL,
      error_id      text        NOT NULL,
      reason        text        NOT NULL,
      raw           text        NULL,
      created_at    timestamptz NOT NULL DEFAULT now()
    )`.execute(db);
  await sql`CREATE INDEX rejected_rows_run_idx ON ingest.rejected_rows (ingest_run_id, id)`.execute(db);

  // Transactional outbox: rows are written in the same transaction as the bars they announce; the relay
  // publishes them (msgId = idempotency key + checksum, de-duplicated by JetStream) and marks them sent.
  await sql`
    CREATE TABLE ingest.outbox (
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
  await sql`CREATE INDEX outbox_pending_idx ON ingest.outbox (id) WHERE sent_at IS NULL`.execute(db);
  await sql`CREATE INDEX outbox_sent_idx ON ingest.outbox (sent_at) WHERE sent_at IS NOT NULL`.execute(db);

  // Freshness flags raised by live mode (md.stale.<tf>.<symbol>), cleared when the bar arrives.
  await sql`
    CREATE TABLE ingest.stale_flags (
      symbol          text        NOT NULL,
      timeframe       text        NOT NULL,
      expected_ts     timestamptz NOT NULL,
      budget_seconds  integer     NOT NULL,
      raised_at       timestamptz NOT NULL DEFAULT now(),
      cleared_at      timestamptz NULL,
      PRIMARY KEY (symbol, timeframe, expected_ts)
    )`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  // The schema itself stays: the migration bookkeeping table lives in it.
  for (const table of ['stale_flags', 'outbox', 'rejected_rows', 'quarantine', 'dq_counters', 'watermarks', 'ingest_runs', 'raw_responses']) {
    await sql`DROP TABLE IF EXISTS ${sql.table(`ingest.${table}`)}`.execute(db);
  }
  await sql`DROP TABLE IF EXISTS ingest.canonical_bars CASCADE`.execute(db);
  await sql`DROP FUNCTION IF EXISTS ingest.ensure_bar_partitions(timestamptz, timestamptz)`.execute(db);
}
