/**
 * The `embedded` adapter: artefacts in a local directory.
 *
 * Layout under `root`:
 *   <bucket>/meta/<name with "/" as "%">.json   the committed ref (plus the blob it points at)
 *   <bucket>/blobs/<uuid>                        the bytes of one put
 *
 * The meta file is the commit point. A put streams into a fresh blob (hashing on the way), fsyncs it and its
 * directory, writes the meta to a dot-prefixed temp file in the meta directory, fsyncs it, and then commits:
 * `link(temp, final)` when the name must not exist yet (atomic create-if-absent, also across processes — a
 * `rename` would silently replace a concurrent writer's object), `rename(temp, final)` with `overwrite`. Readers
 * resolve the meta and then open the blob it names, so a reader never sees a half-written object, and a blob is
 * never rewritten in place. A crash between blob and meta leaves an unreferenced blob (wasted space, never wrong
 * data). `/` is encoded as `%` (not allowed in names) so that every name maps to one flat file and `a` can never
 * collide with `a/b`.
 */
import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { link, mkdir, open, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
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
  describedFields,
  Digest,
  digestOf,
  exists,
  Lifecycle,
  notFound,
  sameBytes,
  storageError,
} from './artifact.shared.js';

export interface LocalDirArtifactStoreOptions {
  /** Directory holding the buckets (created on the first put). */
  root: string;
  /** Read size of open() (default 1 MiB). */
  readChunkBytes?: number;
}

interface MetaFile {
  v: 1;
  ref: ArtifactRef;
  /** File name of the blob under `<bucket>/blobs/`. */
  blob: string;
}

const META_SUFFIX = '.json';

function isCode(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}

/** fsync of a directory makes a create/rename in it durable; platforms without directory fsync skip it. */
async function syncDir(dir: string): Promise<void> {
  let fh;
  try {
    fh = await open(dir, 'r');
  } catch (err) {
    if (isCode(err, 'EISDIR') || isCode(err, 'EPERM')) return;
    throw err;
  }
  try {
    await fh.sync();
  } catch (err) {
    if (!isCode(err, 'EINVAL') && !isCode(err, 'EPERM') && !isCode(err, 'EBADF')) throw err;
  } finally {
    await fh.close();
  }
}

export class LocalDirArtifactStore implements ArtifactStore {
  readonly kind = 'local' as const;
  readonly root: string;
  private readonly life = new Lifecycle('local');
  private readonly readChunkBytes: number;

  constructor(options: LocalDirArtifactStoreOptions) {
    this.root = resolve(options.root);
    this.readChunkBytes = options.readChunkBytes ?? 1 << 20;
  }

  /** Path of the bytes currently stored under the name (diagnostics and fault tests); null when absent. */
  async blobPath(bucket: string, name: string): Promise<string | null> {
    assertBucket(bucket);
    assertName(name);
    const meta = await this.readMeta(bucket, name);
    return meta ? join(this.blobsDir(bucket), meta.blob) : null;
  }

  /** Path of the committed meta file of a name (diagnostics and fault tests). */
  metaPath(bucket: string, name: string): string {
    assertBucket(bucket);
    assertName(name);
    return join(this.metaDir(bucket), `${name.replaceAll('/', '%')}${META_SUFFIX}`);
  }

  async put(bucket: string, name: string, data: ArtifactData, opts: ArtifactPutOptions = {}): Promise<ArtifactRef> {
    assertBucket(bucket);
    assertName(name);
    assertPutOptions(opts);
    return this.life.track(() => this.doPut(bucket, name, data, opts));
  }

  private async doPut(bucket: string, name: string, data: ArtifactData, opts: ArtifactPutOptions): Promise<ArtifactRef> {
    const overwrite = opts.overwrite === true;
    if (!overwrite) {
      // Cheap answer for the common retry: hash the input against the stored object without writing a blob.
      const current = await this.readMeta(bucket, name);
      if (current) {
        const attempted = await digestOf(data);
        if (sameBytes(current.ref, attempted)) return current.ref;
        throw exists(bucket, name, current.ref, attempted);
      }
    }
    const blobsDir = this.blobsDir(bucket);
    const metaDir = this.metaDir(bucket);
    try {
      await mkdir(blobsDir, { recursive: true });
      await mkdir(metaDir, { recursive: true });
    } catch (err) {
      throw storageError(`cannot create artefact bucket ${bucket}`, err, { root: this.root, bucket });
    }
    const blob = randomUUID();
    const blobPath = join(blobsDir, blob);
    const digest = await this.writeBlob(blobPath, data);
    const ref: ArtifactRef = {
      store: 'local',
      bucket,
      name,
      sha256: digest.hex(),
      size: digest.size,
      ...describedFields(opts),
      createdAt: new Date().toISOString(),
    };
    const finalPath = this.metaPath(bucket, name);
    const tempPath = join(metaDir, `.${blob}.tmp`);
    let previous: MetaFile | null = null;
    try {
      await syncDir(blobsDir);
      await this.writeDurably(tempPath, JSON.stringify({ v: 1, ref, blob } satisfies MetaFile));
      if (overwrite) {
        previous = await this.readMeta(bucket, name);
        await rename(tempPath, finalPath);
      } else {
        try {
          await link(tempPath, finalPath);
        } catch (err) {
          if (!isCode(err, 'EEXIST')) throw err;
          // Another writer committed first: same bytes is the idempotent answer, different bytes a conflict.
          await unlink(tempPath).catch(() => undefined);
          await unlink(blobPath).catch(() => undefined);
          const winner = await this.readMeta(bucket, name);
          if (winner && sameBytes(winner.ref, ref)) return winner.ref;
          if (winner) throw exists(bucket, name, winner.ref, ref);
          throw storageError(`artefact ${bucket}/${name} was committed and removed concurrently`, err, { bucket, name });
        }
        await unlink(tempPath);
      }
      await syncDir(metaDir);
    } catch (err) {
      await unlink(tempPath).catch(() => undefined);
      if (!(err instanceof ArtifactError)) await unlink(blobPath).catch(() => undefined);
      throw storageError(`cannot commit artefact ${bucket}/${name}`, err, { bucket, name });
    }
    if (previous && previous.blob !== blob) await unlink(join(blobsDir, previous.blob)).catch(() => undefined);
    return ref;
  }

  private async writeBlob(path: string, data: ArtifactData): Promise<Digest> {
    const digest = new Digest();
    let fh;
    try {
      fh = await open(path, 'wx');
    } catch (err) {
      throw storageError(`cannot create ${path}`, err);
    }
    let inputFailed = false;
    try {
      const it = chunksOf(data)[Symbol.asyncIterator]();
      for (;;) {
        let step: IteratorResult<Uint8Array>;
        try {
          step = await it.next();
        } catch (err) {
          inputFailed = true;
          throw err;
        }
        if (step.done) break;
        digest.update(step.value);
        await fh.write(step.value);
      }
      await fh.sync();
      await fh.close();
      fh = undefined;
      return digest;
    } catch (err) {
      await fh?.close().catch(() => undefined);
      await unlink(path).catch(() => undefined);
      // The caller's own stream failing is their error, not a storage failure.
      throw inputFailed ? err : storageError(`cannot write ${path}`, err);
    }
  }

  private async writeDurably(path: string, text: string): Promise<void> {
    const fh = await open(path, 'wx');
    try {
      await fh.writeFile(text);
      await fh.sync();
    } finally {
      await fh.close();
    }
  }

  async get(ref: ArtifactRef): Promise<Uint8Array> {
    return collect(this.open(ref));
  }

  async *open(ref: ArtifactRef): AsyncGenerator<Uint8Array> {
    assertRef(ref);
    this.life.assertOpen();
    const meta = await this.readMeta(ref.bucket, ref.name);
    if (!meta) throw notFound(ref.bucket, ref.name);
    if (!sameBytes(meta.ref, ref)) throw checksumMismatch(ref, meta.ref, 'the stored object was replaced');
    const path = join(this.blobsDir(ref.bucket), meta.blob);
    const stream = createReadStream(path, { highWaterMark: this.readChunkBytes });
    const digest = new Digest();
    try {
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        digest.update(chunk);
        yield new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      }
    } catch (err) {
      if (isCode(err, 'ENOENT')) throw notFound(ref.bucket, ref.name);
      throw storageError(`cannot read artefact ${ref.bucket}/${ref.name}`, err, { bucket: ref.bucket, name: ref.name });
    } finally {
      stream.destroy();
    }
    const actual = { sha256: digest.hex(), size: digest.size };
    if (!sameBytes(actual, ref)) throw checksumMismatch(ref, actual, 'the stored bytes are corrupted');
  }

  async stat(bucket: string, name: string): Promise<ArtifactRef | null> {
    assertBucket(bucket);
    assertName(name);
    this.life.assertOpen();
    return (await this.readMeta(bucket, name))?.ref ?? null;
  }

  async list(bucket: string): Promise<ArtifactRef[]> {
    assertBucket(bucket);
    this.life.assertOpen();
    let files: string[];
    try {
      files = await readdir(this.metaDir(bucket));
    } catch (err) {
      if (isCode(err, 'ENOENT')) return [];
      throw storageError(`cannot list artefact bucket ${bucket}`, err, { bucket });
    }
    const refs: ArtifactRef[] = [];
    for (const file of files) {
      if (file.startsWith('.') || !file.endsWith(META_SUFFIX)) continue;
      const name = file.slice(0, -META_SUFFIX.length).replaceAll('%', '/');
      // Deleted between readdir and read: not listed.
      const meta = await this.readMeta(bucket, name);
      if (meta) refs.push(meta.ref);
    }
    return refs.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async delete(bucket: string, name: string): Promise<boolean> {
    assertBucket(bucket);
    assertName(name);
    return this.life.track(async () => {
      const meta = await this.readMeta(bucket, name);
      if (!meta) return false;
      try {
        await unlink(this.metaPath(bucket, name));
      } catch (err) {
        if (isCode(err, 'ENOENT')) return false;
        throw storageError(`cannot delete artefact ${bucket}/${name}`, err, { bucket, name });
      }
      await syncDir(this.metaDir(bucket)).catch(() => undefined);
      // Blobs belong to exactly one put, so no other name can still point at this one.
      await unlink(join(this.blobsDir(bucket), meta.blob)).catch(() => undefined);
      return true;
    });
  }

  close(): Promise<void> {
    return this.life.close();
  }

  private blobsDir(bucket: string): string {
    return join(this.root, bucket, 'blobs');
  }

  private metaDir(bucket: string): string {
    return join(this.root, bucket, 'meta');
  }

  private async readMeta(bucket: string, name: string): Promise<MetaFile | null> {
    const path = this.metaPath(bucket, name);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if (isCode(err, 'ENOENT')) return null;
      throw storageError(`cannot read artefact metadata ${path}`, err, { bucket, name });
    }
    try {
      const parsed = JSON.parse(text) as MetaFile;
      if (parsed.v !== 1 || typeof parsed.blob !== 'string' || !/^[0-9a-f-]{36}$/.test(parsed.blob)) throw new Error('unexpected shape');
      assertRef(parsed.ref);
      return parsed;
    } catch (err) {
      throw storageError(`artefact metadata ${path} is unreadable`, err, { bucket, name });
    }
  }
}
