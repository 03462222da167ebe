import { sql, type Kysely } from 'kysely';
import type { DB, RunKind, RunStatus } from '../db/schema.js';

export interface IngestRun {
  id: string;
  kind: RunKind;
  source: string;
  params: Record<string, unknown>;
  status: RunStatus;
  started_at: Date;
  finished_at: Date | null;
  heartbeat_at: Date;
  counts: Record<string, number>;
  error: Record<string, unknown> | null;
}

export class RunsRepository {
  constructor(private readonly db: Kysely<DB>) {}

  async create(run: { id: string; kind: RunKind; source: string; params: Record<string, unknown> }): Promise<void> {
    await this.db
      .insertInto('ingest.ingest_runs')
      .values({ id: run.id, kind: run.kind, source: run.source, params: JSON.stringify(run.params), status: 'running', counts: '{}' })
      .execute();
  }

  /** Adds `delta` to the run's counters (jsonb, additive) and refreshes its heartbeat. */
  async addCounts(id: string, delta: Record<string, number>, db: Kysely<DB> = this.db): Promise<void> {
    const entries = Object.entries(delta).filter(([, v]) => v !== 0);
    if (entries.length === 0) {
      await db.updateTable('ingest.ingest_runs').set({ heartbeat_at: sql`now()` }).where('id', '=', id).execute();
      return;
    }
    const d = JSON.stringify(delta);
    await sql`
      update ingest.ingest_runs r set
        counts = (
          select jsonb_object_agg(k, coalesce((r.counts->>k)::bigint, 0) + coalesce((${d}::jsonb->>k)::bigint, 0))
          from jsonb_object_keys(r.counts || ${d}::jsonb) as k
        ),
        heartbeat_at = now()
      where r.id = ${id}`.execute(db);
  }

  async finish(id: string, status: RunStatus, error: Record<string, unknown> | null = null): Promise<void> {
    await this.db
      .updateTable('ingest.ingest_runs')
      .set({ status, finished_at: sql`now()`, error: error === null ? null : JSON.stringify(error) })
      .where('id', '=', id)
      .execute();
  }

  async get(id: string): Promise<IngestRun | undefined> {
    const row = await this.db.selectFrom('ingest.ingest_runs').selectAll().where('id', '=', id).executeTakeFirst();
    return row as IngestRun | undefined;
  }

  async list(limit: number): Promise<IngestRun[]> {
    const rows = await this.db.selectFrom('ingest.ingest_runs').selectAll().orderBy('started_at', 'desc').limit(limit).execute();
    return rows as IngestRun[];
  }

  /** Runs left `running` by a process that died (heartbeat older than `staleMs`) become `interrupted`. */
  async markInterrupted(staleMs: number): Promise<string[]> {
    const rows = await this.db
      .updateTable('ingest.ingest_runs')
      .set({ status: 'interrupted', finished_at: sql`now()` })
      .where('status', '=', 'running')
      .where(sql<boolean>`heartbeat_at < now() - make_interval(secs => ${staleMs / 1000})`)
      .returning('id')
      .execute();
    return rows.map((r) => r.id);
  }
}
