/**
 * The ArtifactStore port (DESIGN §6): large artefacts — dataset snapshots, models, bar exports, reports — move
 * between services as bytes in a store; a message carries only the {@link ArtifactRef} (with its sha256), never
 * the bytes. Two adapters implement it — the NATS JetStream object store (`cluster`) and a local directory
 * (`embedded`) — and both pass the one contract suite in `libs/platform/test/artifacts/artifact.contract.ts`.
 *
 * Semantics every adapter guarantees:
 * - `put` streams the data (a `Uint8Array` or an `AsyncIterable<Uint8Array>`), computing sha256 and size on the
 *   way; the object becomes visible atomically, complete or not at all.
 * - Artefacts are immutable: a `put` under an existing name with the same bytes is idempotent (it returns the
 *   stored ref, with its original `createdAt`, `contentType` and `metadata`); with different bytes it is refused
 *   with `CORE_ARTIFACT_EXISTS` unless `overwrite: true`. Concurrent puts of one name decide atomically: one
 *   writer wins, the others get the idempotent result or `CORE_ARTIFACT_EXISTS`.
 * - `get`/`open` read the object currently stored under `ref.bucket`/`ref.name` and verify its bytes against
 *   `ref.sha256` and `ref.size`: a replaced or corrupted object raises `CORE_ARTIFACT_CHECKSUM` (`open` raises it
 *   at the end of the stream, after the consumer saw the bytes — consumers that act on data before the end must
 *   stage it). `ref.store` is informational: the sha256 makes a ref safe to resolve in any store.
 * - Missing objects: `CORE_ARTIFACT_NOTFOUND` from get/open, `null` from stat, `false` from delete.
 * - Invalid buckets, names or refs (path traversal, bad characters, malformed sha256): `CORE_ARTIFACT_NAME`.
 */

export type ArtifactStoreKind = 'jetstream' | 'local';

/** What a message carries instead of the bytes. */
export interface ArtifactRef {
  store: ArtifactStoreKind;
  bucket: string;
  /** Path-like name (`models/ai1/2024-06-01.bin`): segments of `[A-Za-z0-9._-]`, none starting with `.`. */
  name: string;
  /** Lower-case hex sha256 of the bytes. */
  sha256: string;
  /** Bytes. */
  size: number;
  contentType?: string;
  metadata?: Record<string, string>;
  /** RFC 3339 UTC time the object was committed. */
  createdAt: string;
}

export interface ArtifactPutOptions {
  contentType?: string;
  /** Small string annotations (≤ 64 keys of `[A-Za-z0-9._-]`, values ≤ 1024 characters). */
  metadata?: Record<string, string>;
  /** Replace an existing object with different bytes instead of refusing (default false: artefacts are immutable). */
  overwrite?: boolean;
}

export type ArtifactData = Uint8Array | AsyncIterable<Uint8Array>;

export interface ArtifactStore {
  readonly kind: ArtifactStoreKind;
  put(bucket: string, name: string, data: ArtifactData, opts?: ArtifactPutOptions): Promise<ArtifactRef>;
  /** The whole object in memory, verified. */
  get(ref: ArtifactRef): Promise<Uint8Array>;
  /** Streams the object; throws `CORE_ARTIFACT_CHECKSUM` at the end when the bytes do not match the ref. */
  open(ref: ArtifactRef): AsyncIterable<Uint8Array>;
  stat(bucket: string, name: string): Promise<ArtifactRef | null>;
  /** Every object of the bucket, by name; an unknown bucket is empty. */
  list(bucket: string): Promise<ArtifactRef[]>;
  /** True when an object was deleted. */
  delete(bucket: string, name: string): Promise<boolean>;
  /** Waits for in-flight writes, then refuses new calls (`CORE_ARTIFACT_CLOSED`). Idempotent. */
  close(): Promise<void>;
}

export const ArtifactErrorIds = {
  /** Invalid bucket, name or reference. */
  Name: 'CORE_ARTIFACT_NAME',
  /** Invalid content type or metadata. */
  Meta: 'CORE_ARTIFACT_META',
  NotFound: 'CORE_ARTIFACT_NOTFOUND',
  /** The stored bytes do not match the reference (replaced, tampered with or corrupted). */
  Checksum: 'CORE_ARTIFACT_CHECKSUM',
  /** Another object with different bytes is stored under the name (artefacts are immutable). */
  Exists: 'CORE_ARTIFACT_EXISTS',
  /** The backend failed (file system, NATS). */
  Storage: 'CORE_ARTIFACT_STORAGE',
  Closed: 'CORE_ARTIFACT_CLOSED',
} as const;

export type ArtifactErrorId = (typeof ArtifactErrorIds)[keyof typeof ArtifactErrorIds];
