/** What both ArtifactStore adapters share: validation, errors, hashing while streaming, close bookkeeping. */
import { createHash, type Hash } from 'node:crypto';
import { NoctriaError, type ErrorDetails, type Severity } from '../errors/noctria-error.js';
import { ArtifactErrorIds, type ArtifactData, type ArtifactErrorId, type ArtifactPutOptions, type ArtifactRef } from './artifact.port.js';

const SEVERITY: Record<ArtifactErrorId, Severity> = {
  CORE_ARTIFACT_NAME: 'WARNING',
  CORE_ARTIFACT_META: 'WARNING',
  CORE_ARTIFACT_NOTFOUND: 'WARNING',
  // A reference that no longer matches its bytes means tampering or storage corruption of a traded artefact.
  CORE_ARTIFACT_CHECKSUM: 'CRITICAL',
  CORE_ARTIFACT_EXISTS: 'WARNING',
  CORE_ARTIFACT_STORAGE: 'CRITICAL',
  CORE_ARTIFACT_CLOSED: 'WARNING',
};

export class ArtifactError extends NoctriaError {
  override readonly name = 'ArtifactError';
  constructor(id: ArtifactErrorId, message: string, options: { cause?: unknown; details?: ErrorDetails } = {}) {
    super(id, message, { severity: SEVERITY[id], ...(options.cause !== undefined ? { cause: options.cause } : {}), details: options.details ?? {} });
  }
}

/** Lower-case so that a bucket maps to one directory on case-insensitive file systems; JetStream-safe characters. */
const BUCKET_RE = /^[a-z0-9][a-z0-9_-]{0,63}$/;
/** No leading dot: `.`/`..` cannot appear, and the local adapter's temp files (dot-prefixed) never collide. */
const SEGMENT_RE = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;
export const MAX_NAME_LENGTH = 200;
const SHA256_RE = /^[0-9a-f]{64}$/;
const META_KEY_RE = /^[A-Za-z0-9._-]{1,64}$/;
const MAX_META_KEYS = 64;
const MAX_META_VALUE = 1024;
/** RFC 9110 media type with optional parameters, printable ASCII only. */
const CONTENT_TYPE_RE = /^[A-Za-z0-9!#$&^_.+-]+\/[A-Za-z0-9!#$&^_.+-]+(\s*;\s*[A-Za-z0-9!#$&^_.+-]+=("[ !#-~]*"|[A-Za-z0-9!#$&^_.+-]+))*$/;

export function assertBucket(bucket: unknown): asserts bucket is string {
  if (typeof bucket !== 'string' || !BUCKET_RE.test(bucket)) {
    throw new ArtifactError(ArtifactErrorIds.Name, `invalid artefact bucket ${JSON.stringify(bucket)}: expected [a-z0-9][a-z0-9_-]{0,63}`, {
      details: { bucket: String(bucket) },
    });
  }
}

export function assertName(name: unknown): asserts name is string {
  const problem = nameProblem(name);
  if (problem) {
    throw new ArtifactError(ArtifactErrorIds.Name, `invalid artefact name ${JSON.stringify(name)}: ${problem}`, { details: { name: String(name) } });
  }
}

function nameProblem(name: unknown): string | undefined {
  if (typeof name !== 'string' || name.length === 0) return 'expected a non-empty string';
  if (name.length > MAX_NAME_LENGTH) return `longer than ${MAX_NAME_LENGTH} characters`;
  for (const segment of name.split('/')) {
    if (!SEGMENT_RE.test(segment)) return 'segments are [A-Za-z0-9._-], non-empty, not starting with "."';
  }
  return undefined;
}

/** A ref from a message is untrusted input: check its shape before resolving it. */
export function assertRef(ref: unknown): asserts ref is ArtifactRef {
  if (typeof ref !== 'object' || ref === null) throw new ArtifactError(ArtifactErrorIds.Name, 'invalid artefact reference: not an object');
  const r = ref as Partial<ArtifactRef>;
  assertBucket(r.bucket);
  assertName(r.name);
  if (typeof r.sha256 !== 'string' || !SHA256_RE.test(r.sha256)) {
    throw new ArtifactError(ArtifactErrorIds.Name, 'invalid artefact reference: sha256 must be 64 lower-case hex digits', {
      details: { bucket: r.bucket, name: r.name },
    });
  }
  if (typeof r.size !== 'number' || !Number.isSafeInteger(r.size) || r.size < 0) {
    throw new ArtifactError(ArtifactErrorIds.Name, 'invalid artefact reference: size must be a non-negative integer', {
      details: { bucket: r.bucket, name: r.name },
    });
  }
}

export function assertPutOptions(opts: ArtifactPutOptions): void {
  if (opts.contentType !== undefined && (typeof opts.contentType !== 'string' || opts.contentType.length > 255 || !CONTENT_TYPE_RE.test(opts.contentType))) {
    throw new ArtifactError(ArtifactErrorIds.Meta, `invalid content type ${JSON.stringify(opts.contentType)}`);
  }
  if (opts.metadata === undefined) return;
  if (typeof opts.metadata !== 'object' || opts.metadata === null || Array.isArray(opts.metadata)) {
    throw new ArtifactError(ArtifactErrorIds.Meta, 'metadata must be an object of strings');
  }
  const entries = Object.entries(opts.metadata);
  if (entries.length > MAX_META_KEYS) throw new ArtifactError(ArtifactErrorIds.Meta, `metadata has more than ${MAX_META_KEYS} keys`);
  for (const [k, v] of entries) {
    if (!META_KEY_RE.test(k)) throw new ArtifactError(ArtifactErrorIds.Meta, `invalid metadata key ${JSON.stringify(k)}`);
    if (typeof v !== 'string' || v.length > MAX_META_VALUE) {
      throw new ArtifactError(ArtifactErrorIds.Meta, `metadata value of ${k} must be a string of at most ${MAX_META_VALUE} characters`);
    }
  }
}

/** The fields of a ref that describe the put (contentType/metadata only when given). */
export function describedFields(opts: ArtifactPutOptions): Pick<ArtifactRef, 'contentType' | 'metadata'> {
  return {
    ...(opts.contentType !== undefined ? { contentType: opts.contentType } : {}),
    ...(opts.metadata !== undefined && Object.keys(opts.metadata).length > 0 ? { metadata: { ...opts.metadata } } : {}),
  };
}

/** The put's input as chunks; a non-Uint8Array chunk is a caller bug reported as such. */
export async function* chunksOf(data: ArtifactData): AsyncGenerator<Uint8Array> {
  if (data instanceof Uint8Array) {
    yield data;
    return;
  }
  if (data === null || typeof data !== 'object' || typeof (data as AsyncIterable<Uint8Array>)[Symbol.asyncIterator] !== 'function') {
    throw new ArtifactError(ArtifactErrorIds.Meta, 'artefact data must be a Uint8Array or an AsyncIterable<Uint8Array>');
  }
  for await (const chunk of data) {
    if (!(chunk instanceof Uint8Array)) throw new ArtifactError(ArtifactErrorIds.Meta, 'artefact data chunks must be Uint8Array');
    if (chunk.byteLength > 0) yield chunk;
  }
}

/** sha256 + byte count over a stream of chunks. */
export class Digest {
  private readonly hash: Hash = createHash('sha256');
  size = 0;
  update(chunk: Uint8Array): void {
    this.hash.update(chunk);
    this.size += chunk.byteLength;
  }
  hex(): string {
    return this.hash.digest('hex');
  }
}

/** Hashes the whole input without storing it (used to answer a put against an existing immutable object). */
export async function digestOf(data: ArtifactData): Promise<{ sha256: string; size: number }> {
  const d = new Digest();
  for await (const chunk of chunksOf(data)) d.update(chunk);
  return { sha256: d.hex(), size: d.size };
}

export function sameBytes(a: { sha256: string; size: number }, b: { sha256: string; size: number }): boolean {
  return a.sha256 === b.sha256 && a.size === b.size;
}

export function checksumMismatch(ref: ArtifactRef, actual: { sha256: string; size: number }, why: string): ArtifactError {
  return new ArtifactError(ArtifactErrorIds.Checksum, `artefact ${ref.bucket}/${ref.name} does not match its reference: ${why}`, {
    details: { bucket: ref.bucket, name: ref.name, expected_sha256: ref.sha256, expected_size: ref.size, actual_sha256: actual.sha256, actual_size: actual.size },
  });
}

export function notFound(bucket: string, name: string): ArtifactError {
  return new ArtifactError(ArtifactErrorIds.NotFound, `artefact ${bucket}/${name} not found`, { details: { bucket, name } });
}

export function exists(bucket: string, name: string, stored: ArtifactRef, attempted: { sha256: string; size: number }): ArtifactError {
  return new ArtifactError(ArtifactErrorIds.Exists, `artefact ${bucket}/${name} already exists with different bytes (artefacts are immutable; pass overwrite: true to replace)`, {
    details: { bucket, name, stored_sha256: stored.sha256, attempted_sha256: attempted.sha256 },
  });
}

export function storageError(what: string, cause: unknown, details: ErrorDetails = {}): ArtifactError {
  if (cause instanceof ArtifactError) return cause;
  const message = cause instanceof Error ? cause.message : String(cause);
  return new ArtifactError(ArtifactErrorIds.Storage, `${what}: ${message}`, { cause, details });
}

/** Concatenates a verified stream into one buffer. */
export async function collect(chunks: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let size = 0;
  for await (const c of chunks) {
    parts.push(c);
    size += c.byteLength;
  }
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/** Tracks in-flight writes so that close() can wait for them, and refuses work after close. */
export class Lifecycle {
  private readonly pending = new Set<Promise<unknown>>();
  private closed = false;

  constructor(private readonly kind: string) {}

  get isClosed(): boolean {
    return this.closed;
  }

  assertOpen(): void {
    if (this.closed) throw new ArtifactError(ArtifactErrorIds.Closed, `the ${this.kind} artefact store is closed`);
  }

  track<T>(work: () => Promise<T>): Promise<T> {
    this.assertOpen();
    const p = work();
    this.pending.add(p);
    const done = (): void => {
      this.pending.delete(p);
    };
    p.then(done, done);
    return p;
  }

  async close(): Promise<void> {
    this.closed = true;
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }
}
