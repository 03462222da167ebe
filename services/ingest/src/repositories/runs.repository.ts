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

/** What a committed chunk store wrote (kept in the chunk ledger). */
export interface ChunkOutcome {
  inserted: number;
  updated: number;
  duplicates: number;
  revised: number;
  conflicts: number;
  published: number;
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

  /** Records a chunk's committed store in the caller's (the chunk's) transaction, under its attempt token. */
  async recordChunk(
    db: Kysely<DB>,
    chunk: { token: string; runId: string; symbol: string; timeframe: string; startMs: number; endMs: number; outcome: ChunkOutcome },
  ): Promise<void> {
    await db
      .insertInto('ingest.chunk_ledger')
      .values({
        token: chunk.token,
        ingest_run_id: chunk.runId,
        symbol: chunk.symbol,
        timeframe: chunk.timeframe,
        start_ts: new Date(chunk.startMs),
        end_ts: new Date(chunk.endMs),
        outcome: JSON.stringify(chunk.outcome),
      })
      .execute();
  }

  /** The outcome recorded under `token`, i.e. whether that store attempt committed (undefined: it did not). */
  async committedChunk(token: string, db: Kysely<DB> = this.db): Promise<ChunkOutcome | undefined> {
    const row = await db.selectFrom('ingest.chunk_ledger').select('outcome').where('token', '=', token).executeTakeFirst();
    return row ? (row.outcome as unknown as ChunkOutcome) : undefined;
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
