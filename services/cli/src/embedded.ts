/**
 * The embedded profile from a CLI process.
 *
 * `npm start` owns the embedded PostgreSQL under `<NOCTRIA_DATA_DIR>/pg` while it runs, and its port and
 * credentials are in `<NOCTRIA_DATA_DIR>/pg.json`. `startEmbeddedPostgres` has no "attach" mode (it would pick
 * another port, rewrite pg.json and then fail on the cluster's lock), so the CLI looks first: when the port in
 * pg.json answers with those credentials, it connects to that server instead of starting a second one, and never
 * stops it.
 *
 * The bus of the embedded profile is in-process: it lives inside the `npm start` process. A CLI process cannot
 * reach it, so its ingest runtime gets a {@link DeferredBus} whose publish refuses: the transactional outbox keeps
 * every message (bars committed by an import or a backfill), and the fleet's outbox relay publishes them on its
 * bus — now when it is running, or at its next start.
 */
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import pg from 'pg';
import type { ConsumerDefinition, StreamDefinition } from '@noctria/contracts';
import {
  EMBEDDED_DATABASE,
  InProcessBus,
  NoctriaError,
  closeCache,
  createRedisMock,
  type Bus,
  type BusMessage,
  type ConsumeOptions,
  type Infra,
  type Logger,
  type MessageHandler,
  type PublishAck,
  type RequestHandler,
  type Subscription,
} from '@noctria/platform';

export const DEFERRED_BUS_ERROR = 'OPS_BUS_DEFERRED';

interface PgState {
  port: number;
  user: string;
  password: string;
}

/** URL of the embedded PostgreSQL another process runs for `dataDir`, or undefined when none answers. */
export async function runningEmbeddedPostgres(dataDir: string, timeoutMs = 2000): Promise<{ url: string; port: number } | undefined> {
  let state: PgState;
  try {
    const parsed = JSON.parse(await readFile(join(resolve(dataDir), 'pg.json'), 'utf8')) as Partial<PgState>;
    if (typeof parsed.port !== 'number' || typeof parsed.user !== 'string' || typeof parsed.password !== 'string') return undefined;
    state = parsed as PgState;
  } catch {
    return undefined;
  }
  const url = `postgres://${encodeURIComponent(state.user)}:${encodeURIComponent(state.password)}@127.0.0.1:${state.port}/${EMBEDDED_DATABASE}`;
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs, application_name: 'noctria-cli-probe' });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('select 1');
    return { url, port: state.port };
  } catch {
    return undefined;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** A bus that keeps nothing: publish refuses (the outbox keeps the message for the process that owns the bus). */
export class DeferredBus implements Bus {
  readonly kind = 'inprocess' as const;
  private readonly inner: InProcessBus;

  constructor(logger?: Logger) {
    this.inner = new InProcessBus(logger ? { logger } : {});
  }

  async ensureStreams(_streams: readonly StreamDefinition[]): Promise<void> {}

  async publish(subject: string): Promise<PublishAck> {
    throw new NoctriaError(DEFERRED_BUS_ERROR, `not published from the CLI: ${subject} stays in the outbox for the embedded fleet (npm start) to publish`, {
      severity: 'INFO',
      details: { subject },
    });
  }

  consume(consumer: ConsumerDefinition, handler: MessageHandler, options?: ConsumeOptions): Promise<Subscription> {
    return this.inner.consume(consumer, handler, options);
  }

  async request(subject: string): Promise<BusMessage> {
    throw new NoctriaError(DEFERRED_BUS_ERROR, `no request/reply from the CLI in the embedded profile (${subject})`, { severity: 'INFO' });
  }

  reply(subject: string, handler: RequestHandler, options?: { queue?: string }): Promise<Subscription> {
    return this.inner.reply(subject, handler, options);
  }

  async ping(): Promise<boolean> {
    return true;
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

/** Infra over an embedded PostgreSQL started by another process: closing it leaves that server running. */
export function attachedInfra(url: string, dataDir: string, logger?: Logger): Infra {
  const bus = new DeferredBus(logger);
  const redis = createRedisMock({ namespace: dataDir });
  let closing: Promise<void> | undefined;
  return {
    profile: 'embedded',
    databaseUrl: url,
    bus,
    redis,
    close() {
      closing ??= (async () => {
        await closeCache(redis).catch(() => undefined);
        await bus.close();
      })();
      return closing;
    },
  };
}

/** The same infra with the bus replaced by a {@link DeferredBus} (an embedded PostgreSQL this CLI started). */
export function withDeferredBus(infra: Infra, logger?: Logger): Infra {
  const bus = new DeferredBus(logger);
  return {
    profile: infra.profile,
    databaseUrl: infra.databaseUrl,
    bus,
    redis: infra.redis,
    ...(infra.embeddedPostgres ? { embeddedPostgres: infra.embeddedPostgres } : {}),
    async close() {
      await bus.close();
      await infra.close();
    },
  };
}
