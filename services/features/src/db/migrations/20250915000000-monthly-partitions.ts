/**
 * `leg_bars` and `vectors` become RANGE-partitioned by UTC month on ts_utc, so retention (features_cache_months of
 * configs/data_retention.yaml) drops whole months instead of deleting rows (services/features/src/retention.ts).
 *
 * - Partitions are `<table>_pYYYYMM`; each table has a DEFAULT partition (`<table>_default`) that catches bar
 *   times no month partition covers yet, so the pipeline never has to create partitions while it writes (a
 *   partition cannot be created in the middle of an insert into its parent).
 * - `features.ensure_month_partitions(table, from, to)` creates the months covering [from, to), moving any rows the
 *   default partition holds for a month into it before attaching it (ATTACH checks the default holds none). The
 *   retention run calls it to sweep the default and to pre-create the coming months. Creation is serialised by a
 *   transaction-scoped advisory lock (a concurrent creator's partition is recognised by duplicate_table) and
 *   locks the parent exclusively until the month is attached — brief, and rare, as months are pre-created.
 * - Conversion of existing tables: the old table is renamed, the partitioned one created LIKE it (same columns,
 *   defaults and CHECKs), the months of the data created, the rows copied, the old table dropped — all inside the
 *   migration's transaction, so a failure leaves the schema as it was. It takes an exclusive lock on both tables for
 *   the copy; run it with the features service stopped (the chart's pre-upgrade migration hook does).
 * - down reverses it: a plain table LIKE the partitioned one, rows copied, partitions and function dropped.
 */
import { sql, type Kysely } from 'kysely';

const TABLES = [
  { name: 'vectors', pk: 'pair_id, timeframe, schema_hash, ts_utc' },
  { name: 'leg_bars', pk: 'symbol, timeframe, ts_utc' },
] as const;

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE FUNCTION features.ensure_month_partitions(p_table text, p_from timestamptz, p_to timestamptz)
    RETURNS integer
    LANGUAGE plpgsql AS $fn$
    DECLARE
      m       timestamptz := date_trunc('month', p_from AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
      m_next  timestamptz;
      pname   text;
      created integer := 0;
      locked  boolean := false;
    BEGIN
      IF p_table NOT IN ('leg_bars', 'vectors') THEN
        RAISE EXCEPTION 'ensure_month_partitions: % is not a partitioned features table', p_table;
      END IF;
      IF p_to <= p_from THEN
        p_to := p_from + interval '1 microsecond';
      END IF;
      WHILE m < p_to LOOP
        m_next := ((m AT TIME ZONE 'UTC') + interval '1 month') AT TIME ZONE 'UTC';
        pname := p_table || '_p' || to_char(m AT TIME ZONE 'UTC', 'YYYYMM');
        IF to_regclass('features.' || pname) IS NULL THEN
          IF NOT locked THEN
            PERFORM pg_advisory_xact_lock(hashtext('features.month_partitions'));
            locked := true;
          END IF;
          BEGIN
            -- The parent first and exclusively: it waits for every transaction using the table to end and holds off new
            -- ones until the month is attached (a few ms, months are pre-created). A weaker lock deadlocks with a writer
            -- that read the default partition earlier in its transaction, and an insert routed to the default before
            -- the ATTACH committed would fail the default's new constraint afterwards.
            EXECUTE format('LOCK TABLE ONLY features.%I IN ACCESS EXCLUSIVE MODE', p_table);
            EXECUTE format('CREATE TABLE features.%I (LIKE features.%I INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', pname, p_table);
            EXECUTE format(
              'WITH moved AS (DELETE FROM features.%I WHERE ts_utc >= %L AND ts_utc < %L RETURNING *) INSERT INTO features.%I SELECT * FROM moved',
              p_table || '_default', m, m_next, pname);
            EXECUTE format('ALTER TABLE features.%I ATTACH PARTITION features.%I FOR VALUES FROM (%L) TO (%L)', p_table, pname, m, m_next);
            created := created + 1;
          EXCEPTION WHEN duplicate_table THEN
            -- Another session created it after our catalog lookup: nothing left to do for this month.
            NULL;
          END;
        END IF;
        m := m_next;
      END LOOP;
      RETURN created;
    END
    $fn$`.execute(db);

  for (const t of TABLES) {
    const old = `${t.name}_unpartitioned`;
    await sql.raw(`ALTER TABLE features.${t.name} RENAME TO ${old}`).execute(db);
    await sql.raw(`ALTER TABLE features.${old} RENAME CONSTRAINT ${t.name}_pkey TO ${old}_pkey`).execute(db);
    await sql.raw(`CREATE TABLE features.${t.name} (LIKE features.${old} INCLUDING DEFAULTS INCLUDING CONSTRAINTS) PARTITION BY RANGE (ts_utc)`).execute(db);
    await sql.raw(`ALTER TABLE features.${t.name} ADD CONSTRAINT ${t.name}_pkey PRIMARY KEY (${t.pk})`).execute(db);
    await sql.raw(`CREATE TABLE features.${t.name}_default PARTITION OF features.${t.name} DEFAULT`).execute(db);
    // The months of the existing rows plus the next three, so the copy and the coming writes land in month partitions.
    await sql
      .raw(
        `SELECT features.ensure_month_partitions('${t.name}', coalesce(least(min(ts_utc), now()), now()), greatest(coalesce(max(ts_utc), now()), now() + interval '3 months'))
         FROM features.${old}`,
      )
      .execute(db);
    await sql.raw(`INSERT INTO features.${t.name} SELECT * FROM features.${old}`).execute(db);
    await sql.raw(`DROP TABLE features.${old}`).execute(db);
  }
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const t of TABLES) {
    const plain = `${t.name}_plain`;
    await sql.raw(`CREATE TABLE features.${plain} (LIKE features.${t.name} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)`).execute(db);
    await sql.raw(`INSERT INTO features.${plain} SELECT * FROM features.${t.name}`).execute(db);
    await sql.raw(`DROP TABLE features.${t.name}`).execute(db);
    await sql.raw(`ALTER TABLE features.${plain} RENAME TO ${t.name}`).execute(db);
    await sql.raw(`ALTER TABLE features.${t.name} ADD CONSTRAINT ${t.name}_pkey PRIMARY KEY (${t.pk})`).execute(db);
  }
  await sql`DROP FUNCTION features.ensure_month_partitions(text, timestamptz, timestamptz)`.execute(db);
}
