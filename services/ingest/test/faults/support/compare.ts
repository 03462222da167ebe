/**
 * What the fault tests compare between a disturbed run and an undisturbed reference run: every stored canonical
 * bar (all columns except ingest_run_id / ingested_at), duplicate keys, watermarks, and the BarClosed messages
 * held by the JetStream stream of the test's prefix (after JetStream's msg-id de-duplication).
 */
import { sql, type Kysely } from 'kysely';
import { connect } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { decodeBarClosed, streamFor } from '@noctria/contracts';
import type { DB } from '../../../src/db/schema.js';

export async function canonicalRows(db: Kysely<DB>) {
  const rows = await db
    .selectFrom('ingest.canonical_bars')
    .select(['symbol', 'timeframe', 'ts_utc', 'open', 'high', 'low', 'close', 'volume', 'quality_flag', 'source_id', 'metadata', 'checksum', 'revision'])
    .orderBy('symbol')
    .orderBy('timeframe')
    .orderBy('ts_utc')
    .execute();
  return rows.map((r) => ({ ...r, ts_utc: r.ts_utc.toISOString() }));
}

/** Keys stored more than once (the primary key forbids it; checked anyway, across partitions). */
export async function duplicateKeys(db: Kysely<DB>): Promise<string[]> {
  const r = await sql<{ k: string }>`
    select symbol || '|' || timeframe || '|' || ts_utc::text as k from ingest.canonical_bars
    group by symbol, timeframe, ts_utc having count(*) > 1`.execute(db);
  return r.rows.map((x) => x.k);
}

export async function watermarks(db: Kysely<DB>) {
  const rows = await db.selectFrom('ingest.watermarks').select(['symbol', 'timeframe', 'last_ts', 'source_id']).orderBy('symbol').orderBy('timeframe').execute();
  return rows.map((r) => ({ ...r, last_ts: r.last_ts.toISOString() }));
}

export async function storedBarCount(db: Kysely<DB>): Promise<number> {
  const r = await sql<{ n: number }>`select count(*)::int as n from ingest.canonical_bars`.execute(db);
  return r.rows[0]?.n ?? 0;
}

export async function pendingOutbox(db: Kysely<DB>): Promise<number> {
  const r = await sql<{ n: number }>`select count(*)::int as n from ingest.outbox where sent_at is null`.execute(db);
  return r.rows[0]?.n ?? 0;
}

export interface StreamContent {
  /** Messages in the stream. */
  messages: number;
  /** `symbol|timeframe|ts_utc|checksum|quality_flag` of each BarClosed message, in stream order. */
  keys: string[];
  /** Nats-Msg-Id header of each message. */
  msgIds: string[];
}

/** Reads every message of the MD stream of `prefix` with an ordered consumer (nothing durable is left behind). */
export async function readBarStream(servers: string, prefix: string): Promise<StreamContent> {
  const nc = await connect({ servers, name: 'ingest-fault-reader' });
  try {
    const name = streamFor(prefix, 'MD').name;
    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.info(name);
    const total = info.state.messages;
    const last = info.state.last_seq;
    const keys: string[] = [];
    const msgIds: string[] = [];
    if (total === 0) return { messages: 0, keys, msgIds };
    const consumer = await jetstream(nc).consumers.get(name);
    const messages = await consumer.consume({ max_messages: 500 });
    for await (const m of messages) {
      const e = decodeBarClosed(m.data);
      keys.push(`${e.bar.symbol}|${e.bar.timeframe}|${new Date(e.bar.ts_utc).toISOString()}|${e.checksum}|${e.bar.quality_flag}`);
      msgIds.push(m.headers?.get('Nats-Msg-Id') ?? '');
      if (m.seq >= last) break;
    }
    await messages.close();
    return { messages: total, keys, msgIds };
  } finally {
    await nc.close();
  }
}

/** The BarClosed key every stored bar must have been announced with (missing-flagged fills are never published). */
export function expectedBusKeys(rows: Awaited<ReturnType<typeof canonicalRows>>): string[] {
  return rows.filter((r) => r.quality_flag !== 'missing').map((r) => `${r.symbol}|${r.timeframe}|${r.ts_utc}|${r.checksum}|${r.quality_flag}`).sort();
}
