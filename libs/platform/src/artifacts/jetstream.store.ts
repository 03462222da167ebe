/**
 * The `cluster` adapter: the NATS JetStream object store (`@nats-io/obj`), one object-store bucket per artefact
 * bucket, named `<prefix>_<bucket>` when a prefix is set (NOCTRIA_BUS_PREFIX: tests and shared servers isolate).
 *
 * Works with nats-server 2.9: chunks are ordinary stream messages and the object's meta message is the commit
 * point (the object store's own design), so a put is atomic per object. Create-if-absent uses the meta
 * subject's expected last sequence (`Nats-Expected-Last-Subject-Sequence`, `previousRevision` of `@nats-io/obj`):
 * 0 for a name never written, the tombstone's sequence for a deleted one. Of two concurrent puts of one name
 * exactly one meta publish succeeds; the loser's chunks are purged by the library and it answers with the
 * winner's ref (same bytes) or CORE_ARTIFACT_EXISTS. The library verifies the digest it stored; this adapter
 * additionally verifies the bytes against the ref the caller holds (the object may have been replaced since).
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { connect, headers as natsHeaders } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, JetStreamApiError, type JetStreamManager, type StoredMsg } from '@nats-io/jetstream';
import { Objm, setSha256Backend, StorageType, type ObjectInfo, type ObjectStore } from '@nats-io/obj';
import type { ArtifactData, ArtifactPutOptions, ArtifactRef, ArtifactStore } from './artifact.port.js';
import {
  ArtifactError,
  assertBucket,
  assertName,
  assertPutOptions,
  assertRef,
  checksumMismatch,
  chunksOf,
  collect,
  Digest,
  digestOf,
  exists,
  Lifecycle,
  notFound,
  sameBytes,
  storageError,
} from './artifact.shared.js';

export interface JetStreamArtifactStoreOptions {
  /** An open NATS connection (typically the bus's). Not closed by close() unless `ownsConnection`. */
  connection: NatsConnection;
  /** Bucket-name prefix (NOCTRIA_BUS_PREFIX); `''` for none. */
  prefix?: string;
  /** Stream replicas of new buckets (default 1). */
  replicas?: number;
  /** Storage of new buckets (default file). */
  storage?: 'file' | 'memory';
  /** Timeout of JetStream API calls and chunk publish acks, ms (default 10 000). */
  timeoutMs?: number;
  /** Chunk size, bytes (default 128 KiB; capped by the server's max_payload). */
  chunkBytes?: number;
  /** close() also closes the connection (set by {@link JetStreamArtifactStore.connect}). */
  ownsConnection?: boolean;
}

/** JSStreamWrongLastSequenceErrF: the expected-last-subject-sequence check failed. */
const WRONG_LAST_SEQUENCE = 10071;
const CONTENT_TYPE = 'Content-Type';
const DIGEST_PREFIX = 'SHA-256=';

let nativeSha = false;
/** The library defaults to a pure-JS sha256; node:crypto is an order of magnitude faster on large objects. */
function useNativeSha(): void {
  if (nativeSha) return;
  setSha256Backend('native');
  nativeSha = true;
}

/** `SHA-256=<base64url, padded>` → lower-case hex. */
export function digestToHex(digest: string): string {
  if (!digest.startsWith(DIGEST_PREFIX)) return '';
  return Buffer.from(digest.slice(DIGEST_PREFIX.length), 'base64url').toString('hex');
}

/** Header value of an ObjectInfo: MsgHdrs from info(), a plain record from list() (watch JSON). */
function headerValue(headers: unknown, key: string): string | undefined {
  if (!headers || typeof headers !== 'object') return undefined;
  const h = headers as { get?: (k: string) => string; [k: string]: unknown };
  if (typeof h.get === 'function') {
    const v = h.get(key);
    return v === '' ? undefined : v;
  }
  const values = (headers as Record<string, unknown>)[key];
  return Array.isArray(values) && typeof values[0] === 'string' ? values[0] : undefined;
}

function isWrongLastSequence(err: unknown): boolean {
  return err instanceof JetStreamApiError && err.code === WRONG_LAST_SEQUENCE;
}

function isStoreNotFound(err: unknown): boolean {
  return err instanceof Error && err.message === 'object store not found';
}

export class JetStreamArtifactStore implements ArtifactStore {
  readonly kind = 'jetstream' as const;
  private readonly objm: Objm;
  private readonly prefix: string;
  private readonly stores = new Map<string, ObjectStore>();
  private readonly life = new Lifecycle('jetstream');
  private closing: Promise<void> | undefined;
  private jsm: Promise<JetStreamManager> | undefined;

  constructor(private readonly options: JetStreamArtifactStoreOptions) {
    useNativeSha();
    this.objm = new Objm(jetstream(options.connection, { timeout: options.timeoutMs ?? 10_000 }));
    this.prefix = options.prefix ?? '';
    if (this.prefix !== '' && !/^[A-Za-z0-9_-]+$/.test(this.prefix)) {
      throw new ArtifactError('CORE_ARTIFACT_NAME', `invalid artefact bucket prefix ${JSON.stringify(this.prefix)}`);
    }
  }

  /** A store on its own connection (closed by close()). */
  static async connect(options: Omit<JetStreamArtifactStoreOptions, 'connection' | 'ownsConnection'> & { servers: string | string[]; name: string }): Promise<JetStreamArtifactStore> {
    let nc: NatsConnection;
    try {
      nc = await connect({ servers: options.servers, name: options.name, maxReconnectAttempts: -1, reconnectTimeWait: 1_000 });
    } catch (err) {
      throw storageError(`cannot connect to NATS at ${String(options.servers)}`, err);
    }
    return new JetStreamArtifactStore({ ...options, connection: nc, ownsConnection: true });
  }

  /** The object-store bucket name behind an artefact bucket. */
  jetStreamBucket(bucket: string): string {
    assertBucket(bucket);
    return this.prefix === '' ? bucket : `${this.prefix}_${bucket}`;
  }

  async put(bucket: string, name: string, data: ArtifactData, opts: ArtifactPutOptions = {}): Promise<ArtifactRef> {
    assertBucket(bucket);
    assertName(name);
    assertPutOptions(opts);
    return this.life.track(() => this.doPut(bucket, name, data, opts));
  }

  private async doPut(bucket: string, name: string, data: ArtifactData, opts: ArtifactPutOptions): Promise<ArtifactRef> {
    const overwrite = opts.overwrite === true;
    const os = await this.store(bucket, true);
    if (!os) throw storageError(`cannot create artefact bucket ${bucket}`, new Error('object store not created'));
    let current: ObjectInfo | null;
    try {
      current = await os.info(name);
    } catch (err) {
      throw storageError(`cannot read artefact ${bucket}/${name}`, err, { bucket, name });
    }
    const live = current && !current.deleted ? current : null;
    if (live && !overwrite) {
      const stored = this.toRef(bucket, live);
      const attempted = await digestOf(data);
      if (sameBytes(stored, attempted)) return stored;
      throw exists(bucket, name, stored, attempted);
    }

    const digest = new Digest();
    let inputError: unknown;
    const source = chunksOf(data)[Symbol.asyncIterator]();
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        try {
          const step = await source.next();
          if (step.done) controller.close();
          else {
            digest.update(step.value);
            controller.enqueue(step.value);
          }
        } catch (err) {
          inputError = err;
          controller.error(err);
        }
      },
      async cancel() {
        await source.return?.(undefined);
      },
    });
    const meta = {
      name,
      headers: natsHeaders(),
      options: { max_chunk_size: this.options.chunkBytes ?? 128 * 1024 },
      ...(opts.metadata !== undefined && Object.keys(opts.metadata).length > 0 ? { metadata: { ...opts.metadata } } : {}),
    };
    if (opts.contentType !== undefined) meta.headers.set(CONTENT_TYPE, opts.contentType);
    let info: ObjectInfo;
    try {
      // Expect the meta subject exactly as we saw it: empty (0) or the tombstone of a deleted object.
      info = await os.put(meta, body, overwrite ? {} : { previousRevision: current ? current.revision : 0 });
    } catch (err) {
      if (inputError !== undefined) throw inputError;
      if (!overwrite && isWrongLastSequence(err)) {
        const winner = await os.info(name).catch(() => null);
        const attempted = { sha256: digest.hex(), size: digest.size };
        if (winner && !winner.deleted) {
          const stored = this.toRef(bucket, winner);
          if (sameBytes(stored, attempted)) return stored;
          throw exists(bucket, name, stored, attempted);
        }
      }
      throw storageError(`cannot store artefact ${bucket}/${name}`, err, { bucket, name });
    }
    const ref = this.toRef(bucket, info);
    const sent = { sha256: digest.hex(), size: digest.size };
    if (!sameBytes(ref, sent)) {
      throw storageError(`artefact ${bucket}/${name} was stored with digest ${ref.sha256} but ${sent.sha256} was sent`, new Error('digest mismatch'), { bucket, name });
    }
    return ref;
  }

  async get(ref: ArtifactRef): Promise<Uint8Array> {
    return collect(this.open(ref));
  }

  /**
   * Reads the chunks one request at a time (one chunk prefetched) through the stream leader (STREAM.MSG.GET,
   * `next_by_subj`), so a slow consumer holds at most two chunks in memory — the library's own get() buffers
   * the whole object — and a replica that lags behind never serves a short read. Reading continues until no
   * chunk is left, so extra chunks appended to the object are detected too.
   */
  async *open(ref: ArtifactRef): AsyncGenerator<Uint8Array> {
    assertRef(ref);
    this.life.assertOpen();
    const os = await this.store(ref.bucket, false);
    if (!os) throw notFound(ref.bucket, ref.name);
    let info: ObjectInfo | null;
    try {
      info = await os.info(ref.name);
    } catch (err) {
      throw storageError(`cannot read artefact ${ref.bucket}/${ref.name}`, err, { bucket: ref.bucket, name: ref.name });
    }
    if (!info || info.deleted) throw notFound(ref.bucket, ref.name);
    const stored = { sha256: digestToHex(info.digest), size: info.size };
    if (!sameBytes(stored, ref)) throw checksumMismatch(ref, stored, 'the stored object was replaced');
    const jsm = await this.manager();
    const stream = `OBJ_${this.jetStreamBucket(ref.bucket)}`;
    const subject = `$O.${this.jetStreamBucket(ref.bucket)}.C.${info.nuid}`;
    const fetch = async (seq: number): Promise<StoredMsg | null> => {
      try {
        // `next_by_subj` with `seq` is accepted by STREAM.MSG.GET since nats-server 2.9; the client type only lists seq/last_by_subj.
        return await jsm.streams.getMessage(stream, { seq, next_by_subj: subject } as unknown as { seq: number });
      } catch (err) {
        throw storageError(`cannot read artefact ${ref.bucket}/${ref.name}`, err, { bucket: ref.bucket, name: ref.name });
      }
    };
    const digest = new Digest();
    let next: Promise<StoredMsg | null> | null = info.size === 0 ? Promise.resolve(null) : fetch(1);
    try {
      while (next) {
        const msg = await next;
        if (!msg) break;
        next = fetch(msg.seq + 1);
        if (msg.data.byteLength === 0) continue;
        digest.update(msg.data);
        yield msg.data;
      }
    } finally {
      // An abandoned read leaves one prefetch in flight: let it settle without surfacing its error.
      next?.catch(() => undefined);
    }
    const actual = { sha256: digest.hex(), size: digest.size };
    if (!sameBytes(actual, ref)) throw checksumMismatch(ref, actual, 'the stored bytes are corrupted');
  }

  private manager(): Promise<JetStreamManager> {
    this.jsm ??= jetstreamManager(this.options.connection, { timeout: this.options.timeoutMs ?? 10_000 }).catch((err: unknown) => {
      this.jsm = undefined;
      throw storageError('JetStream is not available', err);
    });
    return this.jsm;
  }

  async stat(bucket: string, name: string): Promise<ArtifactRef | null> {
    assertBucket(bucket);
    assertName(name);
    this.life.assertOpen();
    const os = await this.store(bucket, false);
    if (!os) return null;
    try {
      const info = await os.info(name);
      return info && !info.deleted ? this.toRef(bucket, info) : null;
    } catch (err) {
      throw storageError(`cannot read artefact ${bucket}/${name}`, err, { bucket, name });
    }
  }

  async list(bucket: string): Promise<ArtifactRef[]> {
    assertBucket(bucket);
    this.life.assertOpen();
    const os = await this.store(bucket, false);
    if (!os) return [];
    let infos: ObjectInfo[];
    try {
      infos = await os.list();
    } catch (err) {
      throw storageError(`cannot list artefact bucket ${bucket}`, err, { bucket });
    }
    return infos
      .filter((i) => !i.deleted)
      .map((i) => this.toRef(bucket, i))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async delete(bucket: string, name: string): Promise<boolean> {
    assertBucket(bucket);
    assertName(name);
    return this.life.track(async () => {
      const os = await this.store(bucket, false);
      if (!os) return false;
      try {
        const info = await os.info(name);
        if (!info || info.deleted) return false;
        await os.delete(name);
        return true;
      } catch (err) {
        throw storageError(`cannot delete artefact ${bucket}/${name}`, err, { bucket, name });
      }
    });
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.life.close();
      if (this.options.ownsConnection) await this.options.connection.close().catch(() => undefined);
    })();
    return this.closing;
  }

  /** The bucket's object store; `create` makes it when missing, otherwise a missing bucket is null. */
  private async store(bucket: string, create: boolean): Promise<ObjectStore | null> {
    const hit = this.stores.get(bucket);
    if (hit) return hit;
    const name = this.jetStreamBucket(bucket);
    try {
      const os = create
        ? await this.objm.create(name, {
            storage: this.options.storage === 'memory' ? StorageType.Memory : StorageType.File,
            replicas: this.options.replicas ?? 1,
            description: `noctria artefacts: ${bucket}`,
          })
        : await this.objm.open(name);
      this.stores.set(bucket, os);
      return os;
    } catch (err) {
      if (!create && isStoreNotFound(err)) return null;
      throw storageError(`cannot open artefact bucket ${bucket}`, err, { bucket, jetstream_bucket: name });
    }
  }

  private toRef(bucket: string, info: ObjectInfo): ArtifactRef {
    const contentType = headerValue(info.headers, CONTENT_TYPE);
    const metadata = info.metadata && Object.keys(info.metadata).length > 0 ? { ...info.metadata } : undefined;
    return {
      store: 'jetstream',
      bucket,
      name: info.name,
      sha256: digestToHex(info.digest),
      size: info.size,
      ...(contentType !== undefined ? { contentType } : {}),
      ...(metadata !== undefined ? { metadata } : {}),
      createdAt: info.mtime,
    };
  }
}
